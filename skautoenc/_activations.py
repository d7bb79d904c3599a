"""NumPy twins of Keras' activations, for the inference pass (``_inference``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import special


def _relu(x):
    return np.maximum(x, 0, out=x)


def _elu(x, alpha=1.0):
    negative = x < 0
    x[negative] = alpha * np.expm1(x[negative])
    return x


def _selu(x):
    return np.multiply(_elu(x, 1.6732632423543772), 1.0507009873554805, out=x)


def _leaky_relu(x, negative_slope=0.2):
    return np.where(x < 0, negative_slope * x, x).astype(x.dtype, copy=False)


# NumPy twins of Keras' activations, in place, in the input's dtype. Those missing
# here are computed by Keras itself (``activation_function``).
NUMPY_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda x: x,
    "relu": _relu,
    "sigmoid": lambda x: special.expit(x, out=x),
    "tanh": lambda x: np.tanh(x, out=x),
    "softplus": lambda x: np.logaddexp(0, x, out=x),
    "softsign": lambda x: np.divide(x, 1 + np.abs(x), out=x),
    "silu": lambda x: np.multiply(x, special.expit(x), out=x),
    "swish": lambda x: np.multiply(x, special.expit(x), out=x),
    "elu": _elu,
    "selu": _selu,
    "exponential": lambda x: np.exp(x, out=x),
    "leaky_relu": _leaky_relu,
    "relu6": lambda x: np.clip(x, 0, 6, out=x),
}


def activation_function(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The NumPy version of a Keras activation (Keras' own when it has no twin here)."""
    if name in NUMPY_ACTIVATIONS:
        return NUMPY_ACTIVATIONS[name]
    from ._keras import import_keras

    keras = import_keras()
    function = keras.activations.get(name)

    def apply(x):
        return np.asarray(keras.ops.convert_to_numpy(function(x)), dtype=x.dtype)

    return apply
