"""Image data sets scaled to [0, 1], and the seed notebook's noise."""

from __future__ import annotations

import os
from numbers import Integral

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.validation import check_array

__all__ = ["add_noise", "load_digits_images", "load_mnist"]

# What keras.datasets.mnist.load_data() downloads (Keras 3), checked by its SHA-256.
_MNIST_FILE = "mnist.npz"
_MNIST_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
_MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"


def load_digits_images(*, image_size: int = 8, return_X_y: bool = False):
    """Load scikit-learn's 8x8 digits (bundled, no download), scaled to [0, 1].

    Parameters
    ----------
    image_size : int, default=8
        Side of the square images. Larger sides repeat each pixel
        ``ceil(image_size / 8)`` times along both axes and crop the centre: 28 gives
        MNIST-shaped rows (784 pixels), offline.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : Bunch
        ``data`` (1797, image_size ** 2) float32 in [0, 1], ``target`` (1797,) int
        labels, ``images`` (1797, image_size, image_size) and ``image_shape``.

    Raises
    ------
    ValueError
        If ``image_size`` is not an int of at least 8.

    Examples
    --------
    >>> from skautoenc.datasets import load_digits_images
    >>> digits = load_digits_images()
    >>> digits.data.shape, digits.data.dtype.name, digits.image_shape
    ((1797, 64), 'float32', (8, 8))
    >>> float(digits.data.min()), float(digits.data.max())
    (0.0, 1.0)
    >>> load_digits_images(image_size=28).data.shape
    (1797, 784)
    """
    from sklearn.datasets import load_digits

    if not isinstance(image_size, Integral) or isinstance(image_size, bool) or image_size < 8:
        raise ValueError(
            f"image_size must be an int of at least 8 (the digits' own side). Received: "
            f"image_size={image_size!r}."
        )
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    if image_size > 8:
        factor = -(-image_size // 8)
        big = images.repeat(factor, axis=1).repeat(factor, axis=2)
        margin = (8 * factor - image_size) // 2
        images = big[:, margin : margin + image_size, margin : margin + image_size]
    images = np.ascontiguousarray(images)
    data = images.reshape(len(images), -1)
    if return_X_y:
        return data, digits.target
    side = int(image_size)
    return Bunch(
        data=data,
        target=digits.target,
        images=images,
        image_shape=(side, side),
        DESCR="scikit-learn's optical digits, 8x8 pixels scaled from 0..16 to [0, 1]"
        + (f", each pixel repeated to {side}x{side}." if side > 8 else "."),
    )


def load_mnist(*, subset: str = "all", return_X_y: bool = False):
    """Load MNIST through Keras' own downloader and cache, scaled to [0, 1].

    The first call downloads ``mnist.npz`` (11 MB) into Keras' cache
    (``~/.keras/datasets``, or ``$KERAS_HOME/datasets``); later calls read it from
    there and work offline.

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="all"
        The 60,000 training images, the 10,000 test images, or both (train first).
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : Bunch
        ``data`` (n, 784) float32 in [0, 1], ``target`` (n,) labels,
        ``images`` (n, 28, 28) and ``image_shape`` ``(28, 28)``.

    Raises
    ------
    OSError
        When MNIST is not in the cache and cannot be downloaded (offline).

    Examples
    --------
    >>> from skautoenc.datasets import load_mnist
    >>> mnist = load_mnist(subset="test")  # doctest: +SKIP
    >>> mnist.data.shape  # doctest: +SKIP
    (10000, 784)
    """
    if subset not in ("train", "test", "all"):
        raise ValueError(f"subset must be 'train', 'test' or 'all'. Received: {subset!r}.")
    from ._keras import import_keras

    keras = import_keras()
    # keras.datasets.mnist.load_data() does this same get_file call, but with the
    # cache directory Keras read from $KERAS_HOME when it was imported. Calling
    # get_file here reads $KERAS_HOME now, so the path in the error below is the
    # path that was searched.
    keras_home = _keras_home()
    cache = os.path.join(keras_home, "datasets", _MNIST_FILE)
    try:
        os.makedirs(keras_home, exist_ok=True)
        path = keras.utils.get_file(
            fname=_MNIST_FILE,
            origin=_MNIST_ORIGIN,
            file_hash=_MNIST_SHA256,
            cache_dir=keras_home,
            cache_subdir="datasets",
        )
    except Exception as error:
        raise OSError(
            f"MNIST is not in Keras' cache ({cache}) and could not be downloaded: "
            f"{error}. Connect once to download it, or copy mnist.npz to that path. "
            "load_digits_images() works offline."
        ) from error
    with np.load(path, allow_pickle=False) as npz:
        x_train, y_train = npz["x_train"], npz["y_train"]
        x_test, y_test = npz["x_test"], npz["y_test"]
    parts = {"train": [(x_train, y_train)], "test": [(x_test, y_test)]}
    parts["all"] = parts["train"] + parts["test"]
    images = np.concatenate([x for x, _ in parts[subset]]).astype(np.float32) / 255.0
    target = np.concatenate([y for _, y in parts[subset]])
    data = images.reshape(len(images), -1)
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        images=images,
        image_shape=(28, 28),
        DESCR="MNIST handwritten digits, 28x28 pixels scaled from 0..255 to [0, 1].",
    )


def _keras_home() -> str:
    """Keras' cache directory, as Keras picks it, but read from the environment now."""
    if os.environ.get("KERAS_HOME"):
        return os.path.expanduser(os.environ["KERAS_HOME"])
    home = os.path.expanduser("~")
    return os.path.join(home if os.access(home, os.W_OK) else "/tmp", ".keras")


def add_noise(
    X,
    kind: str = "gaussian",
    level: float = 0.2,
    *,
    clip: tuple[float, float] | None = (0.0, 1.0),
    random_state=None,
) -> np.ndarray:
    """Corrupt ``X`` the way the seed notebook does before denoising.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Clean data.
    kind : {"gaussian", "masking", "salt_and_pepper"}, default="gaussian"
        ``"gaussian"`` adds normal noise of standard deviation ``level``;
        ``"masking"`` sets a fraction ``level`` of entries to 0;
        ``"salt_and_pepper"`` sets a fraction ``level`` of entries to 0 or 1.
    level : float, default=0.2
        Noise standard deviation, or fraction of entries corrupted.
    clip : (low, high) or None, default=(0.0, 1.0)
        Clip the result to this range (the seed clips to [0, 1]); None keeps it.
    random_state : int, RandomState instance or None, default=None
        Seeds the noise.

    Returns
    -------
    X_noisy : ndarray of shape (n_samples, n_features)
        A new array in ``X``'s float dtype; ``X`` is not modified.

    Examples
    --------
    >>> import numpy as np
    >>> from skautoenc.datasets import add_noise
    >>> X = np.full((2, 3), 0.5)
    >>> noisy = add_noise(X, level=0.2, random_state=0)
    >>> noisy.shape, bool(noisy.min() >= 0), bool(np.all(X == 0.5))
    ((2, 3), True, True)
    """
    X = check_array(X, dtype=[np.float64, np.float32], copy=True)
    if kind not in ("gaussian", "masking", "salt_and_pepper"):
        raise ValueError(
            f"kind must be 'gaussian', 'masking' or 'salt_and_pepper'. Received: kind={kind!r}."
        )
    if not level >= 0 or (kind != "gaussian" and level > 1):
        raise ValueError(
            "level must be >= 0 (and <= 1 for a fraction of entries). "
            f"Received: level={level!r} for kind={kind!r}."
        )
    rng = check_random_state(random_state)
    if kind == "gaussian":
        X += rng.normal(scale=level, size=X.shape).astype(X.dtype, copy=False)
    else:
        corrupted = rng.random_sample(X.shape) < level
        if kind == "masking":
            X[corrupted] = 0
        else:
            X[corrupted] = rng.randint(0, 2, size=int(corrupted.sum()))
    if clip is not None:
        np.clip(X, clip[0], clip[1], out=X)
    return X
