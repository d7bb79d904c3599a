"""Dask: grid search on a dask.distributed cluster, Incremental training through
partial_fit, block-wise transform. Skipped when the ``dask`` extra is not installed."""

import joblib
import numpy as np
import pytest
from _fits import FAST

distributed = pytest.importorskip("distributed")
dask_ml_wrappers = pytest.importorskip("dask_ml.wrappers")
da = pytest.importorskip("dask.array")

from sklearn.model_selection import GridSearchCV, KFold  # noqa: E402

from skautoenc import AutoencoderTransformer  # noqa: E402
from skautoenc.datasets import load_digits_images  # noqa: E402

# Dask workers run TensorFlow and BLAS with one thread, this process with more: float32
# training rounds differently in the last bits, and the difference grows over epochs.
TRAINING_RTOL = 1e-3
BLOCK_ROWS = 100


@pytest.fixture(scope="module")
def X():
    return load_digits_images().data[:300]


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes, on the loopback interface only."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_grid_search_on_dask_matches_sequential(client, X):
    # Four candidates of one network structure: each worker compiles one trainer.
    grid = {"n_components": [2, 6], "learning_rate": [1e-3, 1e-2]}

    def search(**kwargs):
        ae = AutoencoderTransformer(**FAST)
        return GridSearchCV(ae, grid, cv=KFold(2), refit=False, **kwargs)

    sequential = search(n_jobs=1).fit(X)
    with distributed.get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
        on_dask = search().fit(X)

    workers = {task["worker"] for task in tasks.data}
    assert workers, "no task ran on the cluster"
    assert workers <= set(client.scheduler_info()["workers"])
    for key in ("mean_test_score", "split0_test_score", "split1_test_score"):
        np.testing.assert_allclose(
            on_dask.cv_results_[key], sequential.cv_results_[key], rtol=TRAINING_RTOL, err_msg=key
        )
    assert len(set(sequential.cv_results_["mean_test_score"])) == 4
    assert on_dask.best_params_ == sequential.best_params_


def test_incremental_trains_block_by_block(client, X):
    X_dask = da.from_array(X, chunks=(BLOCK_ROWS, X.shape[1]))
    n_blocks = X_dask.numblocks[0]
    ae = AutoencoderTransformer(
        n_components=4, hidden_layer_sizes=(16,), batch_size=32, random_state=0
    )
    inc = dask_ml_wrappers.Incremental(ae, shuffle_blocks=False)

    inc.fit(X_dask)  # one pass: one partial_fit (one epoch) per block
    assert not hasattr(ae, "model_")  # Incremental trains a clone
    assert inc.estimator_.n_iter_ == n_blocks
    after_one_pass = inc.estimator_.score(X)
    n_passes = 3
    for _ in range(n_passes - 1):
        inc.partial_fit(X_dask)
    assert inc.estimator_.n_iter_ == n_blocks * n_passes
    assert inc.estimator_.score(X) > after_one_pass

    # The same as calling partial_fit on each block in order, in this process.
    by_hand = AutoencoderTransformer(**ae.get_params())
    for _ in range(n_passes):
        for start in range(0, len(X), BLOCK_ROWS):
            by_hand.partial_fit(X[start : start + BLOCK_ROWS])
    # Between blocks the model may move to the other worker (pickled as arrays,
    # optimizer state included): the same training, to float32 training roundings.
    assert by_hand.n_iter_ == inc.estimator_.n_iter_
    codes = inc.estimator_.transform(X)
    np.testing.assert_allclose(
        by_hand.transform(X), codes, rtol=TRAINING_RTOL, atol=TRAINING_RTOL * np.abs(codes).max()
    )

    # Incremental transforms block-wise, lazily.
    codes = inc.transform(X_dask)
    assert isinstance(codes, da.Array)
    assert codes.numblocks[0] == n_blocks
    # float32 rows: blocks of 100 rows agree with 300 to float32 roundings.
    np.testing.assert_allclose(codes.compute(), inc.estimator_.transform(X), rtol=1e-5, atol=1e-6)


def test_map_blocks_transform_matches_numpy(client, X):
    est = AutoencoderTransformer(n_components=3, **FAST).fit(X)
    X_dask = da.from_array(X, chunks=(BLOCK_ROWS, X.shape[1]))
    codes = X_dask.map_blocks(
        est.transform, dtype=X.dtype, chunks=(X_dask.chunks[0], (est.n_components,))
    )
    result = codes.compute()  # each worker unpickles the fitted estimator
    assert result.shape == (len(X), 3)
    assert result.dtype == X.dtype
    np.testing.assert_allclose(result, est.transform(X), rtol=1e-5, atol=1e-6)  # float32 rows

    reconstruction = codes.map_blocks(
        est.inverse_transform, dtype=X.dtype, chunks=X_dask.chunks
    ).compute()
    np.testing.assert_allclose(reconstruction, est.denoise(X), rtol=1e-5, atol=1e-6)
