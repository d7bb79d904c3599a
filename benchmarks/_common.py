"""What the benchmark scripts share: the --backend flag, a baseline Keras model, timing,
quiet fits and the thread settings a process reads at start."""

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
