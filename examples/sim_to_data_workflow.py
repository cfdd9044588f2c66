"""From labelled simulation to unlabelled real data: train, check invariance, export to FPGA, score files.

The workflow of the SQNN paper's reference code, end to end on the embedded quark/gluon showers sample:

1. load the default data: simulation (s = 0, Pythia, labelled) and "real data" (s = 1, Vincia through a
   degraded detector; its labels are used only for evaluation);
2. train ``SQNNClassifier`` on simulation *with* labels plus real data *without* labels (y = −1 for s = 1):
   the labelled rows drive the cross-entropy, all rows drive the penalty ``gamma · I(T; S)``;
3. compare with the ``gamma = 0`` baseline: label AUC on both domains, adversary AUC of S from the hidden
   bits (0.5 = invariant), KS distance of the output between domains, MI per layer (bits);
4. export the network to the fixed Verilog core (``fpga.write_project``);
5. score a "real data" file in bounded-memory chunks (``training.streaming.predict_file``) and check the
   scores equal the in-memory model.

Run ``python examples/sim_to_data_workflow.py --quick`` (about half a minute) or without ``--quick`` for
the full-size run.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import fpga
import training
from training.metrics import invariance_report
from training.streaming import predict_file


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="subsample and train briefly (CI smoke run)")
    p.add_argument("--gamma", type=float, default=2.0, help="weight of the I(T;S) penalty (default 2)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default 40, --quick 4)")
    p.add_argument("--n-events", type=int, default=None, help="events used (default all, --quick 16000)")
    p.add_argument("--out", default="sqnn_example_out", help="output folder (model, FPGA project, scores)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def split(s: np.ndarray, test_fraction: float, rng: np.random.Generator):
    """Random train/test row indices, stratified by domain."""
    train, test = [], []
    for v in np.unique(s):
        rows = rng.permutation(np.flatnonzero(s == v))
        cut = round(len(rows) * test_fraction)
        test.append(rows[:cut])
        train.append(rows[cut:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def summary(name: str, rep: dict) -> str:
    mi = " ".join(f"{layer['per_neuron_corrected']:.4f}" for layer in rep.get("mi", []))
    cols = [rep.get(k, float("nan")) for k in ("label_auc_s0", "label_auc_s1", "adversary_auc", "ks")]
    return f"{name:>10} | " + " | ".join(f"{v:.3f}" for v in cols) + f" | {mi}"


def write_table(path: Path, x: np.ndarray, names: list[str]) -> Path:
    """Write features to Parquet (pyarrow, from the [hep] extra) or, without it, to CSV."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        path = path.with_suffix(".csv")
        header = ",".join(names)
        np.savetxt(path, x, delimiter=",", header=header, comments="", fmt="%.17g")
        return path
    pq.write_table(pa.table({n: x[:, j] for j, n in enumerate(names)}), path, row_group_size=10_000)
    return path


def main(argv=None) -> dict:
    args = parse_args(argv)
    epochs = args.epochs or (4 if args.quick else 40)
    hidden = (32, 16) if args.quick else (64, 64)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)

    # 1. simulation (s = 0) and real data (s = 1)
    X, y, s, names = training.load_showers()
    n_events = args.n_events or (16_000 if args.quick else len(X))
    keep = np.sort(rng.permutation(len(X))[:n_events])
    X, y, s = X[keep], y[keep], s[keep]
    tr, te = split(s, 0.25, rng)
    y_train = np.where(s[tr] == 1, -1, y[tr])  # real data enters without labels
    print(f"{len(tr)} training events ({np.sum(s[tr] == 0)} labelled simulation, {np.sum(s[tr] == 1)} "
          f"unlabelled data), {len(te)} test events, {len(names)} features")

    # 2. train with and without the information penalty
    models, reports = {}, {}
    for gamma in (0.0, args.gamma):
        t0 = time.perf_counter()
        model = training.SQNNClassifier(hidden=hidden, gamma=gamma, epochs=epochs, random_state=args.seed,
                                        verbose=not args.quick)
        model.fit(X[tr], y_train, s[tr])
        # 3. invariance diagnostics on held-out events (labels of s = 1 used for evaluation only); one
        # thread for the adversary's OpenMP pool, which is much faster on a busy machine
        with threadpool_limits(1):
            reports[gamma] = invariance_report(model, X[te], y[te], s[te], random_state=args.seed)
        models[gamma] = model
        print(f"trained gamma={gamma:g} in {time.perf_counter() - t0:.1f} s")
    print("     gamma | AUC sim | AUC data | adversary AUC | KS | I(T;S) per layer, bits (bias-corrected)")
    for gamma, rep in reports.items():
        print(summary(f"{gamma:g}", rep))

    # 4. export the invariant model: spec file (with feature names) and FPGA project
    model = models[args.gamma]
    spec = dataclasses.replace(model.to_spec(), feature_names=list(names))
    spec.to_npz(out / "model.npz")
    project = fpga.write_project(spec, out / "fpga")
    print(f"FPGA project: {project} ({len(list(project.iterdir()))} files)")

    # 5. score a "real data" file in chunks, as for a large ROOT/Parquet file
    data_rows = te[s[te] == 1]
    table = write_table(out / "real_data.parquet", X[data_rows], names)
    result = predict_file(out / "model.npz", table, out / "scores.parquet", chunk_size=1000,
                          progress=not args.quick)
    print(f"scored {result.n_rows} events of {table.name} in chunks: {result.rows_per_second:,.0f} events/s "
          f"-> {result.out_path}")
    try:
        import pyarrow.parquet as pq
    except ImportError:
        same = None
    else:
        scores = pq.read_table(result.out_path)
        same = bool(np.array_equal(scores["score"].to_numpy(), spec.predict_scores(X[data_rows])[:, 0])
                    and np.allclose(scores["proba"].to_numpy(), model.predict_proba(X[data_rows])[:, 1],
                                    rtol=0, atol=1e-12))
        print(f"chunked file scores equal the in-memory model: {same}")
    return {"reports": reports, "spec": spec, "fpga": project, "scores": result.out_path, "same": same}


if __name__ == "__main__":
    main()
