"""ONNX export of :class:`~skautoenc.AutoencoderTransformer` with ``skl2onnx``.

Importing this module registers a shape calculator and a converter for
``AutoencoderTransformer`` with :func:`skl2onnx.update_registered_converter`, so
that :func:`skl2onnx.to_onnx` and :func:`skl2onnx.convert_sklearn` export the
estimator, alone or inside a pipeline. It needs the ``onnx`` extra
(``pip install "skautoenc[onnx]"``); ``import skautoenc`` never imports it.

The graph is written from the fitted arrays (``weights_``, ``mean_``, ``scale_``,
``output_min_``, ``output_max_``, and the codes' scale and centre): no Keras
model is built or traced. It computes
in the input's float type (float32 or float64), as ``transform`` does.

The converter option ``method`` chooses what the graph computes: ``"transform"``
(the default: codes), ``"inverse_transform"`` (codes to reconstructions) or
``"denoise"`` (rows to reconstructions). Pass it per class or per estimator:
``to_onnx(est, X, options={AutoencoderTransformer: {"method": "denoise"}})`` or
``options={id(est): {"method": "denoise"}}``.

Activations exported: those in ``SUPPORTED_ACTIVATIONS``; any other raises a
``ValueError`` at conversion, as does a convolutional network (``image_shape``
set) or a builder's: the converter covers the built-in dense networks only, for now.

Examples
--------
>>> import numpy as np
>>> from onnxruntime import InferenceSession
>>> from skl2onnx import to_onnx
>>> import skautoenc.onnx
>>> from skautoenc import AutoencoderTransformer
>>> X = np.random.RandomState(0).uniform(size=(200, 6)).astype(np.float32)
>>> est = AutoencoderTransformer(2, hidden_layer_sizes=(8,), epochs=2, random_state=0).fit(X)
>>> model = to_onnx(est, X[:1])
>>> session = InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
>>> codes = session.run(None, {"X": X})[0]
>>> codes.shape, codes.dtype
((200, 2), dtype('float32'))
>>> bool(np.allclose(codes, est.transform(X), rtol=1e-4, atol=1e-5))
True
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.utils.validation import check_is_fitted

try:
    from onnx import TensorProto
    from skl2onnx import update_registered_converter
    from skl2onnx.algebra import onnx_ops
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, guess_numpy_type
    from skl2onnx.common.utils import check_input_and_output_types
except ImportError as error:
    raise ImportError(
        'skautoenc.onnx needs skl2onnx (and onnx): pip install "skautoenc[onnx]".'
    ) from error

from ._autoencoder import AutoencoderTransformer

__all__ = ["METHODS", "SUPPORTED_ACTIVATIONS"]

# The alias skl2onnx files the converter under (its convention: library + class name).
_ALIAS = "SkautoencAutoencoderTransformer"

#: Values of the converter option ``method`` (the first is the default).
METHODS = ("transform", "inverse_transform", "denoise")


class _Nodes:
    """skl2onnx's algebra operators (``nodes.MatMul(a, b)``) in one opset and float type.

    Numbers and arrays given as inputs become constants of the graph's float type:
    ONNX refuses mixed float types within a node.
    """

    def __init__(self, dtype: type, op_version: int):
        self.dtype, self.op_version = dtype, op_version

    def __getattr__(self, op_type: str):
        operator = getattr(onnx_ops, f"Onnx{op_type}")

        def node(*inputs, **attributes):
            inputs = tuple(
                np.asarray(x, dtype=self.dtype) if isinstance(x, (int, float, np.ndarray)) else x
                for x in inputs
            )
            return operator(*inputs, op_version=self.op_version, **attributes)

        return node


# Keras activations (with Keras' default parameters, as the NumPy pass) as ONNX nodes.
# Only operators onnxruntime runs in float32 *and* float64: it has no float64 Softplus,
# Softsign, Elu or Erf, so those are spelt out. Constants are inputs, not float
# attributes (LeakyRelu's alpha, Selu's), which are float32 and would cost float64
# graphs their precision.
_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def _elu(g: _Nodes, x, alpha: float = 1.0):
    # x if x > 0 else alpha * (exp(x) - 1); min(x, 0) keeps exp finite where x is kept.
    negative = g.Sub(g.Exp(g.Min(x, 0)), 1)
    return g.Where(g.Greater(x, 0), x, negative if alpha == 1.0 else g.Mul(negative, alpha))


def _silu(g: _Nodes, x):
    return g.Mul(x, g.Sigmoid(x))


def _gelu(g: _Nodes, x):
    # Keras' default, exact gelu: x / 2 * (1 + erf(x / sqrt(2))). onnxruntime has a
    # float32 Erf only, so a float64 graph computes erf (alone) in float32.
    scaled = g.Div(x, math.sqrt(2))
    if g.dtype == np.float64:
        erf = g.Cast(g.Erf(g.Cast(scaled, to=TensorProto.FLOAT)), to=TensorProto.DOUBLE)
    else:
        erf = g.Erf(scaled)
    return g.Mul(g.Mul(x, 0.5), g.Add(erf, 1))


_ACTIVATIONS = {
    "linear": lambda g, x: x,
    "relu": lambda g, x: g.Relu(x),
    "sigmoid": lambda g, x: g.Sigmoid(x),
    "tanh": lambda g, x: g.Tanh(x),
    # relu(x) + log(1 + exp(-|x|)): exp never overflows, as np.logaddexp(0, x).
    "softplus": lambda g, x: g.Add(g.Relu(x), g.Log(g.Add(g.Exp(g.Neg(g.Abs(x))), 1))),
    "softsign": lambda g, x: g.Div(x, g.Add(g.Abs(x), 1)),
    "elu": _elu,
    "selu": lambda g, x: g.Mul(_elu(g, x, _SELU_ALPHA), _SELU_SCALE),
    # max(x, 0.2 x) is Keras' leaky_relu (slope 0.2) without a comparison node.
    "leaky_relu": lambda g, x: g.Max(x, g.Mul(x, 0.2)),
    "relu6": lambda g, x: g.Clip(x, 0, 6),
    "silu": _silu,
    "swish": _silu,
    "exponential": lambda g, x: g.Exp(x),
    "gelu": _gelu,
}

#: Keras activation names the converter exports (hidden layers and output).
SUPPORTED_ACTIVATIONS = tuple(_ACTIVATIONS)


def _method(options_source, estimator) -> str:
    """The ``method`` option for ``estimator`` (per id, else per class, else "transform").

    ``options_source`` is skl2onnx's scope (shape calculators) or container
    (converters): both resolve options the same way.
    """
    method = options_source.get_options(estimator, {"method": METHODS[0]})["method"]
    return METHODS[0] if method is None else method


def _widths(network, method: str) -> tuple[int, int]:
    """``(input width, output width)`` of the graph for ``method``."""
    code, features = network.n_components, network.n_features
    return {"transform": (features, code), "inverse_transform": (code, features)}.get(
        method, (features, features)
    )


def _calculate_output_shapes(operator) -> None:
    estimator = operator.raw_operator
    check_is_fitted(estimator)
    check_input_and_output_types(operator, good_input_types=[FloatTensorType, DoubleTensorType])
    network = estimator._fitted.network
    if network.image_shape is not None or network.builder_layers:
        which = (
            f"image_shape={estimator.image_shape!r}"
            if network.image_shape is not None
            else "a builder"
        )
        raise ValueError(
            f"Cannot export AutoencoderTransformer with {which} to ONNX: the "
            "converter covers the built-in dense networks only, for now. Its Keras "
            "twin, model_ (encoder_, decoder_), is a plain Keras model that Keras' "
            "own exporters read."
        )
    method = _method(operator.scope_inst, estimator)
    n_inputs, n_outputs = _widths(network, method)
    shape = operator.inputs[0].type.shape
    # A known width that differs would fail in onnxruntime instead, far from its cause.
    if len(shape) == 2 and isinstance(shape[1], int) and shape[1] != n_inputs:
        raise ValueError(
            f"AutoencoderTransformer with method={method!r} expects {n_inputs} input "
            f"columns; the ONNX input has {shape[1]}."
        )
    first = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = operator.inputs[0].type.__class__([first, n_outputs])


def _activations(paths) -> list[str]:
    return [layer.activation for path in paths for layer in path]


def _paths(g: _Nodes, paths, inputs, weights: dict):
    """The sum of ``paths`` (tuples of ``Layer``) applied to ``inputs``, as ONNX nodes."""
    total = None
    for path in paths:
        h = inputs
        for layer in path:
            h = g.MatMul(h, weights[f"{layer.name}.kernel"])
            if layer.use_bias:
                h = g.Add(h, weights[f"{layer.name}.bias"])
            h = _ACTIVATIONS[layer.activation](g, h)
        total = h if total is None else g.Add(total, h)
    return total


def _convert(scope, operator, container) -> None:
    estimator = operator.raw_operator
    fitted = estimator._fitted
    network = fitted.network
    method = _method(container, estimator)
    encoding, decoding = method != "inverse_transform", method != "transform"
    # Only the half the graph computes need be exportable: an output activation
    # without an ONNX twin does not stop transform's export.
    used = _activations(network.encoder_paths()) if encoding else []
    if decoding:
        used += [*_activations(network.decoder_paths()), network.output_activation]
    unsupported = sorted(set(used) - set(_ACTIVATIONS))
    if unsupported:
        raise ValueError(
            f"Cannot export AutoencoderTransformer with activation "
            f"{', '.join(map(repr, unsupported))} to ONNX. Supported activations: "
            f"{', '.join(SUPPORTED_ACTIVATIONS)}."
        )

    g = _Nodes(guess_numpy_type(operator.inputs[0].type), container.target_opset)
    out = operator.inputs[0]
    # The codes' scale and centre apply to codes that leave or enter the graph only.
    codes_cross = encoding != decoding
    if encoding:
        u = g.Div(g.Sub(out, fitted.mean), fitted.scale)
        out = _paths(g, network.encoder_paths(), u, fitted.weights)
        if codes_cross:
            out = g.Sub(g.Mul(out, fitted.code_scale), fitted.code_mean)
    if decoding:
        if codes_cross:
            out = g.Div(g.Add(out, fitted.code_mean), fitted.code_scale)
        u = _paths(g, network.decoder_paths(), out, fitted.weights)
        out = _ACTIVATIONS[network.output_activation](g, g.Add(g.Mul(u, fitted.scale), fitted.mean))
        # Infinite bounds are no bounds: a side without a finite one costs no node.
        if np.isfinite(fitted.lower).any():
            out = g.Max(out, fitted.lower)
        if np.isfinite(fitted.upper).any():
            out = g.Min(out, fitted.upper)
    g.Identity(out, output_names=operator.outputs[:1]).add_to(scope, container)


# Registering again replaces the same entry: importing or reloading twice is harmless.
update_registered_converter(
    AutoencoderTransformer,
    _ALIAS,
    _calculate_output_shapes,
    _convert,
    options={"method": list(METHODS)},
)
