"""fit speed: AutoencoderTransformer vs the same autoencoder hand-written in Keras.

The seed notebook's model (784 -> 196 -> 49 -> 196 -> 784, relu, sigmoid output,
MSE, Adam, batch 128, 7 epochs) on MNIST-shaped data: scikit-learn's digits
upsampled to 28x28 and shifted by one pixel in four directions (8,985 rows; 1,000
held out). Fits alternate between the library and hand-written Keras; the script
prints the median time ratio (target <= 1.10) and both held-out MSEs (target:
the library's no worse than 1.10x). Run: ``python benchmarks/bench_fit.py
[--repeats N]``; set ``KERAS_BACKEND`` to compare backends.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from _common import hand_written_autoencoder, parse_args_and_import_keras
from sklearn.exceptions import ConvergenceWarning

from skautoenc import AutoencoderTransformer
from skautoenc.datasets import load_digits_images

SEED_PARAMS = {"n_components": 49, "hidden_layer_sizes": (196,), "batch_size": 128, "epochs": 7}


def mnist_shaped():
    images = load_digits_images().images
    big = images.repeat(4, axis=1).repeat(4, axis=2)[:, 2:30, 2:30]
    shifted = [big] + [np.roll(big, s, axis=a) for s in (-1, 1) for a in (1, 2)]
    X = np.concatenate(shifted).reshape(-1, 784).astype(np.float32)
    return X[np.random.RandomState(0).permutation(len(X))]


def hand_written(X_train, X_val, seed, steps_per_execution=1):
    import keras

    keras.utils.set_random_seed(seed)
    model = hand_written_autoencoder(keras, 784, 196, 49)
    model.compile(
        optimizer=keras.optimizers.Adam(), loss="mse", steps_per_execution=steps_per_execution
    )
    model.fit(X_train, X_train, batch_size=128, epochs=7, verbose=0, shuffle=True)
    return float(np.mean((model.predict_on_batch(X_val) - X_val) ** 2))


def library(X_train, X_val, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = AutoencoderTransformer(**SEED_PARAMS, learning_rate=1e-3, random_state=seed)
        est.fit(X_train)
    return -est.score(X_val)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args, keras = parse_args_and_import_keras(parser)
    X = mnist_shaped()
    X_train, X_val = X[1000:], X[:1000]
    print(f"Keras {keras.__version__}, backend {keras.backend.backend()}; {X_train.shape} train")
    runs = {
        "hand-written Keras": lambda seed: hand_written(X_train, X_val, seed),
        "skautoenc": lambda seed: library(X_train, X_val, seed),
        "hand-written + steps_per_execution=32": lambda seed: hand_written(
            X_train, X_val, seed, 32
        ),
    }
    runs["skautoenc"](0)  # warm-up: imports, first tracing
    times = {name: [] for name in runs}
    errors = {name: [] for name in runs}
    for repeat in range(args.repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            errors[name].append(run(repeat))
            times[name].append(time.perf_counter() - start)

    base = np.median(times["hand-written Keras"])
    base_mse = np.median(errors["hand-written Keras"])
    print(f"{'fit (7 epochs, batch 128)':<40}{'median s':>9}{'ratio':>7}{'val MSE':>9}{'ratio':>7}")
    for name in runs:
        t, e = np.median(times[name]), np.median(errors[name])
        print(f"{name:<40}{t:>9.2f}{t / base:>7.2f}{e:>9.5f}{e / base_mse:>7.2f}")
    ratio = np.median(times["skautoenc"]) / base
    mse_ratio = np.median(errors["skautoenc"]) / base_mse
    print(
        f"skautoenc / hand-written: time {ratio:.2f} (target <= 1.10 "
        f"{'ok' if ratio <= 1.10 else 'MISSED'}), val MSE {mse_ratio:.2f} "
        f"(target <= 1.10 {'ok' if mse_ratio <= 1.10 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
