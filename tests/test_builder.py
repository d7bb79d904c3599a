"""Networks users bring: ``builder=fn``, ``builder_kwargs`` and ``KerasNetwork``.

The builder's Keras models become the residual paths of the network: the untrained
network is PCA (the paths start silent); the estimator fits, transforms, denoises
and scores in the input's dtype, in agreement with its Keras models (``model_``...);
fits are deterministic per ``random_state``; the user's models are never modified or
shared between estimators; ``clone``, ``get_params``/``set_params``,
``GridSearchCV`` (with ``n_jobs=2`` in tests/test_pipelines.py), pickling and saving
work; ``warm_start``, ``partial_fit``, noise and the fallback to PCA work; what
cannot be kept as a safe Keras config, or cannot start silent, or has the wrong
shapes, is refused with a message that names what was received, and a refused fit
changes nothing; layers with a training mode (BatchNormalization, Dropout) and
regularizers behave as in Keras; functional and unbuilt ``Sequential`` models work.

Tolerances, as in test_conv.py: a builder's paths run in float32 (in training and,
as a compiled Keras function, in inference), so results that go through them are
compared with ``rtol=1e-5`` and ``atol=1e-5`` times the largest value (a few float32
roundings through a handful of layers); float64 results that only the linear PCA path
produces, ``1e-12``; sklearn's PCA, whose axes come from its own solver (for many rows,
an eigendecomposition of the covariance), ``atol=1e-6`` of the largest value.
"""

import io
import pickle

import numpy as np
import pytest
from _numerics import EPS, assert_close, keras_output
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV

import skautoenc
from skautoenc import AutoencoderTransformer, KerasNetwork
from skautoenc._inference import FittedNetwork
from skautoenc._network import Network, initial_weights, spectrum
from skautoenc._rows import summarize
from skautoenc._validation import network_for

# Few epochs on all rows: the trained network is kept (no fallback to PCA).
FAST = {"epochs": 3, "early_stopping": False, "random_state": 0}
K = 4  # n_components


# ------------------------------------------------------------------- builders
# Module-level, so that estimators holding them pickle (and loky's workers import them).
def conv1d(n_features, n_components, filters=4):
    """A 1-D convolution along the row, then dense layers; a dense decoder."""
    import keras

    layers = keras.layers
    encoder = keras.Sequential(
        [
            keras.Input((n_features,)),
            layers.Reshape((n_features, 1)),
            layers.Conv1D(filters, 3, strides=2, padding="same", activation="relu"),
            layers.Flatten(),
            layers.Dense(16, activation="relu"),
            layers.Dense(n_components),
        ]
    )
    decoder = keras.Sequential(
        [
            keras.Input((n_components,)),
            layers.Dense(16, activation="relu"),
            layers.Dense(n_features),
        ]
    )
    return encoder, decoder


def dense(n_features, n_components, width=8):
    import keras

    layers = keras.layers
    encoder = keras.Sequential(
        [
            keras.Input((n_features,)),
            layers.Dense(width, activation="relu"),
            layers.Dense(n_components),
        ]
    )
    decoder = keras.Sequential(
        [
            keras.Input((n_components,)),
            layers.Dense(width, activation="relu"),
            layers.Dense(n_features),
        ]
    )
    return encoder, decoder


def functional(n_features, n_components, width=8):
    """``dense`` with the functional API."""
    import keras

    layers = keras.layers
    x = keras.Input((n_features,))
    code = layers.Dense(n_components)(layers.Dense(width, activation="relu")(x))
    z = keras.Input((n_components,))
    out = layers.Dense(n_features)(layers.Dense(width, activation="relu")(z))
    return keras.Model(x, code), keras.Model(z, out)


def unbuilt(n_features, n_components):
    """``Sequential`` models without ``keras.Input``: built by the estimator."""
    import keras

    layers = keras.layers
    return (
        keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(n_components)]),
        keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(n_features)]),
    )


def normalized(n_features, n_components):
    """BatchNormalization and Dropout in the encoder: layers with a training mode."""
    import keras

    layers = keras.layers
    encoder = keras.Sequential(
        [
            keras.Input((n_features,)),
            layers.Dense(16),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.Dropout(0.3),
            layers.Dense(n_components),
        ]
    )
    return encoder, dense(n_features, n_components)[1]


def regularized(n_features, n_components, l2=0.0):
    """``dense``, with an L2 penalty on the encoder's hidden kernel when ``l2 > 0``."""
    import keras

    layers = keras.layers
    penalty = keras.regularizers.L2(l2) if l2 else None
    encoder = keras.Sequential(
        [
            keras.Input((n_features,)),
            layers.Dense(16, activation="relu", kernel_regularizer=penalty),
            layers.Dense(n_components),
        ]
    )
    return encoder, dense(n_features, n_components)[1]


_SHARED = []


def shared(n_features, n_components):
    """The same two model objects on every call (made on the first)."""
    if not _SHARED:
        _SHARED.extend(dense(n_features, n_components))
    return tuple(_SHARED)


# -------------------------------------------------------------------- helpers
def model_weights(*models):
    return [np.array(variable.numpy()) for model in models for variable in model.weights]


def pca_reconstruction(X, n_components):
    pca = PCA(n_components).fit(X)
    return pca.inverse_transform(pca.transform(X))


@pytest.fixture(scope="module")
def X():
    return load_digits().data[:300]  # float64 pixels in [0, 16]


@pytest.fixture(scope="module")
def fitted(X):
    return AutoencoderTransformer(K, builder=conv1d, **FAST).fit(X)


@pytest.fixture(scope="module")
def search(X):
    """A grid search over builder_kwargs, shared by the tests that read it."""
    est = AutoencoderTransformer(K, builder=conv1d, **{**FAST, "epochs": 2})
    grid = {"builder_kwargs": [{"filters": 2}, {"filters": 4}]}
    return GridSearchCV(est, grid, cv=2).fit(X)


# ------------------------------------------------------------ the start is PCA
@pytest.mark.parametrize("builder", [conv1d, functional])
def test_untrained_network_is_pca(X, builder):
    est = AutoencoderTransformer(K, builder=builder)
    network = network_for(est, X.shape[1])
    summary = summarize(X, covariance=True)
    mean, scale = summary.mean, summary.scale
    start = initial_weights(network, spectrum(summary.covariance_root), np.random.RandomState(0))
    assert {name: w.shape for name, w in start.items()} == network.weight_shapes()
    for path in ("encoder_residual", "decoder_residual"):
        # The path's layers (by number), those with arrays: the last starts at zero...
        numbers = sorted(
            {int(name.split(".")[0].rsplit("_", 1)[1]) for name in start if path in name}
        )
        assert len(numbers) >= 2
        last = [w for name, w in start.items() if name.startswith(f"{path}_{numbers[-1]}.")]
        assert last
        assert not any(np.any(w) for w in last)
        # ... the others have their Keras initializers' random kernels.
        assert np.any(start[f"{path}_{numbers[0]}.kernel"])
    reconstruction = FittedNetwork(network, start, mean, scale).reconstruct(X)
    # The residual paths add exact zeros to the linear network's start...
    linear = Network(X.shape[1], K, (), "relu", "linear")
    linear_start = initial_weights(linear, spectrum(summary.covariance_root), None)
    expected_linear = FittedNetwork(linear, linear_start, mean, scale).reconstruct(X)
    assert_close(reconstruction, expected_linear, np.float64)
    # ... which is PCA, in float64 and float32 (the paths run in float32).
    expected = pca_reconstruction(X, K)
    atol = 1e-6 * np.abs(expected).max()
    np.testing.assert_allclose(reconstruction, expected, rtol=0, atol=atol)
    reconstruction32 = FittedNetwork(network, start, mean, scale).reconstruct(X.astype(np.float32))
    assert_close(reconstruction32, expected.astype(np.float32), np.float32)
    keras_model = FittedNetwork(network, start, mean, scale).build_keras()[0]  # ...in Keras too
    assert_close(
        keras_output(keras_model, X.astype(np.float32)), expected.astype(np.float32), np.float32
    )


# ------------------------------------------------------------- fit, transform
def test_arrays_are_named_by_path_and_layer(fitted, X):
    shapes = {name: w.shape for name, w in fitted.weights_.items()}
    assert shapes["encoder_linear.kernel"] == (X.shape[1], K)
    assert shapes["decoder_linear.kernel"] == (K, X.shape[1])
    # conv1d's encoder: Input 0, Reshape 1, Conv1D 2, Flatten 3, Dense 4, Dense 5.
    assert shapes["encoder_residual_2.kernel"] == (3, 1, 4)
    assert shapes["encoder_residual_5.kernel"] == (16, K)
    assert shapes["decoder_residual_2.kernel"] == (16, X.shape[1])
    assert shapes == fitted._fitted.network.weight_shapes()
    assert not fitted.fallback_to_pca_
    # Trained: the paths' last layers, zero at the start, are no longer.
    assert np.any(fitted.weights_["encoder_residual_5.kernel"])
    assert np.any(fitted.weights_["decoder_residual_2.kernel"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_outputs_have_the_inputs_shape_and_dtype(fitted, X, dtype):
    rows = X.astype(dtype)
    codes = fitted.transform(rows)
    assert codes.shape == (len(X), K)
    assert codes.dtype == dtype
    decoded = fitted.inverse_transform(codes)
    assert decoded.shape == X.shape
    assert decoded.dtype == dtype
    denoised = fitted.denoise(rows)
    assert denoised.shape == X.shape
    assert denoised.dtype == dtype
    assert_close(decoded, denoised, dtype)
    scores = fitted.score_samples(rows)
    assert scores.shape == (len(X),)
    assert scores.dtype == dtype
    assert_close(scores, -np.mean((rows - denoised) ** 2, axis=1), dtype)
    score = fitted.score(rows)
    assert isinstance(score, float)
    np.testing.assert_allclose(score, scores.mean(), rtol=EPS[dtype])


def test_float64_and_float32_rows_agree_to_float32_precision(fitted, X):
    X32 = X.astype(np.float32)
    for method in ("transform", "denoise"):
        assert_close(
            getattr(fitted, method)(X).astype(np.float32), getattr(fitted, method)(X32), np.float32
        )


@pytest.mark.parametrize("method", ["transform", "inverse_transform", "denoise"])
def test_fitted_estimator_matches_its_keras_models(fitted, X, method):
    model = {"transform": fitted.encoder_, "denoise": fitted.model_}.get(method, fitted.decoder_)
    rows = X.astype(np.float32)
    if method == "inverse_transform":
        rows = fitted.transform(rows)
    assert_close(getattr(fitted, method)(rows), keras_output(model, rows), np.float32)


def test_networks_of_one_structure_share_a_compiled_pass_with_their_own_weights(
    fitted, X, monkeypatch
):
    """One compiled function per path config (Keras' stateless call), whatever the
    number of fitted networks: each passes its own arrays, in calls in any order."""
    from skautoenc import _keras_network

    compiled = []

    def counted(model, stateless_call=_keras_network.stateless_call):
        compiled.append(model)
        return stateless_call(model)

    _keras_network._compiled_forward.cache_clear()
    monkeypatch.setattr(_keras_network, "stateless_call", counted)
    other = AutoencoderTransformer(K, builder=conv1d, **{**FAST, "random_state": 1}).fit(X)
    rows = X.astype(np.float32)
    for estimator in (fitted, other, fitted):
        codes = estimator.transform(rows)
        assert_close(codes, keras_output(estimator.encoder_, rows), np.float32)
        assert_close(
            estimator.inverse_transform(codes), keras_output(estimator.decoder_, codes), np.float32
        )
    assert not np.allclose(other.transform(rows), fitted.transform(rows), rtol=1e-3)
    assert len(compiled) == 2  # the encoder's path and the decoder's


def test_one_random_state_gives_one_fit_another_gives_another(fitted, X):
    again = AutoencoderTransformer(K, builder=conv1d, **FAST).fit(X)
    assert_close(again.transform(X), fitted.transform(X), np.float64)
    other = AutoencoderTransformer(K, builder=conv1d, **{**FAST, "random_state": 1}).fit(X)
    assert other.weights_.keys() == fitted.weights_.keys()
    for name in ("encoder_residual_2.kernel", "decoder_residual_1.kernel"):
        assert not np.allclose(other.weights_[name], fitted.weights_[name])


def test_each_fit_of_a_builder_has_the_same_canonical_network(fitted, X):
    # Keras numbers unnamed layers per process: the configs kept are renamed.
    again = AutoencoderTransformer(K, builder=conv1d, **FAST).fit(X)
    assert again._fitted.network == fitted._fitted.network
    encoder_config = fitted._fitted.network.builder_layers[0].config
    assert '"name": "encoder_residual_2"' in encoder_config


# -------------------------------------------------------- the user's models
def test_keras_network_models_are_not_modified(X):
    encoder, decoder = dense(X.shape[1], K)
    names = [layer.name for layer in encoder.layers + decoder.layers]
    before = model_weights(encoder, decoder)
    est = AutoencoderTransformer(K, builder=KerasNetwork(encoder, decoder), **FAST).fit(X)
    assert np.any(est.weights_["encoder_residual_2.kernel"])  # trained...
    after = model_weights(encoder, decoder)  # ...a copy
    assert len(after) == len(before)
    for old, new in zip(before, after, strict=True):
        np.testing.assert_array_equal(new, old, strict=True)
    assert [layer.name for layer in encoder.layers + decoder.layers] == names


def test_a_builder_returning_the_same_models_gives_independent_estimators(X):
    first = AutoencoderTransformer(K, builder=shared, **FAST).fit(X)
    codes = first.transform(X)
    before = model_weights(*shared(X.shape[1], K))
    second = AutoencoderTransformer(K, builder=shared, **{**FAST, "random_state": 1}).fit(X)
    np.testing.assert_array_equal(first.transform(X), codes, strict=True)
    assert not np.allclose(second.transform(X), codes)
    for old, new in zip(before, model_weights(*shared(X.shape[1], K)), strict=True):
        np.testing.assert_array_equal(new, old, strict=True)


# ---------------------------------------------------------------- scikit-learn
def test_clone_get_params_and_set_params(fitted, X):
    est = AutoencoderTransformer(K, builder=conv1d, builder_kwargs={"filters": 2}, **FAST)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    assert copy.get_params()["builder"] is conv1d
    assert copy.get_params()["builder_kwargs"] == {"filters": 2}
    assert not hasattr(clone(fitted), "n_features_in_")
    copy.set_params(builder_kwargs={"filters": 3})
    assert copy.get_params()["builder_kwargs"] == {"filters": 3}
    assert est.get_params()["builder_kwargs"] == {"filters": 2}  # a copy, not shared
    copy.fit(X)
    assert copy.weights_["encoder_residual_2.kernel"].shape == (3, 1, 3)


def test_grid_search_over_builder_kwargs(search):
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 2
    assert np.isfinite(scores).all()
    assert search.best_params_["builder_kwargs"] in [{"filters": 2}, {"filters": 4}]
    filters = search.best_params_["builder_kwargs"]["filters"]
    best = search.best_estimator_
    assert best.weights_["encoder_residual_2.kernel"].shape == (3, 1, filters)


def test_grid_search_over_n_components_with_a_builder(X):
    est = AutoencoderTransformer(K, builder=conv1d, **{**FAST, "epochs": 2})
    search = GridSearchCV(est, {"n_components": [2, 4]}, cv=2).fit(X)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    best = search.best_estimator_
    k = search.best_params_["n_components"]
    assert best.transform(X).shape == (len(X), k)
    assert best.weights_["encoder_residual_5.kernel"].shape == (16, k)


# ------------------------------------------------------------ pickling, saving
def test_pickle_round_trip_is_bitwise(fitted, X):
    unpickled = pickle.loads(pickle.dumps(fitted))
    assert unpickled.builder is conv1d  # a module-level function: pickled by reference
    assert unpickled._fitted.network == fitted._fitted.network
    for method in ("transform", "denoise", "score_samples"):
        for rows in (X, X.astype(np.float32)):
            np.testing.assert_array_equal(
                getattr(unpickled, method)(rows), getattr(fitted, method)(rows), strict=True
            )


def test_save_load_round_trip_keeps_the_network_not_the_function(fitted, X):
    buffer = io.BytesIO()
    fitted.save(buffer)
    loaded = skautoenc.load(io.BytesIO(buffer.getvalue()))
    assert isinstance(loaded.builder, KerasNetwork)
    assert loaded.builder_kwargs is None
    assert loaded._fitted.network == fitted._fitted.network
    np.testing.assert_array_equal(loaded.transform(X), fitted.transform(X), strict=True)


def test_keras_network_pickles_and_compares_by_its_configs(X):
    network = KerasNetwork(*conv1d(X.shape[1], K))
    unpickled = pickle.loads(pickle.dumps(network))
    assert unpickled == network
    assert hash(unpickled) == hash(network)
    assert unpickled.encoder_config == network.encoder_config
    same = KerasNetwork(network.encoder_config, network.decoder_config)
    assert same == network
    assert hash(same) == hash(network)
    assert network != KerasNetwork(*dense(X.shape[1], K))
    # Keras names layers per process ("dense_7"): two builds of one network are equal.
    assert KerasNetwork(*conv1d(X.shape[1], K)) == network
    assert network != (network.encoder_config, network.decoder_config)
    assert repr(network) == (
        "KerasNetwork(encoder=<Sequential: 6 layers>, decoder=<Sequential: 3 layers>)"
    )
    assert repr(KerasNetwork(*functional(X.shape[1], K))) == (
        "KerasNetwork(encoder=<Model: 3 layers>, decoder=<Model: 3 layers>)"
    )
    # Clones hold equal networks, and fit alike.
    est = AutoencoderTransformer(K, builder=network, **FAST)
    assert clone(est).builder == network
    np.testing.assert_array_equal(
        clone(est).fit(X).transform(X), est.fit(X).transform(X), strict=True
    )


# ------------------------------------------------- continuing, noise, fallback
def test_warm_start_continues_training(fitted, X):
    est = clone(fitted).set_params(warm_start=True).fit(X)
    first = list(est.history_["loss"])
    assert est.n_iter_ == len(first) == 3
    est.fit(X)
    assert est.n_iter_ == 6
    assert len(est.history_["loss"]) == 6
    assert est.history_["loss"][:3] == first


def test_warm_start_refuses_other_builder_kwargs(fitted, X):
    est = clone(fitted).set_params(warm_start=True).fit(X)
    codes, n_iter = est.transform(X), est.n_iter_
    est.set_params(builder_kwargs={"filters": 2})
    with pytest.raises(ValueError, match=r"warm_start=True .*'builder': \('encoder_residual"):
        est.fit(X)
    np.testing.assert_array_equal(est.transform(X), codes, strict=True)
    assert est.n_iter_ == n_iter
    assert est.weights_["encoder_residual_2.kernel"].shape == (3, 1, 4)


def test_partial_fit_runs_one_epoch_per_call(X):
    est = AutoencoderTransformer(K, builder=conv1d, random_state=0)
    est.partial_fit(X)
    assert est.n_iter_ == 1
    kernel = est.weights_["encoder_residual_5.kernel"].copy()
    assert np.any(kernel)
    est.partial_fit(X)
    assert est.n_iter_ == 2
    assert len(est.history_["loss"]) == 2
    assert not np.array_equal(est.weights_["encoder_residual_5.kernel"], kernel)


@pytest.mark.parametrize("noise", ["gaussian", "masking"])
def test_noise_trains_and_denoise_reconstructs(X, noise):
    est = AutoencoderTransformer(K, builder=conv1d, noise=noise, **FAST).fit(X)
    assert np.any(est.weights_["decoder_residual_2.kernel"])
    rows = X.astype(np.float32)
    noisy = rows + np.random.RandomState(0).normal(scale=0.5, size=rows.shape).astype(np.float32)
    denoised = est.denoise(noisy)
    assert denoised.shape == X.shape
    assert np.isfinite(denoised).all()
    assert_close(denoised, keras_output(est.model_, noisy), np.float32)


def test_early_stopping_falls_back_to_pca_on_linear_data(fitted):
    assert fitted.fallback_to_pca_ is False
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 2)) @ rng.normal(size=(2, 10))  # rank 2: PCA is exact
    est = AutoencoderTransformer(2, builder=dense, epochs=5, early_stopping=True, random_state=0)
    est.fit(X)
    assert est.fallback_to_pca_ is True
    expected = pca_reconstruction(X, 2)
    np.testing.assert_allclose(est.denoise(X), expected, rtol=0, atol=1e-6 * np.abs(expected).max())
    # The kept start: its paths are silent.
    assert not np.any(est.weights_["encoder_residual_2.kernel"])


# ------------------------------------------------------------------ refusals
def lambda_layer(n_features, n_components):
    import keras

    encoder = keras.Sequential(
        [
            keras.Input((n_features,)),
            keras.layers.Lambda(lambda x: 2 * x),
            keras.layers.Dense(n_components),
        ]
    )
    return encoder, dense(n_features, n_components)[1]


def custom_layer(n_features, n_components):
    import keras

    class CustomDense(keras.layers.Dense):
        pass

    decoder = keras.Sequential([keras.Input((n_components,)), CustomDense(n_features)])
    return dense(n_features, n_components)[0], decoder


def custom_activation(n_features, n_components):
    import keras

    def my_relu(x):
        return keras.ops.relu(x)

    encoder = keras.Sequential(
        [
            keras.Input((n_features,)),
            keras.layers.Dense(8, activation=my_relu),
            keras.layers.Dense(n_components),
        ]
    )
    return encoder, dense(n_features, n_components)[1]


def sigmoid_output(n_features, n_components):
    import keras

    decoder = keras.Sequential(
        [keras.Input((n_components,)), keras.layers.Dense(n_features, activation="sigmoid")]
    )
    return dense(n_features, n_components)[0], decoder


def wrong_width(n_features, n_components):
    return dense(n_features, n_components + 1)[0], dense(n_features, n_components)[1]


def three_models(n_features, n_components):
    return (*dense(n_features, n_components), "extra")


def not_a_model(n_features, n_components):
    return dense(n_features, n_components)[0], "not a model"


def subclassed(n_features, n_components):
    import keras

    class Encoder(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(n_components)

        def call(self, x):
            return self.dense(x)

    encoder = Encoder()
    encoder(np.zeros((1, n_features), np.float32))  # built
    return encoder, dense(n_features, n_components)[1]


SAFE = "cannot be kept as a safe, rebuildable description"


REFUSED = {
    "lambda-layer": (
        {"builder": lambda_layer},
        ValueError,
        rf"encoder {SAFE}.*Received: keras\.layers\.Lambda\.",
    ),
    "custom-layer": (
        {"builder": custom_layer},
        ValueError,
        rf"decoder {SAFE}.*Received: .*CustomDense\.",
    ),
    "custom-activation": (
        {"builder": custom_activation},
        ValueError,
        r"encoder's activations must be Keras activations given by name.*'my_relu'",
    ),
    "sigmoid-last-layer": (
        {"builder": sigmoid_output},
        ValueError,
        r"decoder from builder must be able to start silent.*\(Dense\).*"
        r"Received: outputs up to 0\.5 ",
    ),
    "wrong-width": (
        {"builder": wrong_width},
        ValueError,
        r"encoder from builder must map rows of 64 values to rows of 4 .*"
        r"Received input shape \(None, 64\) and output shape \(None, 5\)",
    ),
    "three-models": ({"builder": three_models}, TypeError, r"pair \(encoder, decoder\).*'extra'"),
    "not-a-model": (
        {"builder": not_a_model},
        TypeError,
        "decoder must be a Keras model. Received: 'not a model' of type str",
    ),
    "unknown-builder-kwarg": (
        {"builder": dense, "builder_kwargs": {"depth": 3}},
        TypeError,
        "unexpected keyword argument 'depth'",
    ),
    "builder-kwargs-without-builder": (
        {"builder_kwargs": {"filters": 2}},
        ValueError,
        r"builder, which is None\. Received: builder_kwargs=\{'filters': 2\}",
    ),
    "subclassed-model": (
        {"builder": subclassed},
        ValueError,
        r"encoder must be a keras\.Sequential or functional keras\.Model "
        r"\(a subclassed model .*Received: a Encoder\.",
    ),
    "builder-and-image-shape": (
        {"builder": conv1d, "image_shape": (8, 8)},
        ValueError,
        r"set one of them\. Received: image_shape=\(8, 8\) and builder=<function conv1d",
    ),
}


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [pytest.param(*case, id=name) for name, case in REFUSED.items()],
)
def test_what_cannot_be_kept_is_refused_at_fit(X, params, error, match):
    est = AutoencoderTransformer(K, **{**FAST, **params})
    with pytest.raises(error, match=match):
        est.fit(X)
    assert not hasattr(est, "n_features_in_")


def test_keras_network_refuses_what_cannot_be_kept(X):
    import keras

    with pytest.raises(ValueError, match=rf"encoder {SAFE}.*Received: keras\.layers\.Lambda"):
        KerasNetwork(*lambda_layer(X.shape[1], K))
    with pytest.raises(TypeError, match=r"decoder must be a Keras model\. Received: 3 of type int"):
        KerasNetwork(dense(X.shape[1], K)[0], 3)

    class Encoder(keras.Model):  # with a config: Keras serializes it
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(K)

        def call(self, x):
            return self.dense(x)

        def get_config(self):
            return {}

    with pytest.raises(ValueError, match=r"subclassed model .*Received: a Encoder\."):
        KerasNetwork(Encoder(), dense(X.shape[1], K)[1])
    network = KerasNetwork(*dense(X.shape[1], K))
    est = AutoencoderTransformer(K, builder=network, builder_kwargs={"width": 3}, **FAST)
    with pytest.raises(ValueError, match=r"takes no builder_kwargs\. .*\{'width': 3\}"):
        est.fit(X)
    est = AutoencoderTransformer(K + 1, builder=network, **FAST)  # fixed shapes
    with pytest.raises(ValueError, match=r"rows of 64 values to rows of 5 .*\(None, 4\)"):
        est.fit(X)


def test_a_refused_fit_leaves_the_fitted_estimator_as_it_was(fitted, X):
    est = clone(fitted).fit(X)
    codes, weights, n_iter = est.transform(X), dict(est.weights_), est.n_iter_
    for builder, match in ((lambda_layer, SAFE), (sigmoid_output, "start silent")):
        est.set_params(builder=builder)
        with pytest.raises(ValueError, match=match):
            est.fit(X)
        np.testing.assert_array_equal(est.transform(X), codes, strict=True)
        assert est.n_iter_ == n_iter
        assert est.weights_.keys() == weights.keys()
        for name, weight in weights.items():
            assert est.weights_[name] is weight


# ------------------------------------------------ training modes, regularizers
def test_batch_normalization_and_dropout_train_and_infer_in_their_modes(X):
    est = AutoencoderTransformer(K, builder=normalized, **FAST).fit(X)
    # Dropout draws from the fit's seed: one random_state, one fit.
    again = AutoencoderTransformer(K, builder=normalized, **FAST).fit(X)
    np.testing.assert_array_equal(again.transform(X), est.transform(X), strict=True)
    # Trained in training mode: the moving statistics moved off their start (0 and 1).
    assert np.any(est.weights_["encoder_residual_2.moving_mean"] != 0)
    assert np.any(est.weights_["encoder_residual_2.moving_variance"] != 1)
    # Inferred in inference mode: no dropout, the moving statistics.
    rows = X.astype(np.float32)
    codes = est.transform(rows)
    np.testing.assert_array_equal(est.transform(rows), codes, strict=True)
    assert_close(codes, keras_output(est.encoder_, rows), np.float32)
    assert_close(est.denoise(rows), keras_output(est.model_, rows), np.float32)


def test_a_regularizer_is_added_to_the_training_loss(X):
    # A learning rate so small that the weights stay at their start: both networks
    # lose what PCA loses, plus the penalty l2 * sum(kernel ** 2) for the one.
    options = {**FAST, "epochs": 2, "noise": None, "learning_rate": 1e-7}
    plain = AutoencoderTransformer(K, builder=regularized, **options).fit(X)
    l2 = 0.1
    penalized = AutoencoderTransformer(
        K, builder=regularized, builder_kwargs={"l2": l2}, **options
    ).fit(X)
    kernel = penalized.weights_["encoder_residual_1.kernel"].astype(np.float64)
    penalty = l2 * np.sum(kernel**2)
    assert penalty > plain.history_["loss"][0]  # large enough to tell apart
    difference = np.subtract(penalized.history_["loss"], plain.history_["loss"])
    np.testing.assert_allclose(difference, penalty, rtol=1e-4)


# ---------------------------------------------------- functional, unbuilt models
def test_a_functional_builder_works_as_sequential_does(X):
    est = AutoencoderTransformer(K, builder=functional, **FAST).fit(X)
    sequential = AutoencoderTransformer(K, builder=dense, **FAST).fit(X)
    shapes = {name: w.shape for name, w in est.weights_.items()}
    # Functional configs list their layers as Sequential ones do (the input first).
    assert shapes == {name: w.shape for name, w in sequential.weights_.items()}
    assert shapes["encoder_residual_1.kernel"] == (X.shape[1], 8)
    assert not est.fallback_to_pca_
    assert np.any(est.weights_["encoder_residual_2.kernel"])
    rows = X.astype(np.float32)
    assert_close(est.transform(rows), keras_output(est.encoder_, rows), np.float32)
    assert_close(est.denoise(rows), keras_output(est.model_, rows), np.float32)
    unpickled = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(unpickled.transform(X), est.transform(X), strict=True)


def test_an_unbuilt_sequential_is_built_to_the_rows(X):
    encoder, decoder = unbuilt(X.shape[1], K)
    est = AutoencoderTransformer(K, builder=KerasNetwork(encoder, decoder), **FAST).fit(X)
    assert not encoder.built  # a copy was built, not the user's model
    est = AutoencoderTransformer(K, builder=unbuilt, **FAST).fit(X)
    n = X.shape[1]
    for path, widths in (("encoder", [(n, 8), (8, K)]), ("decoder", [(K, 8), (8, n)])):
        kernels = sorted(
            (int(name.split(".")[0].rsplit("_", 1)[1]), w.shape)
            for name, w in est.weights_.items()
            if name.startswith(f"{path}_residual_") and name.endswith(".kernel")
        )
        assert [shape for _, shape in kernels] == widths
    assert est.transform(X).shape == (len(X), K)
    rows = X.astype(np.float32)
    assert_close(est.denoise(rows), keras_output(est.model_, rows), np.float32)
