"""AutoencoderTransformer: parameters, input validation, outputs and determinism."""

import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from skautoenc import AutoencoderTransformer

FAST = {"hidden_layer_sizes": (8,), "epochs": 3, "random_state": 0}


@pytest.fixture(scope="module")
def X():
    return np.random.RandomState(0).uniform(size=(60, 6))


@pytest.fixture(scope="module")
def fitted(X):
    return AutoencoderTransformer(n_components=3, **FAST).fit(X)


def snapshot(estimator):
    """Everything a failed fit must leave untouched."""
    state = {key: value for key, value in vars(estimator).items() if key.endswith("_")}
    weights = [w.copy() for w in estimator.model_.get_weights()]
    return state, weights


def assert_unchanged(estimator, before, X):
    state, weights = before
    assert vars(estimator).keys() >= state.keys()
    for key, value in state.items():
        assert vars(estimator)[key] is value, key
    for old, new in zip(weights, estimator.model_.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


# --------------------------------------------------------------------- outputs
def test_shapes_and_fitted_attributes(fitted, X):
    assert fitted.transform(X).shape == (60, 3)
    assert fitted.inverse_transform(fitted.transform(X)).shape == (60, 6)
    assert fitted.denoise(X).shape == (60, 6)
    assert fitted.score_samples(X).shape == (60,)
    assert fitted.n_features_in_ == 6
    assert fitted.output_activation_ == "sigmoid"  # data in [0, 1]
    assert fitted.n_iter_ == len(fitted.loss_curve_) == len(fitted.history_["loss"])
    assert fitted.validation_scores_ is None
    assert fitted.encoder_.output_shape == (None, 3)
    assert fitted.decoder_.output_shape == (None, 6)


def test_encoder_and_decoder_share_the_autoencoders_weights(fitted):
    encoder = fitted.model_.get_layer("encoder")
    decoder = fitted.model_.get_layer("decoder")
    assert encoder is fitted.encoder_
    assert decoder is fitted.decoder_


def test_output_activation_auto_is_linear_outside_unit_range():
    X = np.random.RandomState(1).normal(size=(40, 4))
    est = AutoencoderTransformer(**FAST).fit(X)
    assert est.output_activation_ == "linear"
    assert est.denoise(X).min() < 0  # a sigmoid could not produce this


def test_score_is_mean_of_negative_squared_errors(fitted, X):
    reconstruction = fitted.denoise(X)
    expected = -np.mean((X - reconstruction) ** 2, axis=1)
    np.testing.assert_allclose(fitted.score_samples(X), expected, rtol=1e-12)
    assert fitted.score(X) == pytest.approx(expected.mean())
    assert fitted.score(X) < 0


def test_denoise_equals_inverse_transform_of_transform(fitted, X):
    np.testing.assert_array_equal(fitted.denoise(X), fitted.inverse_transform(fitted.transform(X)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(fitted, X, dtype):
    X = X.astype(dtype)
    assert fitted.transform(X).dtype == dtype
    assert fitted.inverse_transform(fitted.transform(X)).dtype == dtype
    assert fitted.denoise(X).dtype == dtype


def test_integer_input_is_transformed_as_float64(fitted):
    codes = fitted.transform(np.ones((2, 6), dtype=np.int64))
    assert codes.dtype == np.float64


def test_feature_names_out_and_pandas_output(X):
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    est = AutoencoderTransformer(n_components=2, **FAST).set_output(transform="pandas")
    codes = est.fit_transform(frame)
    assert list(est.get_feature_names_out()) == [
        "autoencodertransformer0",
        "autoencodertransformer1",
    ]
    assert isinstance(codes, pd.DataFrame)
    assert list(codes.columns) == list(est.get_feature_names_out())
    assert list(codes.index) == list(frame.index)
    assert list(est.feature_names_in_) == list(frame.columns)


def test_fit_transform_equals_fit_then_transform(X):
    est = AutoencoderTransformer(**FAST)
    np.testing.assert_array_equal(est.fit_transform(X), clone(est).fit(X).transform(X))


# ---------------------------------------------------------------- determinism
def test_same_random_state_gives_bitwise_identical_codes(X):
    first = AutoencoderTransformer(**FAST).fit(X)
    second = AutoencoderTransformer(**FAST).fit(X)
    np.testing.assert_array_equal(first.transform(X), second.transform(X))
    third = AutoencoderTransformer(**{**FAST, "random_state": 1}).fit(X)
    assert not np.array_equal(first.transform(X), third.transform(X))


def test_bitwise_identical_codes_across_processes(X, tmp_path):
    script = (
        "import sys, numpy as np; from skautoenc import AutoencoderTransformer;"
        "X = np.random.RandomState(0).uniform(size=(60, 6));"
        "est = AutoencoderTransformer(hidden_layer_sizes=(8,), epochs=3, random_state=0);"
        "np.save(sys.argv[1], est.fit(X).transform(X))"
    )
    outputs = []
    for run in range(2):
        path = tmp_path / f"codes{run}.npy"
        subprocess.run([sys.executable, "-c", script, str(path)], check=True)
        outputs.append(np.load(path))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    in_process = AutoencoderTransformer(**FAST).fit(X).transform(X)
    np.testing.assert_array_equal(outputs[0], in_process)


def test_fit_restores_the_global_random_states(X):
    import random

    np.random.seed(123)
    random.seed(123)
    expected = (np.random.rand(), random.random())
    np.random.seed(123)
    random.seed(123)
    AutoencoderTransformer(**FAST).fit(X)
    assert (np.random.rand(), random.random()) == expected


def test_concurrent_fits_restore_the_global_random_states(X):
    from concurrent.futures import ThreadPoolExecutor

    np.random.seed(7)
    expected = np.random.rand()
    np.random.seed(7)
    with ThreadPoolExecutor(max_workers=4) as pool:
        fitted = list(
            pool.map(
                lambda seed: AutoencoderTransformer(**{**FAST, "random_state": seed}).fit(X),
                range(4),
            )
        )
    assert np.random.rand() == expected
    # ...and each fit is still the one its random_state gives.
    alone = AutoencoderTransformer(**{**FAST, "random_state": 2}).fit(X)
    np.testing.assert_array_equal(fitted[2].transform(X), alone.transform(X))


def test_random_state_none_gives_different_models(X):
    params = {**FAST, "random_state": None}
    first = AutoencoderTransformer(**params).fit(X)
    second = AutoencoderTransformer(**params).fit(X)
    assert not np.array_equal(first.transform(X), second.transform(X))


# ------------------------------------------------------------------ lazy imports
def test_import_construct_clone_repr_and_pickle_do_not_import_keras():
    script = (
        "import sys, pickle, skautoenc; from sklearn.base import clone;"
        "est = skautoenc.AutoencoderTransformer(n_components=4, hidden_layer_sizes=(32, 16));"
        "est.get_params(); clone(est); repr(est); pickle.loads(pickle.dumps(est));"
        "heavy = [m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules];"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


# ----------------------------------------------------------------- bad input
BAD_INPUTS = [
    (np.array([[0.1, np.nan], [0.2, 0.3]]), ValueError, "NaN"),
    (np.array([[0.1, np.inf], [0.2, 0.3]]), ValueError, "infinity"),
    (np.array([[0.1, -np.inf], [0.2, 0.3]]), ValueError, "infinity"),
    (np.array([["a", "b"], ["c", "d"]], dtype=object), ValueError, "expects numeric data"),
    (np.array([["a", "b"], ["c", "d"]]), ValueError, "expects numeric data"),
    (np.array([[1 + 1j, 2], [3, 4]]), ValueError, "Complex data not supported"),
    (np.empty((0, 3)), ValueError, "0 sample"),
    (np.empty((3, 0)), ValueError, "0 feature"),
    (np.array([0.1, 0.2, 0.3]), ValueError, "Expected 2D array, got 1D array"),
    (np.zeros((2, 3, 4)), ValueError, "dim 3"),
    (sp.csr_matrix(np.eye(3)), TypeError, "dense data is required"),
]


@pytest.mark.parametrize(("data", "error", "message"), BAD_INPUTS)
def test_bad_input_to_fit_is_refused_clearly(data, error, message):
    with pytest.raises(error, match=message):
        AutoencoderTransformer(n_components=1, **FAST).fit(data)


@pytest.mark.parametrize(("data", "error", "message"), BAD_INPUTS)
def test_failed_fit_leaves_a_fitted_estimator_unchanged(fitted, X, data, error, message):
    before = snapshot(fitted)
    codes = fitted.transform(X)
    with pytest.raises(error, match=message):
        fitted.fit(data)
    assert_unchanged(fitted, before, X)
    np.testing.assert_array_equal(fitted.transform(X), codes)


def test_failed_fit_on_other_columns_keeps_feature_names(X):
    frame = pd.DataFrame(X, columns=list("abcdef"))
    est = AutoencoderTransformer(**FAST).fit(frame)
    bad = pd.DataFrame(np.full((4, 2), np.nan), columns=["x", "y"])
    with pytest.raises(ValueError, match="NaN"):
        est.fit(bad)
    assert list(est.feature_names_in_) == list("abcdef")
    assert est.n_features_in_ == 6


def test_failed_fit_with_too_many_components_leaves_estimator_unchanged(X):
    est = AutoencoderTransformer(n_components=3, **FAST).fit(X)
    before = snapshot(est)
    est.set_params(n_components=5)
    with pytest.raises(ValueError, match="n_features = 2"):
        est.fit(X[:, :2])
    assert_unchanged(est, before, X)


@pytest.mark.parametrize(
    ("method", "data", "message"),
    [
        (
            "transform",
            np.ones((2, 5)),
            "X has 5 features, but AutoencoderTransformer is expecting 6",
        ),
        ("denoise", np.ones((2, 7)), "X has 7 features"),
        ("score_samples", np.full((2, 6), np.nan), "NaN"),
        ("inverse_transform", np.ones((2, 4)), "n_components=3"),
        ("inverse_transform", np.ones(3), "Expected 2D array, got 1D array"),
    ],
)
def test_bad_input_at_inference(fitted, method, data, message):
    with pytest.raises(ValueError, match=message):
        getattr(fitted, method)(data)


def test_reordered_dataframe_columns_are_refused(X):
    frame = pd.DataFrame(X, columns=list("abcdef"))
    est = AutoencoderTransformer(**FAST).fit(frame)
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        est.transform(frame[list("fedcba")])


def test_unfitted_estimator_raises_not_fitted(X):
    for method in ("transform", "inverse_transform", "denoise", "score_samples", "score"):
        with pytest.raises(NotFittedError):
            getattr(AutoencoderTransformer(), method)(X)


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"n_components": 0}, ValueError, r"'n_components' parameter .* Got 0 instead"),
        ({"n_components": 7}, ValueError, "n_components=7 must be between 1 and n_features=6"),
        ({"n_components": 2.5}, TypeError, "'n_components' parameter"),
        ({"epochs": -1}, ValueError, r"'epochs' parameter .* Got -1 instead"),
        ({"batch_size": 0}, ValueError, "'batch_size' parameter"),
        ({"learning_rate": 0.0}, ValueError, "'learning_rate' parameter"),
        ({"activation": "nope"}, ValueError, "activation='nope'"),
        ({"output_activation": "nope"}, ValueError, "output_activation='nope'"),
        ({"loss": "hinge"}, ValueError, r"'loss' parameter .* Got 'hinge' instead"),
        ({"optimizer": "adamm"}, ValueError, r"'optimizer' parameter .* Got 'adamm'"),
        ({"hidden_layer_sizes": (8, 0)}, ValueError, r"Received: \(8, 0\)"),
        ({"hidden_layer_sizes": "wide"}, ValueError, "hidden_layer_sizes"),
        ({"noise": "pink"}, ValueError, "'noise' parameter"),
        ({"validation_fraction": 1.0}, ValueError, "'validation_fraction' parameter"),
        (
            {"loss": "binary_crossentropy", "output_activation": "linear"},
            ValueError,
            "binary_crossentropy",
        ),
    ],
)
def test_invalid_parameters_are_refused_clearly(X, params, error, message):
    with pytest.raises(error, match=message):
        AutoencoderTransformer(**{**FAST, **params}).fit(X)


def test_pickled_fitted_estimator_transforms_identically(fitted, X):
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(X), fitted.transform(X))
