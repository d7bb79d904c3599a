"""One layer of the network's description: its kinds, shapes, arrays and Keras twin.

``_network.Network`` lays the layers out; everything else (the Keras builder, the
NumPy forward pass, the initialisation, persistence) reads them from there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# Every convolution of the residual paths: 3x3 kernels, stride 2, "same" padding.
KERNEL_SIZE = 3
STRIDES = 2
# Layers with arrays; the others only change how a row's values are laid out.
WEIGHTED_KINDS = ("dense", "conv", "conv_transpose")
KINDS = (*WEIGHTED_KINDS, "reshape", "flatten", "crop", "keras")


@dataclass(frozen=True)
class Layer:
    """One layer, applied to each row; shapes are per row, channels last.

    kind:

    - ``"dense"``: ``activation(h @ kernel + bias)``, shapes ``(n,)`` to ``(units,)``;
    - ``"conv"``: Keras' ``Conv2D`` (``kernel_size``, ``strides``, padding "same"),
      ``(h, w, c)`` to ``(ceil(h / strides), ceil(w / strides), filters)``;
    - ``"conv_transpose"``: Keras' ``Conv2DTranspose`` (padding "same"),
      ``(h, w, c)`` to ``(h * strides, w * strides, filters)``;
    - ``"reshape"``: ``(n,)`` to ``output_shape``; ``"flatten"``: to ``(n,)``;
    - ``"crop"``: Keras' ``Cropping2D``, ``(h, w, c)`` to the ``output_shape``'s
      ``(h', w', c)``, cropping ``(h - h') // 2`` rows at the top and the rest at
      the bottom (columns alike);
    - ``"keras"``: a model from the user's ``builder``, ``(n,)`` to ``(m,)``, as
      its Keras ``config`` (JSON) with arrays ``arrays`` (``(name, shape)`` pairs,
      see ``_keras_network``).
    """

    name: str
    kind: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    activation: str = "linear"
    use_bias: bool = True
    starts_at_zero: bool = False
    kernel_size: int = 1
    strides: int = 1
    config: str = field(default="", repr=False)
    arrays: tuple[tuple[str, tuple[int, ...]], ...] = field(default=(), repr=False)

    @property
    def n_inputs(self) -> int:
        return math.prod(self.input_shape)

    @property
    def units(self) -> int:
        """Output width (dense) or channels (convolutions, shape layers)."""
        return self.output_shape[-1]

    @property
    def cropping(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """``((top, bottom), (left, right))``, as ``Cropping2D`` takes it."""
        extra = [a - b for a, b in zip(self.input_shape[:2], self.output_shape[:2], strict=True)]
        return tuple((n // 2, n - n // 2) for n in extra)

    @property
    def multiply_adds(self) -> int:
        """Multiply-adds per row: the arrays' sizes, times the positions a
        convolution applies its kernel at (Conv2D's output, Conv2DTranspose's input)."""
        positions = {"conv": self.output_shape[:2], "conv_transpose": self.input_shape[:2]}
        arrays = sum(math.prod(shape) for shape in self.weight_shapes().values())
        return math.prod(positions.get(self.kind, ())) * arrays

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """Arrays by name, in Keras' layouts: Dense ``(in, out)``, Conv2D ``(kh, kw,
        in, out)``, Conv2DTranspose ``(kh, kw, out, in)``; biases ``(out,)``; a
        "keras" layer's ``arrays``."""
        if self.kind == "keras":
            return dict(self.arrays)
        if self.kind not in WEIGHTED_KINDS:
            return {}
        k, n_in, n_out = self.kernel_size, self.input_shape[-1], self.units
        kernel = {
            "dense": (n_in, n_out),
            "conv": (k, k, n_in, n_out),
            "conv_transpose": (k, k, n_out, n_in),
        }[self.kind]
        shapes = {f"{self.name}.kernel": kernel}
        if self.use_bias:
            shapes[f"{self.name}.bias"] = (n_out,)
        return shapes


def dense_layer(name, n_in, n_out, activation, **options) -> Layer:
    return Layer(name, "dense", (n_in,), (n_out,), activation, **options)


def conv_layer(name, kind, shape, filters, activation, **options) -> Layer:
    h, w, _ = shape
    if kind == "conv":
        out = (-(-h // STRIDES), -(-w // STRIDES), filters)  # ceil: "same" padding
    else:
        out = (h * STRIDES, w * STRIDES, filters)
    return Layer(
        name, kind, shape, out, activation, kernel_size=KERNEL_SIZE, strides=STRIDES, **options
    )


def shape_layer(name, kind, input_shape, output_shape) -> Layer:
    """A layer without arrays: ``"reshape"``, ``"flatten"`` or ``"crop"``."""
    return Layer(name, kind, input_shape, output_shape, use_bias=False)


def max_conv_layers(height: int, width: int) -> int:
    """The most stride-2 convolutions worth stacking: those that reach a 1x1 map.

    More would only enlarge what the decoder upsamples and crops (2 ** layers).
    """
    return max(1, (max(height, width) - 1).bit_length())


def keras_layer(keras, layer: Layer):
    """The Keras built-in layer for ``layer`` (channels last, whatever Keras' config)."""
    layers, options = keras.layers, {"name": layer.name}
    if layer.kind == "dense":
        return layers.Dense(
            layer.units, activation=layer.activation, use_bias=layer.use_bias, **options
        )
    if layer.kind in ("conv", "conv_transpose"):
        convolution = layers.Conv2D if layer.kind == "conv" else layers.Conv2DTranspose
        return convolution(
            layer.units,
            layer.kernel_size,
            strides=layer.strides,
            padding="same",
            data_format="channels_last",
            activation=layer.activation,
            use_bias=layer.use_bias,
            **options,
        )
    if layer.kind == "reshape":
        return layers.Reshape(layer.output_shape, **options)
    if layer.kind == "flatten":
        return layers.Flatten(data_format="channels_last", **options)
    if layer.kind == "keras":
        from ._keras_network import build_model

        return build_model(layer.config)
    return layers.Cropping2D(layer.cropping, data_format="channels_last", **options)
