"""
Generating digits: interpolation and variation in code space
============================================================

An autoencoder's decoder turns any code into an image, so new images come from
new codes: encode, change the code a little, decode. Two ways here:

* walk in a straight line from one digit's code to another's and decode each
  step; compare with fading the pixels from one image to the other;
* add small random offsets to one digit's code and decode the variations.

Set the environment variable ``SKAUTOENC_QUICK=1`` to run it on a small subset
with a few epochs, as the test suite does.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from skautoenc import AutoencoderTransformer
from skautoenc.datasets import load_digits_images

QUICK = os.environ.get("SKAUTOENC_QUICK", "0") not in ("", "0")
N_STEPS = 8

digits = load_digits_images()
X, y = digits.data, digits.target
settings = {}
if QUICK:
    X, y = X[:300], y[:300]
    settings = {"epochs": 3, "hidden_layer_sizes": (16,)}

autoencoder = AutoencoderTransformer(n_components=8, random_state=0, **settings).fit(X)

# %%
# From a 2 to a 7
# ---------------
start, end = X[np.flatnonzero(y == 2)[0]], X[np.flatnonzero(y == 7)[0]]
codes = autoencoder.transform(np.stack([start, end]))
weights = np.linspace(0, 1, N_STEPS)[:, None]
through_codes = autoencoder.inverse_transform((1 - weights) * codes[0] + weights * codes[1])
through_pixels = (1 - weights) * start + weights * end

# %%
# Variations of one digit
# -----------------------
# Offsets of a third of each code's spread over the data.
rng = np.random.default_rng(0)
spread = autoencoder.transform(X).std(axis=0)
offsets = rng.normal(scale=spread / 3, size=(N_STEPS, codes.shape[1]))
variations = autoencoder.inverse_transform(codes[0] + offsets)

# %%
# Draw
# ----
rows = {
    "decoded\ncode steps": through_codes,
    "pixel\ncross-fade": through_pixels,
    "decoded\ncode + noise": variations,
}
fig, axes = plt.subplots(len(rows), N_STEPS, figsize=(1.2 * N_STEPS + 1.2, 4.4))
for row_axes, (label, images) in zip(axes, rows.items(), strict=True):
    for ax, image in zip(row_axes, images, strict=True):
        ax.imshow(image.reshape(digits.image_shape), cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
    row_axes[0].set_ylabel(label, rotation=0, ha="right", va="center")
for ax, weight in zip(axes[0], weights.ravel(), strict=True):
    ax.set_title(f"{weight:.2f}", fontsize=9)
fig.suptitle("From a 2 to a 7 through the autoencoder's 8 codes, and variations of the 2")
fig.tight_layout()

# %%
# The decoded steps stay digit-like (strokes bend from one shape into the
# other), where the pixel cross-fade overlays two faint digits. The variations
# are new 2s the data set does not contain.

plt.show()
