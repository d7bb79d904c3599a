"""The network, described once: read by the Keras builder, the NumPy forward pass,
the initialisation from PCA, persistence and the warm-start checks.

The autoencoder works on standardised rows ``u = (x - mean_) / scale_``. The
encoder is the sum of two paths: a linear projection (initialised to PCA's
whitened projection) and a residual nonlinear path whose last weighted layer
starts at zero; the decoder mirrors it. So the untrained network *is* PCA, and
training only adds what a nonlinear map can explain beyond it.

The residual path is a multilayer perceptron, or, for rows that are flattened
images (``image_shape``), strided convolutions before it and transposed
convolutions after it, or the user's own Keras models (``builder_layers``, see
``_keras_network``). Each layer has one name, used for the Keras layer and for
its arrays (``"<layer>.kernel"``, ``"<layer>.bias"``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ._layers import (
    STRIDES,
    Layer,
    conv_layer,
    dense_layer,
    keras_layer,
    max_conv_layers,
    shape_layer,
)


@dataclass(frozen=True)
class Network:
    """The structure of a fitted autoencoder: everything its arrays' shapes depend on.

    Frozen and hashable: it is part of the cache key of compiled trainers.

    Parameters
    ----------
    n_features : int
        Width of the input and of the reconstruction.
    n_components : int
        Width of the code.
    hidden_layer_sizes : tuple of int
        Widths of the encoder's residual dense layers; the decoder mirrors them.
        Empty, without ``image_shape``: the network is linear (a trainable PCA).
    activation : str
        Keras activation of the hidden layers (dense and convolutional).
    output_activation : str
        Keras activation applied to the reconstruction in the data's units.
    image_shape : tuple of 3 int or None, default=None
        ``(height, width, channels)`` of the images the rows flatten (channels
        last): the residual paths start (encoder) and end (decoder) with
        convolutions. None: dense residual paths.
    conv_filters : tuple of int, default=()
        Channels of the encoder's stride-2 convolutions (the decoder's transposed
        convolutions mirror them); empty when ``image_shape`` is None.
    builder_layers : tuple of 2 Layer, default=()
        The residual paths a ``builder`` made (encoder, decoder), as layers of kind
        ``"keras"``; then ``hidden_layer_sizes`` is empty and ``image_shape`` None.

    Examples
    --------
    >>> net = Network(64, 2, (16,), "relu", "linear")
    >>> [layer.name for path in net.encoder_paths() for layer in path]
    ['encoder_linear', 'encoder_hidden_0', 'encoder_residual']
    >>> net.weight_shapes()["decoder_hidden_0.kernel"]
    (2, 16)
    >>> conv = Network(49, 2, (8,), "relu", "linear", image_shape=(7, 7, 1), conv_filters=(4,))
    >>> [(layer.kind, layer.output_shape) for layer in conv.decoder_paths()[1]]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('dense', (8,)), ('dense', (64,)), ('reshape', (4, 4, 4)),
     ('conv_transpose', (8, 8, 1)), ('crop', (7, 7, 1)), ('flatten', (49,))]
    >>> conv.weight_shapes()["decoder_residual.kernel"]
    (3, 3, 1, 4)
    """

    n_features: int
    n_components: int
    hidden_layer_sizes: tuple[int, ...]
    activation: str
    output_activation: str
    image_shape: tuple[int, int, int] | None = None
    conv_filters: tuple[int, ...] = ()
    builder_layers: tuple[Layer, ...] = ()

    def __post_init__(self):
        # network_for explains bad parameters; this guards every other way in (pickles).
        if self.builder_layers:
            n, k = self.n_features, self.n_components
            consistent = (
                self.image_shape is None
                and not self.hidden_layer_sizes
                and [(b.kind, b.input_shape, b.output_shape) for b in self.builder_layers]
                == [("keras", (n,), (k,)), ("keras", (k,), (n,))]
            )
        elif self.image_shape is None:
            consistent = not self.conv_filters
        else:
            h, w, _ = self.image_shape
            consistent = (
                math.prod(self.image_shape) == self.n_features
                and min(self.image_shape) >= 1
                and 1 <= len(self.conv_filters) <= max_conv_layers(h, w)
                and min(self.conv_filters) >= 1
            )
        if not consistent:
            raise ValueError(
                f"Inconsistent network: image_shape={self.image_shape!r}, "
                f"conv_filters={self.conv_filters!r}, n_features={self.n_features!r}."
            )

    def encoder_paths(self) -> tuple[tuple[Layer, ...], ...]:
        linear = dense_layer(
            "encoder_linear", self.n_features, self.n_components, "linear", use_bias=False
        )
        if self.builder_layers:
            return ((linear,), (self.builder_layers[0],))
        if self.image_shape is not None:
            return ((linear,), self._image_encoder())
        return self._paths("encoder", linear, self.hidden_layer_sizes)

    def decoder_paths(self) -> tuple[tuple[Layer, ...], ...]:
        linear = dense_layer(
            "decoder_linear", self.n_components, self.n_features, "linear", use_bias=False
        )
        if self.builder_layers:
            return ((linear,), (self.builder_layers[1],))
        if self.image_shape is not None:
            return ((linear,), self._image_decoder())
        return self._paths("decoder", linear, tuple(reversed(self.hidden_layer_sizes)))

    def _paths(self, part, linear, hidden):
        if not hidden:
            return ((linear,),)
        layers, width = self._perceptron(part, linear.n_inputs, hidden)
        residual = dense_layer(
            f"{part}_residual", width, linear.units, "linear", starts_at_zero=True
        )
        return ((linear,), (*layers, residual))

    def _perceptron(self, part, width, hidden) -> tuple[list[Layer], int]:
        layers = []
        for i, units in enumerate(hidden):
            layers.append(dense_layer(f"{part}_hidden_{i}", width, units, self.activation))
            width = units
        return layers, width

    def _image_encoder(self) -> tuple[Layer, ...]:
        """Reshape, stride-2 convolutions, flatten, dense layers, a code starting at zero."""
        shape = self.image_shape
        layers = [shape_layer("encoder_reshape", "reshape", (self.n_features,), shape)]
        for i, filters in enumerate(self.conv_filters):
            layers.append(conv_layer(f"encoder_conv_{i}", "conv", shape, filters, self.activation))
            shape = layers[-1].output_shape
        width = math.prod(shape)
        layers.append(shape_layer("encoder_flatten", "flatten", shape, (width,)))
        hidden, width = self._perceptron("encoder", width, self.hidden_layer_sizes)
        code = dense_layer(
            "encoder_residual", width, self.n_components, "linear", starts_at_zero=True
        )
        return (*layers, *hidden, code)

    def feature_map(self) -> tuple[int, int, int]:
        """Shape of the encoder's last convolution's output (the decoder's first map)."""
        h, w, _ = self.image_shape
        for _ in self.conv_filters:
            h, w = -(-h // STRIDES), -(-w // STRIDES)
        return (h, w, self.conv_filters[-1])

    def _image_decoder(self) -> tuple[Layer, ...]:
        """The encoder's mirror: dense layers, one to the feature map, transposed
        convolutions (the last, to the image's channels, starting at zero), a crop
        where upsampling overshoots an odd size (7 -> 4 -> 2 -> 4 -> 8), flatten."""
        hidden = tuple(reversed(self.hidden_layer_sizes))
        layers, width = self._perceptron("decoder", self.n_components, hidden)
        shape = self.feature_map()
        layers.append(dense_layer("decoder_expand", width, math.prod(shape), self.activation))
        layers.append(shape_layer("decoder_reshape", "reshape", (math.prod(shape),), shape))
        channels = (*reversed(self.conv_filters[:-1]), self.image_shape[-1])
        for i, filters in enumerate(channels):
            last = i == len(channels) - 1
            layer = conv_layer(
                "decoder_residual" if last else f"decoder_conv_{i}",
                "conv_transpose",
                shape,
                filters,
                "linear" if last else self.activation,
                starts_at_zero=last,
            )
            layers.append(layer)
            shape = layer.output_shape
        if shape != self.image_shape:
            layers.append(shape_layer("decoder_crop", "crop", shape, self.image_shape))
        flat = (self.n_features,)
        layers.append(shape_layer("decoder_flatten", "flatten", self.image_shape, flat))
        return tuple(layers)

    def layers(self) -> Iterator[Layer]:
        for paths in (self.encoder_paths(), self.decoder_paths()):
            for path in paths:
                yield from path

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every array of the network, by name, in layer order (Keras orders its
        variables by depth instead: arrays are always matched by name)."""
        shapes: dict[str, tuple[int, ...]] = {}
        for layer in self.layers():
            shapes.update(layer.weight_shapes())
        return shapes

    def n_weights(self) -> int:
        return sum(int(np.prod(shape)) for shape in self.weight_shapes().values())

    # ------------------------------------------------------------------ Keras
    def build_keras(self, *, weights: dict[str, np.ndarray] | None = None):
        """Return ``(autoencoder, encoder, decoder)`` Keras models on standardised rows.

        The three share their layers; ``weights`` (by name) are loaded when given.
        """
        from ._keras import import_keras

        keras = import_keras()

        def stack(paths, inputs):
            outputs = []
            for path in paths:
                h = inputs
                for layer in path:
                    h = keras_layer(keras, layer)(h)
                outputs.append(h)
            return outputs[0] if len(outputs) == 1 else keras.layers.Add()(outputs)

        u = keras.Input((self.n_features,), name="standardized")
        encoder = keras.Model(u, stack(self.encoder_paths(), u), name="encoder")
        z = keras.Input((self.n_components,), name="code")
        decoder = keras.Model(z, stack(self.decoder_paths(), z), name="decoder")
        x = keras.Input((self.n_features,), name="standardized")
        autoencoder = keras.Model(x, decoder(encoder(x)), name="autoencoder")
        if weights is not None:
            set_keras_weights(autoencoder, weights)
        return autoencoder, encoder, decoder

    def build_keras_on_data(self, weights, mean, scale, lower, upper, code_scale, code_mean):
        """Keras models in the data's units: ``(autoencoder, encoder, decoder)``, of
        the arrays a ``FittedNetwork`` holds (``FittedNetwork.build_keras``).

        The standardisation and its inverse, and the ``code_scale`` and
        ``code_mean`` of the codes, are Keras ``Normalization`` layers, the output
        activation an ``Activation`` layer, and the bounds ``lower``/``upper``
        (infinite: none) ``max(x, lower) = x + relu(lower - x)`` and its mirror,
        from ``Normalization``, ``Rescaling`` and ``ReLU`` layers: built-in layers
        only, so ``keras.saving.save_model`` writes them and ``load_model`` reads
        them without custom objects.
        """
        from ._keras import import_keras

        keras = import_keras()
        layers = keras.layers
        _, inner_encoder, inner_decoder = self.build_keras(weights=weights)
        ones = np.ones(self.n_features)
        variance = ones * float(scale) ** 2
        x = keras.Input((self.n_features,), name="features")
        u = layers.Normalization(mean=mean, variance=variance, name="standardize")(x)
        codes = inner_encoder(u)
        z = keras.Input((self.n_components,), name="code")
        # Codes leave as z * code_scale - code_mean: Normalization's inverse
        # x * sqrt(variance) + mean, with mean = -code_mean.
        shift, squares = -np.asarray(code_mean), np.square(code_scale)
        codes = layers.Normalization(mean=shift, variance=squares, invert=True, name="scale_codes")(
            codes
        )
        network_codes = layers.Normalization(mean=shift, variance=squares, name="unscale_codes")(z)
        encoder = keras.Model(x, codes, name="encoder")
        x_hat = layers.Normalization(
            mean=mean, variance=variance, invert=True, name="unstandardize"
        )(inner_decoder(network_codes))
        x_hat = layers.Activation(self.output_activation, name="output")(x_hat)
        lower, upper = np.asarray(lower), np.asarray(upper)
        if np.isfinite(lower).any() or np.isfinite(upper).any():
            # A finite stand-in for "no bound" (float32's range), to keep configs finite.
            edge = float(np.finfo(np.float32).max) / 2
            low = np.where(np.isfinite(lower), lower, -edge)
            high = np.where(np.isfinite(upper), upper, edge)
            to_low = layers.Normalization(mean=low, variance=ones, name="minus_lower")(x_hat)
            rise = layers.ReLU(name="below_lower")(layers.Rescaling(-1.0, name="flip")(to_low))
            x_hat = layers.Add(name="clip_lower")([x_hat, rise])
            to_high = layers.Normalization(mean=high, variance=ones, name="minus_upper")(x_hat)
            x_hat = layers.Subtract(name="clip_upper")(
                [x_hat, layers.ReLU(name="above_upper")(to_high)]
            )
        decoder = keras.Model(z, x_hat, name="decoder")
        autoencoder = keras.Model(x, decoder(encoder(x)), name="autoencoder")
        return autoencoder, encoder, decoder


def keras_weight_names(model) -> list[str]:
    """The name of each of ``model``'s variables, in ``model.weights`` order."""
    return [variable.path.replace("/", ".") for variable in model.weights]


def set_keras_weights(model, weights: dict[str, np.ndarray]) -> None:
    for name, variable in zip(keras_weight_names(model), model.weights, strict=True):
        variable.assign(weights[name])


# ---------------------------------------------------------------- the start
def spectrum(covariance_root: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(variances, axes)`` of the covariance ``R.T @ R`` given its square root ``R``
    (``_rows.Summary.covariance_root``), largest variance first: one SVD per fit,
    shared by the PCA start and the noise level. Directions beyond R's rank get a
    variance of 0 and complete the axes to an orthonormal basis."""
    n_features = covariance_root.shape[1]
    _, singular_values, vt = np.linalg.svd(covariance_root, full_matrices=True)
    variances = np.zeros(n_features)
    variances[: len(singular_values)] = singular_values**2
    return variances, vt.T


def principal_axes(eigen: tuple, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """The top ``n_components`` of a ``spectrum``: ``(axes, variances)``.

    Shapes ``(n_features, n_components)`` and ``(n_components,)``; components
    beyond the matrix's size are zero.
    """
    variances, vectors = eigen
    n = min(n_components, len(variances))
    axes = np.zeros((vectors.shape[0], n_components))
    found = np.zeros(n_components)
    axes[:, :n] = vectors[:, :n]
    found[:n] = variances[:n]
    # A deterministic sign, as PCA's svd_flip: the largest loading is positive.
    signs = np.sign(axes[np.argmax(np.abs(axes), axis=0), np.arange(n_components)])
    return axes * np.where(signs == 0, 1, signs), found


def _spread(variances: np.ndarray) -> np.ndarray:
    """Standard deviations along the principal axes. Directions without variance
    keep a unit scale instead of dividing by ~0."""
    floor = max(variances[0], 1.0) * 1e-6 if len(variances) else 1.0
    return np.sqrt(np.maximum(variances, floor))


def code_scale(eigen: tuple, n_components: int, scale: float, whiten: bool) -> np.ndarray:
    """What the start's codes are multiplied by on their way out (and divided by on
    their way in), shape ``(n_components,)``: ones with ``whiten``.

    The network trains on whitened codes (``initial_weights``: unit variance along
    each axis at the start), which keeps its layers' inputs near unit scale
    whatever the data's units. Unless ``whiten``, the codes it returns are scaled
    back to the data's units: the start's codes are then PCA's scores, as
    ``PCA().transform`` returns them, so that models downstream (distances,
    kernels, penalties) see what PCA would have given them.
    """
    if whiten:
        return np.ones(n_components)
    return _spread(principal_axes(eigen, n_components)[1]) * float(scale)


def initial_weights(
    network: Network, eigen: tuple, rng: np.random.RandomState
) -> dict[str, np.ndarray]:
    """The untrained network: PCA's whitened projection plus a silent residual path.

    ``eigen`` is the ``spectrum`` of the standardised training rows. The
    encoder's linear path maps rows to PCA's whitened scores and the decoder's
    maps them back, so that encoding then decoding is PCA's reconstruction.
    Hidden layers (dense and convolutional) get Glorot-uniform kernels from
    ``rng``, drawn layer by layer in ``network.layers()`` order; the residual
    paths' last weighted layers and every bias are zero, so the residual paths add
    nothing until trained. A builder's paths get their own Keras initializers,
    seeded from ``rng``, and their last weighted layer zero.
    """
    axes, variances = principal_axes(eigen, network.n_components)
    spread = _spread(variances)
    weights = {
        "encoder_linear.kernel": axes / spread,
        "decoder_linear.kernel": (axes * spread).T,
    }
    for layer in network.layers():
        if layer.name.endswith("_linear"):
            continue
        if layer.kind == "keras":  # a builder's: its own initializers, seeded from rng
            from ._keras_network import initial_arrays

            weights.update(initial_arrays(layer, rng.randint(2**31 - 1)))
            continue
        for name, shape in layer.weight_shapes().items():
            if name.endswith(".bias") or layer.starts_at_zero:
                weights[name] = np.zeros(shape)
                continue
            # Keras' fans: a convolution's kernel (kh, kw, a, b) connects kh * kw * a
            # inputs to kh * kw * b outputs; a dense kernel (a, b), a to b.
            receptive_field = math.prod(shape[:-2])
            limit = np.sqrt(6.0 / ((shape[-2] + shape[-1]) * receptive_field))
            weights[name] = rng.uniform(-limit, limit, size=shape)
    # float64: kept as the fitted model, this start is PCA to float64 precision (the
    # trainer casts it to float32 for training).
    return {name: weights[name].astype(np.float64) for name in network.weight_shapes()}
