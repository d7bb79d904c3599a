"""scikit-learn's estimator checks, every one of them, with no expected failures.

Two configurations: the default selection on held-out rows (the checks' small data
mostly fall back to PCA), and a network trained on all rows (no fallback).
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skautoenc import AutoencoderTransformer


@parametrize_with_checks(
    [
        AutoencoderTransformer(hidden_layer_sizes=(8,), epochs=3, random_state=0),
        AutoencoderTransformer(
            hidden_layer_sizes=(8,), epochs=3, early_stopping=False, random_state=0
        ),
    ]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
