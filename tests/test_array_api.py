"""Array API inputs: with array_api_dispatch on, computed on NumPy, returned as they came."""

import warnings

import numpy as np
import pytest
import sklearn
from sklearn.exceptions import ConvergenceWarning

from skautoenc import AutoencoderTransformer

compat = pytest.importorskip("array_api_compat")
strict = pytest.importorskip("array_api_strict")
try:
    import torch
except ImportError:
    torch = None

# Trained on all rows: a trained network, not the PCA fallback, so the models compare.
FAST = {
    "n_components": 2,
    "hidden_layer_sizes": (8,),
    "epochs": 3,
    "early_stopping": False,
    "random_state": 0,
}
NEEDS_TORCH = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
# How to make an array of each namespace (and device) from a NumPy array.
MAKERS = {
    "array_api_strict": strict.asarray,
    "array_api_strict-device1": lambda a: strict.asarray(a, device=strict.Device("device1")),
    "torch": lambda a: torch.asarray(a),
}
NAMESPACES = [
    "array_api_strict",
    "array_api_strict-device1",
    pytest.param("torch", marks=NEEDS_TORCH),
]


def dispatch():
    return sklearn.config_context(array_api_dispatch=True)


def fit(estimator, X, method="fit"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return getattr(estimator, method)(X)


def assert_like(result, source):
    """``result`` is an array of ``source``'s namespace, on its device."""
    assert type(result) is type(source)
    assert compat.device(result) == compat.device(source)


@pytest.fixture(scope="module")
def X():
    return np.random.RandomState(0).uniform(size=(80, 6)).astype(np.float32)


@pytest.fixture(scope="module")
def reference(X):
    return fit(AutoencoderTransformer(**FAST), X)


@pytest.fixture(scope="module", params=NAMESPACES)
def make(request):
    return MAKERS[request.param]


@pytest.fixture(scope="module")
def fitted_on_xp(make, X):
    with dispatch():
        return fit(AutoencoderTransformer(**FAST), make(X))


# ------------------------------------------------------------------- fitting
def test_fit_on_array_api_input_is_the_fit_on_numpy(fitted_on_xp, reference):
    assert fitted_on_xp.n_iter_ == reference.n_iter_ == 3
    assert fitted_on_xp.weights_.keys() == reference.weights_.keys()
    for name, weight in reference.weights_.items():
        assert type(fitted_on_xp.weights_[name]) is np.ndarray
        np.testing.assert_array_equal(fitted_on_xp.weights_[name], weight)
    assert type(fitted_on_xp.mean_) is np.ndarray  # fitted attributes stay NumPy
    np.testing.assert_array_equal(fitted_on_xp.mean_, reference.mean_)
    assert fitted_on_xp.scale_ == reference.scale_


def test_partial_fit_on_array_api_input_is_the_one_on_numpy(make, X):
    on_numpy = fit(AutoencoderTransformer(**FAST), X, "partial_fit")
    with dispatch():
        on_xp = fit(AutoencoderTransformer(**FAST), make(X), "partial_fit")
        assert fit(on_xp, make(X), "partial_fit") is on_xp
    fit(on_numpy, X, "partial_fit")
    assert on_xp.n_iter_ == on_numpy.n_iter_ == 2
    for name, weight in on_numpy.weights_.items():
        np.testing.assert_array_equal(on_xp.weights_[name], weight)


# ----------------------------------------------------------------- inference
@pytest.mark.parametrize("method", ["transform", "denoise", "score_samples"])
def test_outputs_come_back_in_the_input_namespace(fitted_on_xp, reference, make, X, method):
    X_xp = make(X)
    with dispatch():
        result = getattr(fitted_on_xp, method)(X_xp)
    assert_like(result, X_xp)
    assert result.dtype == X_xp.dtype  # float32 in, float32 out
    expected = getattr(reference, method)(X)
    np.testing.assert_allclose(np.from_dlpack(result), expected, rtol=1e-6, atol=1e-7)


def test_inverse_transform_and_score(fitted_on_xp, reference, make, X):
    codes = reference.transform(X)
    codes_xp = make(codes)
    with dispatch():
        reconstruction = fitted_on_xp.inverse_transform(codes_xp)
        score = fitted_on_xp.score(make(X))
    assert_like(reconstruction, codes_xp)
    expected = reference.inverse_transform(codes)
    np.testing.assert_allclose(np.from_dlpack(reconstruction), expected, rtol=1e-6, atol=1e-7)
    assert type(score) is float
    assert score == pytest.approx(reference.score(X), rel=1e-6)


def test_fit_transform_returns_the_input_namespace(make, X, reference):
    X_xp = make(X)
    with dispatch():
        codes = fit(AutoencoderTransformer(**FAST), X_xp, "fit_transform")
    assert_like(codes, X_xp)
    np.testing.assert_allclose(np.from_dlpack(codes), reference.transform(X), rtol=1e-6)


def test_float64_and_integer_inputs_give_float64_outputs(reference, make, X):
    with dispatch():
        for data in (X.astype(np.float64), np.round(X * 10).astype(np.int32)):
            X_xp = make(data)
            for method in ("transform", "denoise", "score_samples"):
                result = getattr(reference, method)(X_xp)
                assert_like(result, X_xp)
                assert result.dtype == compat.array_namespace(X_xp).float64, method


def test_a_device_without_float64_gets_float32(reference, X):
    no_float64 = strict.Device("no_float64")
    X_int = strict.asarray(np.round(X * 10).astype(np.int32), device=no_float64)
    with dispatch():
        codes = reference.transform(X_int)
    assert compat.device(codes) == no_float64
    assert codes.dtype == strict.float32


# ------------------------------------------------------------ dispatch off/on
@NEEDS_TORCH
def test_without_dispatch_tensors_are_converted_by_numpy(reference, X):
    codes = reference.transform(torch.asarray(X))
    assert type(codes) is np.ndarray
    # check_array makes float64 of a float32 tensor (its dtype is no NumPy dtype).
    np.testing.assert_allclose(codes, reference.transform(X), rtol=1e-5, atol=1e-6)
    assert type(reference.denoise(torch.asarray(X))) is np.ndarray


def test_numpy_input_with_dispatch_on_stays_numpy(reference, X):
    with dispatch():
        codes = reference.transform(X)
    assert type(codes) is np.ndarray
    np.testing.assert_array_equal(codes, reference.transform(X))


@NEEDS_TORCH
def test_a_tensor_that_requires_grad_is_accepted(reference, X):
    tensor = torch.asarray(X).requires_grad_(True)
    with dispatch():
        codes = reference.transform(tensor)
    assert isinstance(codes, torch.Tensor)
    assert not codes.requires_grad


# ----------------------------------------------------------------- bad input
BAD_INPUTS = {
    "1-D": (np.ones(6, dtype=np.float32), "Expected 2D array, got 1D array"),
    "NaN": (np.full((3, 6), np.nan, dtype=np.float32), "Input X contains NaN"),
    "wrong width": (np.ones((3, 4), dtype=np.float32), "n_features = 1|X has 4 features"),
}


@pytest.mark.parametrize("method", ["fit", "transform", "score_samples"])
@pytest.mark.parametrize("bad", list(BAD_INPUTS))
def test_bad_input_gets_the_numpy_error(reference, make, method, bad):
    data, message = BAD_INPUTS[bad]
    estimator = reference if method != "fit" else AutoencoderTransformer(**FAST)
    if method == "fit" and bad == "wrong width":
        data = data[:, :1]  # fewer features than n_components
    with pytest.raises(ValueError, match=message) as on_numpy:
        getattr(estimator, method)(data)
    with dispatch(), pytest.raises(ValueError, match=message) as on_xp:
        getattr(estimator, method)(make(data))
    assert str(on_xp.value) == str(on_numpy.value)


@NEEDS_TORCH
def test_an_array_numpy_cannot_hold_is_refused_clearly(reference):
    tensor = torch.ones((3, 6), dtype=torch.bfloat16)
    with dispatch(), pytest.raises(TypeError, match=r"torch.Tensor of dtype torch.bfloat16"):
        reference.transform(tensor)
