"""Accuracy–invariance sweep (issue #10): ``python -m benchmarks.invariance [--quick]`` = ``sqnn sweep``.

Trains the SQNN over a γ grid (3 seeds), the float MLP and gradient reversal at several strengths with the
fixed protocol of :func:`training.metrics.evaluate_protocol`, prints the table and writes ``front.json`` and
``front_<data>.png`` (the reference hepinfo front is drawn on the default data's plot).

Data: the embedded default file and a second, unseen shift ``tests/data/showers_shift2.csv.gz``, made with
the generator beside the default data (pythia8mc 8.317.2 wheels)::

    pip install pythia8mc==8.317.2 fastjet numpy pandas
    python ../shared/data/generate_showers.py --jets-per-cell 5000 --seed 7 \
        --out tests/data/showers_shift2.csv.gz --model-s1 1 \
        --settings-s1 "TimeShower:alphaSvalue = 0.125" --settings-s1 "StringZ:aLund = 0.55" \
        --track-eff-s1 0.90 --neutral-scale-s1 1.10 --noise-s1 10

i.e. "data" = the Pythia shower itself with a harder final-state α_s and another Lund a, seen through a
detector with 90 % tracking efficiency, neutral hadrons scaled up by 10 % and 10 soft noise deposits per
event on average — different in kind from the default file's Vincia shower and 0.85 scale. The same
hyperparameters (the defaults of ``SQNNClassifier``, chosen on the default data) are used on both.
"""

import sys

from training.cli import main

if __name__ == "__main__":
    sys.exit(main(["sweep", *sys.argv[1:]]))
