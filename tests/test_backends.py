"""Keras backends: a file saved under one backend loads under every other installed one."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from skautoenc import AutoencoderTransformer

CURRENT = os.environ.get("KERAS_BACKEND", "tensorflow")
OTHERS = [name for name in ("tensorflow", "jax", "torch") if name != CURRENT]

LOAD_AND_TRANSFORM = """
import sys
import numpy as np
import keras
import skautoenc
assert keras.backend.backend() == sys.argv[1], keras.backend.backend()
est = skautoenc.load(sys.argv[2])
X = np.load(sys.argv[3])
np.save(sys.argv[4], est.transform(X))
np.save(sys.argv[5], keras.ops.convert_to_numpy(est.model_(X, training=False)))
"""


def test_backend_specific_code_lives_in_the_trainers_and_uses_public_apis():
    """Only the training loops need a backend's autodiff (as in Keras' own guides)."""
    package = os.path.dirname(importlib.util.find_spec("skautoenc").origin)
    for name in os.listdir(package):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(package, name), encoding="utf-8") as file:
            source = file.read()
        for private in ("keras.src", "tensorflow.python", "jax._src", "torch._"):
            assert private not in source, f"{name} uses the private {private!r}"
        # _keras warms TensorFlow up.
        if name not in ("_trainers.py", "_tensorflow_trainer.py", "_keras.py"):
            for backend in ("import tensorflow", "import jax", "import torch"):
                assert backend not in source, f"{name} uses {backend!r}"


@pytest.mark.parametrize("backend", OTHERS)
def test_file_saved_here_loads_under_another_backend(backend, tmp_path):
    pytest.importorskip(backend, reason=f"the {backend} backend is not installed")
    X = np.random.RandomState(0).uniform(size=(40, 6)).astype(np.float32)
    est = AutoencoderTransformer(
        n_components=3, hidden_layer_sizes=(8,), epochs=2, early_stopping=False, random_state=0
    )
    est.fit(X)
    paths = {name: str(tmp_path / name) for name in ("model.skae", "X.npy", "codes.npy", "out.npy")}
    est.save(paths["model.skae"])
    np.save(paths["X.npy"], X)
    subprocess.run(
        [sys.executable, "-c", LOAD_AND_TRANSFORM, backend, *paths.values()],
        check=True,
        env={**os.environ, "KERAS_BACKEND": backend},
    )
    # The same arrays and NumPy code: float32 rows give the same codes in any backend.
    np.testing.assert_array_equal(np.load(paths["codes.npy"]), est.transform(X))
    # Keras' own float32 kernels on the other backend: float32 rounding.
    np.testing.assert_allclose(np.load(paths["out.npy"]), est.denoise(X), rtol=1e-5, atol=1e-6)
