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

import pytest
from _fits import sequence_network
from sklearn.utils.estimator_checks import estimator_checks_generator

from skautoenc import AutoencoderTransformer

ESTIMATORS = {
    "held-out": AutoencoderTransformer(hidden_layer_sizes=(8,), epochs=3, random_state=0),
    "all-rows": AutoencoderTransformer(
        hidden_layer_sizes=(8,), epochs=3, early_stopping=False, random_state=0
    ),
    "convolutional": AutoencoderTransformer(
        hidden_layer_sizes=(8,),
        image_shape=(1, -1),
        conv_filters=(4,),
        epochs=3,
        early_stopping=False,
        random_state=0,
    ),
    "builder": AutoencoderTransformer(
        builder=sequence_network, epochs=3, early_stopping=False, random_state=0
    ),
}


def _check_id(configuration, check):
    """``configuration-check(keywords)``: the same in every process, unlike the
    estimator's repr (which shows the builder's address), so that pytest-xdist's
    workers collect the same tests."""
    keywords = ", ".join(f"{key}={value!r}" for key, value in check.keywords.items())
    return f"{configuration}-{check.func.__name__}" + (f"({keywords})" if keywords else "")


@pytest.mark.parametrize(
    ("estimator", "check"),
    [
        pytest.param(estimator, check, id=_check_id(name, check))
        for name, configuration in ESTIMATORS.items()
        for estimator, check in estimator_checks_generator(configuration, mark="xfail")
    ],
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
