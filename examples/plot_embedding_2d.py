"""
Digits in two dimensions: autoencoder codes next to PCA's
=========================================================

Squeezing 64 pixels into 2 numbers makes the data drawable. PCA keeps the two
directions of largest variance; an autoencoder with ``n_components=2`` learns a
non-linear map instead, and usually keeps the classes further apart.
:func:`skautoenc.plotting.plot_embedding` draws both, coloured by digit. Neither
method sees the labels: they only colour the points, and measure how well a
nearest-neighbour classifier separates the digits in 2-D.

Set the environment variable ``SKAUTOENC_QUICK=1`` to run it on a small subset
with a few epochs, as the test suite does.
"""

# %%
import os

import matplotlib.pyplot as plt
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from skautoenc import AutoencoderTransformer
from skautoenc.datasets import load_digits_images
from skautoenc.plotting import plot_embedding

QUICK = os.environ.get("SKAUTOENC_QUICK", "0") not in ("", "0")

X, y = load_digits_images(return_X_y=True)
settings = {}
if QUICK:
    X, y = X[:300], y[:300]
    settings = {"epochs": 3, "hidden_layer_sizes": (16,)}
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)

# %%
# Fit both on the training images
# -------------------------------
autoencoder = AutoencoderTransformer(n_components=2, random_state=0, **settings).fit(X_train)
pca = PCA(n_components=2).fit(X_train)

# %%
# Draw the held-out images
# ------------------------
axes = plot_embedding(X_test, y_test, estimator=autoencoder, pca=pca)
fig = axes[0].figure
fig.set_size_inches(11, 4.8)
fig.suptitle("Held-out digits in 2-D, coloured by digit")

# %%
# How separated are the digits?
# -----------------------------
# Accuracy of a 5-nearest-neighbour classifier trained on the 2-D codes of the
# training images, on the held-out ones (chance: 10 %).
for name, model in [("PCA", pca), ("autoencoder", autoencoder)]:
    knn = KNeighborsClassifier(n_neighbors=5).fit(model.transform(X_train), y_train)
    print(f"{name:12s} 2-D codes, 5-NN accuracy: {knn.score(model.transform(X_test), y_test):.2f}")

plt.show()
