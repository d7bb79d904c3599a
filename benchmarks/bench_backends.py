"""Fit time per Keras backend, side by side: TensorFlow, JAX and PyTorch.

Each backend runs in its own process (Keras fixes its backend at import). For
each: the time to import Keras, the default AutoencoderTransformer on digits
(n_components=8, early stopping on a held-out 10 %, 75/25 split) and the seed
notebook's architecture on MNIST-shaped data (784 -> 196 -> 49, 7 epochs, batch
128, no early stopping or noise: ``bench_fit.SEED_PARAMS``), with their held-out
MSE and epochs, as the median of ``--repeats`` runs after a first (cold) fit that
traces the training function, printed on its own row. Backends that are not
installed are skipped. Ratios are to the first backend listed. Run:
``python benchmarks/bench_backends.py [--repeats 3] [--backends tensorflow jax]
[--quick]``; ``--quick``: 1 repeat.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys

WORKER = r"""
import json, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
start = time.perf_counter()
from skautoenc._keras import import_keras
keras = import_keras()
import_seconds = time.perf_counter() - start
sys.path.insert(0, sys.argv[2])
from bench_fit import SEED_PARAMS, mnist_shaped
from skautoenc import AutoencoderTransformer
from skautoenc.datasets import load_digits_images
from sklearn.model_selection import train_test_split

digits = load_digits_images().data
digits_train, digits_test = train_test_split(digits, test_size=0.25, random_state=0)
seed_data = mnist_shaped()
seed_train, seed_test = seed_data[1000:], seed_data[:1000]
jobs = {
    "default on digits (k=8)": (dict(n_components=8), digits_train, digits_test),
    "seed 784-196-49, 7 epochs": (SEED_PARAMS, seed_train, seed_test),
}
result = {"backend": keras.backend.backend(), "import_seconds": import_seconds}
for name, (params, train, test) in jobs.items():
    times, errors, epochs = [], [], []
    start = time.perf_counter()
    AutoencoderTransformer(**params, random_state=0).fit(train)  # the first: traces
    cold = time.perf_counter() - start
    for repeat in range(1, int(sys.argv[1]) + 1):
        start = time.perf_counter()
        est = AutoencoderTransformer(**params, random_state=repeat).fit(train)
        times.append(time.perf_counter() - start)
        errors.append(-est.score(test))
        epochs.append(est.n_iter_)
    result[name] = {"cold": cold, "seconds": float(np.median(times)),
                    "mse": float(np.median(errors)), "epochs": int(np.median(epochs))}
print("RESULT" + json.dumps(result))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax", "torch"])
    parser.add_argument("--quick", action="store_true", help="1 repeat")
    args = parser.parse_args()
    if args.quick:
        args.repeats = 1
    here = os.path.dirname(os.path.abspath(__file__))
    results = []
    for backend in args.backends:
        if importlib.util.find_spec(backend) is None:
            print(f"{backend}: not installed, skipped")
            continue
        done = subprocess.run(
            [sys.executable, "-c", WORKER, str(args.repeats), here],
            env={**os.environ, "KERAS_BACKEND": backend},
            capture_output=True,
            text=True,
            check=True,
        )
        line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT"))
        results.append(json.loads(line[len("RESULT") :]))

    base = results[0]
    jobs = [key for key in base if isinstance(base[key], dict)]
    print(f"{'':<28}" + "".join(f"{r['backend']:>22}" for r in results))
    print(
        f"{'import keras (s)':<28}"
        + "".join(
            f"{r['import_seconds']:>14.1f} ({r['import_seconds'] / base['import_seconds']:.2f}x)"
            for r in results
        )
    )
    for job in jobs:
        print(
            f"{job:<28}"
            + "".join(
                f"{r[job]['seconds']:>14.1f} ({r[job]['seconds'] / base[job]['seconds']:.2f}x)"
                for r in results
            )
        )
        print(
            f"{'  first fit (tracing)':<28}"
            + "".join(
                f"{r[job]['cold']:>14.1f} ({r[job]['cold'] / base[job]['cold']:.2f}x)"
                for r in results
            )
        )
        print(
            f"{'  held-out MSE / epochs':<28}"
            + "".join(f"{r[job]['mse']:>15.5f} / {r[job]['epochs']:>3}" for r in results)
        )
    fastest = min(results, key=lambda r: sum(r[job]["seconds"] for job in jobs))
    print(f"fastest on this CPU: {fastest['backend']} (ratios are to {base['backend']})")


if __name__ == "__main__":
    main()
