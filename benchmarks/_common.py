"""What the benchmark scripts share: the --backend flag, a baseline Keras model, timing,
quiet fits, the thread settings a process reads at start, and a fit's compute floor
(its FLOPs and NumPy's float32 GEMM throughput)."""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

# What sizes a process's thread pools, read when BLAS and the backend start: OpenMP
# and BLAS read the first, TensorFlow the other two (skautoenc passes the first on).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def parse_args_and_import_keras(parser: argparse.ArgumentParser):
    """Add ``--backend``, parse the arguments, then import Keras on that backend.

    Returns ``(args, keras)``. Keras fixes its backend when first imported, so
    ``KERAS_BACKEND`` is set before the import.
    """
    parser.add_argument(
        "--backend",
        choices=["tensorflow", "jax", "torch"],
        help="Keras backend (default: $KERAS_BACKEND, else tensorflow)",
    )
    args = parser.parse_args()
    if args.backend:
        os.environ["KERAS_BACKEND"] = args.backend
    from skautoenc._keras import import_keras

    return args, import_keras()


def hand_written_autoencoder(keras, n_features: int, hidden: int, n_components: int):
    """The baseline the library is timed against: the seed notebook's autoencoder in Keras.

    ``n_features -> hidden -> n_components -> hidden -> n_features``, relu hidden
    layers, a linear code and a sigmoid output (for data in [0, 1]); not compiled.
    ``AutoencoderTransformer(hidden_layer_sizes=(hidden,))`` differs: it adds a
    linear, PCA-initialised path from the input to the code and from the code to
    the output, and its output is by default linear, clipped to the bounds the
    training data show (``output_activation="auto"``).
    """
    return keras.Sequential(
        [
            keras.Input((n_features,)),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(n_components),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(n_features, activation="sigmoid"),
        ]
    )


def median_seconds(function, repeats):
    """Median wall time of ``function()`` over ``repeats`` calls (after one warm-up)."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def fit_quietly(estimator, X):
    """``estimator.fit(X)`` without the warning that its few epochs did not converge."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


# ------------------------------------------------------------ compute floor
def gemm_flops_per_second(repeats):
    """Median throughput of NumPy's float32 1024x1024 matmul (after one warm-up)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((1024, 1024), dtype=np.float32)
    b = rng.standard_normal((1024, 1024), dtype=np.float32)
    a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * 1024**3 / float(np.median(times))


def blas_description():
    """NumPy's BLAS, its threads and the kernel family it picked (the floor depends on them)."""
    from threadpoolctl import threadpool_info

    blas = [info for info in threadpool_info() if info["user_api"] == "blas"]
    blas = [info for info in blas if "numpy" in info.get("filepath", "")] or blas
    return ", ".join(
        f"{info['internal_api']} {info.get('version') or ''} {info.get('architecture') or ''}, "
        f"{info['num_threads']} threads".replace("  ", " ")
        for info in blas
    )


def n_weights(est):
    return sum(int(np.size(w)) for w in est.weights_.values())


def fit_flops(est, n_rows):
    """FLOPs of a fit with early stopping: per epoch, train and evaluate the held-out rows."""
    n_val = int(np.ceil(est.validation_fraction * n_rows)) if est.early_stopping else 0
    n_train = n_rows - n_val
    return est.n_iter_ * (6 * n_weights(est) * n_train + 2 * n_weights(est) * n_val)
