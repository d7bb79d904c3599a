"""The network, described once: read by the Keras builder, the NumPy forward pass,
the initialisation from PCA, persistence and the warm-start checks.

The autoencoder works on standardised rows ``u = (x - mean_) / scale_``. The
encoder is the sum of two paths: a linear projection (initialised to PCA's
whitened projection) and a residual multilayer perceptron whose last layer starts
at zero; the decoder mirrors it. So the untrained network *is* PCA, and training
only adds what a nonlinear map can explain beyond it.

Each layer has one name, used for the Keras layer and for its arrays
(``"<layer>.kernel"``, ``"<layer>.bias"``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Layer:
    """One dense layer: ``activation(h @ kernel + bias)``."""

    name: str
    n_inputs: int
    units: int
    activation: str
    use_bias: bool = True
    starts_at_zero: bool = False

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = {f"{self.name}.kernel": (self.n_inputs, self.units)}
        if self.use_bias:
            shapes[f"{self.name}.bias"] = (self.units,)
        return shapes


@dataclass(frozen=True)
class Network:
    """The structure of a fitted autoencoder: everything its arrays' shapes depend on.

    Parameters
    ----------
    n_features : int
        Width of the input and of the reconstruction.
    n_components : int
        Width of the code.
    hidden_layer_sizes : tuple of int
        Widths of the encoder's residual path; the decoder mirrors them. Empty:
        the network is linear (a trainable PCA).
    activation : str
        Keras activation of the hidden layers.
    output_activation : str
        Keras activation applied to the reconstruction in the data's units.

    Examples
    --------
    >>> net = Network(64, 2, (16,), "relu", "linear")
    >>> [layer.name for path in net.encoder_paths() for layer in path]
    ['encoder_linear', 'encoder_hidden_0', 'encoder_residual']
    >>> net.weight_shapes()["decoder_hidden_0.kernel"]
    (2, 16)
    """

    n_features: int
    n_components: int
    hidden_layer_sizes: tuple[int, ...]
    activation: str
    output_activation: str

    def encoder_paths(self) -> tuple[tuple[Layer, ...], ...]:
        return self._paths("encoder", self.n_features, self.n_components, self.hidden_layer_sizes)

    def decoder_paths(self) -> tuple[tuple[Layer, ...], ...]:
        hidden = tuple(reversed(self.hidden_layer_sizes))
        return self._paths("decoder", self.n_components, self.n_features, hidden)

    def _paths(self, part, n_in, n_out, hidden):
        linear = (Layer(f"{part}_linear", n_in, n_out, "linear", use_bias=False),)
        if not hidden:
            return (linear,)
        residual, width = [], n_in
        for i, units in enumerate(hidden):
            residual.append(Layer(f"{part}_hidden_{i}", width, units, self.activation))
            width = units
        residual.append(Layer(f"{part}_residual", width, n_out, "linear", starts_at_zero=True))
        return (linear, tuple(residual))

    def layers(self) -> Iterator[Layer]:
        for paths in (self.encoder_paths(), self.decoder_paths()):
            for path in paths:
                yield from path

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every array of the network, by name, in Keras' variable order."""
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
                    h = keras.layers.Dense(
                        layer.units,
                        activation=layer.activation,
                        use_bias=layer.use_bias,
                        name=layer.name,
                    )(h)
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

    def build_keras_on_data(self, weights, mean, scale, lower=None, upper=None):
        """Keras models in the data's units: ``(autoencoder, encoder, decoder)``.

        The standardisation and its inverse are Keras ``Normalization`` layers, the
        output activation an ``Activation`` layer, and the bounds ``lower``/``upper``
        (infinite: none) ``max(x, lower) = x + relu(lower - x)`` and its mirror, from
        ``Normalization``, ``Rescaling`` and ``ReLU`` layers: built-in layers only, so
        ``keras.saving.save_model`` writes them and ``load_model`` reads them without
        custom objects.
        """
        from ._keras import import_keras

        keras = import_keras()
        layers = keras.layers
        _, inner_encoder, inner_decoder = self.build_keras(weights=weights)
        ones = np.ones(self.n_features)
        variance = ones * float(scale) ** 2
        x = keras.Input((self.n_features,), name="features")
        u = layers.Normalization(mean=mean, variance=variance, name="standardize")(x)
        encoder = keras.Model(x, inner_encoder(u), name="encoder")
        z = keras.Input((self.n_components,), name="code")
        x_hat = layers.Normalization(
            mean=mean, variance=variance, invert=True, name="unstandardize"
        )(inner_decoder(z))
        x_hat = layers.Activation(self.output_activation, name="output")(x_hat)
        lower = np.full(self.n_features, -np.inf) if lower is None else np.asarray(lower)
        upper = np.full(self.n_features, np.inf) if upper is None else np.asarray(upper)
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
    return [f"{variable.path.split('/')[-2]}.{variable.name}" for variable in model.weights]


def set_keras_weights(model, weights: dict[str, np.ndarray]) -> None:
    for name, variable in zip(keras_weight_names(model), model.weights, strict=True):
        variable.assign(weights[name])


# ---------------------------------------------------------------- the start
def spectrum(covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(variances, axes)`` of a covariance matrix, largest variance first (one
    eigendecomposition per fit, shared by the PCA start and the noise level)."""
    variances, vectors = np.linalg.eigh(covariance)
    order = np.argsort(variances)[::-1]
    return np.clip(variances[order], 0, None), vectors[:, order]


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


def initial_weights(
    network: Network, eigen: tuple, rng: np.random.RandomState
) -> dict[str, np.ndarray]:
    """The untrained network: PCA's whitened projection plus a silent residual path.

    ``eigen`` is the ``spectrum`` of the standardised training rows. The
    encoder's linear path maps rows to PCA's whitened scores and the decoder's
    maps them back, so that encoding then decoding is PCA's reconstruction.
    Hidden layers get Glorot-uniform kernels from ``rng``; the residual paths'
    last layers are zero, so they add nothing until trained.
    """
    axes, variances = principal_axes(eigen, network.n_components)
    # Directions without variance keep a unit scale instead of dividing by ~0.
    floor = max(variances[0], 1.0) * 1e-6 if len(variances) else 1.0
    spread = np.sqrt(np.maximum(variances, floor))
    weights = {
        "encoder_linear.kernel": axes / spread,
        "decoder_linear.kernel": (axes * spread).T,
    }
    for layer in network.layers():
        if layer.name.endswith("_linear"):
            continue
        if layer.starts_at_zero:
            kernel = np.zeros((layer.n_inputs, layer.units))
        else:
            limit = np.sqrt(6.0 / (layer.n_inputs + layer.units))
            kernel = rng.uniform(-limit, limit, size=(layer.n_inputs, layer.units))
        weights[f"{layer.name}.kernel"] = kernel
        weights[f"{layer.name}.bias"] = np.zeros(layer.units)
    # float64: kept as the fitted model, this start is PCA to float64 precision (the
    # trainer casts it to float32 for training).
    return {name: weights[name].astype(np.float64) for name in network.weight_shapes()}
