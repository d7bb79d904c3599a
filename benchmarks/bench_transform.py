"""transform speed: AutoencoderTransformer vs PCA vs a hand-written NumPy pass vs Keras.

Prints medians of many repeats and the ratios the inference issue targets:

- 1 row ``transform``                 <= 2.0 x ``PCA.transform``
- 1 row ``inverse_transform(transform)`` <= 2.0 x PCA's round trip
- 10,000 rows ``transform``           <= 1.5 x a plain NumPy forward pass of the same weights
- peak extra memory of a 200,000-row ``transform`` (blocked) vs its output

and what float64 input costs: ``transform`` computes in the input's float dtype,
so the same 1 and 10,000 rows are timed as float64 and as float32 (ratio
float64 / float32; no target, for the record). All other rows pass float32.
With the ``onnx`` extra, the same 1 and 10,000 rows are also timed through the
ONNX export (``skautoenc.onnx``) in onnxruntime, against ``transform`` (no target).

Models: the default architecture on digits (``AutoencoderTransformer(16)``:
64 -> 128 -> 128 -> 16 residual path plus the linear PCA path) and the seed
notebook's (784 -> 196 -> 49, on digits upsampled to 28x28). Both train for 2
epochs only: inference costs the same whatever the weights.

Then the convolutional configuration of ``bench_conv.py`` (``image_shape=(28, 28),
conv_filters=(32, 64), hidden_layer_sizes=(128,)``, k = 16, on the same 28x28
rows): 1 and 10,000 rows of ``transform`` (the NumPy pass, float32) against
``PCA.transform`` and against Keras' ``predict_on_batch`` on the same model
(``encoder_``); no target, for the record. Then the same network as a user's
``builder`` of Keras layers (``conv_builder``), whose paths ``transform`` runs as
a compiled Keras function instead of NumPy: the same three columns. For each,
the first 1-row ``transform`` of three more fitted networks of that structure
(median): what each candidate of a search pays once.
Run: ``python benchmarks/bench_transform.py [--repeats N] [--quick] [--backend jax]``.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
from _common import fit_quietly, median_seconds, parse_args_and_import_keras
from sklearn.decomposition import PCA

from skautoenc import AutoencoderTransformer
from skautoenc.datasets import load_digits_images


def numpy_forward(estimator):
    """The pass a user would hand-write from ``weights_``: standardise, linear + relu paths."""
    w = {name: np.asarray(value) for name, value in estimator.weights_.items()}
    mean = estimator.mean_.astype(np.float32)
    scale = np.float32(estimator.scale_)
    n_hidden = len(estimator.hidden_layer_sizes)
    # The codes' centring and scale (PCA's scores are centred): not public attributes,
    # the fitted network's own.
    code_scale = estimator._fitted.code_scale.astype(np.float32)
    code_mean = estimator._fitted.code_mean.astype(np.float32)

    def forward(X):
        u = (X - mean) / scale
        h = u
        for i in range(n_hidden):
            h = np.maximum(h @ w[f"encoder_hidden_{i}.kernel"] + w[f"encoder_hidden_{i}.bias"], 0)
        residual = h @ w["encoder_residual.kernel"] + w["encoder_residual.bias"]
        return (u @ w["encoder_linear.kernel"] + residual) * code_scale - code_mean

    return forward


def onnx_session(estimator, X):
    """An onnxruntime session of ``estimator.transform`` on float32 rows; None without
    the ``onnx`` extra (the other rows do not need it)."""
    try:
        import onnxruntime
        from skl2onnx import to_onnx

        import skautoenc.onnx  # noqa: F401  (registers the converter)
    except ImportError:
        return None
    model = to_onnx(estimator, X[:1])
    return onnxruntime.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )


def data(kind):
    X = load_digits_images().data
    if kind.startswith("default"):
        return X, 16, AutoencoderTransformer().hidden_layer_sizes
    # The seed's shape: 28x28 images (digits upsampled by pixel repetition).
    return load_digits_images(image_size=28).data, 49, (196,)


def bench(kind, repeats):
    X, k, hidden = data(kind)
    X = X.astype(np.float32)
    pca = PCA(k).fit(X)
    est = fit_quietly(
        AutoencoderTransformer(k, hidden_layer_sizes=hidden, epochs=2, random_state=0), X
    )
    forward = numpy_forward(est)
    np.testing.assert_allclose(forward(X[:100]), est.transform(X[:100]), rtol=1e-4, atol=1e-4)
    rows = {}
    one = X[:1]
    rows["1 row transform"] = (
        median_seconds(lambda: est.transform(one), repeats),
        median_seconds(lambda: pca.transform(one), repeats),
        "PCA",
        2.0,
    )
    rows["1 row round trip"] = (
        median_seconds(lambda: est.inverse_transform(est.transform(one)), repeats),
        median_seconds(lambda: pca.inverse_transform(pca.transform(one)), repeats),
        "PCA",
        2.0,
    )
    for n in (100, 10_000):
        big = np.resize(X, (n, X.shape[1]))
        rows[f"{n} rows transform"] = (
            median_seconds(lambda big=big: est.transform(big), max(repeats // 10, 5)),
            median_seconds(lambda big=big: forward(big), max(repeats // 10, 5)),
            "NumPy",
            1.5 if n == 10_000 else None,
        )
        rows[f"{n} rows vs PCA"] = (
            rows[f"{n} rows transform"][0],
            median_seconds(lambda big=big: pca.transform(big), max(repeats // 10, 5)),
            "PCA",
            None,
        )
    for n in (1, 10_000):
        rows32 = np.resize(X, (n, X.shape[1]))
        rows64 = rows32.astype(np.float64)
        times = max(repeats // 10, 5) if n > 1 else repeats
        rows[f"{n} row{'s' if n > 1 else ''} float64"] = (
            median_seconds(lambda rows64=rows64: est.transform(rows64), times),
            median_seconds(lambda rows32=rows32: est.transform(rows32), times),
            "float32",
            None,
        )
    session = onnx_session(est, X)
    if session is not None:
        np.testing.assert_allclose(
            session.run(None, {"X": X[:100]})[0], est.transform(X[:100]), rtol=1e-4, atol=1e-4
        )
        for n in (1, 10_000):
            rows32 = np.resize(X, (n, X.shape[1]))
            times = max(repeats // 10, 5) if n > 1 else repeats
            rows[f"{n} row{'s' if n > 1 else ''} onnxruntime"] = (
                median_seconds(lambda rows32=rows32: session.run(None, {"X": rows32}), times),
                median_seconds(lambda rows32=rows32: est.transform(rows32), times),
                "transform",
                None,
            )
    print(f"\n{kind}: n_features={X.shape[1]}, n_components={k}, hidden={hidden}")
    print(f"{'call':<22}{'skautoenc':>12}{'baseline':>12}  {'ratio':>7}  target")
    for name, (ours, base, base_name, target) in rows.items():
        verdict = (
            "" if target is None else f"<= {target} {'ok' if ours / base <= target else 'MISSED'}"
        )
        print(
            f"{name:<22}{ours * 1e3:>10.4f}ms{base * 1e3:>10.4f}ms  {ours / base:>7.2f}  "
            f"vs {base_name} {verdict}"
        )

    one_keras = median_seconds(lambda: est.encoder_.predict_on_batch(one), max(repeats // 10, 5))
    call_keras = median_seconds(lambda: est.encoder_(one, training=False), max(repeats // 10, 5))
    predict = median_seconds(lambda: est.encoder_.predict(one, verbose=0), 5)
    if session is None:
        print('no onnxruntime rows: pip install "skautoenc[onnx]"')
    print(
        f"for reference, Keras on 1 row: predict {predict * 1e3:.2f} ms, "
        f"model(x) {call_keras * 1e3:.2f} ms, predict_on_batch {one_keras * 1e3:.2f} ms"
    )

    huge = np.resize(X, (200_000, X.shape[1]))
    tracemalloc.start()
    out = est.transform(huge)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(
        f"200,000-row transform: peak allocation {peak / 2**20:.1f} MiB for a "
        f"{out.nbytes / 2**20:.1f} MiB output "
        f"(input {huge.nbytes / 2**20:.0f} MiB, never copied whole)"
    )


def conv_builder(n_features, n_components, side=28):
    """A user's network like the built-in conv one, of Keras layers (``builder``)."""
    import keras

    layers = keras.layers
    encoder = keras.Sequential(
        [
            keras.Input((n_features,)),
            layers.Reshape((side, side, 1)),
            layers.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2D(64, 3, strides=2, padding="same", activation="relu"),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(n_components),
        ]
    )
    decoder = keras.Sequential(
        [
            keras.Input((n_components,)),
            layers.Dense(128, activation="relu"),
            layers.Dense(7 * 7 * 64, activation="relu"),
            layers.Reshape((7, 7, 64)),
            layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2DTranspose(1, 3, strides=2, padding="same"),
            layers.Flatten(),
        ]
    )
    return encoder, decoder


def bench_image_network(title, params, repeats):
    """A non-dense encoder: ``transform`` vs PCA vs Keras' ``predict_on_batch`` on the
    same model (``encoder_``)."""
    X, _, _ = data("seed")
    X = X.astype(np.float32)
    pca = PCA(16).fit(X)
    est = fit_quietly(AutoencoderTransformer(16, epochs=2, random_state=0, **params), X)
    keras_encoder = est.encoder_
    np.testing.assert_allclose(
        keras_encoder.predict_on_batch(X[:100]), est.transform(X[:100]), rtol=1e-4, atol=1e-4
    )
    print(f"\n{title}: transform, float32 rows")
    print(f"{'rows':<8}{'skautoenc':>12}{'PCA':>12}{'Keras':>12}  {'/PCA':>7}{'/Keras':>8}")
    for n in (1, 10_000):
        rows = np.resize(X, (n, X.shape[1]))
        times = repeats if n == 1 else 5
        ours = median_seconds(lambda rows=rows: est.transform(rows), times)
        base = median_seconds(lambda rows=rows: pca.transform(rows), times)
        keras = median_seconds(lambda rows=rows: keras_encoder.predict_on_batch(rows), times)
        print(
            f"{n:<8}{ours * 1e3:>10.3f}ms{base * 1e3:>10.3f}ms{keras * 1e3:>10.3f}ms  "
            f"{ours / base:>7.1f}{ours / keras:>8.2f}"
        )
    # What a search pays per candidate: the first call of a new fitted network of a
    # structure already used in this process (a builder's compiled pass is shared).
    first_calls = []
    for seed in (1, 2, 3):
        other = fit_quietly(AutoencoderTransformer(16, epochs=1, random_state=seed, **params), X)
        start = time.perf_counter()  # no warm-up: the first call is what is measured
        other.transform(X[:1])
        first_calls.append(time.perf_counter() - start)
    print(
        "first 1-row transform of another fitted network of this structure: "
        f"median of 3 fits {np.median(first_calls) * 1e3:.1f} ms"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="50 repeats")
    args, keras = parse_args_and_import_keras(parser)
    if args.quick:
        args.repeats = min(args.repeats, 50)
    print(f"Keras {keras.__version__}, backend {keras.backend.backend()}")
    for kind in ("default (64-128-128-16)", "seed (784-196-49)"):
        bench(kind, args.repeats)
    conv = {"image_shape": (28, 28), "conv_filters": (32, 64), "hidden_layer_sizes": (128,)}
    repeats = min(args.repeats, 100)
    bench_image_network("conv (28x28x1 -> 32 -> 64 maps, 128 -> 16), NumPy", conv, repeats)
    bench_image_network(
        "the same as a builder (Keras layers), compiled Keras", {"builder": conv_builder}, repeats
    )


if __name__ == "__main__":
    main()
