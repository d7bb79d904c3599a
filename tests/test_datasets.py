"""skautoenc.datasets: bundled digits, MNIST through Keras' cache (offline here), noise."""

import os

import numpy as np
import pytest
from sklearn.datasets import load_digits

from skautoenc.datasets import add_noise, load_digits_images, load_mnist


# --------------------------------------------------------------------- digits
def test_load_digits_images():
    digits = load_digits_images()
    assert digits.data.shape == (1797, 64)
    assert digits.data.dtype == np.float32
    assert digits.data.min() == 0.0
    assert digits.data.max() == 1.0
    assert digits.image_shape == (8, 8)
    assert digits.images.shape == (1797, 8, 8)
    np.testing.assert_array_equal(digits.images.reshape(1797, 64), digits.data)
    np.testing.assert_array_equal(digits.target, load_digits().target)
    np.testing.assert_allclose(digits.data, load_digits().data / 16.0, rtol=1e-6)
    assert digits.DESCR


def test_load_digits_images_return_X_y():
    X, y = load_digits_images(return_X_y=True)
    digits = load_digits_images()
    np.testing.assert_array_equal(X, digits.data)
    np.testing.assert_array_equal(y, digits.target)
    assert sorted(np.unique(y)) == list(range(10))


# ---------------------------------------------------------------------- noise
@pytest.fixture
def grey():
    return np.full((200, 50), 0.5)


def test_add_noise_is_reproducible_and_leaves_the_input_alone(grey):
    before = grey.copy()
    first = add_noise(grey, random_state=0)
    np.testing.assert_array_equal(first, add_noise(grey, random_state=0))
    assert not np.array_equal(first, add_noise(grey, random_state=1))
    np.testing.assert_array_equal(grey, before)
    assert first is not grey


def test_gaussian_noise_level_and_clip(grey):
    raw = add_noise(grey, "gaussian", 0.2, clip=None, random_state=0)
    assert abs(np.std(raw - grey) - 0.2) < 0.01
    assert raw.min() < 0
    assert raw.max() > 1
    clipped = add_noise(grey, "gaussian", 0.2, random_state=0)  # clip=(0, 1) by default
    np.testing.assert_array_equal(clipped, np.clip(raw, 0, 1))
    narrow = add_noise(grey, "gaussian", 0.2, clip=(0.4, 0.6), random_state=0)
    assert narrow.min() == 0.4
    assert narrow.max() == 0.6
    np.testing.assert_array_equal(add_noise(grey, level=0.0), grey)


def test_masking_noise(grey):
    noisy = add_noise(grey, "masking", 0.3, random_state=0)
    zeroed = noisy == 0
    assert abs(zeroed.mean() - 0.3) < 0.02
    np.testing.assert_array_equal(noisy[~zeroed], 0.5)  # the rest kept, not rescaled


def test_salt_and_pepper_noise(grey):
    noisy = add_noise(grey, "salt_and_pepper", 0.4, random_state=0)
    changed = noisy != 0.5
    assert abs(changed.mean() - 0.4) < 0.02
    assert set(np.unique(noisy[changed])) == {0.0, 1.0}
    assert abs((noisy[changed] == 1).mean() - 0.5) < 0.05


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_add_noise_keeps_the_float_dtype(dtype):
    X = np.full((3, 4), 0.5, dtype=dtype)
    assert add_noise(X, random_state=0).dtype == dtype


def test_add_noise_accepts_lists_and_ints():
    noisy = add_noise([[0, 1], [1, 0]], level=0.1, random_state=0)
    assert noisy.dtype == np.float64
    assert noisy.shape == (2, 2)


@pytest.mark.parametrize(
    ("kind", "level", "message"),
    [
        ("uniform", 0.2, "kind must be"),
        ("gaussian", -0.1, "level must be >= 0"),
        ("gaussian", float("nan"), "level must be >= 0"),
        ("masking", 1.5, "level must be >= 0"),
        ("salt_and_pepper", 2.0, "level must be >= 0"),
    ],
)
def test_add_noise_bad_kind_or_level(grey, kind, level, message):
    with pytest.raises(ValueError, match=message):
        add_noise(grey, kind, level)


def test_add_noise_rejects_bad_data():
    with pytest.raises(ValueError, match="2D array"):
        add_noise(np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        add_noise(np.array([[np.nan, 0.0]]))


# ---------------------------------------------------------------------- MNIST
def test_load_mnist_bad_subset():
    with pytest.raises(ValueError, match="subset must be"):
        load_mnist(subset="validation")


@pytest.fixture
def keras_get_file(monkeypatch, tmp_path):
    """Point KERAS_HOME at an empty folder; record the calls to keras.utils.get_file.

    Yields ``(home, calls, set_behaviour)``: ``set_behaviour(function)`` decides
    what the patched ``get_file`` does with the keyword arguments it receives.
    """
    keras = pytest.importorskip("keras")
    home = tmp_path / "keras-home"
    home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    calls = []
    behaviour = {}
    real_get_file = keras.utils.get_file

    def get_file(**kwargs):
        calls.append(kwargs)
        return behaviour["function"](real_get_file, **kwargs)

    monkeypatch.setattr(keras.utils, "get_file", get_file)
    return home, calls, lambda function: behaviour.update(function=function)


def test_load_mnist_offline_error_names_the_cache(keras_get_file):
    home, calls, set_behaviour = keras_get_file

    def offline(real_get_file, **kwargs):
        raise Exception(  # what Keras raises when urlretrieve fails
            f"URL fetch failure on {kwargs['origin']}: None -- "
            "[Errno -3] Temporary failure in name resolution"
        )

    set_behaviour(offline)
    with pytest.raises(OSError, match="MNIST is not in Keras' cache") as raised:
        load_mnist()
    message = str(raised.value)
    assert os.path.join(str(home), "datasets", "mnist.npz") in message
    assert "Temporary failure in name resolution" in message
    assert "load_digits_images() works offline" in message
    # the cache Keras was asked to search is $KERAS_HOME as it is now, with the
    # hash of the real file
    (call,) = calls
    assert call["cache_dir"] == str(home)
    assert call["cache_subdir"] == "datasets"
    assert call["fname"] == "mnist.npz"
    assert len(call["file_hash"]) == 64


@pytest.fixture
def fake_mnist(keras_get_file):
    """A tiny mnist.npz in $KERAS_HOME/datasets, found by Keras' own get_file.

    The real file's SHA-256 cannot match a fake one, so get_file is called without
    the hash (with it, Keras would try to download the real file again).
    """
    home, calls, set_behaviour = keras_get_file
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8),
        "y_train": np.array([0, 1, 2, 3, 4], dtype=np.uint8),
        "x_test": rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8),
        "y_test": np.array([7, 8, 9], dtype=np.uint8),
    }
    arrays["x_train"][0, 0, 0], arrays["x_train"][0, 0, 1] = 0, 255
    (home / "datasets").mkdir()
    np.savez(home / "datasets" / "mnist.npz", **arrays)

    def without_hash(real_get_file, **kwargs):
        return real_get_file(**{**kwargs, "file_hash": None})

    set_behaviour(without_hash)
    return arrays, calls


def test_load_mnist_reads_keras_cache(fake_mnist):
    arrays, calls = fake_mnist
    mnist = load_mnist()
    assert mnist.data.shape == (8, 784)
    assert mnist.data.dtype == np.float32
    assert mnist.images.shape == (8, 28, 28)
    assert mnist.image_shape == (28, 28)
    assert (mnist.data.min(), mnist.data.max()) == (0.0, 1.0)
    expected = np.concatenate([arrays["x_train"], arrays["x_test"]]) / 255.0
    np.testing.assert_allclose(mnist.images, expected, rtol=1e-6)
    np.testing.assert_array_equal(mnist.target, [0, 1, 2, 3, 4, 7, 8, 9])
    assert len(calls) == 1


@pytest.mark.parametrize(("subset", "n", "first_label"), [("train", 5, 0), ("test", 3, 7)])
def test_load_mnist_subsets(fake_mnist, subset, n, first_label):
    X, y = load_mnist(subset=subset, return_X_y=True)
    assert X.shape == (n, 784)
    assert y[0] == first_label


def test_digits_as_larger_images_repeat_each_pixel_and_keep_the_centre():
    small = load_digits_images()
    big = load_digits_images(image_size=28)
    assert big.data.shape == (1797, 784)
    assert big.image_shape == (28, 28)
    # 8 pixels repeated 4 times are 32: 2 are cropped on each side.
    np.testing.assert_array_equal(big.images[:, 2, 2], small.images[:, 1, 1])
    np.testing.assert_array_equal(big.images[:, 0, 0], small.images[:, 0, 0])
    np.testing.assert_array_equal(big.images[:, 27, 27], small.images[:, 7, 7])
    np.testing.assert_array_equal(big.images.reshape(1797, -1), big.data)
    assert load_digits_images(image_size=16).images[:, ::2, ::2].tolist() == small.images.tolist()
    for wrong in (7, 28.0, True):
        with pytest.raises(ValueError, match="image_size must be an int of at least 8"):
            load_digits_images(image_size=wrong)
