"""
Reconstruct, denoise, save and load
===================================

The workflow of the notebook this library grew from, in a few lines each:
train an autoencoder to reconstruct images, remove Gaussian noise
(standard deviation 0.2, clipped to [0, 1]) with it, and save the fitted model
to load it elsewhere.

The notebook used MNIST: 784 pixels, a 196-unit hidden layer and 49 codes,
batch 128, 7 epochs. This example does the same,
``AutoencoderTransformer(49, hidden_layer_sizes=(196,), batch_size=128, epochs=7)``,
when MNIST is in Keras' cache (:func:`skautoenc.datasets.load_mnist` downloads it
once when online); offline, it falls back to scikit-learn's bundled 8x8 digits
(64 pixels, 16 codes, the default architecture).

Set the environment variable ``SKAUTOENC_QUICK=1`` to run it on a small subset
with a few epochs, as the test suite does.
"""

# %%
# Data: MNIST when available, else the 8x8 digits, in [0, 1]
# ------------------------------------------------------------
# The loaders divide the pixels by their maximum, so that the notebook's noise
# (clipped to [0, 1]) applies as it did there. The autoencoder itself needs no
# particular range: like PCA, it centres and scales the data itself.
import os
import tempfile

import joblib
import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

import skautoenc
from skautoenc import AutoencoderTransformer
from skautoenc.datasets import add_noise, load_digits_images, load_mnist
from skautoenc.plotting import plot_history, plot_reconstructions

QUICK = os.environ.get("SKAUTOENC_QUICK", "0") not in ("", "0")

try:
    if QUICK:
        raise OSError("quick mode: use the bundled digits")
    images = load_mnist()
    X_train, X_test = images.data[:60_000], images.data[60_000:]  # MNIST's own split
    n_components = 49
    settings = {"hidden_layer_sizes": (196,), "batch_size": 128, "epochs": 7}
except OSError as reason:
    print(f"Using the bundled 8x8 digits ({reason})")
    images = load_digits_images()
    X = images.data[:300] if QUICK else images.data
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
    n_components = 16
    settings = {"epochs": 3, "hidden_layer_sizes": (16,)} if QUICK else {}
print(f"{X_train.shape[0]} training and {X_test.shape[0]} test images of {images.image_shape}")

# %%
# Reconstruction
# --------------
# The encoder squeezes the pixels into ``n_components`` codes (``transform``);
# the decoder rebuilds the image from them (``inverse_transform``). PCA with as
# many components is the baseline.
autoencoder = AutoencoderTransformer(n_components, random_state=0, **settings)
autoencoder.fit(X_train)
pca = PCA(n_components).fit(X_train)

for name, model in [("PCA", pca), ("autoencoder", autoencoder)]:
    reconstruction = model.inverse_transform(model.transform(X_test))
    print(f"{name:12s} held-out reconstruction MSE: {np.mean((X_test - reconstruction) ** 2):.4f}")

axes = plot_reconstructions(
    {"PCA": pca, "autoencoder": autoencoder}, X_test, image_shape=images.image_shape
)
axes[0, 0].figure.suptitle(f"Held-out digits, reconstructed from {n_components} codes")

# %%
# The loss, epoch by epoch: on the training rows, and on the rows ``fit`` holds
# out (``validation_fraction``) to stop when it levels off. The network starts
# as PCA; the dotted line is that start's held-out loss, which training must
# beat clearly for the network to be kept (else ``fallback_to_pca_`` is True
# and the model is PCA).
ax = plot_history(autoencoder)
print(f"kept PCA instead of the trained network: {autoencoder.fallback_to_pca_}")

# %%
# Denoising
# ---------
# Corrupt the test images as the notebook does: add Gaussian noise of standard
# deviation 0.2, then clip to [0, 1]. A plain autoencoder already removes part
# of it; one trained on noisy inputs (``noise="gaussian", noise_level=0.2``:
# the noise is added during training only) learns to map them back to clean ones.
X_noisy = add_noise(X_test, "gaussian", level=0.2, clip=(0, 1), random_state=0)
denoiser = AutoencoderTransformer(
    n_components, noise="gaussian", noise_level=0.2, random_state=0, **settings
).fit(X_train)

print(f"{'noisy input':22s} MSE to the clean images: {np.mean((X_noisy - X_test) ** 2):.4f}")
for name, model in [("autoencoder", autoencoder), ("denoising autoencoder", denoiser)]:
    error = np.mean((model.denoise(X_noisy) - X_test) ** 2)
    print(f"{name:22s} MSE to the clean images: {error:.4f}")

axes = plot_reconstructions(
    {"autoencoder": autoencoder, "denoising AE": denoiser},
    X_test,
    image_shape=images.image_shape,
    X_noisy=X_noisy,
)
axes[0, 0].figure.suptitle(
    "Denoising: Gaussian noise with standard deviation 0.2, clipped to [0, 1]"
)

# %%
# Save and load
# -------------
# The notebook saved its Keras model with ``model.save`` and read it back with
# ``load_model``. Here there are two ways, both keeping the scikit-learn side
# (parameters, fitted attributes) with the network:
#
# * ``joblib.dump`` / ``joblib.load`` (or pickle), like any scikit-learn
#   estimator: handy inside your own code (caching, multiprocessing). The
#   network travels as NumPy arrays, and the loaded model transforms without
#   importing TensorFlow. Loading a pickle can run code: load only files you
#   wrote or trust.
# * ``est.save(path)`` / :func:`skautoenc.load`: one file with no pickle in it,
#   checked before anything is loaded; the way to share a model or keep it.
with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "denoiser.joblib")
    joblib.dump(denoiser, path)
    from_joblib = joblib.load(path)

    path = os.path.join(folder, "denoiser.skae")
    denoiser.save(path)
    from_file = skautoenc.load(path)

for name, loaded in [("joblib", from_joblib), ("save/load", from_file)]:
    same = np.array_equal(loaded.denoise(X_noisy), denoiser.denoise(X_noisy))
    print(f"{name:9s}: the loaded model denoises exactly like the saved one: {same}")

plt.show()
