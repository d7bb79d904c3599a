"""Fast forward pass: the fitted Dense layers replayed in NumPy, batch by batch.

Keras' ``Model.predict`` costs ~90 ms per call and ``model(x)`` ~3.5 ms on a CPU,
whatever the batch size; a NumPy replay of the same float32 weights costs a few
microseconds per layer. It is also bitwise invariant to the order and grouping of
rows, which scikit-learn's estimator checks require and TensorFlow's CPU kernels do
not give.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import special

# Rows per block: bounds the temporary memory of a pass to
# ``_BLOCK_ELEMENTS`` float32 values per layer, whatever the input size.
_BLOCK_ELEMENTS = 1 << 22


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


# NumPy versions of Keras' activations, all in float32, matching
# ``keras.activations`` to float32 rounding. Activations missing here are
# computed by Keras itself (see ``_keras_activation``).
_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda x: x,
    "relu": _relu,
    "sigmoid": lambda x: special.expit(x, out=x),
    "tanh": lambda x: np.tanh(x, out=x),
    "softplus": lambda x: np.logaddexp(np.float32(0), x, out=x),
    "softsign": lambda x: np.divide(x, 1 + np.abs(x), out=x),
    "silu": lambda x: np.multiply(x, special.expit(x), out=x),
    "swish": lambda x: np.multiply(x, special.expit(x), out=x),
    "elu": _elu,
    "selu": _selu,
    "exponential": lambda x: np.exp(x, out=x),
    "leaky_relu": _leaky_relu,
    "relu6": lambda x: np.clip(x, 0, 6, out=x),
}


def _keras_activation(name: str) -> Callable[[np.ndarray], np.ndarray]:
    from ._keras import import_keras

    keras = import_keras()
    function = keras.activations.get(name)

    def apply(x):
        return np.asarray(keras.ops.convert_to_numpy(function(x)), dtype=x.dtype)

    return apply


class DenseForward:
    """A frozen NumPy copy of a stack of Keras ``Dense`` layers.

    Parameters
    ----------
    layers : list of (kernel, bias, activation name)
        Float32 weights in the order they are applied.

    Notes
    -----
    Immutable after construction and allocation-only per call, so one instance
    may serve many threads at once.
    """

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray, str]]):
        self.layers = [
            (
                np.ascontiguousarray(kernel, dtype=np.float32),
                np.ascontiguousarray(bias, dtype=np.float32),
                _ACTIVATIONS.get(name) or _keras_activation(name),
            )
            for kernel, bias, name in layers
        ]
        self.n_inputs = self.layers[0][0].shape[0]
        self.n_outputs = self.layers[-1][0].shape[1]
        widest = max(kernel.shape[1] for kernel, _, _ in self.layers)
        self.block_rows = max(1, _BLOCK_ELEMENTS // max(widest, self.n_inputs))

    @classmethod
    def from_keras(cls, *models) -> DenseForward:
        """Copy the weights of the ``Dense`` layers of ``models``, in call order."""
        from ._keras import import_keras

        keras = import_keras()
        layers = []
        for model in models:
            for layer in model.layers:
                if isinstance(layer, keras.layers.Dense):
                    kernel, bias = layer.get_weights()
                    name = keras.activations.serialize(layer.activation)
                    layers.append((kernel, bias, name))
                elif not isinstance(layer, keras.layers.InputLayer):
                    raise TypeError(
                        "The fast forward pass replays Dense layers only; "
                        f"received a {type(layer).__name__} layer named "
                        f"{layer.name!r}."
                    )
        return cls(layers)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Return the stack's output for ``X``, in ``X``'s float dtype."""
        n_rows = X.shape[0]
        if n_rows <= self.block_rows:
            return self._block(X).astype(X.dtype, copy=False)
        out = np.empty((n_rows, self.n_outputs), dtype=X.dtype)
        for start in range(0, n_rows, self.block_rows):
            stop = start + self.block_rows
            out[start:stop] = self._block(X[start:stop])
        return out

    def _block(self, X: np.ndarray) -> np.ndarray:
        h = np.asarray(X, dtype=np.float32)
        for kernel, bias, activation in self.layers:
            h = h @ kernel
            h += bias
            h = activation(h)
        return h
