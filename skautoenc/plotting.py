"""Matplotlib figures: reconstructions, 2-D embeddings, training curves, PCA comparison.

matplotlib is imported inside each function (install it with
``pip install skautoenc[plot]``), so ``import skautoenc.plotting`` imports neither
matplotlib nor Keras. No function calls ``plt.show()``: each returns the Axes it
drew on (one Axes, or an array of them for several panels), for you to show, save
or adjust; ``ax.figure`` is their figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.utils.validation import check_array

from ._figures import (
    METRIC_LABELS,
    axes_grid,
    colour_classes,
    embedding_panels,
    first_rows,
    history_of,
    import_matplotlib,
    import_pyplot,
    reconstruct,
    row_label,
)

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["plot_comparison", "plot_embedding", "plot_history", "plot_reconstructions"]


def plot_reconstructions(
    estimator: Any,
    X,
    *,
    image_shape: tuple[int, ...],
    n_images: int = 10,
    X_noisy=None,
    ax: Axes | np.ndarray | None = None,
    cmap: str = "gray",
) -> np.ndarray:
    """Draw images next to their reconstructions (and their denoised versions).

    The grid has one column per image and one row per kind of image:
    ``original``, the reconstruction by each estimator, and, when ``X_noisy`` is
    given, ``noisy`` and each estimator's reconstruction of the noisy images
    (``denoised``). Every image shares one grey scale, so the rows compare.

    Parameters
    ----------
    estimator : fitted estimator or dict of str to fitted estimator
        Anything with ``transform`` and ``inverse_transform`` (an
        :class:`~skautoenc.AutoencoderTransformer`, a ``PCA``, a ``Pipeline`` of
        them). A dict draws one row per estimator, labelled by its key.
    X : array-like of shape (n_samples, n_features)
        Clean images, flattened; the first ``n_images`` are drawn.
    image_shape : tuple of int
        Shape of one image, ``(height, width)`` or ``(height, width, 3 or 4)``;
        its product must equal ``n_features``.
    n_images : int, default=10
        Number of images (columns), at most ``n_samples``.
    X_noisy : array-like of shape (n_samples, n_features), default=None
        Corrupted versions of ``X`` (e.g. :func:`skautoenc.datasets.add_noise`),
        to draw with their denoised reconstructions.
    ax : array of matplotlib Axes, default=None
        Axes to draw on, one per image: ``n_rows x n_images`` of them (any
        shape with that size, read row by row). None creates a new figure.
    cmap : str, default="gray"
        Colormap of single-channel images.

    Returns
    -------
    axes : ndarray of matplotlib Axes of shape (n_rows, n_images)
        The grid drawn on, one row per kind of image; ``axes[0, 0].figure`` is
        its figure.

    Raises
    ------
    ValueError
        If ``image_shape`` does not match the number of features, ``X_noisy``
        does not match ``X``'s shape, or ``ax`` holds the wrong number of Axes.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.decomposition import PCA
    >>> from skautoenc.datasets import add_noise, load_digits_images
    >>> from skautoenc.plotting import plot_reconstructions
    >>> digits = load_digits_images()
    >>> pca = PCA(n_components=8).fit(digits.data)
    >>> axes = plot_reconstructions(pca, digits.data, image_shape=(8, 8), n_images=5,
    ...                             X_noisy=add_noise(digits.data, random_state=0))
    >>> axes.shape, [ax.get_ylabel() for ax in axes[:, 0]]
    ((4, 5), ['original', 'reconstruction', 'noisy', 'denoised'])
    >>> plt.close(axes[0, 0].figure)
    """
    estimators = dict(estimator) if isinstance(estimator, Mapping) else {"": estimator}
    if not estimators:
        raise ValueError("estimator must be a fitted estimator or a non-empty dict of them.")
    X_input, X = X, check_array(X, dtype=[np.float64, np.float32])
    image_shape = tuple(int(size) for size in image_shape)
    if int(np.prod(image_shape)) != X.shape[1] or not 2 <= len(image_shape) <= 3:
        raise ValueError(
            f"image_shape must be (height, width) or (height, width, channels) with "
            f"height * width * channels = n_features = {X.shape[1]}. "
            f"Received: image_shape={image_shape}."
        )
    if not isinstance(n_images, Integral) or n_images < 1:
        raise ValueError(f"n_images must be a positive int. Received: n_images={n_images!r}.")
    n_images = min(int(n_images), X.shape[0])
    X = X[:n_images]

    rows = [("original", X)]
    for name, model in estimators.items():
        reconstruction = reconstruct(model, first_rows(X_input, X, n_images))
        rows.append((row_label("reconstruction", name), reconstruction))
    if X_noisy is not None:
        noisy_input = X_noisy
        X_noisy = check_array(X_noisy, dtype=[np.float64, np.float32], input_name="X_noisy")
        if X_noisy.shape[1] != X.shape[1] or X_noisy.shape[0] < n_images:
            raise ValueError(
                "X_noisy must have X's shape (the same images, corrupted). "
                f"Received X_noisy of shape {X_noisy.shape} for X of shape "
                f"({n_images}, {X.shape[1]}) or more rows."
            )
        X_noisy = X_noisy[:n_images]
        rows.append(("noisy", X_noisy))
        for name, model in estimators.items():
            denoised = reconstruct(model, first_rows(noisy_input, X_noisy, n_images))
            rows.append((row_label("denoised", name), denoised))

    axes = axes_grid(ax, (len(rows), n_images), "rows x images")
    shown = np.concatenate([X.ravel()] + ([] if X_noisy is None else [X_noisy.ravel()]))
    vmin, vmax = float(shown.min()), float(shown.max())
    for row, (label, images) in zip(axes, rows, strict=True):
        for image_ax, image in zip(row, images, strict=True):
            image_ax.imshow(image.reshape(image_shape), cmap=cmap, vmin=vmin, vmax=vmax)
            # Hidden rather than emptied of ticks: constrained layout and drawing
            # skip a hidden axis, and a grid has one pair per image.
            image_ax.xaxis.set_visible(False)
            image_ax.yaxis.set_visible(False)
        row[0].yaxis.set_visible(True)  # for the row's label only
        row[0].set_yticks([])
        row[0].set_ylabel(label, rotation=0, ha="right", va="center")
    return axes


def plot_embedding(
    X,
    y=None,
    *,
    estimator: Any = None,
    pca: bool | Any = False,
    ax: Axes | np.ndarray | None = None,
) -> Axes | np.ndarray:
    """Scatter 2-D codes, coloured by label, optionally next to PCA's.

    Parameters
    ----------
    X : array-like of shape (n_samples, 2) or (n_samples, n_features)
        The 2-D codes to draw, or, with ``estimator``, the data to encode.
    y : array-like of shape (n_samples,), default=None
        Labels or values to colour the points by. Classes (up to 20) get one
        colour each and a legend; continuous values (or more classes) a
        colorbar.
    estimator : fitted estimator, default=None
        Encodes ``X`` with ``transform`` into 2 codes (e.g. an
        :class:`~skautoenc.AutoencoderTransformer` with ``n_components=2``).
    pca : bool or fitted estimator, default=False
        Also draw PCA's 2-D codes of ``X`` on a second Axes, to the right:
        True fits ``PCA(n_components=2)`` on ``X``; a fitted 2-component
        estimator is used as it is. Needs ``estimator`` (``X`` must be the data).
    ax : matplotlib Axes or sequence of 2 Axes, default=None
        Where to draw: one Axes, or two when ``pca`` is set. None creates a new
        figure.

    Returns
    -------
    ax : matplotlib Axes or ndarray of 2 Axes
        The Axes drawn on: one, or, with ``pca``, an array of two (the codes,
        then PCA's).

    Raises
    ------
    ValueError
        If the codes are not 2-D, ``y`` has the wrong length, ``pca`` is set
        without ``estimator``, or ``ax`` holds the wrong number of Axes.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.decomposition import FastICA
    >>> from skautoenc.datasets import load_digits_images
    >>> from skautoenc.plotting import plot_embedding
    >>> X, y = load_digits_images(return_X_y=True)
    >>> ica = FastICA(n_components=2, random_state=0).fit(X)
    >>> axes = plot_embedding(X, y, estimator=ica, pca=True)
    >>> [ax.get_title() for ax in axes]
    ['FastICA codes', 'PCA codes']
    >>> len(axes[1].get_legend().get_texts())
    10
    >>> plt.close(axes[0].figure)
    """
    matplotlib = import_matplotlib()
    panels = embedding_panels(X, estimator, pca)
    codes = panels[0][0]
    if ax is None:
        _, axes = import_pyplot().subplots(
            1, len(panels), figsize=(4.5 * len(panels) + 1.5, 4.5), layout="constrained"
        )
        axes = np.atleast_1d(axes)
    else:
        axes = np.atleast_1d(np.asarray(ax, dtype=object)).ravel()
        if axes.size != len(panels):
            raise ValueError(
                f"ax must hold {len(panels)} Axes (one per embedding drawn). "
                f"Received {axes.size} Axes."
            )

    y, classes = colour_classes(y, codes.shape[0])

    for panel_ax, (panel_codes, title, axis_name) in zip(axes, panels, strict=True):
        if y is None:
            panel_ax.scatter(panel_codes[:, 0], panel_codes[:, 1], s=8, alpha=0.7)
        elif classes is not None:
            colours = matplotlib.colormaps["tab10" if classes.size <= 10 else "tab20"]
            for index, label in enumerate(classes):
                mask = y == label
                panel_ax.scatter(
                    panel_codes[mask, 0],
                    panel_codes[mask, 1],
                    s=8,
                    alpha=0.7,
                    color=colours(index),
                    label=str(label),
                )
        else:
            points = panel_ax.scatter(
                panel_codes[:, 0], panel_codes[:, 1], c=y, s=8, alpha=0.7, cmap="viridis"
            )
        panel_ax.set_title(title)
        panel_ax.set_xlabel(f"{axis_name} 1")
        panel_ax.set_ylabel(f"{axis_name} 2")
    if classes is not None:
        axes[-1].legend(
            title="label",
            loc="center left",
            bbox_to_anchor=(1.02, 0.5),
            markerscale=2,
            frameon=False,
        )
    elif y is not None:
        axes[-1].figure.colorbar(points, ax=list(axes), label="y")
    return axes[0] if len(panels) == 1 else axes


def plot_history(
    estimator_or_history: Any,
    ax: Axes | None = None,
    *,
    label: str | None = None,
) -> Axes:
    """Draw the training and validation loss, epoch by epoch, against the PCA start.

    Parameters
    ----------
    estimator_or_history : fitted estimator, keras History or dict
        A fitted :class:`~skautoenc.AutoencoderTransformer` (its ``history_``),
        any fitted estimator with ``loss_curve_`` (e.g. ``MLPRegressor``), the
        ``History`` that ``keras.Model.fit`` returns, or a dict of lists such as
        ``{"loss": [...], "val_loss": [...]}``.
    ax : matplotlib Axes, default=None
        Axes to draw on; None creates a new figure.
    label : str, default=None
        Prefix of the legend entries, to draw several histories on one Axes.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes drawn on. The training loss (``"loss"``) is solid, the
        validation loss (``"val_loss"``, when there is one) dashed in the same
        colour. For an autoencoder fitted with ``early_stopping=True``, a dotted
        horizontal line labelled ``"PCA (start)"`` marks
        ``pca_validation_loss_``, the held-out loss of the network's PCA start:
        the validation curve must end clearly below it for the trained network
        to be kept (else ``fallback_to_pca_``). Other keys of the history
        (``learning_rate``, metrics) are not drawn. The y axis is logarithmic
        when all values are positive.

    Raises
    ------
    ValueError
        If there is no non-empty ``"loss"`` curve to draw.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from skautoenc.plotting import plot_history
    >>> ax = plot_history({"loss": [0.08, 0.04, 0.03], "val_loss": [0.07, 0.05, 0.04]})
    >>> len(ax.get_lines()), ax.get_xlabel()
    (2, 'epoch')
    >>> [text.get_text() for text in ax.get_legend().get_texts()]
    ['training loss', 'validation loss']
    >>> plt.close(ax.figure)

    An autoencoder's history, with the held-out loss of its PCA start:

    >>> from skautoenc import AutoencoderTransformer
    >>> from skautoenc.datasets import load_digits_images
    >>> X = load_digits_images().data
    >>> ax = plot_history(AutoencoderTransformer(8, epochs=5, random_state=0).fit(X))
    >>> [text.get_text() for text in ax.get_legend().get_texts()]
    ['training loss', 'validation loss', 'PCA (start)']
    >>> ax.get_ylabel()
    'loss (mse on standardised data)'
    >>> plt.close(ax.figure)
    """
    history, loss_name, reference = history_of(estimator_or_history)
    if not history.get("loss"):
        raise ValueError(
            "plot_history needs a non-empty 'loss' curve. Received a history with keys "
            f"{sorted(history)} (an AutoencoderTransformer fitted on too few rows to "
            "hold any out keeps PCA without training: its curves are empty)."
        )
    if ax is None:
        _, ax = import_pyplot().subplots(figsize=(6, 4), layout="constrained")
    prefix = f"{label}: " if label else ""
    values = np.asarray(history["loss"], dtype=float)
    epochs = np.arange(1, values.size + 1)
    (training,) = ax.plot(epochs, values, label=prefix + "training loss")
    colour = training.get_color()
    drawn = [values]
    validation = np.asarray(history.get("val_loss") or [], dtype=float)
    if validation.size:
        epochs = np.arange(1, validation.size + 1)
        ax.plot(epochs, validation, linestyle="--", color=colour, label=prefix + "validation loss")
        drawn.append(validation)
    if reference is not None:
        ax.axhline(
            reference, linestyle=":", linewidth=1.5, color=colour, label=prefix + "PCA (start)"
        )
        drawn.append(np.array([reference]))
    if all(np.all(part > 0) for part in drawn):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"loss ({loss_name})" if loss_name else "loss")
    ax.set_title("Training history")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    return ax


def plot_comparison(
    table: pd.DataFrame,
    ax: Axes | None = None,
    *,
    metric: str = "mse",
) -> Axes:
    """Draw a metric of :func:`~skautoenc.compare_with_pca`'s table against n_components.

    One line per method, with the bottleneck sizes on a logarithmic x axis
    (base 2), each size as a tick.

    Parameters
    ----------
    table : pandas.DataFrame
        The output of :func:`~skautoenc.compare_with_pca`, or any frame with
        ``method``, ``n_components`` and ``metric`` columns.
    ax : matplotlib Axes, default=None
        Axes to draw on; None creates a new figure.
    metric : str, default="mse"
        The column to draw: ``"mse"``, ``"r2"``, ``"fit_seconds"``,
        ``"transform_ms_per_1000"`` or any other numeric column.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes drawn on.

    Raises
    ------
    ValueError
        If the table is empty or lacks a needed column.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> from skautoenc.plotting import plot_comparison
    >>> table = pd.DataFrame({"method": ["PCA", "AE", "PCA", "AE"],
    ...                       "n_components": [2, 2, 8, 8],
    ...                       "mse": [0.054, 0.035, 0.025, 0.012]})
    >>> ax = plot_comparison(table)
    >>> len(ax.get_lines()), [t.get_text() for t in ax.get_legend().get_texts()]
    (2, ['PCA', 'AE'])
    >>> [float(tick) for tick in ax.get_xticks()]
    [2.0, 8.0]
    >>> plt.close(ax.figure)
    """
    missing = [c for c in ("method", "n_components", metric) if c not in table.columns]
    if missing:
        raise ValueError(
            "table must have the columns 'method', 'n_components' and the metric "
            f"{metric!r} (see compare_with_pca). Missing: {missing}; "
            f"received columns {list(table.columns)}."
        )
    if len(table) == 0:
        raise ValueError("table is empty: nothing to plot.")
    if ax is None:
        _, ax = import_pyplot().subplots(figsize=(6, 4), layout="constrained")
    for method, rows in table.groupby("method", sort=False):
        rows = rows.sort_values("n_components")
        ax.plot(rows["n_components"], rows[metric], marker="o", label=str(method))
    sizes = np.unique(table["n_components"].to_numpy())
    if sizes.min() > 0:
        ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, labels=[str(k) for k in sizes])
    ax.set_xticks([], minor=True)
    ax.set_xlabel("n_components (bottleneck size)")
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    name = METRIC_LABELS.get(metric, metric).split(" (")[0]
    ax.set_title(f"{name[:1].upper()}{name[1:]} by bottleneck size")
    ax.grid(True, alpha=0.3)
    ax.legend(title="method")
    return ax
