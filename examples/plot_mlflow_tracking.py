"""
Track an autoencoder with MLflow
================================

Log a fitted pipeline to MLflow, with its training curve, load it back, and get
its codes through MLflow's generic ``pyfunc`` interface (the one model servers,
``mlflow models serve`` and ``spark_udf`` use). Three things make this work:

* MLflow saves scikit-learn models with skops, which loads only the types it is
  told to trust: pass ``skops_trusted_types=skautoenc.SKOPS_TRUSTED_TYPES``.
* Through ``pyfunc``, MLflow's scikit-learn flavor serves ``predict`` (and
  ``predict_proba``, ``score``, ...), never ``transform``. A ``PythonModel`` of a
  few lines serves the codes.
* A signature fixes the dtype of array inputs: log a float32 example to serve
  float32 rows.

Everything runs offline, in a tracking store in a temporary folder.

Set the environment variable ``SKAUTOENC_QUICK=1`` to run it on a small subset
with a few epochs, as the test suite does.
"""

# %%
import os
import tempfile
from importlib.metadata import version
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
import numpy as np
from sklearn.feature_selection import VarianceThreshold
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

import skautoenc
from skautoenc import AutoencoderTransformer
from skautoenc.datasets import load_digits_images

QUICK = os.environ.get("SKAUTOENC_QUICK", "0") not in ("", "0")

X, y = load_digits_images(return_X_y=True)
settings = {}
if QUICK:
    X, y = X[:300], y[:300]
    settings = {"epochs": 3, "hidden_layer_sizes": (16,)}
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)

# %%
# A tracking store in a temporary folder
# --------------------------------------
# Recent MLflow versions keep their file store behind an opt-in; with a database
# (``sqlite:///mlflow.db``, which needs the full ``mlflow`` package rather than
# ``mlflow-skinny``) or a tracking server, only the URI changes.
os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
folder = tempfile.TemporaryDirectory()
mlflow.set_tracking_uri(Path(folder.name, "mlruns").as_uri())

# %%
# Fit, and log the run
# --------------------
# The pipeline drops the pixels that never change (the images' borders) and
# encodes the others into two codes. Its parameters and its loss, epoch by epoch,
# go to the run, and so does the fitted pipeline. MLflow writes it with skops and
# checks that it loads back: without ``skops_trusted_types`` it refuses our
# estimator ("The saved sklearn model references untrusted types").
#
# MLflow infers a model's requirements by loading it in a subprocess; listing
# them saves that time. MLflow logs that the pipeline has no ``predict``, so no
# ``pyfunc`` flavor: the next section adds one.
requirements = [
    f"skautoenc=={skautoenc.__version__}",
    f"scikit-learn=={version('scikit-learn')}",
    f"skops=={version('skops')}",
]
pipeline = make_pipeline(
    VarianceThreshold(), AutoencoderTransformer(n_components=2, random_state=0, **settings)
)
with mlflow.start_run() as run:
    pipeline.fit(X_train)
    autoencoder = pipeline[-1]
    mlflow.log_params(autoencoder.get_params())
    for key, values in autoencoder.history_.items():
        for epoch, value in enumerate(values):
            mlflow.log_metric(key, value, step=epoch)
    mlflow.log_metric("test_reconstruction_mse", -pipeline.score(X_test))
    sklearn_model = mlflow.sklearn.log_model(
        pipeline,
        name="pipeline",
        skops_trusted_types=skautoenc.SKOPS_TRUSTED_TYPES,
        pip_requirements=requirements,
    )

# %%
# Codes through ``pyfunc``
# ------------------------
# Logged with ``pyfunc_predict_fn="transform"``, the scikit-learn model would fail
# to load through ``pyfunc`` ("Model implementation is missing required transform
# method"). Instead, a ``PythonModel`` loads the logged pipeline and calls its
# ``transform``. MLflow logs it as code, a file it runs when loading the model
# ("models from code"), with the pipeline as an artifact: no pickle anywhere.
#
# The float32 input example sets the signature: float32 rows in, float32 codes
# out (the autoencoder computes in its input's dtype). A tensor signature takes
# its own dtype only; a DataFrame example gives a column signature, which also
# accepts float32 columns where it says double.
CODES_MODEL = """
import mlflow
import numpy as np


class Codes(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.model = mlflow.sklearn.load_model(context.artifacts["sklearn_model"])

    def predict(self, context, model_input: np.ndarray, params=None) -> np.ndarray:
        return self.model.transform(model_input)


mlflow.models.set_model(Codes())
"""
code = Path(folder.name, "codes_model.py")
code.write_text(CODES_MODEL, encoding="utf-8")
X_test32 = X_test.astype(np.float32)
with mlflow.start_run(run_id=run.info.run_id):
    codes_model = mlflow.pyfunc.log_model(
        name="codes",
        python_model=str(code),
        artifacts={"sklearn_model": sklearn_model.model_uri},
        input_example=X_test32[:5],
        pip_requirements=requirements,
    )
print(codes_model.signature)

# %%
# Load back
# ---------
# ``mlflow.sklearn.load_model`` gives the pipeline back, and the ``pyfunc`` model
# its codes: bitwise what the fitted pipeline computes.
loaded = mlflow.sklearn.load_model(sklearn_model.model_uri)
served = mlflow.pyfunc.load_model(codes_model.model_uri)
codes = served.predict(X_test32)
same = np.array_equal(loaded.transform(X_test), pipeline.transform(X_test))
print(f"sklearn flavor: the same codes: {same}")
same = np.array_equal(codes, pipeline.transform(X_test32))
print(f"pyfunc: {codes.dtype} codes, the same: {same}")

# %%
# The run, read back from the tracking store, and the served codes:
client = mlflow.MlflowClient()
fig, (ax_loss, ax_codes) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
for key in ("loss", "val_loss"):
    history = sorted(client.get_metric_history(run.info.run_id, key), key=lambda m: m.step)
    ax_loss.plot([m.step for m in history], [m.value for m in history], label=key)
ax_loss.set(xlabel="epoch", ylabel="loss (standardised MSE)", title="Logged training curve")
ax_loss.legend()
scatter = ax_codes.scatter(codes[:, 0], codes[:, 1], c=y_test, cmap="tab10", s=12)
ax_codes.legend(*scatter.legend_elements(), title="digit", loc="best", fontsize="small")
ax_codes.set(xlabel="code 0", ylabel="code 1", title="Held-out digits, codes from pyfunc")

folder.cleanup()
plt.show()
