"""
Your own network: a 1-D convolution for sequences, in a pipeline
================================================================

Rows that are sequences (here, waveforms of 96 time steps) call for a network
that shares weights along time, which neither PCA nor the built-in dense network
does. ``builder`` takes a function that returns a Keras encoder and decoder of
your design; the estimator adds them to its PCA start, so the untrained model is
still PCA, and everything else (pipelines, grid searches, saving) works as with
the built-in networks. See :ref:`own-networks`.

Set the environment variable ``SKAUTOENC_QUICK=1`` to run it on a small subset
with a few epochs, as the test suite does.
"""

# %%
# Data: three kinds of waveform, at random frequencies and phases
# -----------------------------------------------------------------
# A sine, a square-ish wave and a triangle wave, each with its own frequency and
# phase, plus noise. The phase alone moves every row along a curve that PCA
# needs many components to follow.
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline

from skautoenc import AutoencoderTransformer

QUICK = os.environ.get("SKAUTOENC_QUICK", "0") not in ("", "0")
rng = np.random.default_rng(0)
n_rows, n_steps = (300, 96) if QUICK else (2000, 96)
kind = rng.integers(0, 3, n_rows)
t = np.arange(n_steps) / n_steps
angle = 2 * np.pi * (rng.uniform(2, 4, (n_rows, 1)) * t + rng.uniform(0, 1, (n_rows, 1)))
waves = np.stack([np.sin(angle), np.tanh(4 * np.sin(angle)), 2 / np.pi * np.arcsin(np.sin(angle))])
X = waves[kind, np.arange(n_rows)] + rng.normal(0, 0.1, (n_rows, n_steps))
X_train, X_test, y_train, y_test = train_test_split(X, kind, random_state=0)


# %%
# The builder
# -----------
# ``builder(n_features, n_components, **builder_kwargs)`` returns two Keras
# models: the encoder from a row to its codes, the decoder back. Each ends in a
# layer with weights and a linear activation, which the estimator zeroes at the
# start (so the network starts as PCA). Define it in a module, like any function
# that ``GridSearchCV(n_jobs=2)`` or pickle must find again.
def sequence_network(n_features, n_components, filters=16):
    import keras

    layers = keras.layers
    encoder = keras.Sequential(
        [
            keras.Input((n_features,)),
            layers.Reshape((n_features, 1)),  # a row is a sequence of one channel
            layers.Conv1D(filters, 7, strides=2, padding="same", activation="relu"),
            layers.Conv1D(filters, 5, strides=2, padding="same", activation="relu"),
            layers.Flatten(),
            layers.Dense(n_components),
        ]
    )
    decoder = keras.Sequential(
        [
            keras.Input((n_components,)),
            layers.Dense(n_features // 4 * filters, activation="relu"),
            layers.Reshape((n_features // 4, filters)),
            layers.Conv1DTranspose(filters, 5, strides=2, padding="same", activation="relu"),
            layers.Conv1DTranspose(1, 7, strides=2, padding="same"),
            layers.Flatten(),
        ]
    )
    return encoder, decoder


# %%
# In a pipeline, next to PCA
# --------------------------
# Eight codes each, then a nearest-neighbour vote on the codes: the
# reconstruction error on held-out rows, and the accuracy of telling the three
# waveforms apart.
settings = {"epochs": 3} if QUICK else {}
reducers = {
    "PCA": PCA(8),
    "dense AE": AutoencoderTransformer(8, random_state=0, **settings),
    "1-D conv AE": AutoencoderTransformer(8, builder=sequence_network, random_state=0, **settings),
}
reconstructions = {}
for name, reducer in reducers.items():
    pipe = Pipeline([("reduce", reducer), ("classify", KNeighborsClassifier())])
    pipe.fit(X_train, y_train)
    reconstructions[name] = reducer.inverse_transform(reducer.transform(X_test))
    mse = mean_squared_error(X_test, reconstructions[name])
    print(f"{name:12s} held-out MSE {mse:.4f}  accuracy {pipe.score(X_test, y_test):.3f}")

# %%
# The convolution, which shares its weights along time, reconstructs best, the
# dense network next, PCA last (the errors printed above). The nearest-neighbour
# vote is no better on the autoencoders' codes than on PCA's here: better
# reconstructions do not promise better features for every task, so measure on
# yours (a grid search over the pipeline does it).

# %%
# Three held-out rows and their reconstructions
fig, axes = plt.subplots(3, 1, figsize=(7, 6), sharex=True)
for ax, row in zip(axes, range(3), strict=True):
    ax.plot(X_test[row], color="0.7", label="row")
    for name, X_hat in reconstructions.items():
        ax.plot(X_hat[row], label=name)
axes[0].legend(ncol=4, fontsize="small")
axes[-1].set_xlabel("time step")
fig.tight_layout()

# %%
# The builder's own arguments in a grid search
# --------------------------------------------
# ``builder_kwargs`` is an ordinary parameter: a grid search tries whole dicts of
# them (here, the filters per convolution), with ``n_components``.
# (The quick mode tries one width: each builder network is compiled anew.)
filters = [16] if QUICK else [8, 16]
search = GridSearchCV(
    AutoencoderTransformer(builder=sequence_network, random_state=0, **settings),
    {"n_components": [4, 8], "builder_kwargs": [{"filters": f} for f in filters]},
    cv=2,
)
search.fit(X_train)
print("best:", search.best_params_, f"score {search.best_score_:.4f}")
