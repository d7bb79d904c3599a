"""Autoencoder against PCA, side by side, as a pandas DataFrame."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from numbers import Integral
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_array

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["compare_with_pca", "default_n_components"]

COLUMNS = ["method", "n_components", "mse", "r2", "fit_seconds", "transform_ms_per_1000"]
# The bottleneck sizes compared by default, those below the number of features.
DEFAULT_SIZES = (2, 4, 8, 16)


def default_n_components(n_features: int, n_samples: int | None = None) -> list[int]:
    """The bottleneck sizes compared when none are given.

    The powers of two 2, 4, 8 and 16 that are smaller than ``n_features`` (a
    bottleneck as wide as the data reconstructs it exactly) and, when
    ``n_samples`` is given, at most ``n_samples`` (PCA has at most as many
    components as training rows). When none of them fits, the one size
    ``min(n_features - 1, n_samples)``, at least 1.

    ``compare_with_pca`` and ``python -m skautoenc`` use this rule.

    Parameters
    ----------
    n_features : int
        Number of columns of the data.
    n_samples : int, default=None
        Number of training rows; None does not limit the sizes.

    Returns
    -------
    sizes : list of int
        Increasing bottleneck sizes, at least one.

    Examples
    --------
    >>> from skautoenc.compare import default_n_components
    >>> default_n_components(64), default_n_components(13), default_n_components(5)
    ([2, 4, 8, 16], [2, 4, 8], [2, 4])
    >>> default_n_components(2), default_n_components(64, n_samples=3)
    ([1], [2])
    """
    limit = np.inf if n_samples is None else n_samples
    sizes = [k for k in DEFAULT_SIZES if k < n_features and k <= limit]
    return sizes or [int(max(1, min(n_features - 1, limit)))]


def compare_with_pca(
    X,
    n_components: int | Iterable[int] | None = None,
    *,
    X_test=None,
    estimator=None,
    test_size: float = 0.25,
    random_state=None,
    progress: Callable[[str], None] | None = None,
    return_estimators: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, dict[tuple[str, int], Any]]:
    """Fit PCA and an autoencoder at each bottleneck size and compare them.

    Parameters
    ----------
    X : array-like or DataFrame of shape (n_samples, n_features)
        Training data (all numeric), in its own units: like PCA, the default
        autoencoder centres and scales the data itself, so no scaler is needed,
        and both are measured in the data's units. (Standardise the columns
        first only when their units are not comparable, as for PCA.)
    n_components : int or iterable of int, default=None
        Bottleneck sizes to compare, each between 1 and the number of features
        (repeats are dropped). None picks them from the data with
        ``skautoenc.compare.default_n_components``: the powers of two 2, 4, 8
        and 16 below the number of features (and at most the number of training
        rows), or one size, ``n_features - 1`` (at least 1), when none is.
    X_test : array-like or DataFrame, default=None
        Held-out data to score on. When None, ``test_size`` of ``X`` is held out.
    estimator : estimator, default=None
        The model compared with PCA: anything with ``fit``, ``transform``,
        ``inverse_transform`` and an ``n_components`` parameter. It is cloned
        for each size. Defaults to ``AutoencoderTransformer(random_state=...)``.
        Its rows are labelled with its class name (``"... (estimator)"`` when
        that name is ``"PCA"``, to keep the rows apart).
    test_size : float, default=0.25
        Fraction of ``X`` held out when ``X_test`` is None.
    random_state : int, RandomState instance or None, default=None
        Seeds the split and the default autoencoder.
    progress : callable, default=None
        Called with a short message before each fit (e.g. ``print``).
    return_estimators : bool, default=False
        Also return the fitted models, to reuse them (plots, ``transform``)
        without fitting again.

    Returns
    -------
    table : pandas.DataFrame
        One row per (method, n_components), with the held-out reconstruction
        ``mse``, ``r2`` (the share of the held-out variance the reconstruction
        explains, like PCA's explained variance), ``fit_seconds`` and
        ``transform_ms_per_1000`` (milliseconds to transform 1,000 rows, the
        best of five timings).
    estimators : dict of (str, int) to estimator
        Only when ``return_estimators=True``: the fitted model of each row,
        keyed by ``(method, n_components)``.

    Examples
    --------
    >>> from skautoenc import AutoencoderTransformer, compare_with_pca
    >>> from sklearn.datasets import load_digits
    >>> X = load_digits().data[:300]  # pixels 0..16, as given
    >>> table = compare_with_pca(
    ...     X, [2, 4], estimator=AutoencoderTransformer(epochs=2), random_state=0)
    >>> table[["method", "n_components"]].values.tolist()
    [['PCA', 2], ['AutoencoderTransformer', 2], ['PCA', 4], ['AutoencoderTransformer', 4]]

    Without ``n_components``, the sizes follow the data's width (13 columns here,
    in their own units):

    >>> from sklearn.datasets import load_wine
    >>> wine = load_wine().data
    >>> table = compare_with_pca(wine, estimator=AutoencoderTransformer(epochs=2), random_state=0)
    >>> table["n_components"].unique().tolist()
    [2, 4, 8]

    Keep the fitted models to reuse them:

    >>> table, fitted = compare_with_pca(
    ...     X, 2, estimator=AutoencoderTransformer(epochs=2), random_state=0,
    ...     return_estimators=True)
    >>> sorted(fitted)
    [('AutoencoderTransformer', 2), ('PCA', 2)]
    """
    import pandas as pd

    sizes = None
    if n_components is not None:
        sizes = [n_components] if isinstance(n_components, Integral) else list(n_components)
        if not sizes or not all(
            isinstance(k, Integral) and not isinstance(k, bool) and k >= 1 for k in sizes
        ):
            raise ValueError(
                "n_components must be a positive int, a non-empty list of positive ints "
                f"or None. Received: {n_components!r}."
            )
        sizes = list(dict.fromkeys(int(k) for k in sizes))  # in order, without repeats
    if X_test is None:
        X_train, X_test = train_test_split(X, test_size=test_size, random_state=random_state)
    else:
        X_train = X
    truth = check_array(X_test, dtype=np.float64, input_name="X_test")
    if sizes is None:
        sizes = default_n_components(truth.shape[1], n_samples=len(X_train))
    elif max(sizes) > truth.shape[1]:
        raise ValueError(
            f"n_components must be between 1 and n_features={truth.shape[1]}. "
            f"Received: {n_components!r}."
        )
    if estimator is None:
        from ._autoencoder import AutoencoderTransformer

        estimator = AutoencoderTransformer(random_state=random_state)
    variance = np.sum((truth - truth.mean(axis=0)) ** 2)
    name = type(estimator).__name__
    if name == "PCA":
        name = "PCA (estimator)"

    rows = []
    fitted = {}
    for k in sizes:
        for method, model in (
            ("PCA", PCA(n_components=k)),
            (name, clone(estimator).set_params(n_components=k)),
        ):
            if progress is not None:
                progress(f"fitting {type(model).__name__}(n_components={k})")
            start = time.perf_counter()
            model.fit(X_train)
            fit_seconds = time.perf_counter() - start
            timings = []
            for _ in range(5):
                start = time.perf_counter()
                codes = model.transform(X_test)
                timings.append(time.perf_counter() - start)
            # The best of 5, as timeit reports: slower runs measure the machine's load.
            transform_ms = min(timings) * 1e3 * 1000 / len(truth)
            reconstruction = np.asarray(model.inverse_transform(codes), dtype=np.float64)
            squared_error = np.sum((truth - reconstruction) ** 2)
            fitted[method, k] = model
            rows.append(
                (
                    method,
                    k,
                    squared_error / truth.size,
                    1.0 - squared_error / variance if variance > 0 else np.nan,
                    fit_seconds,
                    transform_ms,
                )
            )
    table = pd.DataFrame(rows, columns=COLUMNS)
    if return_estimators:
        return table, fitted
    return table
