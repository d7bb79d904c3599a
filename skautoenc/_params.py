"""The estimator's parameters as scikit-learn validates them (``_validate_params``).

What these constraints cannot say (parameters against each other and against the
data: ``n_components`` against ``n_features``, ``image_shape`` against the row
width, ...) is checked by ``_validation.network_for`` when the data are known.
"""

from __future__ import annotations

from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions

LOSSES = ("mse", "mae", "huber", "binary_crossentropy")
OPTIMIZERS = ("adam", "adamw", "adamax", "nadam", "sgd", "rmsprop", "adagrad", "adadelta", "ftrl")
NOISES = ("auto", "gaussian", "masking")

PARAMETER_CONSTRAINTS: dict = {
    "n_components": [Interval(Integral, 1, None, closed="left")],
    "whiten": ["boolean"],
    "hidden_layer_sizes": ["array-like"],
    "image_shape": ["array-like", None],
    "conv_filters": ["array-like"],
    "builder": [callable, None],
    "builder_kwargs": [dict, None],
    "activation": [str],
    "output_activation": [str],
    "loss": [StrOptions(set(LOSSES))],
    "optimizer": [StrOptions(set(OPTIMIZERS))],
    "learning_rate": [Interval(Real, 0, None, closed="neither")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "epochs": [Interval(Integral, 1, None, closed="left")],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0, 1, closed="left")],
    "noise": [StrOptions(set(NOISES)), None],
    "noise_level": [Interval(Real, 0, None, closed="neither")],
    "warm_start": ["boolean"],
    "callbacks": [list, None],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}
