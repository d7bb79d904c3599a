"""Convolutional residual paths for image rows (``image_shape``, ``conv_filters``).

The NumPy pass agrees with Keras (random weights, odd and even sizes, 1 and 3
channels; the fitted estimator's ``model_``); the untrained network is PCA; the
estimator fits, saves, pickles, refuses what does not fit, and works with
``clone`` and ``GridSearchCV``. (``check_estimator`` runs on a convolutional
configuration in test_common.py; hostile files in test_persistence.py; the ONNX
refusal in test_onnx.py.)

Tolerances as in test_inference.py: float32 ``rtol=1e-5`` of the largest value
(a few float32 roundings through a handful of layers), float64 ``1e-12``.
"""

import contextlib
import io
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from _numerics import assert_close, keras_output
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV

import skautoenc
from skautoenc import AutoencoderTransformer
from skautoenc._inference import FittedNetwork
from skautoenc._network import Network, initial_weights, spectrum
from skautoenc._rows import summarize
from skautoenc._validation import network_for
from skautoenc.datasets import load_digits_images

REPO = Path(__file__).resolve().parents[1]
# Few epochs on all rows: the trained network is kept (no fallback to PCA).
FAST = {"hidden_layer_sizes": (16,), "epochs": 3, "early_stopping": False, "random_state": 0}


@contextlib.contextmanager
def keras_float64():
    """Keras models built in float64, inputs included (restored afterwards)."""
    import keras

    policy, floatx = keras.config.dtype_policy().name, keras.config.floatx()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(policy)
        keras.config.set_floatx(floatx)


@pytest.fixture(scope="module")
def digits():
    return load_digits_images()


@pytest.fixture(scope="module")
def X(digits):
    return digits.data[:500]  # float32 8x8 images, in [0, 1]


@pytest.fixture(scope="module")
def fitted(X):
    est = AutoencoderTransformer(4, image_shape=(8, 8), conv_filters=(4, 8), **FAST)
    return est.fit(X)


# ------------------------------------------------------------ NumPy == Keras
@pytest.mark.parametrize(
    ("image_shape", "conv_filters"),
    [((7, 7, 1), (4, 6)), ((8, 8, 3), (5,)), ((5, 9, 3), (4, 3, 2)), ((1, 6, 1), (2,))],
    ids=["odd-7x7", "even-8x8x3", "5x9x3-three-layers", "one-row"],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_pass_matches_keras_on_random_weights(image_shape, conv_filters, dtype):
    n = int(np.prod(image_shape))
    network = Network(n, 3, (8,), "tanh", "linear", image_shape, conv_filters)
    rng = np.random.RandomState(0)
    # Random weights everywhere, the zero-start layers included: every layer counts.
    weights = {name: rng.normal(scale=0.5, size=s) for name, s in network.weight_shapes().items()}
    with keras_float64() if dtype == np.float64 else contextlib.nullcontext():
        autoencoder, encoder, decoder = network.build_keras(weights=weights)
    fitted = FittedNetwork(network, weights, np.zeros(n), 1.0)
    X = rng.normal(size=(13, n)).astype(dtype)
    codes = fitted.encode(X)
    assert_close(codes, keras_output(encoder, X), dtype)
    assert_close(fitted.decode(codes), keras_output(decoder, codes), dtype)
    assert_close(fitted.reconstruct(X), keras_output(autoencoder, X), dtype)


def test_layers_and_weights_are_named_as_keras_names_them():
    network = Network(49, 2, (8,), "relu", "linear", (7, 7, 1), (4, 6))
    from skautoenc._network import keras_weight_names

    autoencoder, _, _ = network.build_keras()
    assert sorted(keras_weight_names(autoencoder)) == sorted(network.weight_shapes())
    shapes = {v.path.replace("/", "."): tuple(v.shape) for v in autoencoder.weights}
    assert shapes == network.weight_shapes()
    kinds = [layer.kind for layer in network.layers()]
    assert kinds.count("crop") == 1  # 7 -> 4 -> 2, then 2 -> 4 -> 8: cropped to 7
    assert hash(network) == hash(Network(49, 2, (8,), "relu", "linear", (7, 7, 1), (4, 6)))


@pytest.mark.parametrize("method", ["transform", "inverse_transform", "denoise"])
def test_fitted_estimator_matches_its_keras_models(fitted, X, method):
    model = {"transform": fitted.encoder_, "denoise": fitted.model_}.get(method, fitted.decoder_)
    rows = fitted.transform(X) if method == "inverse_transform" else X
    assert_close(getattr(fitted, method)(rows), keras_output(model, rows), np.float32)


def test_float64_rows_are_computed_in_float64_and_blocks_agree(fitted, X, monkeypatch):
    X64 = X.astype(np.float64)
    whole = fitted.denoise(X64)
    assert whole.dtype == np.float64
    np.testing.assert_allclose(whole, fitted.denoise(X), rtol=1e-4, atol=1e-5)
    from skautoenc import _inference

    monkeypatch.setattr(_inference, "_BLOCK_ELEMENTS", 1)  # one row per block
    assert_close(fitted.denoise(X64), whole, np.float64)


# ------------------------------------------------------------- the start is PCA
@pytest.mark.parametrize(("image_shape", "conv_filters"), [((8, 8), (4, 8)), ((28, 28), (4, 8, 8))])
def test_untrained_network_is_pca(digits, image_shape, conv_filters):
    X = digits.data[:300].astype(np.float64)
    if image_shape == (28, 28):
        X = load_digits_images(image_size=28).data[:300].astype(np.float64)
    est = AutoencoderTransformer(5, image_shape=image_shape, conv_filters=conv_filters)
    network = network_for(est, X.shape[1])
    summary = summarize(X, covariance=True)
    mean, scale = summary.mean, summary.scale
    start = initial_weights(network, spectrum(summary.covariance_root), np.random.RandomState(0))
    assert not np.any(start["decoder_residual.kernel"])  # the conv path starts silent...
    assert np.any(
        start["decoder_conv_0.kernel" if len(conv_filters) > 1 else "encoder_conv_0.kernel"]
    )
    reconstruction = FittedNetwork(network, start, mean, scale).reconstruct(X)
    # The linear network's start: the residual paths add exact zeros (to float64
    # rounding, as blocks of other sizes make the BLAS sum in another order)...
    linear = Network(X.shape[1], 5, (), "relu", "linear")
    linear_start = initial_weights(linear, spectrum(summary.covariance_root), None)
    assert_close(
        reconstruction,
        FittedNetwork(linear, linear_start, mean, scale).reconstruct(X),
        np.float64,
    )
    # ... and that is PCA's exact solution (its axes from an SVD of the rows' QR factor;
    # LAPACK's full SVD here, which agrees to ~5e-15 of the values: 1e-10 leaves room for
    # other BLAS, and a wrong axis is off by ~1e-2). Not sklearn's default solver: on 784
    # columns it is a randomized SVD with a fresh seed per run, which agreed to 1e-7 on
    # most runs and to 1.5e-6 on one.
    pca = PCA(5, svd_solver="full").fit(X)
    expected = pca.inverse_transform(pca.transform(X))
    atol = 1e-10 * np.abs(expected).max()
    np.testing.assert_allclose(reconstruction, expected, rtol=0, atol=atol)
    keras_model = FittedNetwork(network, start, mean, scale).build_keras()[0]  # ...in Keras too
    np.testing.assert_allclose(
        keras_output(keras_model, X.astype(np.float32)), expected, rtol=0, atol=1e-5
    )


# -------------------------------------------------------------------- fitting
def test_fit_on_28x28_images_with_an_odd_feature_map(digits):
    X = load_digits_images(image_size=28).data[:300]
    est = AutoencoderTransformer(8, image_shape=(28, 28, 1), conv_filters=(4, 8, 8), **FAST)
    est.fit(X)
    assert not est.fallback_to_pca_
    assert est._fitted.network.feature_map() == (4, 4, 8)  # 28 -> 14 -> 7 -> 4
    assert est.weights_["decoder_residual.kernel"].shape == (3, 3, 1, 4)  # 4 channels to 1
    assert np.any(est.weights_["decoder_residual.kernel"])  # trained: no longer zero
    assert est.loss_curve_[-1] < est.loss_curve_[0]
    assert est.transform(X).shape == (300, 8)
    assert est.denoise(X[:3]).shape == (3, 784)


def test_minus_one_is_worked_out_from_the_rows(fitted, X):
    est = AutoencoderTransformer(4, image_shape=(-1, 8), conv_filters=(4, 8), **FAST).fit(X)
    assert est._fitted.network == fitted._fitted.network
    np.testing.assert_array_equal(est.transform(X), fitted.transform(X))


def test_conv_filters_are_ignored_without_image_shape(X):
    dense = AutoencoderTransformer(4, **FAST).fit(X)
    other = AutoencoderTransformer(4, conv_filters=(7,), **FAST).fit(X)
    assert dense._fitted.network == other._fitted.network
    assert other._fitted.network.conv_filters == ()
    np.testing.assert_array_equal(dense.transform(X), other.transform(X))


# ------------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    ("params", "match"),
    [
        (
            {"image_shape": (28, 28)},
            r"image_shape=\(28, 28\) describes rows of .* = 784 .* n_features=64",
        ),
        ({"image_shape": (8, 8, 3)}, r"= 192 values, but X has n_features=64"),
        (
            {"image_shape": (-1, 7)},
            r"a multiple of height \* width \* channels = 7 .* n_features=64",
        ),
        ({"image_shape": (8, 0)}, "positive ints"),
        ({"image_shape": (-1, -1)}, "one of which may be -1"),
        ({"image_shape": (2, 2, 4, 4)}, r"\(height, width\) or \(height, width, channels\)"),
        ({"image_shape": (True, 64)}, "positive ints"),
        ({"image_shape": (8.0, 8)}, "positive ints"),
        ({"image_shape": "8x8"}, "'image_shape' parameter"),
        ({"image_shape": (8, 8), "conv_filters": ()}, "conv_filters must list 1 to 3"),
        ({"image_shape": (8, 8), "conv_filters": (4,) * 4}, "each halves the image"),
        ({"conv_filters": (4, 0)}, "conv_filters must be a sequence of positive ints"),
        ({"conv_filters": (True,)}, "conv_filters must be a sequence of positive ints"),
    ],
)
def test_parameters_that_do_not_fit_the_rows_are_refused(X, params, match):
    est = AutoencoderTransformer(4, **{**FAST, **params})
    with pytest.raises(ValueError, match=match):
        est.fit(X)
    assert not hasattr(est, "n_features_in_")


@pytest.mark.parametrize(
    "change", [{"image_shape": (4, 16)}, {"conv_filters": (4, 4)}, {"image_shape": None}]
)
def test_warm_start_refuses_another_image_network(fitted, X, change):
    est = clone(fitted).fit(X)
    before = est.transform(X)
    est.set_params(warm_start=True, **change)
    with pytest.raises(ValueError, match=r"warm_start=True .*image_shape': \(8, 8, 1\)"):
        est.fit(X)
    np.testing.assert_array_equal(est.transform(X), before)  # left as it was


# ---------------------------------------------------------- saving, pickling
def test_save_load_and_pickle_round_trips_are_bitwise(fitted, X, tmp_path):
    buffer = io.BytesIO()
    fitted.save(buffer)
    loaded = skautoenc.load(io.BytesIO(buffer.getvalue()))
    unpickled = pickle.loads(pickle.dumps(fitted))
    for other in (loaded, unpickled):
        assert other.get_params() == fitted.get_params()
        assert other._fitted.network == fitted._fitted.network
        for method in ("transform", "denoise", "score_samples"):
            for rows in (X, X.astype(np.float64)):
                np.testing.assert_array_equal(
                    getattr(other, method)(rows), getattr(fitted, method)(rows), strict=True
                )


def test_unpickled_conv_model_transforms_without_tensorflow(fitted, X, tmp_path):
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(fitted))
    fitted.save(tmp_path / "model.skae")
    np.save(tmp_path / "X.npy", X)
    script = textwrap.dedent(
        """
        import pickle, sys
        import numpy as np
        import skautoenc

        folder = sys.argv[1]
        X = np.load(folder + "/X.npy")
        with open(folder + "/model.pkl", "rb") as file:
            np.save(folder + "/pickle.npy", pickle.load(file).denoise(X))
        np.save(folder + "/load.npy", skautoenc.load(folder + "/model.skae").denoise(X))
        print(sorted(m for m in ("tensorflow", "keras", "jax", "torch") if m in sys.modules))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[]"
    for how in ("pickle", "load"):
        np.testing.assert_array_equal(np.load(tmp_path / f"{how}.npy"), fitted.denoise(X))


# ------------------------------------------------------------- model selection
def test_clone_and_grid_search_over_conv_parameters(fitted, X):
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "n_features_in_")
    search = GridSearchCV(
        AutoencoderTransformer(4, image_shape=(8, 8), **{**FAST, "epochs": 2}),
        {"conv_filters": [(4,), (4, 8)]},
        cv=2,
    ).fit(X[:200])
    assert search.best_params_["conv_filters"] in [(4,), (4, 8)]
    assert len(search.cv_results_["mean_test_score"]) == 2
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert (
        search.best_estimator_._fitted.network.conv_filters == search.best_params_["conv_filters"]
    )
