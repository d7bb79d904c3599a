"""Data-parallel training through Keras' distribution API, on simulated CPU devices.

JAX splits its host CPU into two devices when ``XLA_FLAGS`` asks before it starts,
so the check runs in a fresh process. Skipped where JAX is not installed.
"""

import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from skautoenc import AutoencoderTransformer

FIT_ON_TWO_DEVICES = textwrap.dedent(
    """
    import keras
    import numpy as np
    from skautoenc import AutoencoderTransformer
    from skautoenc.datasets import load_digits_images

    X = load_digits_images().data[:600]
    # tol=0: the schedule's plateau decisions would amplify float32 rounding.
    params = dict(n_components=4, hidden_layer_sizes=(32,), epochs=5, tol=0, random_state=0)
    single = AutoencoderTransformer(**params).fit(X)
    devices = keras.distribution.list_devices("cpu")
    assert len(devices) == 2, devices
    data_parallel = keras.distribution.DataParallel(devices=devices)
    with data_parallel.scope():
        both = AutoencoderTransformer(**params).fit(X)
        try:
            AutoencoderTransformer(**params, batch_size=127).fit(X)
        except ValueError as error:
            assert "batch_size must be a multiple of 2" in str(error), error
        else:
            raise AssertionError("an odd batch was split over two devices")
    from skautoenc import _trainers

    layouts = {
        recipe.distribution: trainer.state[0][0].sharding.device_set
        for recipe, trainer in _trainers._cache.items()
    }
    assert len(layouts[data_parallel]) == 2 and len(layouts[None]) == 1, layouts
    np.save("single.npy", single.transform(X))
    np.save("both.npy", both.transform(X))
    """
)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs JAX")
def test_data_parallel_fit_matches_one_device(tmp_path):
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
    }
    subprocess.run(
        [sys.executable, "-c", FIT_ON_TWO_DEVICES], check=True, cwd=tmp_path, env=env, timeout=300
    )
    single, both = np.load(tmp_path / "single.npy"), np.load(tmp_path / "both.npy")
    # Five epochs of float32 training whose gradients are summed in another order
    # (per device, then across devices): agreement to float32 rounding, amplified by
    # the steps (measured ~2e-7 of the codes' range).
    np.testing.assert_allclose(both, single, rtol=0, atol=1e-4 * np.abs(single).max())


def test_a_distribution_on_another_backend_is_refused():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() == "jax":
        pytest.skip("the JAX backend runs keras.distribution")
    X = np.random.default_rng(0).normal(size=(60, 5))
    ae = AutoencoderTransformer(epochs=1, random_state=0)
    data_parallel = keras.distribution.DataParallel(devices=keras.distribution.list_devices("cpu"))
    with data_parallel.scope(), pytest.raises(ValueError, match="KERAS_BACKEND=jax"):
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
