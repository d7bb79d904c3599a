"""ONNX export (``skautoenc.onnx``): graphs run in onnxruntime agree with scikit-learn.

Every expectation is the estimator's own output (the NumPy pass, itself checked
against Keras in test_inference.py). Tolerances, relative to the largest value
compared (elementwise ``rtol`` alone fails near zero, where codes cross it):

- float32: ``1e-5``. A handful of layers, dot products of at most 64 terms, each
  rounded to float32 (eps 6e-8) in whichever order the BLAS sums: the differences
  seen are below 5e-7 of the largest value.
- float64: ``1e-12``, the same reasoning for float64 (eps 1.1e-16).
"""

import copy
import dataclasses
import importlib
import subprocess
import sys

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

from skautoenc import AutoencoderTransformer
from skautoenc._inference import FittedNetwork
from skautoenc.datasets import load_digits_images

to_onnx = pytest.importorskip("skl2onnx").to_onnx
ort = pytest.importorskip("onnxruntime")
# Importing it registers the converter; after the skips, as it needs skl2onnx.
skautoenc_onnx = importlib.import_module("skautoenc.onnx")

EPS = {np.float32: 1e-5, np.float64: 1e-12}
# Few epochs on all rows: a trained network (no PCA fallback), with output bounds.
FAST = {"hidden_layer_sizes": (16,), "epochs": 3, "early_stopping": False, "random_state": 0}


def assert_close(actual, expected, eps):
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=eps, atol=eps * np.abs(expected).max())


def run(model, X):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: X})


def method_options(method):
    return {AutoencoderTransformer: {"method": method}}


def with_network(est, **changes):
    """A copy of ``est`` whose fitted network differs by ``changes``, on the same arrays.

    The converter reads only the fitted network, and the NumPy pass is the reference,
    so this tests every activation without a fit per activation.
    """
    fitted = est._fitted
    network = dataclasses.replace(fitted.network, **changes)
    other = copy.copy(est)
    other._fitted = FittedNetwork(
        network, fitted.weights, fitted.mean, fitted.scale, fitted.lower, fitted.upper
    )
    return other


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits_images(return_X_y=True)
    return X[:400], y[:400]


@pytest.fixture(scope="module")
def X(digits):
    return digits[0]  # float32, in [0, 1]


@pytest.fixture(scope="module")
def ae(X):
    return AutoencoderTransformer(n_components=4, **FAST).fit(X)


@pytest.fixture(scope="module")
def pipeline(digits):
    steps = [
        ("scale", MinMaxScaler()),
        ("ae", AutoencoderTransformer(n_components=4, **FAST)),
        ("clf", LogisticRegression(max_iter=1000)),
    ]
    return Pipeline(steps).fit(*digits)


# ---------------------------------------------------------------- pipelines
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pipeline_predictions_match_sklearn(pipeline, X, dtype):
    rows = X.astype(dtype)
    model = to_onnx(pipeline, rows[:1], options={LogisticRegression: {"zipmap": False}})
    labels, probabilities = run(model, rows)
    np.testing.assert_array_equal(labels, pipeline.predict(rows))
    # Probabilities lie in [0, 1]: the tolerance is absolute.
    np.testing.assert_allclose(probabilities, pipeline.predict_proba(rows), rtol=0, atol=EPS[dtype])


# ------------------------------------------------------------------ methods
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transform_is_the_default(ae, X, dtype):
    rows = X.astype(dtype)
    (codes,) = run(to_onnx(ae, rows[:1]), rows)
    assert_close(codes, ae.transform(rows), EPS[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("method", ["transform", "inverse_transform", "denoise"])
@pytest.mark.parametrize("by", ["class", "id"])
def test_each_method_by_class_or_by_id(ae, X, method, by, dtype):
    rows = X.astype(dtype)
    if method == "inverse_transform":
        rows = ae.transform(rows)
    key = AutoencoderTransformer if by == "class" else id(ae)
    model = to_onnx(ae, rows[:1], options={key: {"method": method}})
    # The shape calculator's width is what the graph declares.
    width = ae.n_components if method == "transform" else X.shape[1]
    assert model.graph.output[0].type.tensor_type.shape.dim[1].dim_value == width
    (out,) = run(model, rows)
    assert_close(out, getattr(ae, method)(rows), EPS[dtype])


def test_reconstructions_are_clipped_to_the_output_bounds(ae, X):
    lower, upper = ae.output_min_, ae.output_max_
    assert np.isfinite(lower).any()
    assert np.isfinite(upper).any()
    # Rows stretched beyond the training range push reconstructions past the bounds.
    far = (X * 3 - 1).astype(np.float32)
    (out,) = run(to_onnx(ae, far[:1], options=method_options("denoise")), far)
    assert_close(out, ae.denoise(far), EPS[np.float32])
    assert (out == lower.astype(np.float32)).any()  # clipping happened, on both sides
    assert (out == upper.astype(np.float32)).any()
    assert (out >= lower).all()
    assert (out <= upper).all()


def test_linear_autoencoder(X):
    linear = AutoencoderTransformer(n_components=3, hidden_layer_sizes=(), epochs=3, random_state=0)
    linear.fit(X)
    model = to_onnx(linear, X[:1])
    assert [node.op_type for node in model.graph.node].count("MatMul") == 1  # one path, one layer
    assert_close(run(model, X)[0], linear.transform(X), EPS[np.float32])
    (out,) = run(to_onnx(linear, X[:1], options=method_options("denoise")), X)
    assert_close(out, linear.denoise(X), EPS[np.float32])


# -------------------------------------------------------------- activations
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", skautoenc_onnx.SUPPORTED_ACTIVATIONS)
def test_every_supported_activation(ae, X, activation, dtype):
    # As hidden and as output activation: denoise runs both halves and the output.
    other = with_network(ae, activation=activation, output_activation=activation)
    rows = X.astype(dtype)
    (out,) = run(to_onnx(other, rows[:1], options=method_options("denoise")), rows)
    # onnxruntime has no float64 Erf: a float64 gelu graph computes erf in float32.
    eps = EPS[np.float32] if activation == "gelu" else EPS[dtype]
    assert_close(out, other.denoise(rows), eps)


@pytest.mark.parametrize("activation", ["softplus", "elu", "selu", "silu", "gelu", "sigmoid"])
def test_activations_stay_finite_on_large_inputs(ae, X, activation):
    # Far rows make hidden pre-activations large: exp(x) would overflow float32 in a
    # naive softplus or elu.
    other = with_network(ae, activation=activation)
    far = (X * 400 - 200).astype(np.float32)
    (codes,) = run(to_onnx(other, far[:1]), far)
    assert np.isfinite(codes).all()
    assert_close(codes, other.transform(far), EPS[np.float32])


def test_unsupported_activation_is_refused_clearly(X):
    est = AutoencoderTransformer(
        n_components=2, hidden_layer_sizes=(4,), activation="hard_sigmoid", epochs=1
    ).fit(X[:100])
    with pytest.raises(ValueError, match=r"activation 'hard_sigmoid'.*Supported activations: "):
        to_onnx(est, X[:1])


def test_unsupported_output_activation_only_blocks_decoding(ae, X):
    other = with_network(ae, output_activation="hard_sigmoid")
    assert_close(run(to_onnx(other, X[:1]), X)[0], other.transform(X), EPS[np.float32])
    with pytest.raises(ValueError, match=r"'hard_sigmoid'.*relu, sigmoid"):
        to_onnx(other, X[:1], options=method_options("denoise"))


# -------------------------------------------------------------------- errors
def test_input_width_must_match_the_method(ae, X):
    with pytest.raises(ValueError, match="method='inverse_transform' expects 4 input columns"):
        to_onnx(ae, X[:1], options=method_options("inverse_transform"))


def test_unknown_method_is_refused(ae, X):
    with pytest.raises(ValueError, match="option 'method'"):
        to_onnx(ae, X[:1], options=method_options("encode"))


@pytest.mark.parametrize("method", skautoenc_onnx.METHODS)
def test_convolutional_network_is_refused_clearly(X, method):
    est = AutoencoderTransformer(4, image_shape=(8, 8), conv_filters=(4,), **FAST).fit(X[:100])
    with pytest.raises(ValueError, match=r"image_shape=\(8, 8\) to ONNX: .* dense networks only"):
        to_onnx(est, X[:1], options=method_options(method))


def test_unfitted_estimator_is_refused(X):
    with pytest.raises(NotFittedError):
        to_onnx(AutoencoderTransformer(), X[:1])


# ------------------------------------------------------------------ imports
def test_registering_again_is_harmless(ae, X):
    importlib.reload(skautoenc_onnx)
    assert_close(run(to_onnx(ae, X[:1]), X)[0], ae.transform(X), EPS[np.float32])


def test_import_skautoenc_does_not_import_onnx():
    script = (
        "import sys, skautoenc;"
        "loaded = [m for m in ('skautoenc.onnx', 'skl2onnx', 'onnx', 'onnxruntime')"
        " if m in sys.modules];"
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


def test_missing_skl2onnx_says_what_to_install():
    script = (
        "import sys; sys.modules['skl2onnx'] = None\n"
        "try:\n"
        "    import skautoenc.onnx\n"
        "except ImportError as error:\n"
        "    assert 'pip install \"skautoenc[onnx]\"' in str(error), error\n"
        "else:\n"
        "    raise AssertionError('no ImportError')\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
