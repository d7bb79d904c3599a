"""Data-parallel training on simulated CPU devices, and mixed precision.

``keras.distribution.DataParallel`` on JAX and ``tf.distribute.MirroredStrategy`` on
TensorFlow. Both split the host CPU into devices only before they start, so each
check runs in a fresh process; the JAX one is skipped where JAX is not installed.
"""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from skautoenc import AutoencoderTransformer

# Two simulated CPU devices, set before the backend starts; then one fit on one
# device and one under the backend's data-parallel setting, whose codes are saved.
TWO_DEVICES = {
    "jax": """
import keras

devices = keras.distribution.list_devices("cpu")
parallel = keras.distribution.DataParallel(devices=devices)
""",
    "tensorflow": """
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
devices = tf.config.list_logical_devices("CPU")
parallel = tf.distribute.MirroredStrategy([device.name for device in devices])
""",
}
FIT_ON_ONE_AND_ON_TWO = """
import numpy as np
from skautoenc import AutoencoderTransformer, _trainers
from skautoenc.datasets import load_digits_images

assert len(devices) == 2, devices
X = load_digits_images().data[:600]
# tol=0: the schedule's plateau decisions would amplify float32 rounding.
params = dict(n_components=4, hidden_layer_sizes=(32,), epochs=5, tol=0, random_state=0)
single = AutoencoderTransformer(**params).fit(X)
with parallel.scope():
    both = AutoencoderTransformer(**params).fit(X)
trainer = next(t for r, t in _trainers._cache.items() if r.distribution is parallel)
variable = trainer.model.weights[0].value
if hasattr(variable, "sharding"):  # JAX: replicated over the mesh
    assert len(variable.sharding.device_set) == 2, variable.sharding
else:  # TensorFlow: a mirrored variable, one copy per replica
    assert len(variable.values) == 2, variable
np.save("single.npy", single.transform(X))
np.save("both.npy", both.transform(X))
"""

CHECKS_AFTER = {
    # JAX splits a batch in equal shares only.
    "jax": """
ae = AutoencoderTransformer(batch_size=127, epochs=1)
try:
    with parallel.scope():
        ae.fit(X)
except ValueError as error:
    assert "batch_size must be a multiple of 2" in str(error), error
else:
    raise AssertionError("an odd batch was split over two devices")
assert not hasattr(ae, "n_iter_")
""",
}


@pytest.mark.parametrize("backend", ["jax", "tensorflow"])
def test_data_parallel_fit_matches_one_device(tmp_path, backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"needs {backend}")
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
    }
    script = TWO_DEVICES[backend] + FIT_ON_ONE_AND_ON_TWO + CHECKS_AFTER.get(backend, "")
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path, env=env, timeout=300)
    single, both = np.load(tmp_path / "single.npy"), np.load(tmp_path / "both.npy")
    # Five epochs of float32 training whose gradients are summed in another order
    # (per device, then across devices): agreement to float32 rounding, amplified by
    # the steps (measured ~2e-7 of the codes' range on both backends).
    np.testing.assert_allclose(both, single, rtol=0, atol=1e-4 * np.abs(single).max())


def test_a_keras_distribution_on_another_backend_is_refused():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() == "jax":
        pytest.skip("the JAX backend runs keras.distribution")
    if keras.backend.backend() == "torch":
        pytest.skip("Keras' distribution API lists no devices on PyTorch: nothing to refuse")
    X = np.random.default_rng(0).normal(size=(60, 5))
    ae = AutoencoderTransformer(epochs=1, random_state=0)
    data_parallel = keras.distribution.DataParallel(devices=keras.distribution.list_devices("cpu"))
    with data_parallel.scope(), pytest.raises(ValueError, match="implemented by Keras on the JAX"):
        ae.fit(X)
    assert not hasattr(ae, "n_iter_")


def test_mixed_precision_policy_trains_in_bfloat16_and_keeps_float32_weights():
    keras = pytest.importorskip("keras")
    from skautoenc import _trainers

    rng = np.random.default_rng(0)
    t = rng.uniform(-1, 1, size=(400, 1))
    X = np.hstack([t, t**2, np.sin(3 * t), t**3]) + 0.01 * rng.normal(size=(400, 4))
    params = {"n_components": 1, "hidden_layer_sizes": (16,), "epochs": 5, "tol": 0}
    float32 = AutoencoderTransformer(**params, random_state=0).fit(X)
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        mixed = AutoencoderTransformer(**params, random_state=0).fit(X)
    finally:
        keras.config.set_dtype_policy("float32")
    trainer = next(t for r, t in _trainers._cache.items() if r.dtype_policy == "mixed_bfloat16")
    assert trainer.model.layers[-1].compute_dtype == "bfloat16"
    assert {w.dtype for w in mixed.weights_.values()} <= {np.dtype("float32"), np.dtype("float64")}
    # bfloat16 keeps 8 bits of mantissa: the same training, to about 1 %.
    np.testing.assert_allclose(mixed.history_["loss"], float32.history_["loss"], rtol=0.05)
