"""Comparisons shared by the tests of non-dense networks (test_conv.py, test_builder.py).

Tolerances by dtype: float32 ``rtol=1e-5`` of the largest value (a few float32
roundings through a handful of layers), float64 ``1e-12``.
"""

import numpy as np

EPS = {np.float32: 1e-5, np.float64: 1e-12}


def assert_close(actual, expected, dtype):
    assert actual.dtype == expected.dtype == dtype
    eps = EPS[dtype]
    np.testing.assert_allclose(actual, expected, rtol=eps, atol=eps * np.abs(expected).max())


def keras_output(model, X):
    """``model(X)`` in inference mode, as NumPy."""
    import keras

    return keras.ops.convert_to_numpy(model(X, training=False))
