"""Saving and loading: ``est.save``/``skautoenc.load``, pickle/joblib, hostile files.

Every hostile file is built from a valid saved file (read with ``zipfile``, one
member edited, written back) and must be refused with ``UnsafeFileError``, fast
and without a large allocation (``tracemalloc`` peak).
"""

import contextlib
import io
import json
import os
import pickle
import random
import signal
import stat
import struct
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.exceptions import ConvergenceWarning, NotFittedError

import skautoenc
from skautoenc import AutoencoderTransformer, UnsafeFileError
from skautoenc._persistence import FORMAT_VERSION

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, so stale temporaries stay
    fcntl = None

REPO = Path(__file__).resolve().parents[1]
MiB = 1024 * 1024
# A refusal may not allocate more than this (the test files hold a few kilobytes).
MAX_REFUSAL_BYTES = 50 * MiB
# Refusals do no real work; this only catches one that parses or allocates a lot.
MAX_REFUSAL_SECONDS = 5.0
JSON_MEMBER = "skautoenc.json"
OLD = time.time() - 3600  # an mtime well past the age of a stale temporary file


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def X():
    rng = np.random.RandomState(0)
    return pd.DataFrame(rng.uniform(size=(40, 6)), columns=[f"f{i}" for i in range(6)])


def _fit(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


def _small(**params):
    """The estimator of these tests: tiny, so that a fit costs a fraction of a second."""
    return AutoencoderTransformer(
        **{"n_components": 2, "hidden_layer_sizes": (8,), "epochs": 3, "random_state": 0, **params}
    )


@pytest.fixture(scope="module")
def fitted(X):
    """Trained network kept (no early stopping), so it has an optimizer state."""
    estimator = _fit(_small(early_stopping=False), X)
    assert not estimator.fallback_to_pca_
    assert estimator._optimizer_state
    return estimator


@pytest.fixture(scope="module")
def fitted_es(X):
    """With early stopping: val_loss, pca_validation_loss_, validation_scores_ are set."""
    estimator = _fit(_small(), X)
    assert estimator.pca_validation_loss_ is not None
    assert "val_loss" in estimator.history_
    return estimator


@pytest.fixture(scope="module")
def saved(fitted):
    """The bytes of ``fitted.save``: the source of every hostile file below."""
    buffer = io.BytesIO()
    fitted.save(buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def saved_conv(X):
    """A convolutional model's file: rows of 6 read as 2x3 images (see test_conv.py)."""
    estimator = _fit(_small(early_stopping=False, image_shape=(2, 3), conv_filters=(2,)), X)
    buffer = io.BytesIO()
    estimator.save(buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def keras_file(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("keras") / "model.keras"
    fitted.model_.save(path)
    return path


def _outputs(estimator, X):
    codes = estimator.transform(X)
    return {
        "transform": codes,
        "inverse_transform": estimator.inverse_transform(codes),
        "denoise": estimator.denoise(X),
        "score_samples": estimator.score_samples(X),
        "transform float32": estimator.transform(X.astype(np.float32)),
    }


_FITTED_VALUES = (
    "n_features_in_",
    "scale_",
    "history_",
    "loss_curve_",
    "validation_scores_",
    "best_validation_score_",
    "n_iter_",
    "fallback_to_pca_",
    "pca_validation_loss_",
    "_optimizer_name",
)


def _assert_same_model(expected, received, X):
    """Bitwise equal outputs, arrays and fitted attributes; equal parameters."""
    assert type(received) is AutoencoderTransformer
    assert received.get_params() == expected.get_params()
    outputs = _outputs(received, X)
    for name, value in _outputs(expected, X).items():
        assert _bitwise_equal(value, outputs[name]), name
    for name in _FITTED_VALUES:
        assert getattr(received, name) == getattr(expected, name), name
    assert received.feature_names_in_.dtype == object
    assert list(received.feature_names_in_) == list(expected.feature_names_in_)
    assert _bitwise_equal(expected.mean_, received.mean_)
    assert expected.weights_.keys() == received.weights_.keys()
    for name, weight in expected.weights_.items():
        assert _bitwise_equal(weight, received.weights_[name]), name
    assert [n for n, _ in received._optimizer_state] == [n for n, _ in expected._optimizer_state]
    for (name, value), (_, loaded) in zip(
        expected._optimizer_state, received._optimizer_state, strict=True
    ):
        assert _bitwise_equal(np.asarray(value), np.asarray(loaded)), name


def _bitwise_equal(expected, received):
    return expected.dtype == received.dtype and np.array_equal(expected, received)


def _via_bytes(estimator):
    buffer = io.BytesIO()
    estimator.save(buffer)
    return skautoenc.load(io.BytesIO(buffer.getvalue()))


def _temporaries(folder):
    return sorted(p.name for p in Path(folder).iterdir() if p.name.startswith(".skautoenc-"))


# ------------------------------------------------------- building hostile files
def _members(data: bytes) -> list[list]:
    """``[name, bytes, compress_type]`` of each member, in order."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [[i.filename, archive.read(i), i.compress_type] for i in archive.infolist()]


def _zip(members) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicate names, on purpose
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data, compression in members:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = compression
                archive.writestr(info, data)
    return buffer.getvalue()


def _document(data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return json.loads(archive.read(JSON_MEMBER))


def _with_json_text(data: bytes, text: str) -> bytes:
    members = _members(data)
    for member in members:
        if member[0] == JSON_MEMBER:
            member[1] = text.encode()
    return _zip(members)


def _with_document(data: bytes, edit) -> bytes:
    """A copy whose skautoenc.json went through ``edit(document)``."""
    document = _document(data)
    edit(document)
    return _with_json_text(data, json.dumps(document))


def _npy(array, *, allow_pickle=False) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def _with_array(data: bytes, array_name: str, content, compression=zipfile.ZIP_STORED) -> bytes:
    """A copy whose member for ``array_name`` holds ``content`` (bytes or an array)."""
    member_name = _document(data)["arrays"][array_name]
    if isinstance(content, np.ndarray):
        content = _npy(content)
    members = _members(data)
    for member in members:
        if member[0] == member_name:
            member[1], member[2] = content, compression
    return _zip(members)


def _array(data: bytes, array_name: str) -> np.ndarray:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        raw = archive.read(_document(data)["arrays"][array_name])
    return np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)


def _set_central_sizes(data: bytes, name: str, *, compressed=None, uncompressed=None) -> bytes:
    """Rewrite the sizes the central directory declares for member ``name``."""
    data = bytearray(data)
    start = data.find(b"PK\x01\x02")
    while start != -1:
        name_length = struct.unpack_from("<H", data, start + 28)[0]
        if data[start + 46 : start + 46 + name_length] == name.encode():
            if compressed is not None:
                struct.pack_into("<I", data, start + 20, compressed)
            if uncompressed is not None:
                struct.pack_into("<I", data, start + 24, uncompressed)
            return bytes(data)
        start = data.find(b"PK\x01\x02", start + 4)
    raise AssertionError(f"no central directory entry for {name!r}")


def _refused(source, match: str | None = None) -> str:
    """Load ``source`` (bytes or a path); it must be refused, fast, with little memory."""
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(UnsafeFileError) as info:
            skautoenc.load(source)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert message.startswith("Cannot load "), message
    assert "Expected: " in message, message
    assert "Received: " in message, message
    if match is not None:
        assert match in message, message
    assert peak < MAX_REFUSAL_BYTES, f"refusing it allocated {peak / MiB:.0f} MiB"
    assert seconds < MAX_REFUSAL_SECONDS, f"refusing it took {seconds:.1f} s"
    return message


def _finishes(function, seconds, unblock):
    """Run ``function`` in a thread; if it is still blocked after ``seconds``, unblock it
    (so that the test run can go on) and fail."""
    outcome = {}

    def run():
        try:
            outcome["result"] = function()
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        unblock()
        thread.join(10)
        pytest.fail(f"still blocked after {seconds} s")
    return outcome


def _open_fifo_for_writing(path):
    """Unblock a reader waiting in open() on the FIFO at ``path``."""

    def unblock():
        with contextlib.suppress(OSError):
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))

    return unblock


_TRIPPED = []


def _trip():
    _TRIPPED.append("unpickled")


class _Tripwire:
    """Records its own unpickling: an object array holding it must never be unpickled."""

    def __reduce__(self):
        return (_trip, ())


# ------------------------------------------------------------------ round trips
@pytest.mark.parametrize("kind", ["str", "Path", "BytesIO", "open file"])
def test_round_trip_bitwise(fitted, X, tmp_path, kind):
    path = tmp_path / "model.skae"
    if kind == "str":
        fitted.save(str(path))
        loaded = skautoenc.load(str(path))
    elif kind == "Path":
        fitted.save(path)
        loaded = skautoenc.load(path)
    elif kind == "BytesIO":
        buffer = io.BytesIO()
        fitted.save(buffer)
        buffer.seek(0)
        loaded = skautoenc.load(buffer)
    else:
        with open(path, "wb") as file:
            fitted.save(file)
        with open(path, "rb") as file:
            loaded = skautoenc.load(file)
    _assert_same_model(fitted, loaded, X)


def test_round_trip_with_early_stopping_keeps_validation_attributes(fitted_es, X):
    loaded = _via_bytes(fitted_es)
    _assert_same_model(fitted_es, loaded, X)
    assert loaded.validation_scores_ == [-v for v in fitted_es.history_["val_loss"]]


def test_round_trip_through_unseekable_streams(fitted, X):
    class Pipe(io.RawIOBase):
        """Reads and writes, no seek, no tell: as a pipe or a socket."""

        def __init__(self, data=b""):
            self.buffer = io.BytesIO(data)

        def readable(self):
            return True

        def writable(self):
            return True

        def readinto(self, target):
            data = self.buffer.read(len(target))
            target[: len(data)] = data
            return len(data)

        def write(self, data):
            return self.buffer.write(data)

    out = Pipe()
    fitted.save(out)
    loaded = skautoenc.load(Pipe(out.buffer.getvalue()))
    _assert_same_model(fitted, loaded, X)


def test_optimizer_state_round_trips(fitted):
    loaded = _via_bytes(fitted)
    names = [name for name, _ in loaded._optimizer_state]
    assert names == [name for name, _ in fitted._optimizer_state]
    assert "adam/iteration" in names
    assert len(names) > 2
    for (name, value), (_, received) in zip(
        fitted._optimizer_state, loaded._optimizer_state, strict=True
    ):
        assert _bitwise_equal(np.asarray(value), received), name


def test_warm_start_after_load_uses_the_saved_optimizer_state(fitted, X):
    loaded = _via_bytes(fitted)
    pickled = pickle.loads(pickle.dumps(fitted))
    fresh = _via_bytes(fitted)
    fresh._optimizer_state = []  # the same weights, with a new optimizer
    for estimator in (loaded, pickled, fresh):
        _fit(estimator.set_params(warm_start=True), X)

    assert loaded.n_iter_ == fitted.n_iter_ + fitted.epochs
    assert not np.array_equal(loaded.transform(X), fitted.transform(X))  # it trained
    # The Adam step counter went on from the saved one, and the saved moments mattered.
    steps = dict(fitted._optimizer_state)["adam/iteration"]
    assert dict(loaded._optimizer_state)["adam/iteration"] > steps
    assert not np.array_equal(loaded.transform(X), fresh.transform(X))
    # A loaded file continues exactly as the estimator it was saved from.
    _assert_same_model(pickled, loaded, X)


def test_random_state_instance_round_trips(fitted):
    estimator = pickle.loads(pickle.dumps(fitted))
    random_state = np.random.RandomState(42)
    random_state.uniform(size=3)  # away from its seeded start
    estimator.set_params(random_state=random_state)
    loaded = _via_bytes(estimator).random_state
    assert isinstance(loaded, np.random.RandomState)
    assert loaded is not random_state
    assert np.array_equal(loaded.uniform(size=5), random_state.uniform(size=5))


def test_saved_file_layout(fitted, saved):
    with zipfile.ZipFile(io.BytesIO(saved)) as archive:
        infos = {info.filename: info for info in archive.infolist()}
    document = _document(saved)
    assert list(document) == ["format", "format_version", "versions", "params", "fitted", "arrays"]
    assert document["format"] == "skautoenc.AutoencoderTransformer"
    assert document["format_version"] == FORMAT_VERSION
    assert document["versions"] == {
        "skautoenc": skautoenc.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
    }
    assert document["params"]["hidden_layer_sizes"] == [8]
    assert document["fitted"]["feature_names_in_"] == list(fitted.feature_names_in_)
    arrays = document["arrays"]
    assert set(arrays) == {"mean_", "output_min_", "output_max_", "code_scale", "code_mean"} | {
        f"weights/{n}" for n in fitted.weights_
    } | {f"optimizer/{i}" for i in range(len(fitted._optimizer_state))}
    assert set(infos) == {JSON_MEMBER, *arrays.values()}
    assert infos[JSON_MEMBER].compress_type == zipfile.ZIP_DEFLATED
    assert all(infos[m].compress_type == zipfile.ZIP_STORED for m in arrays.values())
    assert np.array_equal(
        _array(saved, "weights/encoder_linear.kernel"), fitted.weights_["encoder_linear.kernel"]
    )


@pytest.fixture(scope="module")
def whitened(X):
    """``whiten=True``, trained: the codes' scale and centre are in the file too."""
    estimator = _fit(_small(early_stopping=False, whiten=True), X)
    buffer = io.BytesIO()
    estimator.save(buffer)
    return estimator, buffer.getvalue()


def test_whitened_codes_round_trip_with_their_scale(whitened, X):
    estimator, data = whitened
    assert {"code_scale", "code_mean"} <= set(_document(data)["arrays"])
    _assert_same_model(estimator, skautoenc.load(io.BytesIO(data)), X)


def test_a_code_scale_that_is_not_positive_is_refused(saved):
    scale = _array(saved, "code_scale").copy()
    scale[0] = 0.0
    _refused(_with_array(saved, "code_scale", scale), "code scale is not positive")


def _saved_as_version(estimator, version, monkeypatch, dropped=()) -> bytes:
    """``estimator`` saved as a file of format ``version``, without the arrays
    ``dropped`` (those that format did not have)."""
    from skautoenc import _persistence

    export = _persistence.export_state

    def as_before(estimator):
        values, arrays = export(estimator)
        return values, {k: v for k, v in arrays.items() if k not in dropped}

    with monkeypatch.context() as patch:
        patch.setattr(_persistence, "export_state", as_before)
        patch.setattr(_persistence, "FORMAT_VERSION", version)
        buffer = io.BytesIO()
        estimator.save(buffer)
    assert _document(buffer.getvalue())["format_version"] == version
    return buffer.getvalue()


def _own_codes(estimator, X):
    """The trained network's codes, before their scale and centre."""
    fitted = estimator._fitted
    return (estimator.transform(X) + fitted.code_mean) / fitted.code_scale


def test_a_file_that_omits_the_codes_scale_is_refused(whitened, monkeypatch):
    data = _saved_as_version(whitened[0], 5, monkeypatch, dropped=("code_scale",))
    _refused(data, "its arrays are not those")


def test_format_version_2_files_load_with_whitened_codes(whitened, X, monkeypatch):
    """Format 2 (skautoenc 0.2) had no whiten: its codes were the network's own."""
    data = _saved_as_version(whitened[0], 2, monkeypatch, dropped=("code_scale", "code_mean"))
    loaded = skautoenc.load(io.BytesIO(_with_document(data, lambda d: d["params"].pop("whiten"))))
    assert loaded.whiten is True
    np.testing.assert_allclose(loaded.transform(X), _own_codes(whitened[0], X), atol=1e-12)


def test_format_version_4_files_load_whitened_codes_unscaled(whitened, X, monkeypatch):
    """Format 4 kept no code scale with whiten=True: the network's own codes."""
    estimator = whitened[0]
    data = _saved_as_version(estimator, 4, monkeypatch, dropped=("code_scale", "code_mean"))
    loaded = skautoenc.load(io.BytesIO(data))
    own = _own_codes(estimator, X)
    assert not np.allclose(own.std(axis=0, ddof=1), 1, rtol=1e-2)  # the formats differ
    np.testing.assert_allclose(loaded.transform(X), own, rtol=1e-12, atol=1e-12)
    assert np.array_equal(loaded.denoise(X), estimator.denoise(X))
    loaded.set_params(warm_start=True)  # still a whitened fit: it continues
    _fit(loaded, X)


def test_format_version_3_files_load_with_uncentred_codes(fitted, X, monkeypatch):
    """Format 3 had no code_mean: a trained network's codes were scaled, not centred."""
    data = _saved_as_version(fitted, 3, monkeypatch, dropped=("code_mean",))
    loaded = skautoenc.load(io.BytesIO(data))
    shift = fitted._fitted.code_mean
    assert np.abs(shift).max() > 1e-3  # a trained network: the two formats differ
    codes = fitted.transform(X)
    np.testing.assert_allclose(loaded.transform(X), codes + shift, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        loaded.inverse_transform(codes + shift), fitted.inverse_transform(codes), atol=1e-9
    )


def test_saving_twice_gives_identical_bytes(fitted, saved):
    buffer = io.BytesIO()
    fitted.save(buffer)
    assert buffer.getvalue() == saved


def test_version_mismatch_warns_and_loads(fitted, saved, X):
    data = _with_document(saved, lambda d: d["versions"].update({"scikit-learn": "0.0.1"}))
    with pytest.warns(UserWarning, match=r"saved with scikit-learn 0\.0\.1 \(installed: "):
        loaded = skautoenc.load(io.BytesIO(data))
    _assert_same_model(fitted, loaded, X)


def test_matching_versions_do_not_warn(saved):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        skautoenc.load(io.BytesIO(saved))


def test_long_history_loads(fitted, X):
    # A legitimate document far larger than its arrays (many partial_fit epochs)
    # is not taken for a decompression bomb.
    estimator = pickle.loads(pickle.dumps(fitted))
    rng = np.random.RandomState(0)
    n = 100_000
    estimator.history_ = {"loss": list(rng.uniform(size=n)), "learning_rate": [0.004] * n}
    buffer = io.BytesIO()
    estimator.save(buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        assert archive.getinfo(JSON_MEMBER).file_size > 2 * MiB  # above the bomb floor
    assert skautoenc.load(io.BytesIO(buffer.getvalue())).n_iter_ == n


# ---------------------------------------------------------------- pickle/joblib
@pytest.mark.parametrize("how", ["pickle", "joblib"])
def test_pickle_and_joblib_round_trip_bitwise(fitted, X, tmp_path, how):
    if how == "pickle":
        loaded = pickle.loads(pickle.dumps(fitted))
    else:
        joblib.dump(fitted, tmp_path / "model.joblib")
        loaded = joblib.load(tmp_path / "model.joblib")
    _assert_same_model(fitted, loaded, X)


def test_pickle_holds_parameters_and_arrays_only(fitted, X):
    assert fitted.model_ is not None  # the Keras views exist: they must not travel
    data = pickle.dumps(fitted)
    for payload in (b"keras", b"tensorflow", b"config.json", b"PK\x03\x04", b"_inference"):
        assert payload not in data, payload

    classes = set()

    class Recording(pickle.Unpickler):
        def find_class(self, module, name):
            classes.add((module, name))
            return super().find_class(module, name)

    Recording(io.BytesIO(data)).load()
    assert {m for m, _ in classes if not m.startswith("numpy")} == {"skautoenc._autoencoder"}


def test_unpickling_and_loading_never_import_tensorflow(fitted, X, tmp_path):
    """In a fresh process, unpickling, loading and inference import no backend: so
    nothing of Keras, such as its process-wide unsafe-deserialization switch, can
    change what a file gives."""
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(fitted))
    fitted.save(tmp_path / "model.skae")
    np.save(tmp_path / "X.npy", X.to_numpy())
    script = textwrap.dedent(
        """
        import pickle, sys
        import numpy as np
        import skautoenc

        def heavy():
            return sorted(m for m in ("tensorflow", "keras", "jax", "torch") if m in sys.modules)

        folder = sys.argv[1]
        X = np.load(folder + "/X.npy")
        unfitted = pickle.loads(pickle.dumps(skautoenc.AutoencoderTransformer(3)))
        assert unfitted.n_components == 3
        print("unfitted", heavy())
        with open(folder + "/model.pkl", "rb") as file:
            np.save(folder + "/pickle.npy", pickle.load(file).denoise(X))
        print("pickle", heavy())
        np.save(folder + "/load.npy", skautoenc.load(folder + "/model.skae").denoise(X))
        print("load", heavy())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split("\n")[:3] == ["unfitted []", "pickle []", "load []"]
    expected = fitted.denoise(X)
    for how in ("pickle", "load"):
        assert _bitwise_equal(expected, np.load(tmp_path / f"{how}.npy")), how


# ------------------------------------------------------------------------- Keras
def test_model_is_a_plain_keras_model(fitted, X, keras_file):
    from skautoenc._keras import import_keras

    keras = import_keras()
    model = keras.saving.load_model(keras_file)
    predicted = keras.ops.convert_to_numpy(model(X.to_numpy(np.float32), training=False))
    # Keras computes in float32 (machine epsilon 1.2e-7); ten operations on values
    # of order 1 through layers at most 8 wide round off to ~1e-6. A wrong weight
    # or a missing standardisation would be off by more than 1e-2.
    np.testing.assert_allclose(predicted, fitted.denoise(X), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- save refusals
def test_save_unfitted_raises_and_touches_nothing(tmp_path):
    path = tmp_path / "model.skae"
    path.write_bytes(b"the previous file")
    with pytest.raises(NotFittedError):
        AutoencoderTransformer().save(path)
    assert path.read_bytes() == b"the previous file"
    assert os.listdir(tmp_path) == ["model.skae"]


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("activation", "tanh", "'activation': 'tanh'"),
        ("n_components", 3, "'n_components': 3"),
        ("hidden_layer_sizes", (4,), "'hidden_layer_sizes': (4,)"),
        ("output_activation", "sigmoid", "'output_activation': 'sigmoid'"),
        ("whiten", True, "whiten=True"),
    ],
)
def test_save_refuses_params_changed_after_fit(fitted, tmp_path, name, value, shown):
    estimator = pickle.loads(pickle.dumps(fitted)).set_params(**{name: value})
    path = tmp_path / "model.skae"
    fitted.save(path)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="no longer describe its fitted network") as info:
        estimator.save(path)
    assert shown in str(info.value)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.skae"]


def test_save_refuses_invalid_params(fitted, tmp_path):
    estimator = pickle.loads(pickle.dumps(fitted)).set_params(loss="bogus")
    with pytest.raises(ValueError, match="'loss' parameter"):
        estimator.save(tmp_path / "model.skae")
    assert os.listdir(tmp_path) == []


def test_save_drops_callbacks_with_a_warning(fitted, X):
    from skautoenc._keras import import_keras

    keras = import_keras()
    estimator = pickle.loads(pickle.dumps(fitted))
    estimator.set_params(callbacks=[keras.callbacks.Callback()])
    buffer = io.BytesIO()
    with pytest.warns(UserWarning, match="does not store callbacks"):
        estimator.save(buffer)
    loaded = skautoenc.load(io.BytesIO(buffer.getvalue()))
    assert loaded.callbacks is None
    assert _bitwise_equal(loaded.transform(X), fitted.transform(X))


def test_failed_write_leaves_the_old_file_and_no_temporary(fitted, tmp_path, monkeypatch):
    path = tmp_path / "model.skae"
    path.write_bytes(b"the previous file")
    real_writestr = zipfile.ZipFile.writestr
    written = []

    def failing_writestr(self, info, data, *args, **kwargs):
        if len(written) == 3:
            raise OSError("disk full")
        written.append(info)
        return real_writestr(self, info, data, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", failing_writestr)
    with pytest.raises(OSError, match="disk full"):
        fitted.save(path)
    assert len(written) == 3  # it failed mid-way
    assert path.read_bytes() == b"the previous file"
    assert os.listdir(tmp_path) == ["model.skae"]


# ------------------------------------------------------- hostile and broken files
def test_valid_file_is_not_refused(fitted, saved, X):
    # The helpers that build hostile files, applied without an edit, keep it valid.
    rebuilt = _with_document(saved, lambda d: None)
    _assert_same_model(fitted, skautoenc.load(io.BytesIO(rebuilt)), X)


def _bomb(text_size: int) -> str:
    """A document with the right header and ``[],`` up to ``text_size`` bytes."""
    head = '{"format": "skautoenc.AutoencoderTransformer", "format_version": 2, "x": ['
    return head + "[]," * ((text_size - len(head) - 3) // 3) + "[]]}"


@pytest.mark.parametrize("size", [MiB - 64, 16 * MiB - 64, 20 * MiB])
def test_json_bomb_is_refused(saved, size):
    # "[]," deflates a thousandfold and parses into 20 times its size of lists.
    data = _with_json_text(saved, _bomb(size))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.getinfo(JSON_MEMBER).compress_size < size / 500
    _refused(data)


def test_json_bomb_declaring_a_small_size_is_refused(saved):
    # The central directory says 100 bytes; the deflate stream holds 20 MiB.
    data = _with_json_text(saved, _bomb(20 * MiB))
    _refused(_set_central_sizes(data, JSON_MEMBER, uncompressed=100), "corrupted or truncated")


def test_compressed_array_is_refused(saved):
    content = _npy(_array(saved, "weights/encoder_hidden_0.kernel"))
    data = _with_array(saved, "weights/encoder_hidden_0.kernel", content, zipfile.ZIP_DEFLATED)
    _refused(data, "is compressed")


def test_array_compressed_into_a_bomb_is_refused(saved):
    content = _npy(np.zeros((6, 8), np.float32)) + b"\0" * (20 * MiB)
    data = _with_array(saved, "weights/encoder_hidden_0.kernel", content, zipfile.ZIP_DEFLATED)
    _refused(data, "is compressed")


@pytest.mark.parametrize("member", ["arrays/1.npy", JSON_MEMBER])
def test_member_declaring_more_than_the_file_is_refused(saved, member):
    data = _set_central_sizes(saved, member, compressed=10**9, uncompressed=10**9)
    _refused(data, "declare more bytes than the file holds")


def test_npy_header_declaring_10_gb_is_refused(saved):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (50_000, 50_000)}
    )
    content = header.getvalue() + b"\0" * MiB
    data = _with_array(saved, "weights/encoder_hidden_0.kernel", content)
    _refused(data, "shape (6, 8) and dtype float32")


@pytest.mark.parametrize("sizes", [[4_000_000], [2**40], [10**30]])
def test_params_declaring_a_huge_network_are_refused_before_allocation(saved, sizes):
    data = _with_document(saved, lambda d: d["params"].update(hidden_layer_sizes=sizes))
    _refused(data, "imply more weights than the file holds")


def test_huge_n_features_is_refused_before_allocation(saved):
    def edit(document):
        document["fitted"].update(n_features_in_=2**63, feature_names_in_=None)

    _refused(_with_document(saved, edit), "imply more weights than the file holds")


def test_conv_file_loads(saved_conv, X):
    loaded = skautoenc.load(io.BytesIO(saved_conv))
    assert loaded._fitted.network.image_shape == (2, 3, 1)
    assert loaded.denoise(X).shape == X.shape


def _conv_file_with(saved_conv, **changes):
    def edit(document):
        document["params"].update(changes)

    return _with_document(saved_conv, edit)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"image_shape": [2**40, 2**40]}, "= 1208925819614629174706176 values, but X has"),
        ({"image_shape": [2**62, -1, 3]}, "a multiple of height * width * channels"),
        ({"image_shape": [10**30, 1]}, "n_features=6"),
        ({"image_shape": [0, 6]}, "positive ints"),
        ({"image_shape": [-1, -1]}, "one of which may be -1"),
        ({"image_shape": [1, 1, 1, 6]}, "(height, width) or (height, width, channels)"),
        ({"conv_filters": [1] * 100_000}, "conv_filters must list 1 to 2 convolutions"),
        ({"conv_filters": [0]}, "conv_filters must be a sequence of positive ints"),
        ({"conv_filters": []}, "conv_filters must list 1 to 2"),
    ],
)
def test_absurd_image_params_are_refused_before_allocation(saved_conv, changes, match):
    _refused(_conv_file_with(saved_conv, **changes), match)


@pytest.mark.parametrize("filters", [[2**20], [2**40], [10**30]])
def test_params_declaring_huge_convolutions_are_refused_before_allocation(saved_conv, filters):
    _refused(_conv_file_with(saved_conv, conv_filters=filters), "imply more weights than")


def test_huge_images_matching_a_huge_n_features_are_refused_before_allocation(saved_conv):
    def edit(document):
        document["params"].update(image_shape=[2**31, 2**31])
        document["fitted"].update(n_features_in_=2**62, feature_names_in_=None)

    _refused(_with_document(saved_conv, edit), "imply more weights than the file holds")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("image_shape", "2x3"),
        ("image_shape", [2.0, 3]),
        ("image_shape", [True, 6]),
        ("image_shape", {"height": 2}),
        ("conv_filters", "2"),
        ("conv_filters", None),
        ("conv_filters", [[2]]),
    ],
)
def test_malformed_image_params_are_refused(saved_conv, name, value):
    _refused(_conv_file_with(saved_conv, **{name: value}), f"its {name} is malformed")


@pytest.mark.parametrize(
    ("source", "changes", "match"),
    [
        ("conv", {"conv_filters": [3]}, "shape (3, 3, 1, 3)"),
        ("conv", {"image_shape": None}, "its arrays are not those"),
        ("dense", {"image_shape": [2, 3]}, "its arrays are not those"),
    ],
)
def test_image_params_that_disagree_with_the_arrays_are_refused(
    saved, saved_conv, source, changes, match
):
    _refused(_conv_file_with(saved_conv if source == "conv" else saved, **changes), match)


@pytest.mark.parametrize(
    ("array_name", "array", "match"),
    [
        ("weights/encoder_hidden_0.kernel", np.zeros((6, 9), np.float32), "shape (6, 8)"),
        ("weights/encoder_hidden_0.kernel", np.zeros((8, 6), np.float32), "shape (6, 8)"),
        ("weights/encoder_hidden_0.kernel", np.zeros((6, 8), np.float16), "dtype float32"),
        ("weights/encoder_hidden_0.kernel", np.zeros((6, 8), ">f4"), "dtype float32"),
        ("weights/encoder_hidden_0.bias", np.zeros((8, 1), np.float32), "shape (8,)"),
        ("mean_", np.zeros(6, np.float32), "dtype float64"),
        ("optimizer/0", np.zeros(3, np.int64), "shape ()"),
        ("optimizer/0", np.array("x"), "float32 or int64 or int32"),
    ],
    ids=["wider", "transposed", "float16", "big-endian", "2-d bias", "mean32", "1-d", "str"],
)
def test_array_that_disagrees_with_the_params_is_refused(saved, array_name, array, match):
    _refused(_with_array(saved, array_name, array), match)


def test_fortran_ordered_array_is_refused(saved):
    kernel = np.asfortranarray(_array(saved, "weights/encoder_hidden_0.kernel"))
    _refused(_with_array(saved, "weights/encoder_hidden_0.kernel", kernel), "in C order")


@pytest.mark.parametrize("extra", [-4, 4])
def test_array_with_the_wrong_byte_count_is_refused(saved, extra):
    content = _npy(_array(saved, "weights/encoder_hidden_0.kernel"))
    content = content[:extra] if extra < 0 else content + b"\0" * extra
    data = _with_array(saved, "weights/encoder_hidden_0.kernel", content)
    _refused(data, "does not hold the bytes its header declares")


@pytest.mark.parametrize("content", [b"", b"hello", b"\x93NUMPY\x03\x00" + b"\0" * 200])
def test_array_that_is_not_npy_is_refused(saved, content):
    _refused(_with_array(saved, "mean_", content), "no valid .npy header")


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda d: d["params"].update(n_components=3), "shape (3,)"),
        (lambda d: d["params"].update(hidden_layer_sizes=[9]), "shape (6, 8)"),
        (lambda d: d["params"].update(hidden_layer_sizes=[8, 8]), "its arrays are not those"),
        (lambda d: d["params"].update(hidden_layer_sizes=[]), "its arrays are not those"),
        (
            lambda d: d["fitted"].update(n_features_in_=7, feature_names_in_=None),
            "shape (7,)",
        ),
        (lambda d: d["fitted"]["optimizer_variables"].pop(), "its arrays are not those"),
    ],
    ids=["n_components", "hidden-width", "hidden-depth", "linear", "n_features", "optimizer"],
)
def test_params_that_disagree_with_the_arrays_are_refused(saved, edit, match):
    _refused(_with_document(saved, edit), match)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize(
    "array_name", ["weights/decoder_linear.kernel", "mean_", "code_mean", "optimizer/2"]
)
def test_non_finite_arrays_are_refused(saved, array_name, value):
    array = _array(saved, array_name).copy()
    array.flat[-1] = value
    _refused(_with_array(saved, array_name, array), "holds NaN or infinite values")


@pytest.mark.parametrize("bound", ["output_min_", "output_max_"])
def test_bounds_may_be_infinite_but_not_nan_nor_beyond_the_mean(saved, bound):
    array = _array(saved, bound).copy()
    array[0] = -np.inf if bound == "output_min_" else np.inf
    skautoenc.load(io.BytesIO(_with_array(saved, bound, array)))  # infinite: no bound
    array[0] = np.nan
    _refused(_with_array(saved, bound, array), "holds NaN or infinite values")
    crossed = np.full_like(array, 1e9 if bound == "output_min_" else -1e9)
    _refused(_with_array(saved, bound, crossed), "do not contain the data's mean")


def test_object_array_is_refused_without_unpickling(saved):
    content = _npy(np.array([_Tripwire()] * 6, dtype=object), allow_pickle=True)
    # The payload is live: reading it as NumPy would with pickle allowed trips the wire.
    np.lib.format.read_array(io.BytesIO(content), allow_pickle=True)
    assert _TRIPPED
    _TRIPPED.clear()
    _refused(_with_array(saved, "mean_", content), "dtype object")
    assert _TRIPPED == []


@pytest.mark.parametrize("duplicate", [JSON_MEMBER, "arrays/0.npy"])
def test_duplicate_members_are_refused(saved, duplicate):
    members = _members(saved)
    members += [m for m in members if m[0] == duplicate]
    _refused(_zip(members), "duplicate members")


@pytest.mark.parametrize("name", ["../evil.npy", "/abs.npy", "arrays/../0.npy", "arrays/00.npy"])
def test_renamed_member_is_refused(saved, name):
    # The member and the document's map both point at the new name.
    members = _members(saved)
    for member in members:
        if member[0] == "arrays/0.npy":
            member[0] = name
    data = _with_document(_zip(members), lambda d: d["arrays"].update(mean_=name))
    _refused(data, "its arrays are not those")


@pytest.mark.parametrize("name", ["arrays/99.npy", "../evil.npy", "/abs.npy", "README.txt"])
def test_extra_member_is_refused(saved, name):
    content = _npy(np.zeros(3))
    _refused(_zip([*_members(saved), [name, content, zipfile.ZIP_STORED]]), "its arrays are not")


def test_missing_member_is_refused(saved):
    members = [m for m in _members(saved) if m[0] != "arrays/3.npy"]
    _refused(_zip(members), "its arrays are not those")


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["arrays"].update(mean_=d["arrays"]["weights/encoder_linear.kernel"]),
        lambda d: d["arrays"].update(surprise="arrays/0.npy"),
        lambda d: d["arrays"].pop("mean_"),
    ],
    ids=["two-names-one-member", "extra-name", "missing-name"],
)
def test_array_map_that_does_not_match_is_refused(saved, edit):
    _refused(_with_document(saved, edit), "its arrays are not those")


@pytest.mark.parametrize("where", ["document", "param", "fitted"])
@pytest.mark.parametrize("depth", [600, 100_000])
def test_deeply_nested_json_is_refused(saved, depth, where):
    nested = "[" * depth + "]" * depth
    text = json.dumps(_document(saved))
    if where == "document":
        text = nested
    elif where == "param":
        text = text.replace('"activation": "relu"', f'"activation": {nested}')
    else:
        text = text.replace('"scale_": ', f'"scale_": {nested}, "x": ')
    assert nested in text
    _refused(_with_json_text(saved, text))  # UnsafeFileError, never RecursionError


@pytest.mark.parametrize("text", [b"\x80\x81", b"{", b"", b"NaN", b'"a string"', b"[1, 2]"])
def test_metadata_that_is_not_a_json_object_is_refused(saved, text):
    members = _members(saved)
    for member in members:
        if member[0] == JSON_MEMBER:
            member[1] = text
    _refused(_zip(members))


@pytest.mark.parametrize("where", ["json", "array"])
def test_flipped_byte_is_refused(saved, where):
    with zipfile.ZipFile(io.BytesIO(saved)) as archive:
        info = archive.getinfo(JSON_MEMBER if where == "json" else "arrays/2.npy")
    # The member's data start after its local header (30 bytes, the name, no extra).
    position = info.header_offset + 30 + len(info.filename) + info.compress_size - 3
    data = bytearray(saved)
    data[position] ^= 0xFF
    _refused(bytes(data), "corrupted or truncated")


@pytest.mark.parametrize("keep", [0, 4, 100, 0.5, -1, -22])
def test_truncated_file_is_refused(saved, keep):
    end = int(len(saved) * keep) if isinstance(keep, float) else keep
    _refused(saved[:end])


@pytest.mark.parametrize(
    "data",
    [
        np.random.RandomState(0).bytes(5000),
        b"PK\x03\x04" + np.random.RandomState(1).bytes(5000),
        b"a text file, not a model\n" * 100,
    ],
    ids=["random", "random-with-zip-magic", "text"],
)
def test_file_that_is_not_a_zip_archive_is_refused(tmp_path, data):
    path = tmp_path / "model.skae"
    path.write_bytes(data)
    message = _refused(path, "is not a zip archive")
    assert repr(str(path)) in message


def test_zip_without_the_metadata_is_refused(saved):
    members = [m for m in _members(saved) if m[0] != JSON_MEMBER]
    _refused(_zip(members), "it is not a skautoenc file.")


def test_plain_keras_file_is_refused_with_a_hint(keras_file):
    _refused(keras_file, "load it with keras.saving.load_model")


def test_version_1_file_is_refused_with_how_to_convert(saved, keras_file):
    old = _document(saved)
    document = {
        "format": old["format"],
        "format_version": 1,
        "versions": old["versions"],
        "params": old["params"],
        "fitted_attributes": {"n_features_in_": 6},
    }
    data = _zip(
        [
            [JSON_MEMBER, json.dumps(document).encode(), zipfile.ZIP_DEFLATED],
            ["model.keras", keras_file.read_bytes(), zipfile.ZIP_STORED],
        ]
    )
    message = _refused(data, "format version 1")
    assert "Refit the estimator" in message
    assert "model.keras member" in message
    assert "keras.saving.load_model" in message


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda d: d.update(format="something.else"), "format='something.else'"),
        (lambda d: d.pop("format"), "format=None"),
        (lambda d: d.update(format_version=FORMAT_VERSION + 1), "upgrade skautoenc"),
        (lambda d: d.update(format_version="2"), "format_version='2'"),
        (lambda d: d.update(format_version=True), "format_version=True"),
        (lambda d: d.update(format_version=2.0), "format_version=2.0"),
        (lambda d: d.pop("versions"), f"keys of format version {FORMAT_VERSION}"),
        (lambda d: d.update(code="import os"), f"keys of format version {FORMAT_VERSION}"),
        (lambda d: d.update(versions={"numpy": 2}), "versions are malformed"),
        (lambda d: d.update(versions=["numpy"]), "versions are malformed"),
        (lambda d: d.update(params=[]), "params are malformed"),
        (lambda d: d.update(fitted="x"), "fitted are malformed"),
        (lambda d: d.update(arrays=None), "arrays are malformed"),
        (lambda d: d["arrays"].update(mean_=["arrays/0.npy"]), "arrays are malformed"),
        (lambda d: d["arrays"].update(mean_=0), "arrays are malformed"),
    ],
)
def test_malformed_document_is_refused(saved, edit, match):
    _refused(_with_document(saved, edit), match)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda p: p.update(surprise=1), "does not hold the parameters"),
        (lambda p: p.pop("loss"), "does not hold the parameters"),
        (lambda p: p.update(n_components=-3), "'n_components' parameter"),
        (lambda p: p.update(n_components="2"), "'n_components' parameter"),
        (lambda p: p.update(n_components=7), "n_components=7 must be between 1 and"),
        (lambda p: p.update(loss="bogus"), "'loss' parameter"),
        (lambda p: p.update(optimizer="os.system"), "'optimizer' parameter"),
        (lambda p: p.update(learning_rate=-1), "'learning_rate' parameter"),
        (lambda p: p.update(epochs=0), "'epochs' parameter"),
        (lambda p: p.update(activation="no_such_activation"), "name of a Keras activation"),
        (lambda p: p.update(activation=3), "'activation' parameter"),
        (lambda p: p.update(hidden_layer_sizes="8"), "hidden_layer_sizes is malformed"),
        (lambda p: p.update(hidden_layer_sizes=[8.0]), "hidden_layer_sizes is malformed"),
        (lambda p: p.update(hidden_layer_sizes=[True]), "hidden_layer_sizes is malformed"),
        (lambda p: p.update(hidden_layer_sizes={"a": 8}), "hidden_layer_sizes is malformed"),
        (lambda p: p.update(hidden_layer_sizes=[0]), "sequence of positive ints"),
        (lambda p: p.update(random_state="seed"), "'random_state' parameter"),
        (lambda p: p.update(random_state=-1), "'random_state' parameter"),
        (lambda p: p.update(random_state={"x": 1}), "random_state is malformed"),
        (
            lambda p: p.update(random_state={"numpy.random.RandomState": {"key": [1, 2]}}),
            "random_state is malformed",
        ),
        (lambda p: p.update(callbacks=["x"]), "it holds callbacks"),
    ],
)
def test_invalid_params_are_refused(saved, edit, match):
    _refused(_with_document(saved, lambda d: edit(d["params"])), match)


def _random_state_with(**changes):
    """``random_state`` as the file stores a ``RandomState(0)``, with ``changes``."""
    state = np.random.RandomState(0).get_state(legacy=False)
    encoded = {
        "key": [int(k) for k in state["state"]["key"]],
        "pos": int(state["state"]["pos"]),
        "has_gauss": int(state["has_gauss"]),
        "gauss": float(state["gauss"]),
    }
    return {"numpy.random.RandomState": {**encoded, **changes}}


@pytest.mark.parametrize(
    "changes",
    [{"key": [-1] * 624}, {"key": ["a"] * 624}, {"pos": "x"}, {"pos": 10**30}, {"gauss": [1]}],
)
def test_malformed_random_state_is_refused(saved, changes):
    def edit(document):
        document["params"]["random_state"] = _random_state_with(**changes)

    _refused(_with_document(saved, edit), "random_state is malformed")


def test_well_formed_random_state_loads(saved):
    def edit(document):
        document["params"]["random_state"] = _random_state_with()

    loaded = skautoenc.load(io.BytesIO(_with_document(saved, edit)))
    assert loaded.random_state.uniform() == np.random.RandomState(0).uniform()


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda f: f.pop("history_"), "exactly the keys"),
        (lambda f: f.update(coef_=[1.0]), "exactly the keys"),
        (lambda f: f.update(n_features_in_="6"), "n_features_in_ must be"),
        (lambda f: f.update(n_features_in_=0), "n_features_in_ must be"),
        (lambda f: f.update(n_features_in_=True), "n_features_in_ must be"),
        (lambda f: f.update(feature_names_in_=["f0"]), "feature_names_in_ must be"),
        (lambda f: f.update(feature_names_in_=list(range(6))), "feature_names_in_ must be"),
        (lambda f: f.update(feature_names_in_="f0f1f2"), "feature_names_in_ must be"),
        (lambda f: f.update(scale_=0), "scale_ must be"),
        (lambda f: f.update(scale_=-1.0), "scale_ must be"),
        (lambda f: f.update(scale_="1"), "scale_ must be"),
        (lambda f: f.update(scale_=float("nan")), "scale_ must be"),
        (lambda f: f.update(scale_=float("inf")), "scale_ must be"),
        (lambda f: f.update(history_={}), "history_ must be"),
        (lambda f: f.update(history_={"loss": ["x"], "learning_rate": []}), "history_ must be"),
        (
            lambda f: f["history_"].update(accuracy=[1.0]),
            "history_ must be",
        ),
        (lambda f: f.update(history_=[0.5]), "history_ must be"),
        (lambda f: f.update(fallback_to_pca_="no"), "fallback_to_pca_ must be"),
        (lambda f: f.update(fallback_to_pca_=0), "fallback_to_pca_ must be"),
        (lambda f: f.update(pca_validation_loss_="x"), "pca_validation_loss_ must be"),
        (lambda f: f.update(optimizer=3), "optimizer must be"),
        (lambda f: f.update(optimizer_variables="adam"), "optimizer_variables must be"),
        (lambda f: f.update(optimizer_variables=[1]), "optimizer_variables must be"),
    ],
)
def test_malformed_fitted_values_are_refused(saved, edit, match):
    _refused(_with_document(saved, lambda d: edit(d["fitted"])), match)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_symlink_to_dev_zero_is_refused(tmp_path):
    path = tmp_path / "model.skae"
    path.symlink_to("/dev/zero")
    _refused(path, "it is not a regular file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path):
    path = tmp_path / "model.skae"
    os.mkfifo(path)
    outcome = _finishes(lambda: _refused(path), 10, _open_fifo_for_writing(path))
    assert "error" not in outcome, outcome.get("error")
    assert "it is not a regular file" in outcome["result"]


def test_directory_and_missing_file_raise(tmp_path):
    with pytest.raises(FileNotFoundError):
        skautoenc.load(tmp_path / "missing.skae")
    with pytest.raises((UnsafeFileError, IsADirectoryError)):
        skautoenc.load(tmp_path)


# ------------------------------------------------------- where and how save writes
def test_long_file_name_saves_and_loads(fitted, X, tmp_path):
    name = "m" * 240 + ".skae"
    assert len(name) == 245
    fitted.save(tmp_path / name)
    assert os.listdir(tmp_path) == [name]
    _assert_same_model(fitted, skautoenc.load(tmp_path / name), X)


def test_save_overwrites_an_existing_file(fitted, X, tmp_path):
    path = tmp_path / "model.skae"
    path.write_text("an older file")
    fitted.save(path)
    assert os.listdir(tmp_path) == ["model.skae"]
    _assert_same_model(fitted, skautoenc.load(path), X)


def test_save_through_a_symlink_replaces_its_target(fitted, X, tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "links").mkdir()
    target = tmp_path / "real" / "model.skae"
    target.write_bytes(b"the previous file")
    link = tmp_path / "links" / "model.skae"
    link.symlink_to(Path("..") / "real" / "model.skae")

    fitted.save(link)
    assert link.is_symlink()
    assert os.readlink(link) == os.path.join("..", "real", "model.skae")
    assert target.read_bytes() != b"the previous file"
    assert not target.is_symlink()
    _assert_same_model(fitted, skautoenc.load(target), X)
    assert os.listdir(tmp_path / "links") == ["model.skae"]
    assert os.listdir(tmp_path / "real") == ["model.skae"]


def test_save_through_a_dangling_symlink_creates_its_target(fitted, X, tmp_path):
    link = tmp_path / "link.skae"
    link.symlink_to(tmp_path / "new.skae")
    fitted.save(link)
    assert link.is_symlink()
    _assert_same_model(fitted, skautoenc.load(tmp_path / "new.skae"), X)


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444])
def test_save_keeps_the_permissions_of_an_existing_file(fitted, tmp_path, mode):
    path = tmp_path / "model.skae"
    path.write_bytes(b"the previous file")
    path.chmod(mode)
    fitted.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert zipfile.is_zipfile(path)


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_new_file_gets_the_mode_of_the_umask(fitted, tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        fitted.save(tmp_path / "model.skae")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "model.skae").stat().st_mode) == mode


def test_save_into_a_missing_folder_raises(fitted, tmp_path):
    with pytest.raises(FileNotFoundError):
        fitted.save(tmp_path / "missing" / "model.skae")
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(fcntl is None, reason="needs fcntl.flock")
def test_next_save_removes_stale_temporaries_only(fitted, tmp_path):
    def temporary(name, mtime):
        path = tmp_path / name
        path.write_bytes(b"half a zip")
        os.utime(path, (mtime, mtime))
        return path

    stale = temporary(".skautoenc-deadbeef0000.tmp", OLD)
    recent = temporary(".skautoenc-deadbeef0001.tmp", time.time())
    locked = temporary(".skautoenc-deadbeef0002.tmp", OLD)
    other = temporary(".other-deadbeef0003.tmp", OLD)
    with open(locked, "rb") as holder:
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX)  # a save still writing it
        fitted.save(tmp_path / "model.skae")
    assert not stale.exists()
    assert recent.exists()
    assert locked.exists()
    assert other.exists()
    assert zipfile.is_zipfile(tmp_path / "model.skae")

    # The lock is gone: the next save in the folder removes it too.
    fitted.save(tmp_path / "other.skae")
    assert not locked.exists()
    assert recent.exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_named_like_a_temporary_does_not_block_a_save(fitted, tmp_path):
    fifo = tmp_path / ".skautoenc-deadbeef0000.tmp"
    os.mkfifo(fifo)
    os.utime(fifo, (OLD, OLD))
    outcome = _finishes(
        lambda: fitted.save(tmp_path / "model.skae"), 10, _open_fifo_for_writing(fifo)
    )
    assert "error" not in outcome, outcome.get("error")
    assert zipfile.is_zipfile(tmp_path / "model.skae")


_SAVE_IN_A_LOOP = """
import pickle, sys
with open(sys.argv[1], "rb") as file:
    estimator = pickle.load(file)
estimator.save(sys.argv[2])
print("ready", flush=True)
while True:
    estimator.save(sys.argv[2])
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_save_killed_at_random_leaves_a_loadable_file(fitted, X, tmp_path):
    # A network of ~140,000 weights (a 1.6 MB file): a kill often lands mid-write.
    large = _fit(_small(hidden_layer_sizes=(256, 256), epochs=1, early_stopping=False), X)
    (tmp_path / "large.pkl").write_bytes(pickle.dumps(large))
    folder = tmp_path / "models"
    folder.mkdir()
    target = folder / "model.skae"
    fitted.save(target)  # the old file: small
    rng = random.Random(0)
    for _ in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", _SAVE_IN_A_LOOP, str(tmp_path / "large.pkl"), str(target)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout.readline() == "ready\n", child.stderr.read()[-3000:]
            time.sleep(rng.uniform(0, 0.05))
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(30)
            child.stdout.close()
            child.stderr.close()
        loaded = skautoenc.load(target)  # the old file or a new one, never a broken one
        assert loaded.hidden_layer_sizes in ((8,), (256, 256))
    assert loaded.hidden_layer_sizes == (256, 256)  # at least one save went through

    # Once killed saves' temporaries are old enough, the next save removes them.
    for name in _temporaries(folder):
        os.utime(folder / name, (OLD, OLD))
    fitted.save(target)
    assert os.listdir(folder) == ["model.skae"]
    _assert_same_model(fitted, skautoenc.load(target), X)
