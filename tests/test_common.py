"""scikit-learn's estimator checks, every one of them, with no expected failures.

Four configurations: the default selection on held-out rows (the checks' small data
mostly fall back to PCA), a network trained on all rows (no fallback), a
convolutional one, and a user-built one (``builder``: a 1-D convolution along the
row, which any width allows). The checks fit random rows of many widths (1 to 20 columns and
more), so a convolutional configuration can face them only if its image shape
follows the width: ``image_shape=(1, -1)`` reads every row as a one-pixel-high image
as wide as the row (-1 is worked out from ``n_features``, as in ``numpy.reshape``),
which any width allows, and one stride-2 convolution fits any image.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skautoenc import AutoencoderTransformer


def sequence_network(n_features, n_components, filters=4):
    """A user's network: a 1-D convolution along the row, then dense layers."""
    import keras

    layers = keras.layers
    encoder = keras.Sequential(
        [
            keras.Input((n_features,)),
            layers.Reshape((n_features, 1)),
            layers.Conv1D(filters, 3, padding="same", activation="relu"),
            layers.Flatten(),
            layers.Dense(n_components),
        ]
    )
    decoder = keras.Sequential(
        [keras.Input((n_components,)), layers.Dense(8, activation="relu"), layers.Dense(n_features)]
    )
    return encoder, decoder


@parametrize_with_checks(
    [
        AutoencoderTransformer(hidden_layer_sizes=(8,), epochs=3, random_state=0),
        AutoencoderTransformer(
            hidden_layer_sizes=(8,), epochs=3, early_stopping=False, random_state=0
        ),
        AutoencoderTransformer(
            hidden_layer_sizes=(8,),
            image_shape=(1, -1),
            conv_filters=(4,),
            epochs=3,
            early_stopping=False,
            random_state=0,
        ),
        AutoencoderTransformer(
            builder=sequence_network, epochs=3, early_stopping=False, random_state=0
        ),
    ]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
