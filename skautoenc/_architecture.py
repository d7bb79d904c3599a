"""Keras model building: an encoder, a decoder and the autoencoder that chains them."""

from __future__ import annotations

from collections.abc import Sequence

ENCODER_NAME = "encoder"
DECODER_NAME = "decoder"
NOISE_LAYER_NAME = "corruption"


def build_autoencoder(
    n_features: int,
    n_components: int,
    hidden_layer_sizes: Sequence[int],
    *,
    activation: str,
    output_activation: str,
    seed: int,
    noise: str | None = None,
    noise_level: float = 0.1,
):
    """Build a dense autoencoder whose encoder and decoder share its layers.

    The encoder maps ``n_features -> *hidden_layer_sizes -> n_components`` (the
    code layer is linear, like PCA's projection); the decoder mirrors the hidden
    widths back to ``n_features``. The autoencoder is ``decoder(encoder(x))``,
    with an optional Keras noise layer in front that corrupts inputs during
    training only.

    Parameters
    ----------
    n_features : int
        Width of the input and of the reconstruction.
    n_components : int
        Width of the code (the bottleneck).
    hidden_layer_sizes : sequence of int
        Encoder hidden widths; the decoder uses them in reverse order.
    activation : str
        Keras activation name of the hidden layers.
    output_activation : str
        Keras activation name of the reconstruction layer.
    seed : int
        Seed of every initializer and noise layer, so that a model built twice
        with the same seed has the same weights.
    noise : {"gaussian", "masking"} or None, default=None
        Training-time corruption: additive Gaussian noise of standard deviation
        ``noise_level``, or a fraction ``noise_level`` of inputs set to zero.
    noise_level : float, default=0.1
        Standard deviation (gaussian) or fraction of zeroed inputs (masking).

    Returns
    -------
    autoencoder, encoder, decoder : keras.Model
        ``encoder`` and ``decoder`` are nested inside ``autoencoder``; all three
        share the same weights.
    """
    import keras

    seeds = iter(range(seed, seed + 4 * (len(hidden_layer_sizes) + 2) + 1))

    def dense(units, act, name):
        return keras.layers.Dense(
            units,
            activation=act,
            kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)),
            bias_initializer="zeros",
            name=name,
        )

    encoder_input = keras.Input(shape=(n_features,), name="features")
    x = encoder_input
    for i, width in enumerate(hidden_layer_sizes):
        x = dense(width, activation, f"encoder_hidden_{i}")(x)
    code = dense(n_components, "linear", "code")(x)
    encoder = keras.Model(encoder_input, code, name=ENCODER_NAME)

    decoder_input = keras.Input(shape=(n_components,), name="code")
    y = decoder_input
    for i, width in enumerate(reversed(tuple(hidden_layer_sizes))):
        y = dense(width, activation, f"decoder_hidden_{i}")(y)
    reconstruction = dense(n_features, output_activation, "reconstruction")(y)
    decoder = keras.Model(decoder_input, reconstruction, name=DECODER_NAME)

    inputs = keras.Input(shape=(n_features,), name="features")
    x = inputs
    if noise == "gaussian":
        x = keras.layers.GaussianNoise(noise_level, seed=next(seeds), name=NOISE_LAYER_NAME)(x)
    elif noise == "masking":
        x = keras.layers.Dropout(noise_level, seed=next(seeds), name=NOISE_LAYER_NAME)(x)
    autoencoder = keras.Model(inputs, decoder(encoder(x)), name="autoencoder")
    return autoencoder, encoder, decoder


def split_autoencoder(autoencoder):
    """Return the ``(encoder, decoder)`` nested in an autoencoder built here.

    Used after loading a saved model, so that the three models share layers
    exactly as they did after ``fit``.
    """
    return autoencoder.get_layer(ENCODER_NAME), autoencoder.get_layer(DECODER_NAME)
