"""``whiten``: the units of the codes (PCA's, whitened or not); training is the same."""

import pickle

import numpy as np
import pytest
from _fits import FAST, fit
from sklearn.decomposition import PCA

from skautoenc import AutoencoderTransformer


@pytest.fixture(scope="module")
def X():
    """Features on different scales: codes in the data's units are far from whitened."""
    rng = np.random.RandomState(0)
    return rng.normal(size=(120, 3)) @ rng.normal(size=(3, 6)) * [1, 3, 10, 30, 100, 0.1]


@pytest.fixture(scope="module")
def trained(X):
    return {w: fit(AutoencoderTransformer(2, whiten=w, **FAST), X) for w in (True, False)}


@pytest.mark.parametrize("whiten", [True, False])
def test_a_fit_that_kept_pca_transforms_as_pca(X, whiten):
    est = fit(AutoencoderTransformer(2, whiten=whiten, hidden_layer_sizes=(), epochs=1), X)
    pca = PCA(2, whiten=whiten).fit(X)
    expected = pca.transform(X)
    codes = est.transform(X)
    assert est.fallback_to_pca_
    np.testing.assert_allclose(codes, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())
    np.testing.assert_allclose(
        est.inverse_transform(codes), pca.inverse_transform(expected), rtol=1e-9, atol=1e-9
    )


def test_whiten_changes_the_units_of_the_codes_only(X, trained):
    whitened, in_data_units = trained[True], trained[False]
    for name, weight in whitened.weights_.items():
        assert np.array_equal(weight, in_data_units.weights_[name]), name
    assert np.array_equal(whitened.denoise(X), in_data_units.denoise(X))
    # Each code is the network's own times a constant, less a constant, which gives
    # it, over the rows given to fit, the spread of the PCA score it started as (1
    # when whitened, as PCA(whiten=True)'s), and centres it, as that score is.
    codes, whitened_codes = in_data_units.transform(X), whitened.transform(X)
    for code, whitened_code in zip(codes.T, whitened_codes.T, strict=True):
        slope, intercept = np.polyfit(whitened_code, code, 1)
        np.testing.assert_allclose(
            code, slope * whitened_code + intercept, rtol=1e-9, atol=1e-9 * np.abs(code).max()
        )
    spread = np.sqrt(PCA(2).fit(X).explained_variance_)
    for units, est in ((spread, in_data_units), (np.ones(2), whitened)):
        codes = est.transform(X)
        np.testing.assert_allclose(codes.std(axis=0, ddof=1), units, rtol=1e-6)
        # The centre is measured in float32 (the training's dtype).
        np.testing.assert_allclose(codes.mean(axis=0), 0, atol=1e-5 * units.max())
        np.testing.assert_allclose(
            est.inverse_transform(codes), whitened.denoise(X), rtol=1e-9, atol=1e-9
        )
    # ... which the trained network's own codes do not have (so the test can fail).
    fitted = whitened._fitted
    own = (whitened_codes + fitted.code_mean) / fitted.code_scale
    assert not np.allclose(own.std(axis=0, ddof=1), 1, rtol=1e-3)
    assert np.abs(own.mean(axis=0)).max() > 1e-3  # far above that tolerance


def test_the_codes_moments_are_over_every_row_given_to_fit(X, trained):
    """As PCA's: the held-out rows count too, in memory and streamed alike."""
    from skautoenc._fitting import _code_moments
    from skautoenc._rows import InMemoryRows, StreamedRows, standardize

    fitted = trained[True]._fitted
    U = standardize(X, fitted.mean, fitted.scale)
    own = fitted.standardised_codes(U).astype(np.float64)
    held_out = np.arange(len(X)) % 5 == 0
    for rows in (
        InMemoryRows(U[~held_out], U[held_out]),
        StreamedRows(X, fitted.mean, fitted.scale, held_out),
    ):
        centre, spread = _code_moments(fitted, rows)
        np.testing.assert_allclose(centre, own.mean(axis=0), atol=1e-9)
        np.testing.assert_allclose(spread, own.std(axis=0, ddof=1), rtol=1e-9)
    # The training rows alone would give other moments (so the test can fail).
    assert not np.allclose(own[~held_out].std(axis=0, ddof=1), spread, rtol=1e-4)


def test_a_continuation_keeps_the_units_of_its_codes(X, trained):
    est = pickle.loads(pickle.dumps(trained[False]))
    before = est.transform(X)
    est.set_params(warm_start=True, whiten=True)
    with pytest.raises(ValueError, match=r"whiten=False.*Received: whiten=True"):
        est.fit(X)
    assert np.array_equal(est.transform(X), before)  # the fitted model is untouched
    est.set_params(whiten=False)
    fit(est, X)
    assert not np.allclose(est.transform(X), before, rtol=1e-9)


@pytest.mark.parametrize("whiten", [True, False])
def test_the_keras_twins_apply_the_code_scale(X, trained, whiten):
    est = trained[whiten]
    rows = X.astype(np.float32)
    codes = est.transform(rows)
    encoded = est.encoder_.predict(rows, verbose=0)
    np.testing.assert_allclose(encoded, codes, rtol=1e-5, atol=1e-5 * np.abs(codes).max())
    decoded = est.decoder_.predict(codes, verbose=0)
    expected = est.inverse_transform(codes)
    np.testing.assert_allclose(decoded, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("with_whiten", [False, True])
def test_pickles_from_before_whitened_code_scales_keep_the_networks_codes(X, trained, with_whiten):
    """Pickles made before whiten existed (``with_whiten=False``), or before whitened
    codes were scaled, hold no code scale: their codes are the network's own."""
    est = trained[True]
    state = est.__getstate__()
    if not with_whiten:
        del state["whiten"]
    state["_fitted"] = {
        k: v for k, v in state["_fitted"].items() if k not in ("code_scale", "code_mean", "whiten")
    }
    old = AutoencoderTransformer.__new__(AutoencoderTransformer)
    old.__setstate__(state)
    assert old.whiten is True
    assert old._fitted.whiten is True
    fitted = est._fitted
    own = (est.transform(X) + fitted.code_mean) / fitted.code_scale
    np.testing.assert_allclose(old.transform(X), own, rtol=1e-12, atol=1e-12)
    assert np.array_equal(old.denoise(X), est.denoise(X))
    fit(old.set_params(warm_start=True), X)  # a whitened fit: it continues


def test_pickles_from_before_code_mean_keep_uncentred_codes(X, trained):
    est = trained[False]
    state = est.__getstate__()
    state["_fitted"] = {k: v for k, v in state["_fitted"].items() if k != "code_mean"}
    old = AutoencoderTransformer.__new__(AutoencoderTransformer)
    old.__setstate__(state)
    shift = est._fitted.code_mean
    assert np.abs(shift).max() > 1e-3
    np.testing.assert_allclose(old.transform(X), est.transform(X) + shift, rtol=1e-12)
    assert np.array_equal(old.denoise(X), est.denoise(X))


@pytest.mark.parametrize("whiten", [True, False])
@pytest.mark.parametrize("method", ["transform", "inverse_transform", "denoise"])
def test_onnx_applies_the_code_scale(X, trained, method, whiten):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("skl2onnx")
    import onnxruntime as ort
    from skl2onnx import to_onnx

    import skautoenc.onnx  # noqa: F401  (registers the converter)

    est = trained[whiten]
    rows = X.astype(np.float64)
    if method == "inverse_transform":
        rows = est.transform(rows)
    model = to_onnx(est, rows[:1], options={AutoencoderTransformer: {"method": method}})
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {session.get_inputs()[0].name: rows})
    expected = getattr(est, method)(rows)
    np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())


def test_unpickling_refuses_a_code_mean_that_is_not_finite(trained):
    state = trained[False].__getstate__()
    state["_fitted"] = {**state["_fitted"], "code_mean": np.array([0.0, np.nan])}
    with pytest.raises(ValueError, match="code mean must be finite"):
        AutoencoderTransformer.__new__(AutoencoderTransformer).__setstate__(state)


def test_unpickling_refuses_a_code_scale_that_is_not_positive(trained):
    state = trained[False].__getstate__()
    state["_fitted"] = {**state["_fitted"], "code_scale": np.array([1.0, 0.0])}
    with pytest.raises(ValueError, match="code scale must be positive"):
        AutoencoderTransformer.__new__(AutoencoderTransformer).__setstate__(state)


def test_unpickling_refuses_a_whiten_that_is_not_a_bool(trained):
    state = trained[True].__getstate__()
    state["_fitted"] = {**state["_fitted"], "whiten": "yes"}
    with pytest.raises(ValueError, match="whiten must be a bool; received 'yes'"):
        AutoencoderTransformer.__new__(AutoencoderTransformer).__setstate__(state)
