"""Fits on a numpy.memmap or a Dask array larger than one block read it block by block.

The block size is lowered here so that small files take the streamed path; the
benchmark ``benchmarks/bench_out_of_core.py`` measures a 4 GB memmap.
"""

import numpy as np
import pytest
from sklearn.metrics import mean_squared_error

from skautoenc import AutoencoderTransformer
from skautoenc import _rows as rows_module
from skautoenc._network import spectrum

FAST = {"hidden_layer_sizes": (16,), "epochs": 4, "random_state": 0, "n_components": 3}


class RecordingMemmap(np.memmap):
    """A memmap that records how many rows each read takes."""

    reads: list

    def __getitem__(self, key):
        if isinstance(key, slice) and hasattr(self, "reads"):
            self.reads.append(len(range(*key.indices(self.shape[0]))))
        return super().__getitem__(key)


def curved_rows(n_rows, n_features=12, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.uniform(-2, 2, size=(n_rows, 2))
    lift = rng.normal(size=(7, n_features))
    features = np.column_stack([t, np.sin(2 * t), t**2, t[:, :1] * t[:, 1:]])
    rows = features @ lift + 0.05 * rng.normal(size=(n_rows, n_features))
    # A floor that a tenth of the rows take, as counts and pixels have.
    return np.maximum(rows, np.quantile(rows, 0.1, axis=0)).astype(np.float32)


def to_memmap(X, path, cls=np.memmap):
    mapped = np.lib.format.open_memmap(path, mode="w+", dtype=X.dtype, shape=X.shape)
    mapped[:] = X
    mapped.flush()
    return np.load(path, mmap_mode="r").view(cls)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 100 rows of 12 float32 columns."""
    monkeypatch.setattr(rows_module, "STREAM_BLOCK_BYTES", 100 * 12 * 4)


@pytest.fixture(scope="module")
def X():
    return curved_rows(1700)[:1200]


@pytest.fixture(scope="module")
def X_test():
    return curved_rows(1700)[1200:]


def test_a_memmap_within_one_block_fits_as_the_array_does(X, tmp_path):
    mapped = to_memmap(X, tmp_path / "X.npy")
    assert not rows_module.is_streamed(mapped)
    from_file = AutoencoderTransformer(**FAST).fit(mapped)
    in_memory = AutoencoderTransformer(**FAST).fit(X)
    np.testing.assert_array_equal(from_file.transform(X), in_memory.transform(X))


def test_a_streamed_fit_reads_blocks_only(X, tmp_path, small_blocks):
    mapped = to_memmap(X, tmp_path / "X.npy", RecordingMemmap)
    mapped.reads = []
    assert rows_module.is_streamed(mapped)
    ae = AutoencoderTransformer(**FAST).fit(mapped)
    # Never the whole file at once: every read is one block at most.
    assert mapped.reads, "the memmap was not read through slices"
    assert max(mapped.reads) == rows_module.block_rows(X.shape[1]) == 100
    assert ae.n_iter_ == FAST["epochs"]
    assert len(ae.history_["val_loss"]) == FAST["epochs"]


def test_the_spectrum_of_many_blocks_is_that_of_one(X, monkeypatch):
    """Rows within one block give the covariance's square root as their QR factor;
    more blocks give one from the products ``X.T @ X``. Both are the same spectrum,
    to the float64 rounding of the products on these well-conditioned rows."""
    one = spectrum(rows_module.summarize(X, covariance=True).covariance_root)
    monkeypatch.setattr(rows_module, "STREAM_BLOCK_BYTES", 100 * 12 * 4)
    many = spectrum(rows_module.summarize(X, covariance=True).covariance_root)
    np.testing.assert_allclose(many[0], one[0], rtol=1e-9)
    top = slice(0, FAST["n_components"])  # the start's axes, up to their signs
    np.testing.assert_allclose(np.abs(np.sum(many[1][:, top] * one[1][:, top], 0)), 1, rtol=1e-9)


def test_a_streamed_fit_has_the_statistics_and_quality_of_the_array_fit(
    X, X_test, tmp_path, small_blocks
):
    mapped = to_memmap(X, tmp_path / "X.npy")
    streamed = AutoencoderTransformer(**{**FAST, "epochs": 30}).fit(mapped)
    in_memory = AutoencoderTransformer(**{**FAST, "epochs": 30}).fit(X)
    # Same rows, same float64 statistics: equal to float64 rounding (block sums).
    np.testing.assert_allclose(streamed.mean_, in_memory.mean_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(streamed.scale_, in_memory.scale_, rtol=1e-12)
    assert np.isfinite(in_memory.output_min_).all()
    np.testing.assert_array_equal(streamed.output_min_, in_memory.output_min_)
    # Training differs in the order of rows (blocks, then rows within a block) and in
    # which rows are held out: held-out quality agrees, and both beat PCA clearly.
    test = X_test
    errors = [mean_squared_error(test, ae.denoise(test)) for ae in (streamed, in_memory)]
    pca = AutoencoderTransformer(**{**FAST, "hidden_layer_sizes": ()}).fit(X)
    pca_error = mean_squared_error(test, pca.denoise(test))
    assert max(errors) < 0.8 * pca_error
    assert errors[0] < 1.25 * errors[1]


def test_partial_fit_streams_one_epoch(X, tmp_path, small_blocks):
    mapped = to_memmap(X, tmp_path / "X.npy", RecordingMemmap)
    mapped.reads = []
    ae = AutoencoderTransformer(**FAST).partial_fit(mapped).partial_fit(mapped)
    assert ae.n_iter_ == 2
    assert max(mapped.reads) == 100


def test_a_bad_block_is_reported_and_the_model_kept(X, tmp_path, small_blocks):
    fitted = AutoencoderTransformer(**FAST).fit(X)
    codes = fitted.transform(X)
    bad = X.copy()
    bad[777, 3] = np.nan  # in a late block: the check reads them all
    mapped = to_memmap(bad, tmp_path / "bad.npy")
    with pytest.raises(ValueError, match="Input X contains NaN"):
        fitted.fit(mapped)
    np.testing.assert_array_equal(fitted.transform(X), codes)
    wide = to_memmap(curved_rows(1200, n_features=13), tmp_path / "wide.npy")
    with pytest.raises(ValueError, match="X has 13 features, but AutoencoderTransformer"):
        fitted.partial_fit(wide)
    np.testing.assert_array_equal(fitted.transform(X), codes)


def test_a_dask_array_is_streamed(X, small_blocks):
    da = pytest.importorskip("dask.array")
    lazy = da.from_array(X, chunks=(250, X.shape[1]))
    assert rows_module.is_streamed(lazy)
    ae = AutoencoderTransformer(**FAST).fit(lazy)
    assert ae.n_features_in_ == X.shape[1]
    np.testing.assert_allclose(ae.mean_, X.astype(np.float64).mean(axis=0), rtol=1e-9, atol=1e-9)
    unknown = lazy[lazy[:, 0] > 0]  # boolean indexing: chunk sizes unknown
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        AutoencoderTransformer(**FAST).fit(unknown)


class RecordingArray(np.ndarray):
    """An array in memory that records how many rows each read takes."""

    def __getitem__(self, key):
        if isinstance(key, slice) and hasattr(self, "reads"):
            self.reads.append(len(range(*key.indices(self.shape[0]))))
        return super().__getitem__(key)


def test_a_large_array_in_memory_is_streamed_from_the_callers_array(X, monkeypatch, small_blocks):
    monkeypatch.setattr(rows_module, "STREAMED_ARRAY_BYTES", X.nbytes - 1)
    large = X.view(RecordingArray)
    large.reads = []
    assert rows_module.is_streamed(large)
    assert not rows_module.is_streamed(X[:-1])
    ae = AutoencoderTransformer(**FAST).fit(large)
    assert max(large.reads) == 100  # never a copy of the whole array
    assert ae.n_iter_ == FAST["epochs"]


@pytest.mark.parametrize("streamed", [False, True])
def test_fit_leaves_the_callers_rows_as_they_were(X, monkeypatch, small_blocks, streamed):
    """The statistics centre blocks in place: never the caller's own float64 rows."""
    if streamed:
        monkeypatch.setattr(rows_module, "STREAMED_ARRAY_BYTES", 0)
    rows = X.astype(np.float64)
    assert rows_module.is_streamed(rows) == streamed
    AutoencoderTransformer(**FAST).fit(rows)
    np.testing.assert_array_equal(rows, X.astype(np.float64))
