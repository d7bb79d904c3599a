"""What ``_parameter_constraints`` cannot check: parameters against each other and the data."""

from __future__ import annotations

import hashlib
import math
from numbers import Integral

import numpy as np
from sklearn.utils.validation import check_array, validate_data

from ._activations import NUMPY_ACTIVATIONS
from ._layers import max_conv_layers
from ._network import Network

FLOAT_DTYPES = [np.float64, np.float32]


def validate_rows(estimator, X, *, reset: bool) -> np.ndarray:
    """``validate_data`` to float64/float32, with a clearer error for text."""
    try:
        return validate_data(estimator, X, dtype=FLOAT_DTYPES, reset=reset)
    except ValueError as error:
        if "convert string to float" not in str(error):
            raise
        raise ValueError(
            f"{type(estimator).__name__} expects numeric data (floats or ints); received "
            f"non-numeric values ({error}). Encode text or categorical columns first, "
            "e.g. with OneHotEncoder in a ColumnTransformer."
        ) from error


def validate_codes(X, n_components: int) -> np.ndarray:
    """``check_array`` for ``inverse_transform``: float codes, ``n_components`` columns."""
    X = check_array(X, dtype=FLOAT_DTYPES, input_name="X")
    if X.shape[1] != n_components:
        raise ValueError(
            f"X has {X.shape[1]} features, but inverse_transform expects codes "
            f"with n_components={n_components} features."
        )
    return X


def check_finite_scores(scores: np.ndarray, X: np.ndarray) -> np.ndarray:
    """``score_samples``' scores, refused when the squared error overflowed ``X``'s dtype."""
    if not np.isfinite(scores).all():
        raise ValueError(
            f"The squared reconstruction error of some rows overflows {X.dtype}: their "
            f"values range from {np.min(X):.4g} to {np.max(X):.4g}. Pass float64 rows, "
            "or rows on the training data's scale."
        )
    return scores


def _is_int(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def network_for(estimator, n_features: int) -> Network:
    """The network the parameters describe for data with ``n_features`` columns."""
    k = estimator.n_components
    if not _is_int(k):
        raise ValueError(f"n_components must be an int, not a bool. Received: {k!r}.")
    if k > n_features:
        raise ValueError(
            f"n_components={k} must be between 1 and n_features={n_features}. "
            f"Received n_components={k} for data with n_features = {n_features}."
        )
    sizes = estimator.hidden_layer_sizes
    if np.ndim(sizes) != 1 or not all(_is_int(size) and size >= 1 for size in sizes):
        raise ValueError(
            "hidden_layer_sizes must be a sequence of positive ints, e.g. (128,) or "
            f"(256, 64), or () for a linear autoencoder. Received: {sizes!r}."
        )
    _check_activation("activation", estimator.activation)
    if estimator.output_activation != "auto":
        _check_activation("output_activation", estimator.output_activation)
    image_shape = _image_shape(estimator.image_shape, n_features)
    conv_filters = _conv_filters(estimator.conv_filters, image_shape)
    builder_layers = _builder_layers(estimator, int(n_features), int(k))
    if builder_layers:
        sizes, conv_filters = (), ()
    return Network(
        n_features=int(n_features),
        n_components=int(k),
        hidden_layer_sizes=tuple(int(size) for size in sizes),
        activation=estimator.activation,
        # "auto" is linear, with bounds (see _fitting.output_bounds).
        output_activation="linear"
        if estimator.output_activation == "auto"
        else estimator.output_activation,
        image_shape=image_shape,
        conv_filters=conv_filters,
        builder_layers=builder_layers,
    )


def _builder_layers(estimator, n_features: int, n_components: int) -> tuple:
    """The residual paths ``builder`` makes (``_keras_network.describe``), or ()."""
    builder, kwargs = estimator.builder, estimator.builder_kwargs
    if builder is None:
        if kwargs:
            raise ValueError(
                "builder_kwargs are passed to builder, which is None. Received: "
                f"builder_kwargs={kwargs!r}."
            )
        return ()
    if estimator.image_shape is not None:
        raise ValueError(
            "image_shape shapes the built-in convolutional network; a builder makes "
            "its own network: set one of them. Received: "
            f"image_shape={estimator.image_shape!r} and builder={builder!r}."
        )
    from ._keras_network import KerasNetwork, describe

    if isinstance(builder, KerasNetwork) and kwargs:
        raise ValueError(
            "A KerasNetwork builds fixed models: it takes no builder_kwargs. "
            f"Received: builder_kwargs={kwargs!r}."
        )
    if isinstance(builder, KerasNetwork):
        return builder.describe(n_features, n_components)
    return describe(builder, kwargs, n_features, n_components)


def _image_shape(value, n_features: int) -> tuple[int, int, int] | None:
    """``image_shape`` as ``(height, width, channels)``, its -1 worked out from the data."""
    if value is None:
        return None
    if (
        np.ndim(value) != 1
        or len(value) not in (2, 3)
        or not all(_is_int(size) and (size >= 1 or size == -1) for size in value)
        or list(value).count(-1) > 1
    ):
        raise ValueError(
            "image_shape must be (height, width) or (height, width, channels): positive "
            "ints, one of which may be -1 (worked out from n_features, as in "
            f"numpy.reshape), or None for rows that are not images. Received: {value!r}."
        )
    shape = tuple(int(size) for size in value) + ((1,) if len(value) == 2 else ())
    known = math.prod(size for size in shape if size != -1)
    if -1 in shape and n_features % known == 0:
        shape = tuple(n_features // known if size == -1 else size for size in shape)
    if math.prod(shape) != n_features:  # Python ints: no overflow, however large
        described = "a multiple of " if -1 in shape else ""
        raise ValueError(
            f"image_shape={tuple(value)!r} describes rows of {described}height * width * "
            f"channels = {known} values, but X has n_features={n_features}. Rows must "
            "be images flattened in C order (channels last), as image.reshape(-1)."
        )
    return shape


def _conv_filters(value, image_shape) -> tuple[int, ...]:
    """``conv_filters`` as a tuple; empty (unused) when the rows are not images."""
    if np.ndim(value) != 1 or not all(_is_int(size) and size >= 1 for size in value):
        raise ValueError(
            "conv_filters must be a sequence of positive ints, the channels of each "
            f"convolution, e.g. (32, 64). Received: {value!r}."
        )
    if image_shape is None:
        return ()
    height, width, _ = image_shape
    most = max_conv_layers(height, width)
    if not 1 <= len(value) <= most:
        raise ValueError(
            f"conv_filters must list 1 to {most} convolutions for images of "
            f"{height}x{width}: each halves the image, and {most} reach 1x1. "
            f"Received: conv_filters={value!r}."
        )
    return tuple(int(size) for size in value)


def _check_activation(name: str, value: str) -> None:
    """A Keras activation name; those with a NumPy twin are checked without Keras."""
    if value in NUMPY_ACTIVATIONS:
        return
    from ._keras import import_keras

    try:
        import_keras().activations.get(value)
    except ValueError:
        raise ValueError(
            f"{name} must be the name of a Keras activation such as 'relu', 'tanh', "
            f"'sigmoid' or 'linear'. Received: {name}={value!r}."
        ) from None


def check_training_params(estimator) -> None:
    """Training options that depend on each other."""
    from ._keras import import_keras

    if estimator.loss == "binary_crossentropy" and estimator.output_activation != "sigmoid":
        raise ValueError(
            "loss='binary_crossentropy' needs outputs in [0, 1]: use "
            "output_activation='sigmoid'. Received: "
            f"output_activation={estimator.output_activation!r}."
        )
    if estimator.noise == "masking" and estimator.noise_level >= 1:
        raise ValueError(
            "noise='masking' zeroes a fraction noise_level of the inputs, so noise_level "
            f"must be below 1. Received: noise_level={estimator.noise_level!r}."
        )
    if estimator.callbacks:
        keras = import_keras()
        wrong = [c for c in estimator.callbacks if not isinstance(c, keras.callbacks.Callback)]
        if wrong:
            raise TypeError(
                "callbacks must be a list of keras.callbacks.Callback instances. "
                f"Received: {wrong[0]!r} of type {type(wrong[0]).__name__}."
            )


def structure(network: Network) -> dict:
    """The parameters that shape a network, for messages."""
    shown = {
        "n_components": network.n_components,
        "hidden_layer_sizes": network.hidden_layer_sizes,
        "activation": network.activation,
        "output_activation": network.output_activation,
    }
    if network.image_shape is not None:
        shown.update(image_shape=network.image_shape, conv_filters=network.conv_filters)
    if network.builder_layers:
        del shown["hidden_layer_sizes"], shown["activation"]
        # The paths' configs, shortened: two builds differ where their configs do.
        shown["builder"] = tuple(
            f"{layer.name} config #{hashlib.sha256(layer.config.encode()).hexdigest()[:8]}"
            for layer in network.builder_layers
        )
    return shown
