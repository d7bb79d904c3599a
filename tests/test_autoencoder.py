"""AutoencoderTransformer: outputs, parameters, input validation, determinism, threads."""

import random
import subprocess
import sys
import threading
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn
from _fits import FAST, fit
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.utils._param_validation import InvalidParameterError

from skautoenc import AutoencoderTransformer


@pytest.fixture(scope="module")
def X():
    return np.random.RandomState(0).uniform(size=(60, 6))


@pytest.fixture(scope="module")
def fitted(X):
    return fit(AutoencoderTransformer(n_components=3, **FAST), X)


def fitted_state(estimator):
    """Everything a fit publishes, by identity."""
    return {key: value for key, value in vars(estimator).items() if key.endswith("_")} | {
        "_fitted": estimator._fitted
    }


# --------------------------------------------------------------------- outputs
def test_shapes_and_fitted_attributes(fitted, X):
    assert fitted.transform(X).shape == (60, 3)
    assert fitted.inverse_transform(fitted.transform(X)).shape == (60, 6)
    assert fitted.denoise(X).shape == (60, 6)
    assert fitted.score_samples(X).shape == (60,)
    assert fitted.n_features_in_ == 6
    assert fitted.n_iter_ == 3 == len(fitted.loss_curve_) == len(fitted.history_["loss"])
    assert fitted.validation_scores_ is None
    assert "val_loss" not in fitted.history_
    np.testing.assert_allclose(fitted.mean_, X.mean(axis=0), rtol=1e-12)
    assert fitted.scale_ == pytest.approx(np.sqrt(X.var(axis=0).mean()), rel=1e-12)
    assert set(fitted.weights_) == {
        "encoder_linear.kernel",
        "encoder_hidden_0.kernel",
        "encoder_hidden_0.bias",
        "encoder_residual.kernel",
        "encoder_residual.bias",
        "decoder_linear.kernel",
        "decoder_hidden_0.kernel",
        "decoder_hidden_0.bias",
        "decoder_residual.kernel",
        "decoder_residual.bias",
    }
    assert fitted.encoder_.output_shape == (None, 3)
    assert fitted.decoder_.output_shape == (None, 6)


def test_score_is_the_negative_squared_error_in_the_datas_units(fitted, X):
    error = (X - fitted.denoise(X)) ** 2
    np.testing.assert_allclose(fitted.score_samples(X), -error.mean(axis=1), rtol=1e-12)
    assert fitted.score(X) == pytest.approx(-error.mean())


def test_denoise_is_decoding_the_codes(fitted, X):
    # Two code paths (reconstruct keeps no codes), one float64 result.
    np.testing.assert_allclose(
        fitted.denoise(X), fitted.inverse_transform(fitted.transform(X)), rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(fitted, X, dtype):
    X = X.astype(dtype)
    assert fitted.transform(X).dtype == dtype
    assert fitted.inverse_transform(fitted.transform(X)).dtype == dtype
    assert fitted.denoise(X).dtype == dtype
    assert fitted.score_samples(X).dtype == dtype


def test_integer_input_is_computed_in_float64(fitted):
    assert fitted.transform(np.ones((2, 6), dtype=np.int64)).dtype == np.float64


def test_feature_names_out_and_pandas_output(X):
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    est = AutoencoderTransformer(n_components=2, **FAST).set_output(transform="pandas")
    codes = fit(est, frame).transform(frame)
    assert list(est.get_feature_names_out()) == [
        "autoencodertransformer0",
        "autoencodertransformer1",
    ]
    assert list(codes.columns) == list(est.get_feature_names_out())
    assert list(codes.index) == list(frame.index)
    assert list(est.feature_names_in_) == list(frame.columns)


def test_keras_views_are_built_once_and_follow_refits(X):
    est = fit(AutoencoderTransformer(**FAST), X)
    model = est.model_
    assert est.model_ is model
    assert est.encoder_ is est.model_.get_layer("encoder")
    fit(est.set_params(random_state=1), X)
    assert est.model_ is not model


def test_unfitted_estimator_has_no_fitted_attributes(X):
    est = AutoencoderTransformer()
    for name in ("model_", "encoder_", "decoder_", "weights_", "n_iter_"):
        assert not hasattr(est, name)
    for method in ("transform", "inverse_transform", "denoise", "score_samples", "score"):
        with pytest.raises(NotFittedError):
            getattr(est, method)(X)


# ----------------------------------------------------------------- determinism
def test_same_random_state_gives_bitwise_identical_codes(X):
    first = fit(AutoencoderTransformer(**FAST), X)
    second = fit(AutoencoderTransformer(**FAST), X)
    np.testing.assert_array_equal(first.transform(X), second.transform(X))
    third = fit(AutoencoderTransformer(**{**FAST, "random_state": 1}), X)
    assert not np.allclose(first.transform(X), third.transform(X))


def test_fit_leaves_the_global_random_states_alone(X):
    np.random.seed(123)
    random.seed(123)
    expected = (np.random.rand(), random.random())
    np.random.seed(123)
    random.seed(123)
    fit(AutoencoderTransformer(**{**FAST, "noise": "gaussian"}), X)
    assert (np.random.rand(), random.random()) == expected


def test_concurrent_fits_give_the_results_of_lone_fits(X):
    from concurrent.futures import ThreadPoolExecutor

    def one(seed):
        return fit(AutoencoderTransformer(**{**FAST, "random_state": seed}), X).transform(X)

    with ThreadPoolExecutor(max_workers=3) as pool:
        together = list(pool.map(one, range(3)))
    np.testing.assert_array_equal(together[2], one(2))


def test_import_construct_clone_repr_and_pickle_do_not_import_keras():
    script = (
        "import sys, pickle, skautoenc; from sklearn.base import clone;"
        "est = skautoenc.AutoencoderTransformer(n_components=4, hidden_layer_sizes=(32, 16));"
        "est.get_params(); clone(est); repr(est); pickle.loads(pickle.dumps(est));"
        "heavy = [m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules];"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


# ------------------------------------------------------------------ parameters
@pytest.mark.parametrize(
    "params",
    [
        {"n_components": np.int64(2)},
        {"hidden_layer_sizes": np.array([16])},
        {"hidden_layer_sizes": (np.int64(16),)},
        {"batch_size": np.int32(16), "epochs": np.int64(2)},
    ],
    ids=["np.int64 n_components", "array sizes", "np.int64 sizes", "np ints"],
)
def test_numpy_integers_are_integers(X, params):
    est = fit(AutoencoderTransformer(**{**FAST, **params}), X)
    assert est.transform(X).shape[1] == int(est.n_components)
    assert all(type(s) is int for s in est._fitted.network.hidden_layer_sizes)


def test_grid_search_over_a_numpy_range(X):
    search = GridSearchCV(
        AutoencoderTransformer(**FAST), {"n_components": np.arange(2, 5, 2)}, cv=KFold(2)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X)
    assert list(search.cv_results_["param_n_components"]) == [2, 4]


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"n_components": 0}, ValueError, r"'n_components' parameter .* Got 0 instead"),
        ({"n_components": True}, ValueError, "not a bool"),
        ({"n_components": 7}, ValueError, "n_components=7 must be between 1 and n_features=6"),
        ({"n_components": 2.5}, TypeError, "'n_components' parameter"),
        ({"epochs": -1}, ValueError, r"'epochs' parameter .* Got -1 instead"),
        ({"learning_rate": 0.0}, ValueError, "'learning_rate' parameter"),
        ({"activation": "nope"}, ValueError, "activation='nope'"),
        ({"output_activation": "nope"}, ValueError, "output_activation='nope'"),
        ({"loss": "hinge"}, ValueError, r"'loss' parameter .* Got 'hinge' instead"),
        ({"optimizer": "adamm"}, ValueError, r"'optimizer' parameter .* Got 'adamm'"),
        ({"hidden_layer_sizes": (8, 0)}, ValueError, r"Received: \(8, 0\)"),
        ({"hidden_layer_sizes": (True,)}, ValueError, "hidden_layer_sizes"),
        ({"hidden_layer_sizes": "wide"}, ValueError, "hidden_layer_sizes"),
        ({"noise": "pink"}, ValueError, "'noise' parameter"),
        ({"noise": "masking", "noise_level": 1.0}, ValueError, "must be below 1"),
        ({"validation_fraction": 1.0}, ValueError, "'validation_fraction' parameter"),
        ({"callbacks": [object()]}, TypeError, "keras.callbacks.Callback"),
        ({"loss": "binary_crossentropy"}, ValueError, "binary_crossentropy"),
    ],
)
def test_invalid_parameters_are_refused_clearly(X, params, error, message):
    with pytest.raises(error, match=message):
        fit(AutoencoderTransformer(**{**FAST, **params}), X)


def test_skip_parameter_validation_is_honoured(X):
    est = AutoencoderTransformer(**{**FAST, "tol": -1.0})  # out of its declared range
    with pytest.raises(InvalidParameterError, match="'tol' parameter"):
        fit(est, X)
    with sklearn.config_context(skip_parameter_validation=True):
        fit(est, X)
    assert est.n_iter_ == 3


# ----------------------------------------------------------------- bad input
BAD_INPUTS = [
    (np.array([[0.1, np.nan], [0.2, 0.3]]), ValueError, "NaN"),
    (np.array([[0.1, np.inf], [0.2, 0.3]]), ValueError, "infinity"),
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


@pytest.mark.parametrize("warm_start", [False, True])
@pytest.mark.parametrize(("data", "error", "message"), BAD_INPUTS[:3] + BAD_INPUTS[6:7])
def test_failed_fit_leaves_a_fitted_estimator_as_it_was(
    fitted, X, data, error, message, warm_start
):
    before, codes = fitted_state(fitted), fitted.transform(X)
    fitted.set_params(warm_start=warm_start)
    try:
        with pytest.raises(error, match=message):
            fitted.fit(data)
    finally:
        fitted.set_params(warm_start=False)
    after = fitted_state(fitted)
    assert after.keys() == before.keys()
    assert all(after[key] is before[key] for key in before)
    np.testing.assert_array_equal(fitted.transform(X), codes)


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
    est = fit(AutoencoderTransformer(**FAST), frame)
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        est.transform(frame[list("fedcba")])


# --------------------------------------------------------------------- threads
@pytest.mark.parametrize("failing", ["too many components", "warm start, NaN data"])
def test_a_failing_fit_never_disturbs_concurrent_readers(X, failing):
    est = fit(AutoencoderTransformer(n_components=3, **FAST), X)
    expected = est.transform(X)
    if failing == "too many components":
        bad, params, message = X[:, :1], {"n_components": 3}, "n_components=3"
    else:
        bad, params, message = np.full_like(X, np.nan), {"warm_start": True}, "NaN"
    stop, errors, calls = threading.Event(), [], [0]

    def read():
        while not stop.is_set():
            try:
                np.testing.assert_array_equal(est.transform(X), expected)
                calls[0] += 1
            except Exception as error:  # any failure at all is the bug
                errors.append(repr(error))

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        est.set_params(**params)
        for _ in range(30):
            with pytest.raises(ValueError, match=message):
                est.fit(bad)
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert calls[0] > 0
    assert errors == []


def test_a_failing_fit_keeps_feature_names(X):
    frame = pd.DataFrame(X, columns=list("abcdef"))
    est = fit(AutoencoderTransformer(**FAST), frame)
    with pytest.raises(ValueError, match="NaN"):
        est.fit(pd.DataFrame(np.full((4, 2), np.nan), columns=["x", "y"]))
    assert list(est.feature_names_in_) == list("abcdef")
    assert est.n_features_in_ == 6


def test_clone_is_unfitted_with_the_same_parameters(fitted):
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "n_features_in_")


def test_a_version_0_1_pickle_is_refused_with_a_clear_message():
    state = {**AutoencoderTransformer().get_params(), "model_": b"PK\x03\x04 keras bytes"}
    est = AutoencoderTransformer.__new__(AutoencoderTransformer)
    with pytest.raises(ValueError, match=r"pickled by skautoenc 0\.1"):
        est.__setstate__(state)
