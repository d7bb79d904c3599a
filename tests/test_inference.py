"""The NumPy forward pass: agrees with Keras, computes float64 rows in float64, never
returns NaN for finite input, and is safe to share between threads.

Tolerances: float32 results are compared with ``rtol=1e-5`` (a few float32 roundings
through a handful of layers, in whichever order BLAS sums); float64 results with
``rtol=1e-12`` (the same for float64). Nothing here is compared bitwise except one
process calling the same code on the same rows.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from skautoenc import AutoencoderTransformer, _inference
from skautoenc._activations import NUMPY_ACTIVATIONS

F32 = {"rtol": 1e-5, "atol": 1e-6}
F64 = {"rtol": 1e-12, "atol": 1e-12}


@pytest.fixture(scope="module")
def X():
    return np.random.RandomState(0).uniform(size=(300, 10))


@pytest.fixture(scope="module")
def fitted(X):
    return AutoencoderTransformer(
        n_components=3, hidden_layer_sizes=(16, 8), epochs=3, early_stopping=False, random_state=0
    ).fit(X)


def keras_output(model, X):
    import keras

    return keras.ops.convert_to_numpy(model(X.astype(np.float32), training=False))


def test_transform_matches_the_keras_encoder(fitted, X):
    X = X.astype(np.float32)
    np.testing.assert_allclose(fitted.transform(X), keras_output(fitted.encoder_, X), **F32)


def test_inverse_transform_matches_the_keras_decoder(fitted, X):
    codes = fitted.transform(X.astype(np.float32))
    np.testing.assert_allclose(
        fitted.inverse_transform(codes), keras_output(fitted.decoder_, codes), **F32
    )


def test_denoise_matches_the_keras_autoencoder(fitted, X):
    X = X.astype(np.float32)
    np.testing.assert_allclose(fitted.denoise(X), keras_output(fitted.model_, X), **F32)


def test_float64_rows_agree_with_float32_rows_to_float32_precision(fitted, X):
    np.testing.assert_allclose(
        fitted.transform(X), fitted.transform(X.astype(np.float32)), rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize("name", sorted(NUMPY_ACTIVATIONS))
def test_numpy_activations_match_keras(name):
    import keras

    x = np.linspace(-8, 8, 401, dtype=np.float32).reshape(1, -1)
    expected = keras.ops.convert_to_numpy(keras.activations.get(name)(x))
    np.testing.assert_allclose(NUMPY_ACTIVATIONS[name](x.copy()), expected, **F32)
    np.testing.assert_allclose(
        NUMPY_ACTIVATIONS[name](x.astype(np.float64)), expected, rtol=1e-5, atol=1e-6
    )


def test_activation_without_numpy_version_falls_back_to_keras(X):
    est = AutoencoderTransformer(
        2,
        hidden_layer_sizes=(8,),
        activation="gelu",
        epochs=2,
        early_stopping=False,
        random_state=0,
    ).fit(X)
    assert "gelu" not in NUMPY_ACTIVATIONS
    X = X.astype(np.float32)
    np.testing.assert_allclose(est.transform(X), keras_output(est.encoder_, X), **F32)


# ------------------------------------------------------- float64 invariance
@pytest.mark.parametrize("method", ["transform", "denoise", "score_samples"])
def test_float64_results_do_not_depend_on_row_order_or_grouping(fitted, X, method):
    function = getattr(fitted, method)
    whole = function(X)
    order = np.random.RandomState(1).permutation(len(X))
    np.testing.assert_allclose(function(X[order]), whole[order], **F64)
    one_by_one = np.concatenate([function(X[i : i + 1]) for i in range(0, 300, 37)])
    np.testing.assert_allclose(one_by_one, whole[::37], **F64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_inputs_are_processed_in_blocks_with_the_same_result(fitted, X, dtype, monkeypatch):
    X = X.astype(dtype)
    whole = fitted.denoise(X)
    monkeypatch.setattr(_inference, "_BLOCK_ELEMENTS", 7 * 16)  # blocks of 7 rows
    tolerance = F64 if dtype == np.float64 else F32
    np.testing.assert_allclose(fitted.denoise(X), whole, **tolerance)


# ------------------------------------------------------------ no silent NaN
@pytest.mark.parametrize("magnitude", [1e39, 1e100])
def test_float64_input_beyond_float32s_range_is_computed(fitted, magnitude):
    X = np.full((3, 10), magnitude)
    X[1] *= -1
    for result in (fitted.transform(X), fitted.denoise(X), fitted.score_samples(X)):
        assert np.isfinite(result).all()
    assert np.isfinite(fitted.inverse_transform(np.full((2, 3), magnitude))).all()


@pytest.mark.parametrize(
    ("method", "rows"),
    [
        ("transform", np.full((2, 10), 1e300)),
        ("denoise", np.full((2, 10), 1e300)),
        ("score_samples", np.full((2, 10), 1e300)),
        ("transform", np.full((2, 10), 3e38, dtype=np.float32)),
        ("denoise", np.full((2, 10), 3e38, dtype=np.float32)),
        ("inverse_transform", np.full((2, 3), 1.7e308)),
    ],
)
def test_overflowing_input_is_refused_never_nan(fitted, method, rows):
    try:
        result = getattr(fitted, method)(rows)
    except ValueError as error:
        message = str(error)
    else:
        message = "finite" if np.isfinite(result).all() else "NaN or inf returned"
    assert message == "finite" or ("overflows" in message and "range from" in message)


def test_an_overflow_is_detected_and_named():
    network = _inference.Network(2, 1, (), "relu", "linear")
    weights = {
        "encoder_linear.kernel": np.ones((2, 1), np.float32),
        "decoder_linear.kernel": np.ones((1, 2), np.float32),
    }
    fitted = _inference.FittedNetwork(network, weights, np.zeros(2), 1.0)
    with pytest.raises(ValueError, match="overflows float64 arithmetic"):
        fitted.encode(np.full((1, 2), 1e308))
    assert np.isfinite(fitted.encode(np.full((1, 2), 1e307))).all()


# ------------------------------------------------------------------ threads
def test_concurrent_threads_get_the_serial_results(fitted, X):
    chunks = [X[i::8] for i in range(8)]
    serial = [(fitted.transform(c), fitted.denoise(c), fitted.score_samples(c)) for c in chunks]

    def work(chunk):
        return [
            (fitted.transform(chunk), fitted.denoise(chunk), fitted.score_samples(chunk))
            for _ in range(20)
        ]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, chunks))
    for expected, repeats in zip(serial, results, strict=True):
        for got in repeats:
            for a, b in zip(expected, got, strict=True):
                np.testing.assert_array_equal(a, b)  # same process, same code, same rows


def test_the_keras_model_applies_the_bounds_too():
    X = np.clip(np.random.RandomState(1).normal(size=(100, 6)), 0, 1)
    est = AutoencoderTransformer(
        2, hidden_layer_sizes=(8,), epochs=3, early_stopping=False, random_state=0
    ).fit(X)
    assert np.isfinite(est.output_min_).all()
    assert np.isfinite(est.output_max_).all()
    wide = (4 * X - 2).astype(np.float32)  # reconstructions beyond the bounds get clipped
    np.testing.assert_allclose(keras_output(est.model_, wide), est.denoise(wide), **F32)
