"""Inference in NumPy: the fitted network replayed from its arrays, block by block.

Keras' ``Model.predict`` costs tens of milliseconds per call and ``model(x)``
milliseconds on a CPU, whatever the batch size; replaying the same weights with
NumPy costs microseconds per layer, needs no Keras import (an unpickled model
transforms without TensorFlow), and computes in the input's float dtype: float64
rows give float64 arithmetic, as ``PCA`` does, so results do not depend on how
rows are grouped beyond float64 rounding. float32 rows take the float32 fast path,
whose results can differ in the last bits between batch sizes and machines (BLAS
picks kernels by shape, CPU and thread count).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from . import _conv
from ._activations import activation_function
from ._network import Layer, Network
from ._threads import one_blas_thread

# Bounds the temporary memory of a pass: at most this many values per layer.
_BLOCK_ELEMENTS = 1 << 22
# A pass of at most this many multiply-adds holds BLAS to one thread (``_threads``):
# milliseconds of work, where threads gain less than their spinning costs what
# runs next. OpenBLAS runs a product below ``_OPENBLAS_THREADED`` multiply-adds on
# one thread anyway (its SMP threshold): no limit is needed, nor paid for.
_SMALL_PASS = 1 << 28
_OPENBLAS_THREADED = 1 << 18


class FittedNetwork:
    """A fitted autoencoder as arrays: standardisation, weights and NumPy passes.

    Immutable after construction and allocation-only per call, so one instance
    may serve many threads at once.

    Parameters
    ----------
    network : Network
        The structure.
    weights : dict of str to ndarray
        Arrays (float32 once trained; float64 for the PCA start) named as
        ``network.weight_shapes()``.
    mean : ndarray of shape (n_features,)
        Subtracted from rows before encoding, added back after decoding.
    scale : float
        Rows are divided by it before encoding, multiplied after decoding.
    lower, upper : ndarray of shape (n_features,), default=None
        Reconstructions are clipped to these (data units; infinite: unbounded).
    code_scale : ndarray of shape (n_components,) or None, default=None
        The network's codes are multiplied by it on their way out, divided on
        their way in (``_network.code_scale``, then the trained codes' spread);
        None: ones, the network's own codes.
    code_mean : ndarray of shape (n_components,) or None, default=None
        Subtracted from the scaled codes on their way out, added on their way in,
        so that the codes of the rows given to ``fit`` are centred, as PCA's
        scores are.
        None: zeros.
    whiten : bool, default=False
        Whether the codes were fitted whitened (``whiten=True``): a continuation
        keeps the codes' units, so it must keep this too.
    """

    def __init__(
        self,
        network: Network,
        weights: dict[str, np.ndarray],
        mean,
        scale: float,
        lower=None,
        upper=None,
        code_scale=None,
        code_mean=None,
        *,
        whiten: bool = False,
    ):
        self.network = network
        self.weights = {name: np.asarray(weights[name]) for name in network.weight_shapes()}
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = float(scale)
        n = network.n_features
        self.lower = np.full(n, -np.inf) if lower is None else np.asarray(lower, np.float64)
        self.upper = np.full(n, np.inf) if upper is None else np.asarray(upper, np.float64)
        self._bounded = bool(np.isfinite(self.lower).any() or np.isfinite(self.upper).any())
        k = network.n_components
        self.code_scale = np.ones(k) if code_scale is None else np.asarray(code_scale, np.float64)
        self.code_mean = np.zeros(k) if code_mean is None else np.asarray(code_mean, np.float64)
        self.whiten = bool(whiten)
        self._copies: dict[type, dict] = {}
        self._output_activation = activation_function(network.output_activation)
        # What a pass does, worked out once: transform's hot path only multiplies.
        self._encoder = _plan(network.encoder_paths())
        self._decoder = _plan(network.decoder_paths())
        self._widest = max(
            layer.units if layer.kind in ("dense", "keras") else _conv.values_per_row(layer)
            for layer in network.layers()
        )
        # A builder's paths run as Keras functions, next to NumPy's matrix products.
        self._runs_keras = any(layer.kind == "keras" for layer in network.layers())
        self._multiply_adds = sum(layer.multiply_adds for layer in network.layers())
        self._largest_product = max(layer.multiply_adds for layer in network.layers())
        self._convolved = max(
            (
                _conv.values_per_row(layer)
                for layer in network.layers()
                if layer.kind in _conv.KINDS
            ),
            default=0,
        )

    def to_dict(self) -> dict:
        """Plain data (for pickling): the structure's fields and the arrays."""
        return {
            "network": dataclasses.asdict(self.network),
            "weights": self.weights,
            "mean": self.mean,
            "scale": self.scale,
            "lower": self.lower,
            "upper": self.upper,
            "code_scale": self.code_scale,
            "code_mean": self.code_mean,
            "whiten": self.whiten,
        }

    @classmethod
    def from_dict(cls, state: dict) -> FittedNetwork:
        """Rebuild from ``to_dict``'s data, checked against the structure first: a
        state from a file (skops) allocates nothing its arrays do not already hold."""
        fields = dict(state["network"])
        fields["hidden_layer_sizes"] = tuple(fields["hidden_layer_sizes"])
        # Pickles made before image networks existed lack these: dense networks.
        if fields.get("image_shape") is not None:
            fields["image_shape"] = tuple(fields["image_shape"])
        fields["conv_filters"] = tuple(fields.get("conv_filters", ()))
        fields["builder_layers"] = tuple(
            _builder_layer(layer) for layer in fields.get("builder_layers", ())
        )
        network = Network(**fields)
        expected = {**network.weight_shapes()}
        found = {name: np.shape(array) for name, array in state["weights"].items()}
        n = network.n_features
        bounds = [state.get(key) for key in ("lower", "upper")]
        # Pickles made before code_scale existed have whitened codes (None: ones),
        # those made before code_mean uncentred codes (None: zeros), and those made
        # before whiten was kept here a code scale exactly when not whitened.
        code, code_mean = state.get("code_scale"), state.get("code_mean")
        whiten = state.get("whiten", code is None)
        if not isinstance(whiten, bool):
            raise ValueError(f"The fitted state's whiten must be a bool; received {whiten!r:.200}.")
        if (
            found != expected
            or np.shape(state["mean"]) != (n,)
            or any(b is not None and np.shape(b) != (n,) for b in bounds)
            or (code is not None and np.shape(code) != (network.n_components,))
            or (code_mean is not None and np.shape(code_mean) != (network.n_components,))
        ):
            raise ValueError(
                "The fitted state does not match the network it describes "
                f"({network}): expected arrays of shapes {expected} and a mean of "
                f"shape ({n},); received {found} and {np.shape(state['mean'])}."
            )
        if code is not None and not valid_code_scale(code):
            raise ValueError(
                "The fitted state's code scale must be positive and finite (codes are "
                f"divided by it); received {np.asarray(code)!r:.200}."
            )
        if code_mean is not None and not np.all(np.isfinite(code_mean)):
            raise ValueError(
                "The fitted state's code mean must be finite; received "
                f"{np.asarray(code_mean)!r:.200}."
            )
        return cls(
            network,
            state["weights"],
            state["mean"],
            state["scale"],
            *bounds,
            code,
            code_mean,
            whiten=whiten,
        )

    def build_keras(self):
        """Keras models of this network in the data's units: ``(autoencoder,
        encoder, decoder)`` (``Network.build_keras_on_data``)."""
        return self.network.build_keras_on_data(
            self.weights,
            self.mean,
            self.scale,
            self.lower,
            self.upper,
            self.code_scale,
            self.code_mean,
        )

    def _in(self, dtype):
        """Weights, mean and scale in ``dtype``; made once per dtype (a benign race)."""
        copy = self._copies.get(dtype)
        if copy is None:
            copy = {name: np.ascontiguousarray(w, dtype=dtype) for name, w in self.weights.items()}
            copy["__mean"] = self.mean.astype(dtype)
            copy["__scale"] = dtype(self.scale)
            copy["__lower"] = self.lower.astype(dtype)
            copy["__upper"] = self.upper.astype(dtype)
            copy["__code_scale"] = self.code_scale.astype(dtype)
            copy["__code_mean"] = self.code_mean.astype(dtype)
            copy.update(_conv.kernel_matrices(self.network.layers(), copy))
            self._copies[dtype] = copy
        return copy

    def encode(self, X: np.ndarray) -> np.ndarray:
        """Codes of rows ``X`` (float32 or float64), in ``X``'s dtype."""
        return self._blocks(X, self.network.n_components, self._encode_block)

    def decode(self, Z: np.ndarray) -> np.ndarray:
        """Reconstructions in the data's units from codes ``Z``, in ``Z``'s dtype."""
        return self._blocks(Z, self.network.n_features, self._decode_block)

    def reconstruct(self, X: np.ndarray) -> np.ndarray:
        """``decode(encode(X))``, without keeping the codes."""

        def block(x):
            w = self._in(x.dtype.type)
            return self._decode_unscaled(self._unscaled_codes(x, w), w)

        return self._blocks(X, self.network.n_features, block)

    def _encode_block(self, X):
        w = self._in(X.dtype.type)
        Z = self._unscaled_codes(X, w)  # a new array: scaled in place
        Z *= w["__code_scale"]
        Z -= w["__code_mean"]
        return Z

    def _decode_block(self, Z):
        w = self._in(Z.dtype.type)
        Z = (Z + w["__code_mean"]) / w["__code_scale"]
        return self._decode_unscaled(Z, w)

    def standardised_codes(self, U: np.ndarray) -> np.ndarray:
        """The network's codes of standardised rows ``U`` (``code_scale`` not applied)."""
        return _run(self._encoder, U, self._in(U.dtype.type))

    def _unscaled_codes(self, X, w):
        """The codes as the network computes them (``code_scale`` not applied)."""
        return _run(self._encoder, (X - w["__mean"]) / w["__scale"], w)

    def _decode_unscaled(self, Z, w):
        u = _run(self._decoder, Z, w)
        u *= w["__scale"]
        u += w["__mean"]
        u = self._output_activation(u)
        return np.clip(u, w["__lower"], w["__upper"], out=u) if self._bounded else u

    def holds_one_blas_thread(self, n_rows: int) -> bool:
        """Whether a pass over ``n_rows`` rows holds BLAS to one thread (``_threads``):
        when it runs Keras, or its products are too small to gain from threads but
        large enough that OpenBLAS would thread them."""
        if self._runs_keras:
            return True
        return (
            n_rows * self._largest_product >= _OPENBLAS_THREADED
            and n_rows * self._multiply_adds <= _SMALL_PASS
        )

    def _blocks(self, X, n_outputs, function):
        widest = max(n_outputs, X.shape[1], self._widest)
        block_rows = max(1, _BLOCK_ELEMENTS // widest)
        if self._convolved:  # convolutions: blocks whose patches stay in the CPU's cache
            limit = _conv.BLOCK_BYTES // (self._convolved * X.dtype.itemsize)
            block_rows = max(1, min(block_rows, limit))
        # An overflow is reported below, as a ValueError that says what to do.
        with (
            np.errstate(over="ignore", invalid="ignore"),
            one_blas_thread(self.holds_one_blas_thread(X.shape[0])),
        ):
            if X.shape[0] <= block_rows:
                out = function(X)
            else:
                out = np.empty((X.shape[0], n_outputs), dtype=X.dtype)
                for start in range(0, X.shape[0], block_rows):
                    out[start : start + block_rows] = function(X[start : start + block_rows])
        if not np.isfinite(out).all():
            raise ValueError(
                f"The input overflows {X.dtype} arithmetic in this model: its values "
                f"range from {np.min(X):.4g} to {np.max(X):.4g}, while the training "
                f"data were centred on values near {np.min(self.mean):.4g} to "
                f"{np.max(self.mean):.4g} with a scale of {self.scale:.4g}. Pass float64 "
                "rows (np.asarray(X, dtype=np.float64)) or rows on the training data's scale."
            )
        return out


def valid_code_scale(code) -> bool:
    """Whether ``code`` can scale codes: every entry finite and positive (decoding
    divides by it). Unpickling and ``load`` both refuse any other."""
    code = np.asarray(code)
    return bool(np.all(np.isfinite(code) & (code > 0)))


def _builder_layer(fields: dict) -> Layer:
    """A builder's path from pickled fields, its config checked as a file's would be."""
    import json

    from ._config_check import allocated_weights, check_config

    part = fields["name"].split("_")[0]
    config = json.loads(fields["config"])
    check_config(config, part)
    layer = Layer(
        **{
            **fields,
            "input_shape": tuple(fields["input_shape"]),
            "output_shape": tuple(fields["output_shape"]),
            "arrays": tuple((name, tuple(shape)) for name, shape in fields["arrays"]),
        }
    )
    # The arrays (checked against these shapes) must hold the config's weights, or
    # Keras would allocate more at the first pass than the state holds.
    needed = allocated_weights(config)
    held = sum(math.prod(shape) for shape in layer.weight_shapes().values())
    if needed > held:
        raise ValueError(
            f"The {part}'s config does not describe its arrays: it has at least "
            f"{needed:,} weights, its arrays {held:,}."
        )
    return layer


def _plan(paths: tuple[tuple[Layer, ...], ...]) -> tuple:
    """Each path as ``(operation, kernel name, bias name, activation)`` steps; the
    operation is None for dense layers (a matrix product with the kernel: the hot
    path of transform) and ``_conv``'s for the other kinds (kernel name None)."""
    return tuple(tuple(_step(layer) for layer in path) for path in paths)


def _step(layer: Layer) -> tuple:
    names = layer.weight_shapes()
    bias = f"{layer.name}.bias" if f"{layer.name}.bias" in names else None
    activation = activation_function(layer.activation)
    if layer.kind == "dense":
        return (None, f"{layer.name}.kernel", bias, activation)
    if layer.kind == "keras":  # a builder's model, compiled by Keras
        from ._keras_network import Forward

        return (Forward(layer), None, None, activation)
    return (_conv.operation(layer), None, bias, activation)


def _run(plan: tuple, inputs: np.ndarray, w: dict) -> np.ndarray:
    """The sum of the plan's paths applied to ``inputs`` with the arrays ``w``.

    The first path is the linear one, a fresh array: the sum is made in place there.
    """
    total = None
    for path in plan:
        h = inputs
        for operation, kernel, bias, activation in path:
            h = h @ w[kernel] if operation is None else operation(h, w)
            if bias is not None:
                h += w[bias]
            h = activation(h)
        total = h if total is None else np.add(total, h, out=total)
    return total
