"""Command line: ``python -m skautoenc demo`` and ``python -m skautoenc compare FILE``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m skautoenc",
        description="Autoencoders as scikit-learn transformers, compared with PCA.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="compare the autoencoder with PCA on the bundled 8x8 digits",
        description=(
            "Fit PCA and AutoencoderTransformer on scikit-learn's digits (scaled to "
            "[0, 1], 25%% held out) at each bottleneck size and print the held-out "
            "reconstruction error side by side."
        ),
    )
    _add_common_options(demo)

    compare = commands.add_parser(
        "compare",
        help="compare the autoencoder with PCA on your own .csv or .npy file",
        description=(
            "Like demo, on a file of numeric columns: a .csv with a header row, or "
            "a 2-D .npy array. Columns are scaled to [0, 1] with MinMaxScaler."
        ),
    )
    compare.add_argument("data", help="path to a .csv (header row, numeric columns) or .npy file")
    _add_common_options(compare)
    return parser


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--components",
        type=int,
        nargs="+",
        default=[2, 4, 8, 16],
        metavar="K",
        help="bottleneck sizes to compare (default: 2 4 8 16)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="maximum epochs per autoencoder fit (default: the estimator's default)",
    )
    parser.add_argument("--random-state", type=int, default=0, help="seed (default: 0)")


def _read_table(path: str):
    import numpy as np
    import pandas as pd

    if path.endswith(".npy"):
        data = np.load(path, allow_pickle=False)
        if data.ndim != 2:
            raise ValueError(f"{path}: expected a 2-D array. Received shape {data.shape}.")
        return pd.DataFrame(data)
    if path.endswith(".csv"):
        frame = pd.read_csv(path)
        non_numeric = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
        if non_numeric:
            raise ValueError(
                f"{path}: every column must be numeric. Received non-numeric columns: "
                f"{non_numeric}."
            )
        return frame
    raise ValueError(f"Expected a .csv or .npy file. Received: {path!r}.")


def run(args: argparse.Namespace) -> int:
    """Run a parsed command; return the exit status."""
    import pandas as pd
    from sklearn.preprocessing import MinMaxScaler

    from ._autoencoder import AutoencoderTransformer
    from .compare import compare_with_pca
    from .datasets import load_digits_images

    if args.command == "demo":
        X, source = load_digits_images().data, "scikit-learn digits (1797 x 64, bundled)"
    else:
        frame = _read_table(args.data)
        X = MinMaxScaler().fit_transform(frame).astype("float32")
        source = f"{args.data} ({X.shape[0]} x {X.shape[1]}, scaled to [0, 1])"

    estimator = AutoencoderTransformer(random_state=args.random_state)
    if args.epochs is not None:
        estimator.set_params(epochs=args.epochs)
    total = 2 * len(args.components)
    done = iter(range(1, total + 1))
    print(f"Data: {source}; 25% held out.", flush=True)
    table = compare_with_pca(
        X,
        args.components,
        estimator=estimator,
        random_state=args.random_state,
        progress=lambda message: print(f"[{next(done)}/{total}] {message}", flush=True),
    )
    wide = table.pivot(index="n_components", columns="method", values="mse")
    wide["ratio (AE / PCA)"] = wide["AutoencoderTransformer"] / wide["PCA"]
    with pd.option_context("display.float_format", "{:.4f}".format):
        print("\nHeld-out reconstruction MSE (lower is better):")
        print(wide[["PCA", "AutoencoderTransformer", "ratio (AE / PCA)"]].to_string())
        print("\nAll measurements:")
        print(table.to_string(index=False))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m skautoenc``."""
    args = _parser().parse_args(argv)
    try:
        return run(args)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
