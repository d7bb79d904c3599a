"""
Images: a convolutional autoencoder, next to the dense one and PCA
==================================================================

The seed notebook's workflow on 28x28 images (MNIST when Keras has it cached,
else scikit-learn's digits upsampled to 28x28), with the network told that its
rows are images: ``image_shape=(28, 28)`` makes the nonlinear path convolutional
(Conv2D layers with ``conv_filters``, a dense code, Conv2DTranspose layers back),
while rows stay flattened images as scikit-learn expects. The linear path is the
same PCA start as for the dense network, so the untrained model is PCA here too.

Set the environment variable ``SKAUTOENC_QUICK=1`` to run it on a small subset
with a few epochs, as the test suite does.
"""

# %%
# Data: 28x28 images in [0, 1]
# ----------------------------
import os
import time

import numpy as np
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from skautoenc import AutoencoderTransformer
from skautoenc.datasets import add_noise, load_digits_images, load_mnist
from skautoenc.plotting import plot_reconstructions

QUICK = os.environ.get("SKAUTOENC_QUICK", "0") not in ("", "0")

try:
    if QUICK:
        raise OSError("quick mode: use the bundled digits")
    X = load_mnist(subset="train").data[:10_000]
except OSError as reason:
    print(f"Using the bundled digits, upsampled to 28x28 ({reason})")
    X = load_digits_images(image_size=28).data
if QUICK:
    X = X[:300]
X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)

# %%
# Three models with 16 codes
# --------------------------
# The dense default, and the convolutional configuration that
# ``benchmarks/bench_conv.py`` measures (two stride-2 convolutions of 32 and 64
# filters, one dense layer of 128 before the code).
settings = {"epochs": 3} if QUICK else {}
models = {
    "PCA": PCA(16),
    "dense AE": AutoencoderTransformer(16, random_state=0, **settings),
    "conv AE": AutoencoderTransformer(
        16,
        image_shape=(28, 28),
        conv_filters=(32, 64),
        hidden_layer_sizes=(128,),
        random_state=0,
        **settings,
    ),
}
for name, model in models.items():
    start = time.perf_counter()
    model.fit(X_train)
    seconds = time.perf_counter() - start
    error = np.mean((X_test - model.inverse_transform(model.transform(X_test))) ** 2)
    print(f"{name:9s} held-out MSE {error:.5f}   fit {seconds:5.1f} s")

axes = plot_reconstructions(models, X_test, image_shape=(28, 28))
axes[0, 0].figure.suptitle("Held-out images, reconstructed from 16 codes")

# %%
# Denoising, as in the notebook
# -----------------------------
# Gaussian noise of standard deviation 0.2, clipped to [0, 1]; ``denoise`` maps
# the noisy images through the bottleneck.
X_noisy = add_noise(X_test, "gaussian", level=0.2, clip=(0, 1), random_state=0)
for name in ("dense AE", "conv AE"):
    error = np.mean((models[name].denoise(X_noisy) - X_test) ** 2)
    print(f"{name:9s} MSE of the denoised images to the clean ones: {error:.5f}")
axes = plot_reconstructions(
    {name: models[name] for name in ("dense AE", "conv AE")},
    X_test,
    image_shape=(28, 28),
    X_noisy=X_noisy,
)
axes[0, 0].figure.suptitle("Denoising Gaussian noise (0.2)")
