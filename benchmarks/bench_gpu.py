"""Training throughput of the seed architecture on the device Keras finds, vs hand-written Keras.

The seed notebook's autoencoder, 784 -> 196 -> 49 -> 196 -> 784 (relu, sigmoid
output, MSE, Adam, batch 128), trained on 60,000 rows of 784 values in [0, 1]:
MNIST's training images when Keras has them cached, else synthetic images of the
same shape (smoothed random strokes). Two sides, same rows, same epochs:

- **Keras**: the hand-written ``keras.Sequential`` compiled and trained with ``fit``;
- **skautoenc**: ``AutoencoderTransformer(n_components=49, hidden_layer_sizes=(196,),
  output_activation="sigmoid", noise=None, early_stopping=False)``, whose network
  adds the PCA-initialised linear paths to the same layers (about 8 % more
  arithmetic).

Each runs under the dtype policy ``float32`` and then ``mixed_bfloat16``
(``keras.config.set_dtype_policy``: the layers compute in bfloat16, the variables
and the loss stay float32). Printed: samples per second, the median over the
epochs after the first (which traces and compiles), and the ratio skautoenc /
Keras. On a machine without an accelerator it says so and runs on the CPU; CPUs
rarely compute bfloat16 faster than float32.

Run: ``python benchmarks/bench_gpu.py [--epochs 4] [--backend jax]``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from _common import hand_written_autoencoder, parse_args_and_import_keras
from sklearn.exceptions import ConvergenceWarning

from skautoenc import AutoencoderTransformer

N_ROWS, SIDE, HIDDEN, CODE, BATCH = 60_000, 28, 196, 49, 128


def training_rows() -> tuple[np.ndarray, str]:
    try:
        from skautoenc.datasets import load_mnist

        X = load_mnist(subset="train").data[:N_ROWS].astype(np.float32)
        return X, "MNIST (Keras' cache)"
    except (OSError, ValueError) as error:
        reason = str(error).split(" and ")[0]
    rng = np.random.default_rng(0)
    images = np.zeros((N_ROWS, SIDE, SIDE), np.float32)
    for _ in range(6):  # strokes: random walks of a pen, then a blur
        rows, cols = rng.integers(6, 22, size=(2, N_ROWS))
        for _ in range(12):
            rows = np.clip(rows + rng.integers(-1, 2, N_ROWS), 0, SIDE - 1)
            cols = np.clip(cols + rng.integers(-1, 2, N_ROWS), 0, SIDE - 1)
            images[np.arange(N_ROWS), rows, cols] = 1.0
    blurred = images.copy()
    for axis in (1, 2):
        blurred += 0.5 * (np.roll(images, 1, axis) + np.roll(images, -1, axis))
    return np.clip(blurred, 0, 1).reshape(N_ROWS, -1), f"synthetic (no MNIST: {reason})"


def epoch_timer(keras):
    class EpochTimes(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.started)

    return EpochTimes()


def samples_per_second(times) -> float:
    return N_ROWS / float(np.median(times[1:] if len(times) > 1 else times))


def keras_side(keras, X, epochs):
    model = hand_written_autoencoder(keras, X.shape[1], HIDDEN, CODE)
    model.compile(optimizer="adam", loss="mse")
    timer = epoch_timer(keras)
    model.fit(X, X, batch_size=BATCH, epochs=epochs, verbose=0, callbacks=[timer])
    return samples_per_second(timer.times)


def skautoenc_side(keras, X, epochs):
    timer = epoch_timer(keras)
    ae = AutoencoderTransformer(
        n_components=CODE,
        hidden_layer_sizes=(HIDDEN,),
        output_activation="sigmoid",
        noise=None,
        early_stopping=False,
        batch_size=BATCH,
        epochs=epochs,
        tol=0,
        random_state=0,
        callbacks=[timer],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae.fit(X)
    return samples_per_second(timer.times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4, help="epochs per side (>= 2)")
    args, keras = parse_args_and_import_keras(parser)
    accelerators = [d for d in keras.distribution.list_devices() if not d.startswith("cpu")]
    device = accelerators[0] if accelerators else "cpu:0"
    X, source = training_rows()
    print(f"backend {keras.backend.backend()}, device {device}")
    if not accelerators:
        print("no accelerator found: running on the CPU (the numbers are the CPU's)")
    print(f"rows: {X.shape[0]} x {X.shape[1]}, {source}; {args.epochs} epochs per side")
    print(f"{'dtype policy':18}{'Keras samples/s':>17}{'skautoenc samples/s':>21}{'ratio':>8}")
    for policy in ("float32", "mixed_bfloat16"):
        keras.config.set_dtype_policy(policy)
        hand, ours = keras_side(keras, X, args.epochs), skautoenc_side(keras, X, args.epochs)
        print(f"{policy:18}{hand:17,.0f}{ours:21,.0f}{ours / hand:8.2f}")
    keras.config.set_dtype_policy("float32")


if __name__ == "__main__":
    main()
