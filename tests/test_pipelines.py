"""Real workflows: Pipeline, GridSearchCV (loky and threading, a builder's network
among the candidates), cross_val_score, clone, ColumnTransformer on a DataFrame."""

import joblib
import numpy as np
import pandas as pd
import pytest
from _fits import FAST, sequence_network
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

from skautoenc import AutoencoderTransformer
from skautoenc.datasets import load_digits_images

# Searches in other threads or processes train in float32 with other BLAS/TensorFlow
# thread counts: roundings differ in the last bits and grow over a few epochs. Scores
# agree far closer than the candidates differ from each other (checked below).
SCORE_RTOL = 1e-4


# Both searched parameters of the autoencoder, a user's network (builder), and PCA
# swapped in for the whole step (a list of param dicts). neg_log_loss, unlike
# accuracy, moves with any change in the codes, so equal scores mean the
# autoencoders trained identically. PCA's codes are whitened: unwhitened, they score
# within 1e-3 of a barely trained network's.
PARAM_GRID = [
    {"ae__n_components": [2, 6], "ae__hidden_layer_sizes": [(8,), (16,)]},
    {"ae__builder": [sequence_network], "ae__n_components": [6]},
    {"ae": [PCA(whiten=True)], "ae__n_components": [2, 6]},
]
CV = StratifiedKFold(2)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits_images(return_X_y=True)
    return X[:300], y[:300]


def make_pipeline():
    return Pipeline(
        [
            ("scale", MinMaxScaler()),
            ("ae", AutoencoderTransformer(**FAST)),
            ("clf", LogisticRegression(max_iter=500)),
        ]
    )


def pipeline_search(X, y, n_jobs):
    search = GridSearchCV(
        make_pipeline(), PARAM_GRID, cv=CV, scoring="neg_log_loss", refit=False, n_jobs=n_jobs
    )
    return search.fit(X, y)


@pytest.fixture(scope="module")
def sequential_search(digits):
    return pipeline_search(*digits, n_jobs=1)


@pytest.fixture(scope="module")
def score_search(digits):
    """Score-only search: no y, no scorer; the estimator's own score (-MSE) decides."""
    X, _ = digits
    ae = AutoencoderTransformer(hidden_layer_sizes=(32,), epochs=10, random_state=0)
    return GridSearchCV(ae, {"n_components": [1, 8]}, cv=KFold(2)).fit(X)


def candidate(search, **params):
    """Index of the candidate with these parameters (estimators compared by repr)."""

    def same(p):
        return p.keys() == params.keys() and all(repr(p[k]) == repr(v) for k, v in params.items())

    matches = [i for i, p in enumerate(search.cv_results_["params"]) if same(p)]
    assert len(matches) == 1, (params, search.cv_results_["params"])
    return matches[0]


def split_scores(search, index):
    return np.array([search.cv_results_[f"split{i}_test_score"][index] for i in range(2)])


# ------------------------------------------------------------- grid searches
def test_sequential_pipeline_search_covers_autoencoder_and_pca(sequential_search):
    results = sequential_search.cv_results_
    assert len(results["params"]) == 7
    scores = results["mean_test_score"]
    assert np.all(np.isfinite(scores))
    steps = [type(p["ae"]) if "ae" in p else AutoencoderTransformer for p in results["params"]]
    assert steps.count(PCA) == 2
    assert steps.count(AutoencoderTransformer) == 5
    # The parameters reach the step: the five autoencoders are five different models.
    assert len(set(scores[[i for i, s in enumerate(steps) if s is AutoencoderTransformer]])) == 5
    assert sequential_search.best_score_ == scores.max()
    assert sequential_search.best_params_ == results["params"][int(np.argmax(scores))]


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_parallel_pipeline_search_matches_sequential(digits, sequential_search, backend):
    with joblib.parallel_backend(backend, n_jobs=2):
        parallel = pipeline_search(*digits, n_jobs=2)
    expected = sequential_search.cv_results_
    for key in ("mean_test_score", "split0_test_score", "split1_test_score"):
        np.testing.assert_allclose(
            parallel.cv_results_[key], expected[key], rtol=SCORE_RTOL, err_msg=key
        )
    gaps = np.diff(np.sort(expected["mean_test_score"]))
    assert gaps.min() > 10 * SCORE_RTOL * np.abs(expected["mean_test_score"]).max()
    assert repr(parallel.best_params_) == repr(sequential_search.best_params_)
    assert parallel.best_index_ == sequential_search.best_index_


@pytest.mark.parametrize(
    "params",
    [
        {"ae": PCA(whiten=True), "ae__n_components": 6},
        {"ae__hidden_layer_sizes": (16,), "ae__n_components": 6},
    ],
    ids=["pca", "autoencoder"],
)
def test_cross_val_score_matches_search_splits(digits, sequential_search, params):
    X, y = digits
    pipe = make_pipeline().set_params(**clone(params, safe=False))
    scores = cross_val_score(pipe, X, y, cv=CV, scoring="neg_log_loss")
    index = candidate(sequential_search, **params)
    np.testing.assert_array_equal(scores, split_scores(sequential_search, index))


def test_score_only_search_picks_the_better_reconstruction(digits, score_search):
    X, _ = digits
    scores = score_search.cv_results_["mean_test_score"]
    small, large = (candidate(score_search, n_components=k) for k in (1, 8))
    assert scores[large] > scores[small]
    assert score_search.best_params_ == {"n_components": 8}
    assert score_search.best_score_ == scores.max()
    best = score_search.best_estimator_
    assert best.n_components == 8
    # The score GridSearchCV maximised is the negative reconstruction MSE.
    mse = np.mean((X - best.inverse_transform(best.transform(X))) ** 2)
    np.testing.assert_allclose(best.score(X), -mse, rtol=1e-6)


def test_cross_val_score_uses_the_reconstruction_score(digits, score_search):
    X, _ = digits
    ae = clone(score_search.estimator).set_params(n_components=1)
    scores = cross_val_score(ae, X, cv=KFold(2))
    index = candidate(score_search, n_components=1)
    np.testing.assert_array_equal(scores, split_scores(score_search, index))
    assert np.all(scores < 0)


# ------------------------------------------------------------------- clone
def test_clone_of_fitted_estimator_and_pipeline(digits, score_search):
    X, _ = digits
    fitted = score_search.best_estimator_
    cloned = clone(fitted)
    assert cloned is not fitted
    assert cloned.get_params() == fitted.get_params()
    assert not hasattr(cloned, "model_")
    assert not hasattr(cloned, "n_features_in_")

    pipe = Pipeline([("scale", MinMaxScaler()), ("ae", fitted)])
    cloned_pipe = clone(pipe)
    assert cloned_pipe.named_steps["ae"] is not fitted
    assert not hasattr(cloned_pipe.named_steps["ae"], "model_")
    assert hasattr(fitted, "model_")  # cloning left the original fitted

    # Same parameters, same data, fixed random_state: the clone refits identically.
    np.testing.assert_array_equal(cloned.fit(X).transform(X), fitted.transform(X))
    assert cloned.model_ is not fitted.model_


# ------------------------------------------------------- ColumnTransformer
def test_column_transformer_on_dataframe_columns(digits):
    X, _ = digits
    pixels = [f"px{i}" for i in range(X.shape[1])]
    df = pd.DataFrame(X, columns=pixels, index=pd.RangeIndex(1000, 1000 + len(X)))
    df.insert(0, "label_noise", np.random.RandomState(0).normal(size=len(X)))
    ct = ColumnTransformer(
        [
            ("ae", AutoencoderTransformer(n_components=3, **FAST), pixels),
            ("keep", "passthrough", ["label_noise"]),
        ]
    ).set_output(transform="pandas")

    out = ct.fit_transform(df)

    ae = ct.named_transformers_["ae"]
    codes_names = [f"autoencodertransformer{i}" for i in range(3)]
    assert list(ae.get_feature_names_out()) == codes_names
    assert list(ae.feature_names_in_) == pixels
    assert ae.n_features_in_ == len(pixels)
    assert isinstance(out, pd.DataFrame)
    assert out.shape == (len(X), 4)
    assert list(out.columns) == list(ct.get_feature_names_out())
    assert list(out.columns) == [f"ae__{name}" for name in codes_names] + ["keep__label_noise"]
    pd.testing.assert_index_equal(out.index, df.index)
    np.testing.assert_array_equal(out["keep__label_noise"], df["label_noise"])

    # set_output reached the step: it returns a DataFrame with its own names.
    codes = ae.transform(df[pixels])
    assert isinstance(codes, pd.DataFrame)
    assert list(codes.columns) == codes_names
    assert codes.dtypes.unique().tolist() == [np.dtype(np.float32)]
    np.testing.assert_array_equal(out[[f"ae__{n}" for n in codes_names]], codes)

    # The ColumnTransformer selects by name: a reordered frame gives the same output.
    shuffled = df[list(reversed(df.columns))]
    pd.testing.assert_frame_equal(ct.transform(shuffled), out)
    # The estimator itself checks the names it was fitted on.
    with pytest.raises(ValueError, match="feature names"):
        ae.transform(df[list(reversed(pixels))])
