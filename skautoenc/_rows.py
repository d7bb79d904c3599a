"""Training rows: in memory, or streamed block by block from a memmap or a Dask array.

A fit needs its rows three ways: statistics (mean, scale, bounds, covariance), one
pass per epoch in a fresh random order, and the per-row loss on held-out rows. In
memory, the standardised rows are one float32 array and an epoch is one
permutation of it. A ``numpy.memmap`` or a Dask array larger than one block
(``STREAM_BLOCK_BYTES``), or an array larger than ``STREAMED_ARRAY_BYTES``, is never
copied whole: every pass reads blocks of consecutive rows, and an epoch visits the
blocks in a random order and each block's rows in a random order (as a shuffle
buffer does), so memory stays at a few blocks whatever the size of the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_array

# Float32 bytes of rows per block, for every pass over the data (statistics, epochs):
# large enough that a block is many optimizer steps (its per-call overhead is
# negligible), small enough that the few copies of a block in flight (float64 included)
# stay far below the memory out-of-core users have.
STREAM_BLOCK_BYTES = 32 << 20
# Arrays in memory larger than this (as float32) are streamed from the caller's array
# too: held in memory, a fit needs several float32 copies of the rows (standardised,
# split, shuffled per epoch), several times the data (benchmarks/bench_out_of_core.py).
STREAMED_ARRAY_BYTES = 1 << 30


def is_streamed(X) -> bool:
    """Whether ``X`` is read block by block: a memmap or a Dask array over one block, or
    an array in memory over ``STREAMED_ARRAY_BYTES``."""
    lazy = isinstance(X, np.memmap) or type(X).__module__.startswith("dask.array")
    if not (lazy or isinstance(X, np.ndarray)) or getattr(X, "ndim", None) != 2:
        return False  # anything else goes through scikit-learn's validation
    n_rows, n_features = X.shape
    if np.isnan(n_rows):  # a Dask array with unknown chunk sizes
        raise ValueError(
            "X is a Dask array whose number of rows is unknown (chunks of unknown size). "
            "Call X.compute_chunk_sizes() first."
        )
    size = int(n_rows) * int(n_features) * 4
    return size > (STREAM_BLOCK_BYTES if lazy else STREAMED_ARRAY_BYTES)


def block_rows(n_features: int) -> int:
    return max(1, STREAM_BLOCK_BYTES // (4 * max(int(n_features), 1)))


def _blocks(X):
    """``(start, stop)`` of each block of rows of ``X``."""
    step = block_rows(X.shape[1])
    return [(start, start + step) for start in range(0, X.shape[0], step)]


def standardize(X, mean: np.ndarray, scale: float) -> np.ndarray:
    """``(X - mean) / scale`` as float32, computed in float64 block by block."""
    U = np.empty(X.shape, dtype=np.float32)
    for start, stop in _blocks(X):
        block = np.array(X[start:stop], dtype=np.float64)  # in place from here: one copy
        block -= mean
        block /= scale
        U[start:stop] = block
    return U


@dataclass
class Summary:
    """What a fit needs to know of its rows (``summarize``)."""

    mean: np.ndarray
    scale: float
    # Per column: (minimum, maximum, rows at the minimum, rows at the maximum).
    edges: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None
    # A square root R of the covariance of the standardised rows (X - mean) / scale:
    # R.T @ R is the covariance, and R's SVD gives its spectrum (``_network.spectrum``).
    covariance_root: np.ndarray | None


def summarize(X, *, mean=None, scale=None, edges=False, covariance=False, check=False) -> Summary:
    """The rows' statistics, in two passes at most (each block read once per pass).

    ``mean`` and ``scale`` are computed unless given: column means and one overall
    scale, the root mean variance of the columns. One scale for all columns keeps
    their relative sizes, as PCA sees them, so that the loss stays the reconstruction
    error in the data's units (divided by ``scale ** 2``); constant data get a scale
    of 1. ``edges``: each column's extremes and how many rows take them.
    ``covariance``: that of the standardised rows, in float64, as a square root
    (``Summary.covariance_root``). Rows that fit in one block give their QR factor,
    whose SVD is as accurate as an SVD of the rows: the products ``X.T @ X`` square
    the condition number and lose the small directions' digits (on a table with a
    column that is the sum of others, at ``n_components`` equal to its rank, the
    start's error was thousands of times PCA's). Larger data give the products all
    the same: the QR costs about three times as much, which showed in the fit
    seconds of ``benchmarks/bench_out_of_core.py``, and so many rows per column are
    where scikit-learn's PCA takes the covariance too. ``check``: apply
    scikit-learn's checks of values (numeric, finite) to each block, for rows that
    were not validated whole (streamed).
    """
    n_rows, n_features = X.shape
    known = mean is not None
    blocks = _blocks(X)
    total = np.zeros(n_features)
    low, high = np.full(n_features, np.inf), np.full(n_features, -np.inf)
    if not known or edges or check:
        for start, stop in blocks:
            block = np.asarray(X[start:stop])
            if check:
                block = check_array(block, dtype=[np.float64, np.float32], input_name="X")
            block = np.asarray(block, dtype=np.float64)
            total += block.sum(axis=0)
            if edges:
                low = np.minimum(low, block.min(axis=0))
                high = np.maximum(high, block.max(axis=0))
    if not known:
        mean = total / n_rows
    squares = 0.0
    at_low, at_high = np.zeros(n_features, np.int64), np.zeros(n_features, np.int64)
    one_block = len(blocks) == 1
    root = None
    products = np.zeros((n_features, n_features)) if covariance and not one_block else None
    if not known or edges or covariance:
        for start, stop in blocks:
            block = np.array(X[start:stop], dtype=np.float64)  # a copy: centred in place
            if edges:
                at_low += np.count_nonzero(block == low, axis=0)
                at_high += np.count_nonzero(block == high, axis=0)
            block -= mean
            if not known:
                squares += float(np.einsum("ij,ij->", block, block))
            if covariance and one_block:
                root = np.linalg.qr(block, mode="r")
            elif covariance:
                products += block.T @ block
    if products is not None:  # a square root of the products: R.T @ R == products
        variances, axes = np.linalg.eigh(products)
        root = np.sqrt(np.clip(variances, 0, None))[:, None] * axes.T
    if not known:
        scale = float(np.sqrt(squares / (n_rows * n_features)))
        tiny = 10 * np.finfo(np.float64).eps * max(1.0, float(np.max(np.abs(mean))))
        scale = scale if scale > tiny else 1.0
    return Summary(
        mean=mean,
        scale=scale,
        edges=(low, high, at_low, at_high) if edges else None,
        covariance_root=None if root is None else root / (scale * np.sqrt(max(n_rows - 1, 1))),
    )


class InMemoryRows:
    """Standardised float32 rows held in memory: an epoch is one permutation."""

    def __init__(self, U_train: np.ndarray, U_val: np.ndarray | None):
        self.U_train, self.U_val = U_train, U_val
        self.n_train = U_train.shape[0]
        self.n_validation = None if U_val is None else U_val.shape[0]

    def train_epoch(self, trainer, frame, level, rng):
        """``(mean training loss, per-row validation loss or None)`` after one epoch."""
        order = rng.permutation(self.n_train)
        return trainer.train_epoch(self.U_train[order], frame, level, self.U_val)

    def evaluate(self, trainer, frame) -> np.ndarray:
        return trainer.evaluate(self.U_val, frame)

    def blocks(self):
        """Every row given to ``fit`` (training and held out), standardised, in blocks."""
        yield self.U_train
        if self.U_val is not None:
            yield self.U_val


class StreamedRows:
    """Rows read from ``X`` block by block and standardised on the way.

    Parameters
    ----------
    X : numpy.memmap or dask.array.Array
        The rows, in the data's units.
    mean, scale
        The standardisation.
    validation : ndarray of bool of shape (n_rows,) or None
        Which rows are held out.
    """

    def __init__(self, X, mean, scale, validation: np.ndarray | None):
        self.X, self.mean, self.scale = X, mean, scale
        self.validation = validation
        self.step = block_rows(X.shape[1])
        n_rows = X.shape[0]
        self.starts = range(0, n_rows, self.step)
        held_out = 0 if validation is None else int(np.count_nonzero(validation))
        self.n_train = n_rows - held_out
        self.n_validation = None if validation is None else held_out

    def blocks(self):
        """Every row given to ``fit`` (training and held out), standardised, in blocks."""
        for start in self.starts:
            yield self._block(start, held_out=None)

    def _block(self, start, *, held_out: bool | None) -> np.ndarray:
        """The standardised block at ``start``: its held-out rows (True), its
        training rows (False) or all of them (None)."""
        stop = start + self.step
        block = np.asarray(self.X[start:stop])  # a view of a memmap; Dask computes it
        if self.validation is not None and held_out is not None:
            keep = self.validation[start:stop]
            block = block[keep if held_out else ~keep]
        return standardize(block, self.mean, self.scale)

    def train_epoch(self, trainer, frame, level, rng):
        batch_size = trainer.batch_size
        total, left = 0.0, None
        order = rng.permutation(len(self.starts))
        for index in order:
            U = self._block(self.starts[index], held_out=False)
            U = U[rng.permutation(len(U))]
            if left is not None:
                U = np.concatenate([left, U])
            # Whole batches only, the rest opening the next block: every backend sees
            # the batches of one shuffled pass, of which only the last may be partial.
            whole = len(U) if index == order[-1] else len(U) - len(U) % batch_size
            U, left = U[:whole], U[whole:]
            if len(U):
                total += trainer.train_epoch(U, frame, level)[0] * len(U)
        rows = None if self.validation is None else self.evaluate(trainer, frame)
        return total / max(self.n_train, 1), rows

    def evaluate(self, trainer, frame) -> np.ndarray:
        losses = []
        for start in self.starts:
            U = self._block(start, held_out=True)
            if len(U):
                losses.append(trainer.evaluate(U, frame))
        return np.concatenate(losses) if losses else np.empty(0, np.float32)
