"""The figures of ``python -m skautoenc``: the comparison's, and the demo's five."""

from __future__ import annotations

import os

NOISE_LEVEL = 0.2  # the seed notebook's Gaussian noise, clipped to [0, 1]


def new_figure(width: float, height: float, *, image_grid: bool = False):
    """A matplotlib Figure of this size in inches, laid out for plots or for a grid
    of images."""
    # A bare Figure, not pyplot: no GUI backend, nothing left open, whatever
    # MPLBACKEND says. Grids of images get fixed margins instead of constrained
    # layout, which measures each of their dozens of Axes and draws the figure
    # twice to place them.
    from matplotlib.figure import Figure

    if not image_grid:
        return Figure(figsize=(width, height), layout="constrained")
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(**_IMAGE_GRID_MARGINS)
    return fig


# Room on the left for the rows' labels and at the top for the title.
_IMAGE_GRID_MARGINS = dict(left=0.16, right=0.99, bottom=0.01, top=0.88, wspace=0.05, hspace=0.08)


def save(fig, folder: str, name: str) -> str:
    """Write ``fig`` as ``folder/name``; return that path."""
    path = os.path.join(folder, name)
    fig.savefig(path, dpi=110)
    return path


def comparison_figure(table):
    """``plot_comparison`` of ``compare_with_pca``'s table, on a figure of its own."""
    from .plotting import plot_comparison

    fig = new_figure(6.4, 4.2)
    plot_comparison(table, ax=fig.subplots())
    return fig


def demo_figures(args, fitted, estimator, components, X_train, X_test, y_test, progress):
    """Write the demo's figures, reusing the models compare_with_pca fitted."""
    from sklearn.base import clone
    from sklearn.decomposition import PCA

    from .datasets import add_noise
    from .plotting import plot_embedding, plot_history, plot_reconstructions

    shape = (8, 8)
    k = sorted(components)[len(components) // 2]  # a middle size: 8 of 2 4 8 16
    ae, pca = fitted["AutoencoderTransformer", k], fitted["PCA", k]
    written = []

    fig = new_figure(10.5, 3.6, image_grid=True)
    plot_reconstructions(
        {f"PCA (k={k})": pca, f"autoencoder (k={k})": ae},
        X_test,
        image_shape=shape,
        ax=fig.subplots(3, 10),
    )
    fig.suptitle(f"Held-out digits and their reconstructions from {k} components")
    written.append(save(fig, args.out, "reconstructions.png"))

    progress(
        f"fitting a denoising AutoencoderTransformer(n_components={k}, "
        f"noise='gaussian', noise_level={NOISE_LEVEL})"
    )
    denoiser = clone(estimator).set_params(
        n_components=k, noise="gaussian", noise_level=NOISE_LEVEL
    )
    denoiser.fit(X_train)
    X_noisy = add_noise(X_test, "gaussian", NOISE_LEVEL, random_state=args.random_state)
    fig = new_figure(10.5, 6.6, image_grid=True)
    plot_reconstructions(
        {f"PCA (k={k})": pca, f"denoising AE (k={k})": denoiser},
        X_test,
        image_shape=shape,
        X_noisy=X_noisy,
        ax=fig.subplots(6, 10),
    )
    fig.suptitle(
        f"Denoising: Gaussian noise, $\\sigma$={NOISE_LEVEL}, clipped to [0, 1]; "
        "the denoising autoencoder was trained with the same noise"
    )
    written.append(save(fig, args.out, "denoising.png"))
    print(f"\nDenoising (Gaussian noise, sigma={NOISE_LEVEL}), held-out MSE to the clean digits:")
    for name, X_clean in (
        ("noisy input", X_noisy),
        (f"PCA (k={k})", pca.inverse_transform(pca.transform(X_noisy))),
        (f"autoencoder (k={k})", ae.denoise(X_noisy)),
        (f"denoising autoencoder (k={k})", denoiser.denoise(X_noisy)),
    ):
        print(f"  {name:32s} {float(((X_clean - X_test) ** 2).mean()):.4f}")

    if 2 in components:
        ae2, pca2 = fitted["AutoencoderTransformer", 2], fitted["PCA", 2]
    else:
        progress("fitting AutoencoderTransformer(n_components=2) for the embedding")
        ae2 = clone(estimator).set_params(n_components=2).fit(X_train)
        pca2 = PCA(n_components=2).fit(X_train)
    fig = new_figure(11, 4.8)
    plot_embedding(X_test, y_test, estimator=ae2, pca=pca2, ax=fig.subplots(1, 2))
    fig.suptitle("Held-out digits in 2-D: autoencoder codes next to PCA's, coloured by digit")
    written.append(save(fig, args.out, "embedding.png"))

    # One panel per autoencoder: training and validation loss, and the held-out
    # loss of its PCA start (the line to beat).
    histories = [(f"k={size}", fitted["AutoencoderTransformer", size]) for size in components]
    histories.append((f"denoising, k={k}", denoiser))
    n_cols = min(3, len(histories))
    n_rows = -(-len(histories) // n_cols)
    fig = new_figure(4.2 * n_cols, 3.4 * n_rows)
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    for ax, (title, model) in zip(axes, histories, strict=False):
        if model.history_["loss"]:
            plot_history(model, ax=ax)
        ax.set_title(f"{title}{' (kept PCA)' if model.fallback_to_pca_ else ''}")
    for ax in axes[len(histories) :]:
        ax.set_visible(False)
    fig.suptitle("Autoencoder loss by epoch (standardised units), against the PCA start")
    written.append(save(fig, args.out, "history.png"))
    return written
