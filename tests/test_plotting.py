"""skautoenc.plotting: what each function draws (artists, labels, legends), not pixels."""

import subprocess
import sys
import types
import warnings

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.neural_network import MLPRegressor  # noqa: E402

from skautoenc import AutoencoderTransformer  # noqa: E402
from skautoenc.datasets import add_noise, load_digits_images  # noqa: E402
from skautoenc.plotting import (  # noqa: E402
    plot_comparison,
    plot_embedding,
    plot_history,
    plot_reconstructions,
)


@pytest.fixture(autouse=True)
def _close_figures(monkeypatch):
    def no_show(*args, **kwargs):
        raise AssertionError("plotting functions must not call plt.show()")

    monkeypatch.setattr(plt, "show", no_show)
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits_images(return_X_y=True)
    return X[:200], y[:200]


@pytest.fixture(scope="module")
def pca8(digits):
    return PCA(n_components=8).fit(digits[0])


def quick_fit(X, **params):
    ae = AutoencoderTransformer(n_components=2, hidden_layer_sizes=(8,), epochs=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 3 epochs, on purpose
        return ae.set_params(**params).fit(X)


@pytest.fixture(scope="module")
def autoencoder(digits):
    return quick_fit(digits[0], early_stopping=True)


@pytest.fixture(scope="module")
def autoencoder_without_early_stopping(digits):
    return quick_fit(digits[0], early_stopping=False)


def test_import_does_not_import_matplotlib_or_keras():
    code = (
        "import sys, skautoenc.plotting\n"
        "heavy = [m for m in ('matplotlib', 'keras', 'tensorflow') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# ------------------------------------------------------------ reconstructions
def test_reconstructions_grid(digits, pca8):
    X = digits[0]
    axes = plot_reconstructions(pca8, X, image_shape=(8, 8), n_images=4)
    assert axes.shape == (2, 4)
    assert len(axes[0, 0].figure.axes) == 2 * 4
    assert all(len(ax.images) == 1 for ax in axes.flat)
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["original", "reconstruction"]
    np.testing.assert_allclose(axes[0, 1].images[0].get_array(), X[1].reshape(8, 8))
    expected = pca8.inverse_transform(pca8.transform(X[:4]))
    np.testing.assert_allclose(axes[1, 2].images[0].get_array(), expected[2].reshape(8, 8))
    # every image on one grey scale, so the rows compare
    assert len({ax.images[0].get_clim() for ax in axes.flat}) == 1


def test_reconstructions_with_noise_and_several_estimators(digits, pca8):
    X = digits[0]
    X_noisy = add_noise(X, level=0.2, random_state=0)
    estimators = {"PCA 8": pca8, "PCA 2": PCA(n_components=2).fit(X)}
    axes = plot_reconstructions(estimators, X, image_shape=(8, 8), n_images=3, X_noisy=X_noisy)
    labels = [ax.get_ylabel() for ax in axes[:, 0]]
    assert labels == [
        "original",
        "reconstruction\nPCA 8",
        "reconstruction\nPCA 2",
        "noisy",
        "denoised\nPCA 8",
        "denoised\nPCA 2",
    ]
    np.testing.assert_allclose(axes[3, 0].images[0].get_array(), X_noisy[0].reshape(8, 8))
    denoised = pca8.inverse_transform(pca8.transform(X_noisy[:3]))
    np.testing.assert_allclose(axes[4, 1].images[0].get_array(), denoised[1].reshape(8, 8))


def test_reconstructions_on_given_axes_and_few_samples(digits, pca8):
    _, axes = plt.subplots(2, 3)
    returned = plot_reconstructions(pca8, digits[0][:3], image_shape=(8, 8), ax=axes)
    assert returned.shape == (2, 3)
    assert all(a is b for a, b in zip(returned.flat, axes.flat, strict=True))
    assert all(len(ax.images) == 1 for ax in axes.ravel())
    with pytest.raises(ValueError, match="ax must hold 6 Axes"):
        plot_reconstructions(pca8, digits[0], image_shape=(8, 8), n_images=3, ax=axes[0])


def test_reconstructions_of_a_dataframe_keep_feature_names(digits):
    frame = pd.DataFrame(digits[0], columns=[f"p{i}" for i in range(64)])
    pca = PCA(n_components=4).fit(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "X does not have valid feature names"
        axes = plot_reconstructions(pca, frame, image_shape=(8, 8), n_images=2, X_noisy=frame)
    assert axes.shape == (4, 2)


def test_reconstructions_accepts_an_autoencoder(digits, autoencoder):
    axes = plot_reconstructions(autoencoder, digits[0], image_shape=(8, 8), n_images=2)
    expected = autoencoder.denoise(digits[0][:2])
    np.testing.assert_allclose(axes[1, 1].images[0].get_array(), expected[1].reshape(8, 8))


def test_reconstructions_of_raw_data(digits):
    # Data in its own units (here 0..16 pixels, shifted): no [0, 1] assumption.
    X = digits[0] * 16 + 100
    ae = quick_fit(X[:100], n_components=4)
    axes = plot_reconstructions({"PCA": PCA(4).fit(X), "AE": ae}, X, image_shape=(8, 8))
    assert axes[0, 0].images[0].get_clim() == (float(X[:10].min()), float(X[:10].max()))
    np.testing.assert_allclose(
        axes[2, 0].images[0].get_array(), ae.denoise(X[:1]).reshape(8, 8), rtol=1e-5
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image_shape": (8, 7)}, "image_shape must be"),
        ({"image_shape": (64,)}, "image_shape must be"),
        ({"image_shape": (8, 8), "n_images": 0}, "n_images must be a positive int"),
        ({"image_shape": (8, 8), "X_noisy": np.zeros((10, 63))}, "X_noisy must have X's shape"),
        ({"image_shape": (8, 8), "X_noisy": np.zeros((2, 64))}, "X_noisy must have X's shape"),
    ],
)
def test_reconstructions_bad_input(digits, pca8, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot_reconstructions(pca8, digits[0], **kwargs)


# ------------------------------------------------------------------ embedding
def test_embedding_of_codes_with_class_legend(digits):
    X, y = digits
    codes = PCA(n_components=2).fit_transform(X)
    ax = plot_embedding(codes, y)
    assert isinstance(ax, Axes)
    assert ax.figure.axes == [ax]
    assert len(ax.collections) == 10  # one scatter per digit
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [str(d) for d in range(10)]
    assert legend.get_title().get_text() == "label"
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("code 1", "code 2", "codes")
    n_points = sum(len(c.get_offsets()) for c in ax.collections)
    assert n_points == len(X)


def test_embedding_without_labels_and_with_string_labels(digits):
    codes = PCA(n_components=2).fit_transform(digits[0])
    ax = plot_embedding(codes)
    assert len(ax.collections) == 1
    assert ax.get_legend() is None
    names = np.where(digits[1] % 2 == 0, "even", "odd")
    ax = plot_embedding(codes, names)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["even", "odd"]


@pytest.mark.parametrize("y_kind", ["continuous", "many classes"])
def test_embedding_colorbar(digits, y_kind):
    X = digits[0]
    codes = PCA(n_components=2).fit_transform(X)
    y = X.sum(axis=1) if y_kind == "continuous" else np.arange(len(X))
    ax = plot_embedding(codes, y)
    assert len(ax.figure.axes) == 2  # the scatter and its colorbar
    assert ax.figure.axes[0] is ax
    assert ax.get_legend() is None
    assert len(ax.collections) == 1


def test_embedding_next_to_pca(digits, autoencoder):
    X, y = digits
    axes = plot_embedding(X, y, estimator=autoencoder, pca=True)
    assert axes.shape == (2,)
    assert [ax.get_title() for ax in axes] == ["AutoencoderTransformer codes", "PCA codes"]
    assert [ax.get_xlabel() for ax in axes] == ["code 1", "PC 1"]
    assert axes[0].get_legend() is None
    assert len(axes[1].get_legend().get_texts()) == 10
    drawn = np.concatenate([c.get_offsets() for c in axes[0].collections])
    np.testing.assert_allclose(np.sort(drawn, axis=0), np.sort(autoencoder.transform(X), axis=0))


def test_embedding_uses_a_given_fitted_pca_and_axes(digits):
    X = digits[0]
    encoder = PCA(n_components=2).fit(X[:100])
    reference = PCA(n_components=2, whiten=True).fit(X)
    _, axes = plt.subplots(1, 2)
    returned = plot_embedding(X, estimator=encoder, pca=reference, ax=axes)
    assert list(returned) == list(axes)
    np.testing.assert_allclose(axes[1].collections[0].get_offsets(), reference.transform(X))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda X, y: plot_embedding(X[:, :3], y), "n_components=3"),
        (lambda X, y: plot_embedding(X, estimator=PCA(3).fit(X)), "n_components=3"),
        (lambda X, y: plot_embedding(X, estimator=PCA(2).fit(X), pca=PCA(4).fit(X)), "=4"),
        (lambda X, y: plot_embedding(X[:, :2], pca=True), "pca needs the data"),
        (lambda X, y: plot_embedding(X[:, :2], y[:10]), "y must be 1-D"),
        (
            lambda X, y: plot_embedding(X, estimator=PCA(2).fit(X), pca=True, ax=plt.gca()),
            "ax must hold 2 Axes",
        ),
    ],
)
def test_embedding_bad_input(digits, call, message):
    with pytest.raises(ValueError, match=message):
        call(*digits)


# -------------------------------------------------------------------- history
def test_history_of_a_dict():
    history = {
        "loss": [0.1, 0.05, 0.03],
        "val_loss": [0.12, 0.07, 0.06],
        "learning_rate": [4e-3, 4e-3, 1.2e-3],  # not a loss: not drawn
    }
    ax = plot_history(history)
    assert len(ax.get_lines()) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "training loss",
        "validation loss",
    ]
    training, validation = ax.get_lines()
    assert list(training.get_xdata()) == [1, 2, 3]
    assert validation.get_linestyle() == "--"
    assert validation.get_color() == training.get_color()
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_yscale()) == ("epoch", "loss", "log")


def test_history_of_an_autoencoder_shows_validation_and_the_pca_start(autoencoder):
    assert sorted(autoencoder.history_) == ["learning_rate", "loss", "val_loss"]
    assert autoencoder.pca_validation_loss_ is not None
    ax = plot_history(autoencoder)
    training, validation, reference = ax.get_lines()
    np.testing.assert_allclose(training.get_ydata(), autoencoder.history_["loss"])
    np.testing.assert_allclose(validation.get_ydata(), autoencoder.history_["val_loss"])
    assert validation.get_linestyle() == "--"
    # the held-out loss of the PCA start: a horizontal line across the Axes
    np.testing.assert_allclose(reference.get_ydata(), [autoencoder.pca_validation_loss_] * 2)
    assert reference.get_linestyle() == ":"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "training loss",
        "validation loss",
        "PCA (start)",
    ]
    assert ax.get_xlabel() == "epoch"
    assert ax.get_ylabel() == "loss (mse on standardised data)"


def test_history_without_early_stopping_has_no_validation_or_pca_line(
    autoencoder_without_early_stopping,
):
    model = autoencoder_without_early_stopping
    assert model.pca_validation_loss_ is None
    ax = plot_history(model)
    (training,) = ax.get_lines()
    np.testing.assert_allclose(training.get_ydata(), model.loss_curve_)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training loss"]


def test_several_histories_on_one_axes(autoencoder):
    _, ax = plt.subplots()
    assert plot_history(autoencoder, ax=ax, label="a") is ax
    plot_history(autoencoder, ax=ax, label="b")
    assert len(ax.get_lines()) == 6  # loss, val_loss and the PCA start, twice
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), autoencoder.loss_curve_)
    np.testing.assert_allclose(
        ax.get_lines()[1].get_ydata(), [-v for v in autoencoder.validation_scores_]
    )
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == [
        "a: training loss",
        "a: validation loss",
        "a: PCA (start)",
        "b: training loss",
        "b: validation loss",
        "b: PCA (start)",
    ]
    first, second = ax.get_lines()[0], ax.get_lines()[3]
    assert first.get_color() != second.get_color()
    assert ax.get_lines()[2].get_color() == first.get_color()


def test_history_of_other_sources(digits):
    keras_like = types.SimpleNamespace(history={"loss": [1.0, -0.5]})  # a keras History
    ax = plot_history(keras_like)
    assert len(ax.get_lines()) == 1
    assert ax.get_yscale() == "linear"  # not all positive
    X = digits[0][:50]
    with pytest.warns(ConvergenceWarning):
        mlp = MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(X, X)
    ax = plot_history(mlp)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), mlp.loss_curve_)
    assert ax.get_ylabel() == "loss (squared_error)"


def test_history_bad_input():
    with pytest.raises(NotFittedError):
        plot_history(AutoencoderTransformer())
    with pytest.raises(ValueError, match="non-empty 'loss'"):
        plot_history({"loss": []})
    with pytest.raises(ValueError, match="non-empty 'loss'"):
        plot_history({"val_loss": [0.1]})
    with pytest.raises(ValueError, match="keeps no training history"):
        plot_history(PCA(2).fit(np.eye(4)))
    with pytest.raises(TypeError, match="plot_history takes"):
        plot_history([0.1, 0.05])


def test_history_of_an_autoencoder_that_could_not_train():
    # 3 rows: nothing to hold out, so the fit is PCA, with empty curves.
    model = quick_fit(np.random.default_rng(0).normal(size=(3, 6)))
    assert model.fallback_to_pca_
    assert model.history_["loss"] == []
    with pytest.raises(ValueError, match="too few rows"):
        plot_history(model)


# ----------------------------------------------------------------- comparison
@pytest.fixture
def table():
    return pd.DataFrame(
        {
            "method": ["PCA", "AutoencoderTransformer"] * 3,
            "n_components": [16, 16, 2, 2, 4, 4],
            "mse": [0.012, 0.007, 0.054, 0.035, 0.039, 0.023],
            "r2": [0.84, 0.91, 0.26, 0.52, 0.47, 0.68],
        }
    )


def test_comparison(table):
    ax = plot_comparison(table)
    lines = ax.get_lines()
    assert len(lines) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["PCA", "AutoencoderTransformer"]
    assert list(lines[0].get_xdata()) == [2, 4, 16]  # sorted by n_components
    assert list(lines[1].get_ydata()) == [0.035, 0.023, 0.007]
    assert ax.get_xscale() == "log"
    assert list(ax.get_xticks()) == [2, 4, 16]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "4", "16"]
    assert ax.get_xticks(minor=True).size == 0
    assert ax.get_xlabel() == "n_components (bottleneck size)"
    assert "MSE" in ax.get_ylabel()
    assert ax.get_title()


def test_comparison_other_metric_on_given_axes(table):
    _, ax = plt.subplots()
    assert plot_comparison(table, ax, metric="r2") is ax
    assert list(ax.get_lines()[0].get_ydata()) == [0.26, 0.47, 0.84]
    assert "R²" in ax.get_ylabel()


def test_comparison_of_compare_with_pca(digits):
    from skautoenc import compare_with_pca

    estimator = AutoencoderTransformer(hidden_layer_sizes=(8,), epochs=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        table = compare_with_pca(digits[0][:, :13], estimator=estimator, random_state=0)
    ax = plot_comparison(table)
    assert list(ax.get_xticks()) == [2, 4, 8]  # the default sizes for 13 columns
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "PCA",
        "AutoencoderTransformer",
    ]


def test_every_function_returns_what_it_drew_on(digits, pca8, autoencoder, table):
    X, y = digits
    single = [
        plot_history(autoencoder),
        plot_comparison(table),
        plot_embedding(PCA(2).fit_transform(X), y),
    ]
    assert all(isinstance(ax, Axes) for ax in single)
    grids = [
        plot_reconstructions(pca8, X, image_shape=(8, 8), n_images=2),
        plot_embedding(X, y, estimator=autoencoder, pca=True),
    ]
    for axes in grids:
        assert isinstance(axes, np.ndarray)
        assert all(isinstance(ax, Axes) for ax in axes.flat)


def test_comparison_bad_table(table):
    with pytest.raises(ValueError, match="Missing: \\['method'\\]"):
        plot_comparison(table.drop(columns="method"))
    with pytest.raises(ValueError, match="Missing: \\['fit_seconds'\\]"):
        plot_comparison(table, metric="fit_seconds")
    with pytest.raises(ValueError, match="empty"):
        plot_comparison(table.iloc[:0])
