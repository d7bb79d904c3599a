"""Helpers of ``skautoenc.plotting``: importing matplotlib lazily, Axes grids,
and reading what the plotting functions are given."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_array, check_is_fitted

# Most classes drawn one colour each, with a legend; more (or continuous y) get a colorbar.
MAX_LEGEND_CLASSES = 20
# The axis label of each column plot_comparison can draw.
METRIC_LABELS = {
    "mse": "held-out reconstruction MSE (lower is better)",
    "r2": "held-out R² (higher is better)",
    "fit_seconds": "fit time (s)",
    "transform_ms_per_1000": "transform time per 1,000 rows (ms)",
}


def import_matplotlib():
    try:
        import matplotlib
    except ImportError as error:
        raise ImportError(
            "skautoenc.plotting needs matplotlib: pip install 'skautoenc[plot]' "
            "(or pip install matplotlib)."
        ) from error
    return matplotlib


def import_pyplot():
    """pyplot, imported only to create a new figure (drawing on given Axes does not need it)."""
    import_matplotlib()
    import matplotlib.pyplot as plt

    return plt


def axes_grid(ax, shape: tuple[int, int], what: str) -> np.ndarray:
    """Return ``ax`` as an array of Axes of ``shape``, or a new figure's grid when None."""
    if ax is None:
        plt = import_pyplot()
        n_rows, n_cols = shape
        _, axes = plt.subplots(
            n_rows,
            n_cols,
            figsize=(1.0 + 0.9 * n_cols, 0.3 + 0.95 * n_rows),
            squeeze=False,
            layout="constrained",
        )
        return axes
    axes = np.asarray(ax, dtype=object)
    if axes.size != shape[0] * shape[1]:
        raise ValueError(
            f"ax must hold {shape[0] * shape[1]} Axes ({what}: {shape[0]} x {shape[1]}). "
            f"Received {axes.size} Axes."
        )
    return axes.reshape(shape)


def reconstruct(estimator, X) -> np.ndarray:
    return np.asarray(estimator.inverse_transform(estimator.transform(X)))


def first_rows(data, array: np.ndarray, n: int):
    """The first ``n`` rows, as a DataFrame when ``data`` is one (keeps feature names)."""
    return data.iloc[:n] if hasattr(data, "iloc") else array[:n]


def row_label(kind: str, name: str) -> str:
    return f"{kind}\n{name}" if name else kind


def history_of(source) -> tuple[dict, str | None, float | None]:
    """``(history dict, loss name, PCA start's held-out loss)`` of what plot_history takes."""
    if isinstance(source, Mapping):
        return dict(source), None, None
    if hasattr(source, "fit") and hasattr(source, "get_params"):
        check_is_fitted(source)
        loss = getattr(source, "loss", None)
        loss = loss if isinstance(loss, str) else None
        if isinstance(getattr(source, "history_", None), Mapping):
            reference = getattr(source, "pca_validation_loss_", None)
            if loss is not None and hasattr(source, "scale_") and loss != "binary_crossentropy":
                loss = f"{loss} on standardised data"  # (X - mean_) / scale_
            return dict(source.history_), loss, reference
        if getattr(source, "loss_curve_", None) is not None:
            return {"loss": list(source.loss_curve_)}, loss, None
        raise ValueError(
            f"{type(source).__name__} keeps no training history (no history_ or loss_curve_)."
        )
    if isinstance(getattr(source, "history", None), Mapping):  # keras.callbacks.History
        return dict(source.history), None, None
    raise TypeError(
        "plot_history takes a fitted estimator, a keras History or a dict of loss "
        f"curves. Received: {type(source).__name__}."
    )


def colour_classes(y, n_rows: int):
    """``(y, classes)``: the labels to colour by, and the classes to put in a legend
    (None: no labels, continuous labels, or too many classes for a legend)."""
    if y is None:
        return None, None
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n_rows:
        raise ValueError(
            f"y must be 1-D with one label per sample ({n_rows}). Received y of shape {y.shape}."
        )
    if type_of_target(y) == "continuous":
        return y, None
    classes = np.unique(y)
    if classes.size <= MAX_LEGEND_CLASSES:
        return y, classes
    if not np.issubdtype(y.dtype, np.number):
        y = np.unique(y, return_inverse=True)[1]
    return y, None


def embedding_panels(X, estimator, pca) -> list:
    """``(codes, title, axis name)`` of each panel plot_embedding draws, all 2-D."""
    panels = []
    if estimator is None:
        if pca is not False:
            raise ValueError(
                "pca needs the data, not codes: pass estimator= (the fitted encoder) "
                "and X as the data it encodes."
            )
        codes = check_array(X, input_name="X")
        panels.append((codes, "codes", "code"))
    else:
        codes = check_array(estimator.transform(X), input_name="codes")
        panels.append((codes, f"{type(estimator).__name__} codes", "code"))
        if pca is not False:
            if pca is True:
                from sklearn.decomposition import PCA

                pca = PCA(n_components=2).fit(X)
            panels.append((check_array(pca.transform(X), input_name="codes"), "PCA codes", "PC"))
    for panel_codes, title, _ in panels:
        if panel_codes.shape[1] != 2:
            raise ValueError(
                f"plot_embedding draws 2-D codes; {title} have n_components="
                f"{panel_codes.shape[1]}. Fit the encoder with n_components=2."
            )
    return panels
