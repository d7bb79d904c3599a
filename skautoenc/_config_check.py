"""What a Keras model config may hold to be kept, pickled, saved and loaded safely.

Pure JSON inspection, before Keras sees a config (``_keras_network`` builds the
models): only Keras' built-in classes named here, objects serialized as objects,
and activations by their built-in names. A ``Lambda`` (Python bytecode), a custom
or registered class, or a name Keras would look up among the objects registered in
the loading process could run code that is not Keras'.
"""

from __future__ import annotations

import math
import re
from typing import Any

# Keras' built-in classes a config may name, by the module its serialization gives.
# Each is a plain function of its arrays and of numbers in its config; none
# executes code it was given (Lambda and the wrappers of foreign code are left out).
LAYERS = frozenset(
    """InputLayer Dense EinsumDense Conv1D Conv2D Conv3D Conv1DTranspose Conv2DTranspose
    Conv3DTranspose SeparableConv1D SeparableConv2D DepthwiseConv1D DepthwiseConv2D
    MaxPooling1D MaxPooling2D AveragePooling1D AveragePooling2D GlobalMaxPooling1D
    GlobalMaxPooling2D GlobalAveragePooling1D GlobalAveragePooling2D UpSampling1D
    UpSampling2D ZeroPadding1D ZeroPadding2D Cropping1D Cropping2D Reshape Flatten
    Permute RepeatVector Identity Activation ReLU LeakyReLU PReLU ELU Softmax Dropout
    SpatialDropout1D SpatialDropout2D GaussianNoise GaussianDropout AlphaDropout
    BatchNormalization LayerNormalization GroupNormalization UnitNormalization Add
    Subtract Multiply Average Maximum Minimum Concatenate Dot SimpleRNN GRU LSTM
    Bidirectional TimeDistributed Rescaling""".split()  # noqa: SIM905
)
INITIALIZERS = frozenset(
    """Constant GlorotNormal GlorotUniform HeNormal HeUniform Identity IdentityInitializer
    LecunNormal LecunUniform Ones Orthogonal OrthogonalInitializer RandomNormal
    RandomUniform TruncatedNormal VarianceScaling Zeros""".split()  # noqa: SIM905
)
# Keras' built-in activations, the names a config may give.
ACTIVATIONS = frozenset(
    """linear relu relu6 leaky_relu elu selu celu gelu glu silu swish mish softplus
    softsign soft_shrink hard_shrink tanh tanh_shrink hard_tanh sigmoid log_sigmoid
    hard_sigmoid hard_silu hard_swish exponential softmax log_softmax sparse_plus
    squareplus sparsemax threshold""".split()  # noqa: SIM905
)
_ALLOWED = {
    "keras.layers": LAYERS,
    "keras.initializers": INITIALIZERS,
    "keras.regularizers": frozenset({"L1", "L2", "L1L2", "OrthogonalRegularizer"}),
    "keras.constraints": frozenset({"MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm"}),
    # Functional models are kept as keras.Model (see _public_names).
    "keras": frozenset({"Sequential", "Model", "DTypePolicy", "FloatDTypePolicy"}),
}
_MODELS = ("Sequential", "Model")


def check_config(config: Any, part: str) -> None:
    """Refuse a model config holding anything but the classes allowed here.

    Pure JSON inspection, before Keras sees the config: ``ValueError`` names the
    first class (or activation) refused and why.
    """
    if not isinstance(config, dict) or config.get("class_name") not in _MODELS:
        raise ValueError(
            f"The {part} must be a keras.Sequential or functional keras.Model (a "
            "subclassed model has no config to rebuild it from). Received: "
            f"{shortened(config)}."
        )
    inner = config.get("config")
    if not (
        isinstance(inner, dict)
        and isinstance(inner.get("layers"), list)
        and all(isinstance(layer, dict) and "config" in layer for layer in inner["layers"])
    ):
        raise ValueError(
            f"The {part}'s config must list its layers as objects. Received: {shortened(inner)}."
        )
    for key, value in _items(config):
        # Objects Keras would look up by a name are refused unless they are Keras' own:
        # a name can reach any object registered in the loading process.
        resolved = key.endswith(("_initializer", "_regularizer", "_constraint"))
        if resolved and not (value is None or isinstance(value, dict)):
            raise ValueError(
                f"The {part}'s {key} must be a serialized Keras object, not a name. "
                f"Received: {key}={shortened(value)}."
            )
        named = value is None or (isinstance(value, str) and value in ACTIVATIONS)
        if key.endswith("activation") and not named:
            raise ValueError(
                f"The {part}'s activations must be Keras activations given by name, "
                f"such as 'relu'. Received: {key}={shortened(value)}."
            )
    for node in serialized_objects(config):
        module, name = node.get("module"), node.get("class_name")
        if name == "__keras_tensor__" and "module" not in node:
            continue
        if name not in _ALLOWED.get(module, ()) or node.get("registered_name") not in (
            None,
            name,
        ):
            what = (
                "a Lambda layer holds Python bytecode"
                if name == "Lambda"
                else "custom or unlisted classes would run code outside Keras' built-in layers"
            )
            raise ValueError(
                f"The {part} cannot be kept as a safe, rebuildable description (the "
                "fitted network is trained, pickled and saved as its Keras config, "
                f"which must load without running code): {what}. "
                "Use Keras' built-in layers (Dense, Conv1D/2D and their Transpose, "
                "pooling, UpSampling, Reshape, Flatten, Cropping, normalization, "
                "Dropout, recurrent layers...), with activations given by name. "
                f"Received: {module}.{name}."
            )


# Weighted layers whose arrays a config sizes: Dense's units, the filters of
# convolutions (kernel window x input channels x filters), the gates of recurrent
# layers (their recurrent kernel is units x gates x units, whatever the input).
_CONVOLUTIONS = frozenset(
    """Conv1D Conv2D Conv3D Conv1DTranspose Conv2DTranspose Conv3DTranspose
    SeparableConv1D SeparableConv2D""".split()  # noqa: SIM905
)
_DEPTHWISE = frozenset({"DepthwiseConv1D", "DepthwiseConv2D"})
_GATES = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}
# Layers whose arrays take the size of their input (PReLU's slopes, the
# normalizations' statistics and factors) or an einsum of it.
_SIZED_BY_INPUT = frozenset(
    {"PReLU", "BatchNormalization", "LayerNormalization", "GroupNormalization", "EinsumDense"}
)
_COUNTED = frozenset({"Dense", *_CONVOLUTIONS, *_DEPTHWISE, *_GATES, *_SIZED_BY_INPUT})


def allocated_weights(config: dict) -> int:
    """The weights Keras allocates to build a model ``config`` (one ``check_config``
    accepted), from the config alone.

    Counts the arrays of Dense, EinsumDense, convolution, recurrent, PReLU and
    normalization layers, nested ones included, each from the input shape its
    ``build_config`` declares; the other layers allowed here hold none. A saved
    file holds every weight in at least 4 bytes, so a network whose count exceeds
    that is refused before Keras allocates anything.

    Keras builds a layer that declares its input shape from that shape, and then
    refuses inputs of another (a layer's input spec), so the declared shape is
    the one it allocates for. A counted layer that declares none would be built
    from the inputs Keras finds when it wires the model, which layers without
    weights can widen at will (``UpSampling``, ``RepeatVector`` before a
    ``Flatten``): ``ValueError``. Keras declares them for every layer of a built
    model, which every config kept here comes from.
    """
    total = 0
    for node in serialized_objects(config):
        name, options = node["class_name"], node.get("config")
        if not isinstance(options, dict) or name not in _COUNTED:
            continue
        shape = _declared_shape(node)
        if shape is None:
            raise ValueError(
                f"The config's {name} layer {options.get('name')!r} declares no input "
                "shape, so the size of its arrays cannot be bounded before Keras "
                "allocates them (Keras writes a build_config with the input shape for "
                "every layer of a built model). Received: "
                f"build_config={shortened(node.get('build_config'))}."
            )
        total += _layer_weights(name, options, shape)
    return total


def _layer_weights(name: str, options: dict, shape: list) -> int:
    """The weights a counted layer allocates for inputs of ``shape``."""
    channels = _positive(_at(shape, 1 if options.get("data_format") == "channels_first" else -1))
    bias = bool(options.get("use_bias", True))
    if name == "Dense":
        units = _positive(options.get("units"))
        return (channels + bias) * units
    if name in _CONVOLUTIONS:
        filters, window = _positive(options.get("filters")), _window(options)
        if name.startswith("Separable"):  # a depthwise kernel, then a pointwise one
            multiplied = channels * _positive(options.get("depth_multiplier"))
            return window * multiplied + (multiplied + bias) * filters
        groups = _positive(options.get("groups")) or 1  # each sees channels / groups
        return (window * (channels // groups) + bias) * filters
    if name in _DEPTHWISE:
        multiplied = channels * _positive(options.get("depth_multiplier"))
        return (_window(options) + bias) * multiplied
    if name in _GATES:
        units, gates = _positive(options.get("units")), _GATES[name]
        biases = 2 if name == "GRU" and options.get("reset_after", True) else 1
        return gates * units * (units + channels + bias * biases)
    if name == "PReLU":
        shared = options.get("shared_axes") or ()
        shared = shared if isinstance(shared, (list, tuple)) else [shared]
        return math.prod(
            1 if axis in shared else _positive(n) for axis, n in enumerate(shape) if axis
        )
    if name == "EinsumDense":
        return _einsum_arrays(options, shape)
    axes = options.get("axis", -1)
    size = math.prod(
        _positive(_at(shape, axis)) for axis in (axes if isinstance(axes, list) else [axes])
    )
    if name == "LayerNormalization":
        rms = bool(options.get("rms_scaling"))
        arrays = bool(options.get("scale", True) or rms) + bool(
            options.get("center", True) and not rms
        )
    else:  # Batch- and GroupNormalization; BatchNormalization adds its moving statistics
        arrays = bool(options.get("scale", True)) + bool(options.get("center", True))
        arrays += 2 if name == "BatchNormalization" else 0
    return arrays * size


def _einsum_arrays(options: dict, shape: list) -> int:
    """EinsumDense's kernel and bias sizes, worked out from its equation as Keras
    does: each kernel axis takes the size of the output axis (``output_shape``) or
    else the input axis it names, each bias axis the output axis's; 0 for an
    equation Keras refuses."""
    equation, partial = options.get("equation"), options.get("output_shape")
    if not isinstance(equation, str):
        return 0
    dotted = equation.replace("...", "0")
    forms = ((re.match(pattern, dotted), left) for pattern, left in _EINSUM_FORMS)
    match, left = next(((match, left) for match, left in forms if match), (None, False))
    if match is None:
        return 0
    inputs, kernel, outputs = match.groups()
    elided = len(shape) - len(inputs)
    partial = [partial] if isinstance(partial, int) else partial
    output = [shape[0], *(partial if isinstance(partial, (list, tuple)) else [])]
    if elided > 0 and left:
        output[1:1] = shape[elided - 1 : 0 : -1]
    elif elided > 0:
        output += shape[len(shape) - elided :]
    output_axis = {axis: i + elided if left else i for i, axis in enumerate(outputs)}
    input_axis = {axis: i + elided - len(shape) if left else i for i, axis in enumerate(inputs)}
    sizes = [
        _at(output, output_axis[axis]) if axis in output_axis else _at(shape, input_axis.get(axis))
        for axis in kernel
    ]
    kernel_size = math.prod(map(_positive, sizes))
    bias_axes = options.get("bias_axes")
    if not (isinstance(bias_axes, str) and bias_axes):
        return kernel_size  # no bias (None), or one Keras refuses
    return kernel_size + math.prod(_positive(_at(output, output_axis.get(a))) for a in bias_axes)


# EinsumDense's equations with "..." replaced by "0": none, on the left, on the right.
_EINSUM_FORMS = (
    ("([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)", False),
    ("0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)", True),
    ("([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0", False),
)


def _positive(value) -> int:
    """``value`` when a positive int, else 0 (Keras refuses it; it bounds nothing)."""
    return value if type(value) is int and value > 0 else 0


def _at(sequence: list, index):
    """``sequence[index]``, or None where Keras could not index it either."""
    try:
        return sequence[index] if type(index) is int else None
    except IndexError:
        return None


def _window(options: dict) -> int:
    size = options.get("kernel_size")
    sizes = size if isinstance(size, (list, tuple)) else [size]
    return math.prod(_positive(n) for n in sizes)


def _declared_shape(node: dict) -> list | None:
    """The input shape a layer's ``build_config`` declares (batch axis first), or None."""
    build = node.get("build_config")
    shape = build.get("input_shape") if isinstance(build, dict) else None
    return list(shape) if isinstance(shape, (list, tuple)) and len(shape) >= 2 else None


def serialized_objects(node):
    """Every serialized Keras object (a dict with a ``class_name``) in a config."""
    return (d for d in _dicts(node) if "class_name" in d)


def _items(node):
    """Every ``(key, value)`` pair of every dict in a config."""
    return (item for d in _dicts(node) for item in d.items())


def _dicts(node):
    """Every dict in a config, ``node`` included, parents before their contents."""
    if isinstance(node, dict):
        yield node
        values = node.values()
    elif isinstance(node, list):
        values = node
    else:
        return
    for value in values:
        yield from _dicts(value)


def shortened(value) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."
