"""What tests that need a trained network share: a fit that costs a fraction of a
second, and a small network of a user's own (``builder``)."""

import warnings

from sklearn.exceptions import ConvergenceWarning

# Trained for a few epochs on all rows: no PCA fallback, so every fit is a trained network.
FAST = {"hidden_layer_sizes": (8,), "epochs": 3, "random_state": 0, "early_stopping": False}


def fit(estimator, X):
    """``estimator.fit(X)``, without the warning that a few epochs do not converge."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


def sequence_network(n_features, n_components, filters=4):
    """A user's network (``builder``): a 1-D convolution along the row, which any width
    allows, then dense layers. Module-level, so that estimators holding it pickle and
    joblib's worker processes import it."""
    import keras

    layers = keras.layers
    encoder = keras.Sequential(
        [
            keras.Input((n_features,)),
            layers.Reshape((n_features, 1)),
            layers.Conv1D(filters, 3, padding="same", activation="relu"),
            layers.Flatten(),
            layers.Dense(n_components),
        ]
    )
    decoder = keras.Sequential(
        [keras.Input((n_components,)), layers.Dense(8, activation="relu"), layers.Dense(n_features)]
    )
    return encoder, decoder
