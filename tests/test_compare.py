"""compare_with_pca: one row per (method, n_components), scored on held-out data."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA, KernelPCA
from sklearn.model_selection import train_test_split

from skautoenc import AutoencoderTransformer, compare_with_pca
from skautoenc.compare import default_n_components
from skautoenc.datasets import load_digits_images

COLUMNS = ["method", "n_components", "mse", "r2", "fit_seconds", "transform_ms_per_1000"]

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def X():
    return load_digits_images().data[:160]


def tiny_autoencoder(**params):
    return AutoencoderTransformer(hidden_layer_sizes=(8,), epochs=2, random_state=0, **params)


def pca_mse(X_train, X_test, k):
    pca = PCA(n_components=k).fit(X_train)
    return float(np.mean((X_test - pca.inverse_transform(pca.transform(X_test))) ** 2))


def test_one_row_per_method_and_size(X):
    table = compare_with_pca(X, [2, 4], estimator=tiny_autoencoder(), random_state=0)
    assert list(table.columns) == COLUMNS
    assert table[["method", "n_components"]].values.tolist() == [
        ["PCA", 2],
        ["AutoencoderTransformer", 2],
        ["PCA", 4],
        ["AutoencoderTransformer", 4],
    ]
    assert (table["mse"] > 0).all()
    assert (table["r2"] < 1).all()
    assert (table["fit_seconds"] > 0).all()
    assert (table["transform_ms_per_1000"] > 0).all()
    # PCA's row is PCA's held-out error on the same 25 % split
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
    pca_rows = table[table["method"] == "PCA"]
    np.testing.assert_allclose(pca_rows["mse"], [pca_mse(X_train, X_test, k) for k in (2, 4)])
    # r2 is the share of the held-out variance explained
    variance = np.mean((X_test - X_test.mean(axis=0)) ** 2)
    np.testing.assert_allclose(pca_rows["r2"], 1 - pca_rows["mse"] / variance, rtol=1e-6)


def test_dataframe_and_given_test_set(X):
    frame = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(X.shape[1])])
    X_train, X_test = frame.iloc[:100], frame.iloc[100:]
    estimator = KernelPCA(kernel="linear", fit_inverse_transform=True)
    table = compare_with_pca(X_train, [3], X_test=X_test, estimator=estimator)
    assert table["method"].tolist() == ["PCA", "KernelPCA"]
    # no split: trained on all of X_train, scored on all of X_test
    expected = pca_mse(X_train.to_numpy(), X_test.to_numpy(), 3)
    np.testing.assert_allclose(table["mse"].iloc[0], expected)


def test_configured_autoencoder_is_cloned_for_each_size(X):
    estimator = tiny_autoencoder(activation="tanh")
    table, fitted = compare_with_pca(
        X, (2, 3), estimator=estimator, random_state=0, return_estimators=True
    )
    assert estimator.n_components == 2  # the given estimator is left alone
    assert not hasattr(estimator, "model_")
    for k in (2, 3):
        model = fitted["AutoencoderTransformer", k]
        assert model is not estimator
        assert (model.n_components, model.activation, model.n_iter_) == (k, "tanh", 2)
    # the returned models are the ones scored
    _, X_test = train_test_split(X, test_size=0.25, random_state=0)
    model = fitted["AutoencoderTransformer", 3]
    mse = np.mean((X_test - model.inverse_transform(model.transform(X_test))) ** 2)
    row = table[(table["method"] == "AutoencoderTransformer") & (table["n_components"] == 3)]
    np.testing.assert_allclose(row["mse"].item(), mse, rtol=1e-5)


def test_default_estimator_is_a_seeded_autoencoder(X, monkeypatch):
    seen = []
    real_fit = AutoencoderTransformer.fit

    def quick_fit(self, X, y=None):  # record the parameters, then fit for one epoch
        seen.append(self.get_params())
        return real_fit(self.set_params(epochs=1), X)

    monkeypatch.setattr(AutoencoderTransformer, "fit", quick_fit)
    table = compare_with_pca(X, 1, random_state=0)
    assert table["method"].tolist() == ["PCA", "AutoencoderTransformer"]
    expected = AutoencoderTransformer(n_components=1, random_state=0).get_params()
    assert seen == [expected]


def test_kernel_pca_estimator(X):
    estimator = KernelPCA(kernel="rbf", fit_inverse_transform=True, random_state=0)
    table, fitted = compare_with_pca(
        X, [2, 5], estimator=estimator, random_state=0, return_estimators=True
    )
    assert table["method"].tolist() == ["PCA", "KernelPCA", "PCA", "KernelPCA"]
    assert sorted(fitted) == [("KernelPCA", 2), ("KernelPCA", 5), ("PCA", 2), ("PCA", 5)]
    assert fitted["KernelPCA", 5].eigenvalues_.shape == (5,)
    assert table["mse"].notna().all()


def test_pca_as_the_estimator_gets_its_own_label(X):
    table = compare_with_pca(X, [2], estimator=PCA(whiten=True), random_state=0)
    assert table["method"].tolist() == ["PCA", "PCA (estimator)"]
    # whitening changes the codes, not the reconstruction
    np.testing.assert_allclose(table["mse"].iloc[0], table["mse"].iloc[1], rtol=1e-6)
    table.pivot(index="n_components", columns="method", values="mse")  # rows stay unique


class CountingPCA(TransformerMixin, BaseEstimator):
    """The minimal estimator compare_with_pca needs, counting its transform calls."""

    calls = 0

    def __init__(self, n_components=2):
        self.n_components = n_components

    def fit(self, X, y=None):
        self.pca_ = PCA(self.n_components).fit(X)
        return self

    def transform(self, X):
        type(self).calls += 1
        return self.pca_.transform(X)

    def inverse_transform(self, X):
        return self.pca_.inverse_transform(X)


def test_any_estimator_with_n_components_and_timing_is_the_best_of_five(X):
    CountingPCA.calls = 0
    table = compare_with_pca(X, 2, estimator=CountingPCA(), random_state=0)
    assert table["method"].tolist() == ["PCA", "CountingPCA"]
    assert CountingPCA.calls == 5


def test_progress_and_repeated_sizes(X):
    messages = []
    table = compare_with_pca(
        X,
        [3, 2, 3],
        estimator=KernelPCA(fit_inverse_transform=True),
        random_state=0,
        progress=messages.append,
    )
    assert table["n_components"].tolist() == [3, 3, 2, 2]
    assert messages == [
        "fitting PCA(n_components=3)",
        "fitting KernelPCA(n_components=3)",
        "fitting PCA(n_components=2)",
        "fitting KernelPCA(n_components=2)",
    ]


def test_same_random_state_same_split(X):
    first = compare_with_pca(X, 2, estimator=KernelPCA(fit_inverse_transform=True), random_state=1)
    second = compare_with_pca(X, 2, estimator=KernelPCA(fit_inverse_transform=True), random_state=1)
    third = compare_with_pca(X, 2, estimator=KernelPCA(fit_inverse_transform=True), random_state=2)
    np.testing.assert_array_equal(first["mse"], second["mse"])
    assert first["mse"].iloc[0] != third["mse"].iloc[0]


@pytest.mark.parametrize("n_components", [[], [0], [2, -1], [2.5], ["2"], [True], 0, [65]])
def test_bad_n_components(X, n_components):
    with pytest.raises(ValueError, match="n_components") as raised:
        compare_with_pca(X, n_components, estimator=KernelPCA(fit_inverse_transform=True))
    assert f"Received: {n_components!r}." in str(raised.value)


def test_larger_than_the_number_of_features_names_both():
    X = np.random.default_rng(0).normal(size=(40, 5))
    with pytest.raises(ValueError, match=r"n_features=5\. Received: \[2, 8\]\."):
        compare_with_pca(X, [2, 8], estimator=tiny_autoencoder())


@pytest.mark.parametrize(
    ("n_features", "n_samples", "expected"),
    [
        (64, None, [2, 4, 8, 16]),
        (784, None, [2, 4, 8, 16]),
        (17, None, [2, 4, 8, 16]),
        (16, None, [2, 4, 8]),  # 16 of 16 would reconstruct exactly
        (13, None, [2, 4, 8]),
        (5, None, [2, 4]),
        (3, None, [2]),
        (2, None, [1]),
        (1, None, [1]),
        (64, 5, [2, 4]),  # PCA has at most as many components as rows
        (64, 1, [1]),
        (2, 1, [1]),
    ],
)
def test_default_n_components(n_features, n_samples, expected):
    assert default_n_components(n_features, n_samples) == expected


@pytest.mark.parametrize(("n_features", "expected"), [(5, [2, 4]), (13, [2, 4, 8])])
def test_default_sizes_follow_the_number_of_features(n_features, expected):
    X = np.random.default_rng(0).normal(size=(40, n_features))
    table = compare_with_pca(X, estimator=tiny_autoencoder(), random_state=0)
    assert table["n_components"].tolist() == [k for k in expected for _ in range(2)]
    assert table["method"].tolist() == ["PCA", "AutoencoderTransformer"] * len(expected)
    assert table["mse"].notna().all()


def test_default_sizes_are_capped_by_the_training_rows():
    X = np.random.default_rng(0).normal(size=(6, 64))  # 4 training rows, 2 held out
    table = compare_with_pca(X, estimator=KernelPCA(fit_inverse_transform=True), random_state=0)
    assert table["n_components"].unique().tolist() == [2, 4]


def test_raw_data_needs_no_scaling(X):
    # The default autoencoder, like PCA, handles location and scale itself: the
    # same digits in other units (0..16 000, shifted) give the same comparison,
    # with the errors in the new units.
    factor, shift = 16_000.0, -3_000.0
    table = compare_with_pca(X, [2, 4], estimator=tiny_autoencoder(), random_state=0)
    raw = compare_with_pca(X * factor + shift, [2, 4], estimator=tiny_autoencoder(), random_state=0)
    np.testing.assert_allclose(raw["mse"], table["mse"] * factor**2, rtol=1e-3)
    np.testing.assert_allclose(raw["r2"], table["r2"], rtol=1e-3, atol=1e-4)


def test_bad_test_set(X):
    with pytest.raises(ValueError, match="NaN"):
        compare_with_pca(
            X, 2, X_test=np.full((5, 64), np.nan), estimator=KernelPCA(fit_inverse_transform=True)
        )
