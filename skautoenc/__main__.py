"""Command line: ``python -m skautoenc demo`` and ``python -m skautoenc compare FILE``."""

from __future__ import annotations

import argparse
import atexit
import gc
import os
import shlex
import sys
import time
from collections.abc import Sequence

DEMO_OUT = "skautoenc-demo"
DEMO_DATA = (
    "scikit-learn digits (1797 x 64, bundled; pixel values 0..16 divided by 16, "
    "so in [0, 1] like the noise below)"
)
COMPONENTS_HELP = (
    "bottleneck sizes to compare (default: the powers of two 2 4 8 16 below the "
    "number of columns, at most the number of training rows; 1 for 1 or 2 columns)"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m skautoenc",
        description="Autoencoders as scikit-learn transformers, compared with PCA.",
        epilog=(
            "Run 'python -m skautoenc COMMAND --help' for a command's options. "
            "Exit status: 0 on success, 2 on bad input (a message says why)."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="compare the autoencoder with PCA on the bundled 8x8 digits, with figures",
        description=(
            "Fit PCA and AutoencoderTransformer on scikit-learn's digits (pixel values "
            "0..16 divided by 16, so in [0, 1]; 25% held out) at each bottleneck size, "
            "print the held-out reconstruction error side by side, and write PNG "
            "figures to --out: comparison.png (error against the number of "
            "components), reconstructions.png (held-out digits, PCA's and the "
            "autoencoder's reconstructions), denoising.png (a denoising autoencoder, "
            "trained with Gaussian noise of standard deviation 0.2, against PCA on "
            "digits with that noise clipped to [0, 1]), embedding.png (2-D codes next "
            "to PCA's) and history.png (training and validation loss by epoch, with "
            "the held-out loss of the PCA start). Takes 15 to 50 seconds on 2 CPU "
            "cores."
        ),
    )
    _add_common_options(demo)
    demo.add_argument(
        "--out",
        default=DEMO_OUT,
        metavar="DIR",
        help=f"folder for the figures, created if needed (default: ./{DEMO_OUT}/)",
    )

    compare = commands.add_parser(
        "compare",
        help="compare the autoencoder with PCA on your own .csv or .npy file",
        description=(
            "Like demo, on a file of numeric columns: a .csv with a header row, or "
            "a 2-D .npy array. The data are compared as given, not rescaled: like "
            "PCA, the autoencoder centres and scales them itself, and the errors are "
            "in the data's units (standardise the columns first only if their units "
            "are not comparable, as for PCA). 25% of the rows are held out to "
            "measure the reconstruction error."
        ),
    )
    compare.add_argument("data", help="path to a .csv (header row, numeric columns) or .npy file")
    compare.add_argument(
        "--drop",
        nargs="+",
        default=[],
        metavar="COLUMN",
        help="columns of the .csv to leave out, by header name: labels, identifiers, text",
    )
    compare.add_argument(
        "--dropna",
        action="store_true",
        help="leave out the rows with a missing or infinite value (default: refuse them)",
    )
    _add_common_options(compare)
    compare.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="also write the comparison figure, comparison.png, to this folder",
    )
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--components",
        type=_positive_int,
        nargs="+",
        default=None,
        metavar="K",
        help=COMPONENTS_HELP,
    )
    parser.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        metavar="N",
        help="maximum epochs per autoencoder fit (default: the estimator's default, "
        "stopping earlier when the loss plateaus)",
    )
    parser.add_argument(
        "--random-state", type=int, default=0, metavar="SEED", help="seed (default: 0)"
    )


def _read_table(path: str, drop: list[str], dropna: bool):
    """The file's numeric table as float64 rows, and the number of rows ``dropna``
    left out."""
    import numpy as np
    import pandas as pd

    if drop and not path.endswith(".csv"):
        raise ValueError(
            f"--drop names columns of a .csv by their header. Received {drop} for {path!r}."
        )
    if path.endswith(".npy"):
        data = np.load(path, allow_pickle=False)
        if data.ndim != 2:
            raise ValueError(f"{path}: expected a 2-D array. Received shape {data.shape}.")
        if not (np.issubdtype(data.dtype, np.number) or data.dtype == bool):
            raise ValueError(f"{path}: expected a numeric array. Received dtype {data.dtype}.")
        frame = pd.DataFrame(data)
    elif path.endswith(".csv"):
        frame = pd.read_csv(path)
        unknown = [c for c in drop if c not in frame.columns]
        if unknown:
            raise ValueError(
                f"{path}: --drop names columns that the file does not have: {unknown}. "
                f"Its columns: {list(frame.columns)}."
            )
        frame = frame.drop(columns=drop)
        non_numeric = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
        if non_numeric:
            raise ValueError(
                f"{path}: every column must be numeric. Received non-numeric columns: "
                f"{non_numeric}. Leave out labels and identifiers with --drop "
                f"{shlex.join(map(str, non_numeric))}."
            )
    else:
        raise ValueError(f"Expected a .csv or .npy file. Received: {path!r}.")
    X = frame.to_numpy(dtype=np.float64)
    finite = np.isfinite(X)
    complete = finite.all(axis=1)
    incomplete = int(np.count_nonzero(~complete))
    if incomplete and not dropna:
        columns = [str(c) for c in frame.columns[~finite.all(axis=0)]]
        raise ValueError(
            f"{path}: {incomplete} of {len(frame)} rows {'has' if incomplete == 1 else 'have'} "
            f"missing or infinite values (in columns {columns}). Leave them out with --dropna, or "
            "fill them first (e.g. sklearn.impute.SimpleImputer)."
        )
    X = X[complete]
    if X.shape[0] < 4 or X.shape[1] < 1:
        raise ValueError(
            f"{path}: expected at least 4 complete rows and 1 column. Received shape {X.shape}."
        )
    return X, incomplete


class _Progress:
    """Prints ``[i/n] elapsed  message`` before each fit."""

    def __init__(self, total: int):
        self.total, self.done, self.start = total, 0, time.perf_counter()

    def __call__(self, message: str) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.start
        print(f"[{self.done}/{self.total}] {elapsed:5.1f} s  {message}", flush=True)


def run(args: argparse.Namespace) -> int:
    """Run a parsed command; return the exit status."""
    import pandas as pd
    from sklearn.model_selection import train_test_split

    from ._autoencoder import AutoencoderTransformer
    from .compare import compare_with_pca, default_n_components
    from .datasets import load_digits_images

    demo = args.command == "demo"
    if demo:
        X, y = load_digits_images(return_X_y=True)
        source = DEMO_DATA
    else:
        X, incomplete = _read_table(args.data, args.drop, args.dropna)
        y = None
        source = f"{args.data} ({X.shape[0]} x {X.shape[1]}, as given: not rescaled)"
        if args.drop:
            source += f"; left out: {', '.join(args.drop)}"
        if incomplete:
            rows = "row" if incomplete == 1 else "rows"
            source += f"; left out {incomplete} {rows} with missing values"
    if y is None:
        X_train, X_test = train_test_split(X, test_size=0.25, random_state=args.random_state)
        y_test = None
    else:
        X_train, X_test, _, y_test = train_test_split(
            X, y, test_size=0.25, random_state=args.random_state
        )
    if args.components is None:
        components = default_n_components(X.shape[1], n_samples=X_train.shape[0])
    else:
        components = list(dict.fromkeys(args.components))
        if max(components) > X.shape[1]:
            raise ValueError(
                f"--components must be at most the number of features, {X.shape[1]}. "
                f"Received: {components}."
            )

    figures = args.out is not None
    if figures and not _has_matplotlib():
        print(
            "matplotlib is not installed: no figures (pip install 'skautoenc[plot]').",
            file=sys.stderr,
        )
        figures = False
    # The demo's figures need two more fits: a denoising autoencoder, and a 2-D
    # one for the embedding unless --components includes 2.
    extra_fits = (1 + (2 not in components)) if demo and figures else 0
    progress = _Progress(2 * len(components) + extra_fits)

    estimator = AutoencoderTransformer(random_state=args.random_state)
    if args.epochs is not None:
        estimator.set_params(epochs=args.epochs)
    print(f"Data: {source}; 25% held out.", flush=True)
    chosen = "chosen from the data's width" if args.components is None else "as asked"
    print(f"Bottleneck sizes: {' '.join(map(str, components))} ({chosen}).", flush=True)
    from ._keras import import_keras

    import_keras()  # once, here, so that no fit_seconds below includes the import
    table, fitted = compare_with_pca(
        X_train,
        components,
        X_test=X_test,
        estimator=estimator,
        progress=progress,
        return_estimators=True,
    )
    wide = table.pivot(index="n_components", columns="method", values="mse")
    wide["ratio (AE / PCA)"] = wide["AutoencoderTransformer"] / wide["PCA"]
    with pd.option_context("display.float_format", "{:.4g}".format):
        print("\nHeld-out reconstruction MSE (lower is better):")
        print(wide[["PCA", "AutoencoderTransformer", "ratio (AE / PCA)"]].to_string())
        print("\nAll measurements:")
        print(table.to_string(index=False))
    kept_pca = [k for k in components if fitted["AutoencoderTransformer", k].fallback_to_pca_]
    if kept_pca:
        print(
            "\nAt n_components="
            + ", ".join(str(k) for k in kept_pca)
            + " the trained network did not beat its PCA start on the rows held out "
            "during fitting: the autoencoder is PCA there (fallback_to_pca_)."
        )

    if figures:
        from ._cli_figures import comparison_figure, demo_figures, save

        os.makedirs(args.out, exist_ok=True)
        written = [save(comparison_figure(table), args.out, "comparison.png")]
        if demo:
            written += demo_figures(
                args, fitted, estimator, components, X_train, X_test, y_test, progress
            )
        print(f"\nFigures written to {os.path.abspath(args.out)}{os.sep}:")
        for path in written:
            print(f"  {path}")
    return 0


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m skautoenc``.

    Parameters
    ----------
    argv : sequence of str, default=None
        The arguments, without the program name; None reads ``sys.argv``.

    Returns
    -------
    status : int
        0 on success, 2 when the input is unusable (the reason goes to stderr).
        ``--help`` and argument errors exit through ``SystemExit`` (0 and 2).

    Examples
    --------
    >>> from skautoenc.__main__ import main
    >>> main(["compare", "no-such-file.txt"])
    2
    """
    args = _parser().parse_args(argv)
    _skip_the_last_collection()
    try:
        return run(args)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _skip_the_last_collection() -> None:
    """Leave the objects still alive at exit to the operating system.

    Before the interpreter exits, CPython collects cyclic garbage among every object
    still alive, several times as modules are torn down; once TensorFlow is imported
    that is most of the time the command takes to exit (``benchmarks/bench_exit.py``).
    ``gc.freeze`` at exit (after the command's files are written and closed) exempts
    those objects: what ``__del__`` methods would run is what Python already does not
    promise at exit. Registered once however often ``main`` is called.
    """
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)


if __name__ == "__main__":
    sys.exit(main())
