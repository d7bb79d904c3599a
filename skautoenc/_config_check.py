"""What a Keras model config may hold to be kept, pickled, saved and loaded safely.

Pure JSON inspection, before Keras sees a config (``_keras_network`` builds the
models): only Keras' built-in classes named here, objects serialized as objects,
and activations by their built-in names. A ``Lambda`` (Python bytecode), a custom
or registered class, or a name Keras would look up among the objects registered in
the loading process could run code that is not Keras'.
"""

from __future__ import annotations

import math
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


# Weighted layers whose kernel a config sizes: Dense's units, the filters of
# convolutions (kernel window x input channels x filters), the gates of recurrent
# layers (their recurrent kernel is units x gates x units, whatever the input).
_CONVOLUTIONS = frozenset(
    """Conv1D Conv2D Conv3D Conv1DTranspose Conv2DTranspose Conv3DTranspose
    SeparableConv1D SeparableConv2D""".split()  # noqa: SIM905
)
_DEPTHWISE = frozenset({"DepthwiseConv1D", "DepthwiseConv2D"})
_GATES = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}
_COUNTED = frozenset({"Dense", *_CONVOLUTIONS, *_DEPTHWISE, *_GATES})


def least_weights(config: dict) -> int:
    """A lower bound of the weights Keras allocates to build a model ``config``
    (one ``check_config`` accepted), from the config alone.

    Counts the kernels of Dense, convolution and recurrent layers, nested ones
    included, each with the input channels its ``build_config`` declares; biases
    and other layers' arrays only add to it. A saved file holds every weight in at
    least 4 bytes, so a network whose bound exceeds that is refused before Keras
    allocates anything.

    Keras builds a layer that declares its input shape from that shape, and then
    refuses inputs of another (a layer's input spec), so the declared channels are
    the ones it allocates for. A counted layer that declares none would be built
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
        channels = _input_channels(node, options)
        if not channels:
            raise ValueError(
                f"The config's {name} layer {options.get('name')!r} declares no input "
                "shape, so the size of its kernel cannot be bounded before Keras "
                "allocates it (Keras writes a build_config with the input shape for "
                "every layer of a built model). Received: "
                f"build_config={shortened(node.get('build_config'))}."
            )
        if name == "Dense":
            total += channels * _positive(options.get("units"))
        elif name in _CONVOLUTIONS:
            window = 1 if name.startswith("Separable") else _window(options)
            groups = _positive(options.get("groups")) or 1  # each sees channels / groups
            total += window * (channels // groups) * _positive(options.get("filters"))
        elif name in _DEPTHWISE:
            total += _window(options) * channels * _positive(options.get("depth_multiplier"))
        elif name in _GATES:
            units = _positive(options.get("units"))
            total += _GATES[name] * units * (units + channels)
    return total


def _positive(value) -> int:
    """``value`` when a positive int, else 0 (Keras refuses it; it bounds nothing)."""
    return value if type(value) is int and value > 0 else 0


def _window(options: dict) -> int:
    size = options.get("kernel_size")
    sizes = size if isinstance(size, (list, tuple)) else [size]
    return math.prod(_positive(n) for n in sizes)


def _input_channels(node: dict, options: dict) -> int:
    """The input channels a layer's ``build_config`` declares, or 0 (none)."""
    build = node.get("build_config")
    shape = build.get("input_shape") if isinstance(build, dict) else None
    if not isinstance(shape, (list, tuple)) or len(shape) < 2:
        return 0
    axis = 1 if options.get("data_format") == "channels_first" else -1
    return _positive(shape[axis])


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
