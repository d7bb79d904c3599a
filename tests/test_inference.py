"""The NumPy forward pass agrees with Keras and is safe to share between threads."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from skautoenc import AutoencoderTransformer
from skautoenc._inference import _ACTIVATIONS, DenseForward

RTOL, ATOL = 1e-5, 1e-6  # float32 rounding


@pytest.fixture(scope="module")
def X():
    return np.random.RandomState(0).uniform(size=(300, 10)).astype(np.float32)


@pytest.fixture(scope="module")
def fitted(X):
    return AutoencoderTransformer(
        n_components=3, hidden_layer_sizes=(16, 8), epochs=3, random_state=0
    ).fit(X)


def keras_output(model, X):
    import keras

    return keras.ops.convert_to_numpy(model(X, training=False))


def test_transform_matches_the_keras_encoder(fitted, X):
    np.testing.assert_allclose(
        fitted.transform(X), keras_output(fitted.encoder_, X), rtol=RTOL, atol=ATOL
    )


def test_inverse_transform_matches_the_keras_decoder(fitted, X):
    codes = fitted.transform(X)
    np.testing.assert_allclose(
        fitted.inverse_transform(codes), keras_output(fitted.decoder_, codes), rtol=RTOL, atol=ATOL
    )


def test_denoise_matches_the_keras_autoencoder(fitted, X):
    np.testing.assert_allclose(
        fitted.denoise(X), keras_output(fitted.model_, X), rtol=RTOL, atol=ATOL
    )


@pytest.mark.parametrize("name", sorted(_ACTIVATIONS))
def test_numpy_activations_match_keras(name):
    import keras

    x = np.linspace(-8, 8, 401, dtype=np.float32).reshape(1, -1)
    expected = keras.ops.convert_to_numpy(keras.activations.get(name)(x))
    np.testing.assert_allclose(_ACTIVATIONS[name](x.copy()), expected, rtol=RTOL, atol=ATOL)


def test_activation_without_numpy_version_falls_back_to_keras(X):
    est = AutoencoderTransformer(
        n_components=2, hidden_layer_sizes=(8,), activation="gelu", epochs=2, random_state=0
    ).fit(X)
    assert "gelu" not in _ACTIVATIONS
    np.testing.assert_allclose(
        est.transform(X), keras_output(est.encoder_, X), rtol=RTOL, atol=ATOL
    )


def test_large_inputs_are_processed_in_blocks_with_the_same_result(fitted, X, monkeypatch):
    whole = fitted.transform(X)
    forward = fitted._forward_encoder
    monkeypatch.setattr(forward, "block_rows", 7)
    np.testing.assert_array_equal(fitted.transform(X), whole)


def test_rows_are_independent_of_batch_and_order(fitted, X):
    codes = fitted.transform(X)
    order = np.random.RandomState(1).permutation(len(X))
    np.testing.assert_array_equal(fitted.transform(X[order]), codes[order])
    one_by_one = np.vstack([fitted.transform(X[i : i + 1]) for i in range(0, 300, 37)])
    np.testing.assert_array_equal(one_by_one, codes[::37])


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
                np.testing.assert_array_equal(a, b)


def test_forward_refuses_layers_it_cannot_replay():
    import keras

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.BatchNormalization()(keras.layers.Dense(3)(inputs)))
    with pytest.raises(TypeError, match="BatchNormalization"):
        DenseForward.from_keras(model)
