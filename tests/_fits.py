"""A fit that costs a fraction of a second, shared by tests that need a trained network."""

import warnings

from sklearn.exceptions import ConvergenceWarning

# Trained for a few epochs on all rows: no PCA fallback, so every fit is a trained network.
FAST = {"hidden_layer_sizes": (8,), "epochs": 3, "random_state": 0, "early_stopping": False}


def fit(estimator, X):
    """``estimator.fit(X)``, without the warning that a few epochs do not converge."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)
