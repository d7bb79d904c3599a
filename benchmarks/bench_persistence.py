"""Persistence speed: AutoencoderTransformer vs PCA, through pickle and through its own file.

Prints medians of ``--repeats`` round trips (after one warm-up), in memory:

- ``pickle.dumps`` + ``pickle.loads`` of a fitted ``AutoencoderTransformer``
  (digits, ``n_components=8``, default architecture, ``random_state=0``) vs of a
  fitted ``PCA(8)``;
- ``est.save`` + ``skautoenc.load`` through ``io.BytesIO`` vs PCA's pickle round trip;
- for reference, ``est.save`` to a path (atomic: temporary file, fsync, rename)
  + ``skautoenc.load`` from it;

with the ratios to PCA and the sizes of what each writes. Run:
``python benchmarks/bench_persistence.py [--repeats N] [--backend jax]``.
"""

from __future__ import annotations

import argparse
import io
import pickle
import tempfile
import warnings
from pathlib import Path

from _common import median_seconds, parse_args_and_import_keras
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning

import skautoenc
from skautoenc import AutoencoderTransformer


def pickle_round_trip(estimator):
    return pickle.loads(pickle.dumps(estimator))


def file_round_trip(estimator):
    buffer = io.BytesIO()
    estimator.save(buffer)
    buffer.seek(0)
    return skautoenc.load(buffer)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args, keras = parse_args_and_import_keras(parser)
    print(f"Keras {keras.__version__}, backend {keras.backend.backend()}")

    X = load_digits().data
    pca = PCA(8).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = AutoencoderTransformer(8, random_state=0).fit(X)
    buffer = io.BytesIO()
    est.save(buffer)
    sizes = {
        "AE pickle": len(pickle.dumps(est)),
        "AE file": len(buffer.getvalue()),
        "PCA pickle": len(pickle.dumps(pca)),
    }
    print(
        f"digits {X.shape}, n_components=8, hidden_layer_sizes={est.hidden_layer_sizes}: "
        f"{sum(w.size for w in est.weights_.values()):,} weights, "
        f"{len(est._optimizer_state)} optimizer variables, "
        f"fallback_to_pca_={est.fallback_to_pca_}"
    )
    print("sizes: " + ", ".join(f"{name} {size / 1024:,.1f} KiB" for name, size in sizes.items()))

    pca_pickle = median_seconds(lambda: pickle_round_trip(pca), args.repeats)
    rows = {
        "pickle dumps+loads": median_seconds(lambda: pickle_round_trip(est), args.repeats),
        "save+load (BytesIO)": median_seconds(lambda: file_round_trip(est), args.repeats),
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.skae"

        def path_round_trip():
            est.save(path)
            return skautoenc.load(path)

        rows["save+load (path)"] = median_seconds(path_round_trip, max(args.repeats // 4, 5))

    print(f"\n{'round trip':<22}{'skautoenc':>12}{'PCA pickle':>13}  {'ratio':>7}")
    for name, seconds in rows.items():
        print(
            f"{name:<22}{seconds * 1e3:>10.3f}ms{pca_pickle * 1e3:>11.3f}ms  "
            f"{seconds / pca_pickle:>7.1f}"
        )


if __name__ == "__main__":
    main()
