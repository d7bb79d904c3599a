"""scikit-learn's estimator checks, every one of them, with no expected failures.

Three configurations: the default selection on held-out rows (the checks' small data
mostly fall back to PCA), a network trained on all rows (no fallback), and a
convolutional one. The checks fit random rows of many widths (1 to 20 columns and
more), so a convolutional configuration can face them only if its image shape
follows the width: ``image_shape=(1, -1)`` reads every row as a one-pixel-high image
as wide as the row (-1 is worked out from ``n_features``, as in ``numpy.reshape``),
which any width allows, and one stride-2 convolution fits any image.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skautoenc import AutoencoderTransformer


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
    ]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
