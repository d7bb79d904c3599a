"""skops and MLflow: ``SKOPS_TRUSTED_TYPES`` loads fitted estimators through skops and
MLflow's sklearn flavor, and a small ``PythonModel`` serves the codes through pyfunc.

MLflow runs offline: a file store in a temporary folder, telemetry off, and the pip
requirements given (MLflow would otherwise infer them in a subprocess).
"""

import doctest
import importlib
import inspect
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.feature_selection import VarianceThreshold
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

import skautoenc
from skautoenc import SKOPS_TRUSTED_TYPES, AutoencoderTransformer

sio = pytest.importorskip("skops.io")
from skops.io.exceptions import UntrustedTypesFoundException  # noqa: E402

OURS = "skautoenc._autoencoder.AutoencoderTransformer"
CONFIGURATIONS = (
    "default",
    "linear",
    "bounded, no early stopping",
    "sigmoid output, no noise",
    "partial_fit",
    "warm_start",
    "DataFrame, RandomState",
    "pipeline",
)
# What the codes model needs to run; listing it spares MLflow a subprocess that
# infers the requirements by loading the model.
REQUIREMENTS = ["skautoenc", "scikit-learn", "skops"]
# The documented route to codes out of pyfunc (docs: "Using skautoenc with MLflow"):
# MLflow's sklearn flavor serves predict, predict_proba, ... and score, not transform.
CODES_MODEL = '''\
"""Serves the codes (transform) of the scikit-learn model logged as "sklearn_model"."""

import mlflow
import numpy as np


class Codes(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.model = mlflow.sklearn.load_model(context.artifacts["sklearn_model"])

    def predict(self, context, model_input: np.ndarray, params=None) -> np.ndarray:
        return self.model.transform(model_input)


mlflow.models.set_model(Codes())
'''


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def X():
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(100, 8))
    X[:10, 0] = 0.0  # 10 % of the rows at the minimum: the fit bounds feature 0 there
    return X


def _small(**params):
    """A fit of a fraction of a second."""
    defaults = {"n_components": 2, "hidden_layer_sizes": (8,), "epochs": 3, "random_state": 0}
    return AutoencoderTransformer(**{**defaults, **params})


@pytest.fixture(scope="module")
def models(X):
    """Fitted models of every configuration whose state differs, by name."""
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    partial = _small()
    partial.partial_fit(X[:50])
    partial.partial_fit(X[50:])
    models = {
        "default": AutoencoderTransformer(n_components=2, epochs=3, random_state=0).fit(X),
        "linear": _small(hidden_layer_sizes=()).fit(X),
        "bounded, no early stopping": _small(early_stopping=False).fit(X),
        "sigmoid output, no noise": _small(
            output_activation="sigmoid", noise=None, early_stopping=False
        ).fit(X),
        "partial_fit": partial,
        "warm_start": _small(warm_start=True, early_stopping=False).fit(X).fit(X),
        "DataFrame, RandomState": _small(random_state=np.random.RandomState(0)).fit(frame),
        "pipeline": make_pipeline(VarianceThreshold(), _small(early_stopping=False)).fit(X),
    }
    assert tuple(models) == CONFIGURATIONS
    # The configurations are what they claim to be.
    bounded = models["bounded, no early stopping"]
    assert not bounded.fallback_to_pca_
    assert np.isfinite(bounded.output_min_[0])
    assert models["warm_start"].n_iter_ == 6
    assert models["DataFrame, RandomState"].feature_names_in_[0] == "f0"
    return models


@pytest.fixture(params=CONFIGURATIONS)
def name(request):
    return request.param


def _estimator(model):
    return model[-1] if isinstance(model, Pipeline) else model


def _rows(model, X, dtype=np.float64):
    rows = X.astype(dtype)
    names = getattr(model, "feature_names_in_", None)
    return rows if names is None else pd.DataFrame(rows, columns=names)


def assert_same_results(loaded, model, X):
    """Bitwise the same outputs (same process), in float64 and float32."""
    for dtype in (np.float64, np.float32):
        rows = _rows(model, X, dtype)
        codes = model.transform(rows)
        np.testing.assert_array_equal(loaded.transform(rows), codes, strict=True)
        for method, data in [("inverse_transform", codes), ("score_samples", rows)]:
            expected = getattr(model, method)(data)
            np.testing.assert_array_equal(getattr(loaded, method)(data), expected, strict=True)
        ae, loaded_ae = _estimator(model), _estimator(loaded)
        if ae is model:
            np.testing.assert_array_equal(loaded_ae.denoise(rows), ae.denoise(rows), strict=True)


def assert_same_estimator(loaded, model):
    """The same parameters and fitted attributes, arrays with their dtypes."""
    assert type(loaded) is type(model)
    if isinstance(model, Pipeline):
        for (_, step), (_, loaded_step) in zip(model.steps, loaded.steps, strict=True):
            assert_same_estimator(loaded_step, step)
        return
    params, loaded_params = model.get_params(deep=False), loaded.get_params(deep=False)
    assert loaded_params.keys() == params.keys()
    for key, value in params.items():
        if isinstance(value, np.random.RandomState):
            value, loaded_params[key] = value.get_state(), loaded_params[key].get_state()
        np.testing.assert_equal(loaded_params[key], value, err_msg=key)
    fitted = [key for key in vars(model) if key.endswith("_") and not key.startswith("_")]
    assert fitted
    for key in fitted:
        np.testing.assert_equal(getattr(loaded, key), getattr(model, key), err_msg=key)
    if isinstance(model, AutoencoderTransformer):
        assert loaded.weights_.keys() == model.weights_.keys()
        for key, weight in model.weights_.items():
            np.testing.assert_array_equal(loaded.weights_[key], weight, strict=True)


# ------------------------------------------------------------------ skops
def test_trusted_types_are_skautoencs_own_classes():
    """The estimator, and the builder that holds a network as checked Keras configs."""
    assert type(SKOPS_TRUSTED_TYPES) is list  # MLflow writes it to YAML: a list
    assert SKOPS_TRUSTED_TYPES == [OURS, "skautoenc._keras_network.KerasNetwork"]
    classes = []
    for qualified_name in SKOPS_TRUSTED_TYPES:
        module, _, name = qualified_name.rpartition(".")
        assert module.split(".")[0] == "skautoenc"
        classes.append(getattr(importlib.import_module(module), name))
    assert issubclass(classes[0], BaseEstimator)
    assert classes[1] is skautoenc.KerasNetwork
    # What a file may hold for it is checked in its __setstate__, as load checks it.
    assert "__setstate__" in vars(classes[1])


def test_the_documented_example_runs():
    # SKOPS_TRUSTED_TYPES is documented by its "#:" comment, which doctest skips.
    source = Path(skautoenc.__file__).read_text(encoding="utf-8")
    comment = "\n".join(
        line[3:] for line in source.splitlines() if line.startswith("#: ") or line == "#:"
    )
    assert ">>> " in comment
    test = doctest.DocTestParser().get_doctest(comment, {}, "SKOPS_TRUSTED_TYPES", None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


def test_import_is_light_and_skops_loads_without_keras(models, tmp_path):
    path = tmp_path / "model.skops"
    sio.dump(models["bounded, no early stopping"], path)
    script = (
        "import sys, numpy as np, skautoenc\n"
        "heavy = [m for m in ('skops', 'mlflow') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "import skops.io\n"
        f"ae = skops.io.load({str(path)!r}, trusted=skautoenc.SKOPS_TRUSTED_TYPES)\n"
        "ae.transform(np.zeros((3, 8)))\n"
        "heavy = [m for m in ('keras', 'tensorflow') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


def test_a_dump_needs_no_type_beyond_the_trusted_ones(models, name):
    # A new fitted attribute of a type skops does not trust fails here.
    untrusted = sio.get_untrusted_types(data=sio.dumps(models[name]))
    assert set(untrusted) <= set(SKOPS_TRUSTED_TYPES)


def test_loading_without_trusting_fails_clearly(models, name):
    with pytest.raises(UntrustedTypesFoundException, match=re.escape(OURS)):
        sio.loads(sio.dumps(models[name]))


def test_round_trip_is_bitwise(models, name, X):
    model = models[name]
    loaded = sio.loads(sio.dumps(model), trusted=SKOPS_TRUSTED_TYPES)
    assert_same_estimator(loaded, model)
    assert_same_results(loaded, model, X)


def test_audit_shows_the_weights_as_arrays(models):
    model = models["bounded, no early stopping"]
    nodes = []
    sio.visualize(
        sio.dumps(model),
        trusted=SKOPS_TRUSTED_TYPES,
        sink=lambda node_infos, show: nodes.extend(node_infos),
    )
    kinds = {node.key: node.val for node in nodes}
    for weight in model.weights_:
        assert kinds[weight] == "numpy.ndarray"
    for attribute in ("mean_", "output_min_", "output_max_"):
        assert kinds[attribute] == "numpy.ndarray"
    # Every node is a container, an array or a JSON value: a bytes blob (pickled
    # or Keras-saved) would show as its repr, b'...'.
    for node in nodes:
        assert re.fullmatch(r"json-type\(.*\)|[\w.]+", node.val, re.DOTALL), node
        assert node.is_safe, node


def _tampered(data, node_name, node):
    """A skops file whose estimator's ``node_name`` node is replaced by ``node``."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    schema = json.loads(members["schema.json"])
    schema["content"]["content"][node_name] = node
    members["schema.json"] = json.dumps(schema).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for member, content in members.items():
            archive.writestr(member, content)
    return out.getvalue()


def test_a_tampered_file_runs_no_code(models, tmp_path):
    # A parameter replaced by a call of os.mkdir(path): the kind of node that
    # would run a command.
    target = tmp_path / "created by the file"
    arguments = json.loads(
        zipfile.ZipFile(io.BytesIO(sio.dumps((str(target),)))).read("schema.json")
    )
    del arguments["protocol"], arguments["_skops_version"]  # file-level keys
    call = {
        "__class__": "mkdir",
        "__module__": "os",
        "__loader__": "ConstructorFromReduceNode",
        "content": arguments,
        "__id__": 1,
    }
    data = _tampered(sio.dumps(models["linear"]), "verbose", call)

    assert set(sio.get_untrusted_types(data=data)) == {"os.mkdir", OURS}
    with pytest.raises(UntrustedTypesFoundException, match=r"os\.mkdir"):
        sio.loads(data, trusted=SKOPS_TRUSTED_TYPES)
    assert not target.exists()
    # The file is live: trusting the call runs it (this is what skops refuses above).
    sio.loads(data, trusted=[*SKOPS_TRUSTED_TYPES, "os.mkdir"])
    assert target.is_dir()


def test_keras_callbacks_stay_untrusted(models):
    keras = pytest.importorskip("keras")
    model = sio.loads(sio.dumps(models["linear"]), trusted=SKOPS_TRUSTED_TYPES)
    model.set_params(callbacks=[keras.callbacks.TerminateOnNaN()])
    data = sio.dumps(model)
    untrusted = set(sio.get_untrusted_types(data=data)) - set(SKOPS_TRUSTED_TYPES)
    assert any(name.startswith("keras.") for name in untrusted)
    with pytest.raises(UntrustedTypesFoundException, match="keras"):
        sio.loads(data, trusted=SKOPS_TRUSTED_TYPES)
    # The documented fix: no callbacks in the dumped estimator.
    data = sio.dumps(model.set_params(callbacks=None))
    assert set(sio.get_untrusted_types(data=data)) <= set(SKOPS_TRUSTED_TYPES)


# ------------------------------------------------------------------ MLflow
@pytest.fixture(scope="module")
def mlflow(tmp_path_factory):
    """MLflow, offline, tracking to a file store in a temporary folder."""
    with pytest.MonkeyPatch.context() as patch:
        # MLflow 3 refuses a file store unless asked; the full package's sqlite
        # store needs SQLAlchemy, which mlflow-skinny (the test extra) lacks.
        patch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        mlflow = pytest.importorskip("mlflow")
        importlib.import_module("mlflow.sklearn")
        importlib.import_module("mlflow.pyfunc")
        needed = {"name", "serialization_format", "skops_trusted_types"}
        if needed - set(inspect.signature(mlflow.sklearn.log_model).parameters):
            pytest.skip(f"MLflow {mlflow.__version__} cannot save scikit-learn models with skops")
        previous = mlflow.get_tracking_uri()
        # A folder that does not exist yet: the file store then creates its
        # default experiment there.
        mlflow.set_tracking_uri((tmp_path_factory.mktemp("mlflow") / "mlruns").as_uri())
        try:
            yield mlflow
        finally:
            mlflow.set_tracking_uri(previous)


def _log_sklearn(mlflow, model, **kwargs):
    # skops is the default format of recent MLflow versions, outside Databricks;
    # explicit here, so that the tests do not depend on the version or the place.
    with mlflow.start_run():
        return mlflow.sklearn.log_model(
            model,
            name="model",
            serialization_format="skops",
            pip_requirements=REQUIREMENTS,
            **kwargs,
        )


def test_mlflow_skops_format_refuses_an_untrusted_type(mlflow, models):
    # The reported failure: MLflow writes a skops file and checks that it loads.
    with pytest.raises(mlflow.exceptions.MlflowException, match="untrusted types"):
        _log_sklearn(mlflow, models["linear"])


@pytest.mark.parametrize("name", ["bounded, no early stopping", "pipeline"])
def test_mlflow_sklearn_flavor_round_trips(mlflow, models, name, X):
    model = models[name]
    info = _log_sklearn(mlflow, model, skops_trusted_types=SKOPS_TRUSTED_TYPES)
    flavor = mlflow.models.get_model_info(info.model_uri).flavors["sklearn"]
    assert flavor["serialization_format"] == "skops"  # no pickle
    assert flavor["skops_trusted_types"] == SKOPS_TRUSTED_TYPES
    loaded = mlflow.sklearn.load_model(info.model_uri)
    assert_same_estimator(loaded, model)
    assert_same_results(loaded, model, X)


def test_mlflow_sklearn_pyfunc_does_not_serve_transform(mlflow, models):
    # MLflow logs pyfunc_predict_fn="transform" (the model has the method) but its
    # loader serves only predict, predict_proba, predict_log_proba,
    # predict_joint_log_proba and score. If this fails, MLflow serves transform:
    # the docs can then drop the PythonModel route.
    info = _log_sklearn(
        mlflow,
        models["pipeline"],
        skops_trusted_types=SKOPS_TRUSTED_TYPES,
        pyfunc_predict_fn="transform",
    )
    with pytest.raises(mlflow.exceptions.MlflowException, match="missing required transform"):
        mlflow.pyfunc.load_model(info.model_uri)


def test_mlflow_pyfunc_serves_a_pipeline_ending_in_a_predictor(mlflow, X):
    # Codes feeding a classifier: the pipeline has predict, which pyfunc serves as is.
    model = make_pipeline(_small(), LogisticRegression()).fit(X, X[:, 1] > 0.5)
    info = _log_sklearn(mlflow, model, skops_trusted_types=SKOPS_TRUSTED_TYPES)
    served = mlflow.pyfunc.load_model(info.model_uri)
    np.testing.assert_array_equal(served.predict(X), model.predict(X))


@pytest.fixture(scope="module")
def codes_model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("code") / "codes_model.py"
    path.write_text(CODES_MODEL, encoding="utf-8")
    return path


def _log_codes(mlflow, model, codes_model_file, **kwargs):
    with mlflow.start_run():
        sklearn_model = mlflow.sklearn.log_model(
            model,
            name="pipeline",
            serialization_format="skops",
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
            pip_requirements=REQUIREMENTS,
        )
        return mlflow.pyfunc.log_model(
            name="codes",
            python_model=str(codes_model_file),
            artifacts={"sklearn_model": sklearn_model.model_uri},
            pip_requirements=REQUIREMENTS,
            **kwargs,
        )


def test_mlflow_pyfunc_serves_float32_codes(mlflow, models, codes_model_file, X):
    model = models["pipeline"]
    X32 = X.astype(np.float32)
    # The signature is inferred from the example: float32 rows in, float32 codes out.
    info = _log_codes(mlflow, model, codes_model_file, input_example=X32[:5])
    assert [spec.type for spec in info.signature.inputs.inputs] == [np.dtype(np.float32)]

    served = mlflow.pyfunc.load_model(info.model_uri)
    np.testing.assert_array_equal(served.predict(X32), model.transform(X32), strict=True)
    # A tensor signature takes its own dtype only: MLflow refuses float64 rows, clearly.
    with pytest.raises(mlflow.exceptions.MlflowException, match="does not match expected dtype"):
        served.predict(X)


# MLflow's own code compares DataFrame columns with a range, which pandas 3 deprecates.
@pytest.mark.filterwarnings("ignore:Operation with range is deprecated")
def test_mlflow_pyfunc_column_signature_takes_both_dtypes(mlflow, models, codes_model_file, X):
    model = models["DataFrame, RandomState"]
    example = _rows(model, X[:5])
    info = _log_codes(mlflow, model, codes_model_file, input_example=example)
    served = mlflow.pyfunc.load_model(info.model_uri)
    # Float columns are upcast to the signature's double: float64 codes for both.
    for dtype in (np.float64, np.float32):
        rows = _rows(model, X, dtype)
        expected = model.transform(rows.astype(np.float64))
        np.testing.assert_array_equal(served.predict(rows), expected, strict=True)


def test_a_state_that_contradicts_its_network_is_refused_before_allocating(models):
    """A crafted skops file cannot make unpickling allocate what its arrays do not hold."""
    state = models["bounded, no early stopping"].__getstate__()
    network = dict(state["_fitted"]["network"], n_features=10**12)
    crafted = {**state, "_fitted": {**state["_fitted"], "network": network}}
    crafted["_fitted"].pop("lower")
    with pytest.raises(ValueError, match="does not match the network"):
        AutoencoderTransformer().__setstate__(crafted)
