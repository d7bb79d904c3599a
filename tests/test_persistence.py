"""Saving and loading: pickle/joblib, the native file, and refusing hostile files."""

import io
import json
import os
import pickle
import re
import subprocess
import sys
import textwrap
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
from skautoenc import AutoencoderTransformer
from skautoenc._architecture import build_autoencoder
from skautoenc._keras import import_keras
from skautoenc._persistence import model_from_bytes, model_to_bytes

keras = import_keras()
REPO = Path(__file__).resolve().parents[1]
METHODS = ("transform", "inverse_transform", "denoise")


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def X():
    rng = np.random.RandomState(0)
    columns = [f"pixel{i}" for i in range(6)]
    return pd.DataFrame(rng.uniform(size=(40, 6)), columns=columns)


def _fit(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


@pytest.fixture(scope="module")
def fitted(X):
    estimator = AutoencoderTransformer(
        n_components=2, hidden_layer_sizes=(8,), epochs=3, noise="gaussian", random_state=0
    )
    return _fit(estimator, X)


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "fitted.skae"
    fitted.save(path)
    return path


def _outputs(estimator, X):
    codes = estimator.transform(X)
    return {
        "transform": codes,
        "inverse_transform": estimator.inverse_transform(codes),
        "denoise": estimator.denoise(X),
    }


def _assert_bitwise_equal(expected, received):
    for name in METHODS:
        assert expected[name].dtype == received[name].dtype, name
        assert np.array_equal(expected[name], received[name]), name


def _assert_shares_layers(estimator):
    assert estimator.encoder_ is estimator.model_.get_layer("encoder")
    assert estimator.decoder_ is estimator.model_.get_layer("decoder")


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write_zip(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _with_metadata(saved, path, edit):
    """A copy of ``saved`` whose skautoenc.json went through ``edit``."""
    members = _members(saved)
    metadata = json.loads(members["skautoenc.json"])
    edit(metadata)
    members["skautoenc.json"] = json.dumps(metadata).encode()
    return _write_zip(path, members)


def _with_model(saved, path, model_bytes):
    """A copy of ``saved`` whose model.keras is ``model_bytes``."""
    members = _members(saved)
    members["model.keras"] = model_bytes
    return _write_zip(path, members)


def _with_model_config(saved, path, edit):
    """A copy of ``saved`` whose model.keras config.json went through ``edit``."""
    inner = _members(saved)["model.keras"]
    with zipfile.ZipFile(io.BytesIO(inner)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return _with_model(saved, path, buffer.getvalue())


def _layer_configs(config):
    """Every layer config of a functional model config, nested models included."""
    for layer in config["config"]["layers"]:
        yield layer
        if layer["class_name"] == "Functional":
            yield from _layer_configs(layer)


@pytest.fixture
def keras_never_loads(monkeypatch):
    """Fail the test if anything reaches keras.saving.load_model; return the real one."""
    real = keras.saving.load_model
    calls = []

    def recording(*args, **kwargs):
        calls.append(args)
        raise AssertionError("keras.saving.load_model was called on a refused file")

    monkeypatch.setattr(keras.saving, "load_model", recording)
    yield real
    assert calls == []


# --------------------------------------------------------------- pickle/joblib
def _pickle_roundtrip(estimator, how, tmp_path):
    if how == "pickle":
        return pickle.loads(pickle.dumps(estimator))
    path = tmp_path / "estimator.joblib"
    joblib.dump(estimator, path)
    return joblib.load(path)


@pytest.mark.parametrize("how", ["pickle", "joblib"])
def test_pickle_and_joblib_round_trip_bitwise(fitted, X, how, tmp_path):
    loaded = _pickle_roundtrip(fitted, how, tmp_path)
    assert loaded.model_ is not fitted.model_
    _assert_bitwise_equal(_outputs(fitted, X), _outputs(loaded, X))
    _assert_shares_layers(loaded)
    for name in ("n_features_in_", "output_activation_", "history_", "n_iter_"):
        assert getattr(loaded, name) == getattr(fitted, name)
    np.testing.assert_array_equal(loaded.feature_names_in_, fitted.feature_names_in_)


def test_pickle_in_fresh_process_bitwise(fitted, X, tmp_path):
    pickle_path, joblib_path = tmp_path / "est.pkl", tmp_path / "est.joblib"
    pickle_path.write_bytes(pickle.dumps(fitted))
    joblib.dump(fitted, joblib_path)
    X.to_csv(tmp_path / "X.csv", index=False)
    script = textwrap.dedent(
        """
        import pickle, sys
        import joblib, numpy as np, pandas as pd
        folder = sys.argv[1]
        X = pd.read_csv(folder + "/X.csv")
        with open(folder + "/est.pkl", "rb") as file:
            loaded = {"pickle": pickle.load(file), "joblib": joblib.load(folder + "/est.joblib")}
        for how, est in loaded.items():
            assert est.encoder_ is est.model_.get_layer("encoder")
            assert est.decoder_ is est.model_.get_layer("decoder")
            codes = est.transform(X)
            np.save(f"{folder}/{how}-transform.npy", codes)
            np.save(f"{folder}/{how}-inverse_transform.npy", est.inverse_transform(codes))
            np.save(f"{folder}/{how}-denoise.npy", est.denoise(X))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # The CSV round trip must not change X, or the comparison below means nothing.
    np.testing.assert_array_equal(pd.read_csv(tmp_path / "X.csv").to_numpy(), X.to_numpy())
    expected = _outputs(fitted, X)
    for how in ("pickle", "joblib"):
        received = {name: np.load(tmp_path / f"{how}-{name}.npy") for name in METHODS}
        _assert_bitwise_equal(expected, received)


def test_unfitted_pickle_does_not_import_keras():
    script = (
        "import sys, pickle, skautoenc\n"
        "est = pickle.loads(pickle.dumps(skautoenc.AutoencoderTransformer(n_components=3)))\n"
        "assert est.n_components == 3\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n"
        "assert 'keras' not in sys.modules, 'keras imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("how", ["pickle", "save"])
def test_warm_start_after_loading_updates_shared_layers(fitted, X, how, tmp_path):
    if how == "pickle":
        loaded = pickle.loads(pickle.dumps(fitted))
    else:
        fitted.save(tmp_path / "est.skae")
        loaded = skautoenc.load(tmp_path / "est.skae")
    before = [w.copy() for w in loaded.encoder_.get_weights()]
    _fit(loaded.set_params(warm_start=True, epochs=2), X)

    _assert_shares_layers(loaded)
    after = loaded.encoder_.get_weights()
    inside = loaded.model_.get_layer("encoder").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(after, inside, strict=True))
    assert any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    # Training continued (the history grew), and the fast path follows the new weights.
    assert loaded.n_iter_ == fitted.n_iter_ + 2
    assert not np.array_equal(loaded.transform(X), fitted.transform(X))
    np.testing.assert_allclose(
        loaded.transform(X),
        loaded.encoder_.predict(X.to_numpy(np.float32), verbose=0),
        rtol=1e-4,
        atol=1e-5,
    )


# ---------------------------------------------------------------- native file
def test_save_load_round_trip_bitwise(fitted, saved, X):
    loaded = skautoenc.load(saved)
    assert isinstance(loaded, AutoencoderTransformer)
    _assert_bitwise_equal(_outputs(fitted, X), _outputs(loaded, X))
    _assert_shares_layers(loaded)
    assert loaded.get_params() == fitted.get_params()
    for name in (
        "n_features_in_",
        "output_activation_",
        "history_",
        "loss_curve_",
        "validation_scores_",
        "n_iter_",
    ):
        assert getattr(loaded, name) == getattr(fitted, name), name
    assert loaded.feature_names_in_.dtype == object
    np.testing.assert_array_equal(loaded.feature_names_in_, fitted.feature_names_in_)
    # The optimizer state travels too.
    assert int(loaded.model_.optimizer.iterations.numpy()) == int(
        fitted.model_.optimizer.iterations.numpy()
    )


def test_saved_file_layout(fitted, saved):
    with zipfile.ZipFile(saved) as archive:
        assert archive.namelist() == ["skautoenc.json", "model.keras"]
        metadata = json.loads(archive.read("skautoenc.json"))
        inner = archive.read("model.keras")
    assert metadata["format"] == "skautoenc.AutoencoderTransformer"
    assert metadata["format_version"] == 1
    assert metadata["versions"] == {
        "skautoenc": skautoenc.__version__,
        "keras": keras.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
    }
    assert metadata["params"]["hidden_layer_sizes"] == [8]
    assert metadata["params"]["callbacks"] is None
    assert metadata["fitted_attributes"]["feature_names_in_"] == list(fitted.feature_names_in_)
    assert metadata["fitted_attributes"]["n_iter_"] == fitted.n_iter_
    with zipfile.ZipFile(io.BytesIO(inner)) as archive:
        assert {"config.json", "model.weights.h5"} <= set(archive.namelist())


def test_model_member_loads_with_plain_keras(fitted, saved, X, tmp_path):
    # What docs/saving.md tells Keras-only users to do.
    with zipfile.ZipFile(saved) as archive:
        archive.extract("model.keras", tmp_path)
    model = keras.saving.load_model(tmp_path / "model.keras")
    for expected, received in zip(fitted.model_.get_weights(), model.get_weights(), strict=True):
        assert np.array_equal(expected, received)
    np.testing.assert_allclose(
        model.get_layer("encoder").predict(X.to_numpy(np.float32), verbose=0),
        fitted.transform(X),
        rtol=1e-4,
        atol=1e-5,
    )


def test_load_accepts_path_strings_and_any_extension(fitted, X, tmp_path):
    path = str(tmp_path / "fitted.bin")
    fitted.save(path)
    assert np.array_equal(skautoenc.load(path).transform(X), fitted.transform(X))


def test_save_overwrites_existing_file(fitted, tmp_path):
    path = tmp_path / "fitted.skae"
    path.write_text("an older file")
    fitted.save(path)
    assert zipfile.is_zipfile(path)
    assert sorted(os.listdir(tmp_path)) == ["fitted.skae"]


def test_save_unfitted_raises_not_fitted(tmp_path):
    with pytest.raises(NotFittedError):
        AutoencoderTransformer().save(tmp_path / "unfitted.skae")
    assert os.listdir(tmp_path) == []


def test_failed_save_leaves_existing_file_untouched(fitted, tmp_path, monkeypatch):
    path = tmp_path / "fitted.skae"
    path.write_bytes(b"previous content")
    real_writestr = zipfile.ZipFile.writestr
    written = []

    def failing_writestr(self, *args, **kwargs):
        if written:  # fail after the first member reached the disk
            raise OSError("disk full")
        written.append(args[0])
        return real_writestr(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", failing_writestr)
    with pytest.raises(OSError, match="disk full"):
        fitted.save(path)
    assert written  # the failure did happen mid-write
    assert path.read_bytes() == b"previous content"
    assert os.listdir(tmp_path) == ["fitted.skae"]  # no temporary file left behind


def test_save_drops_callbacks_with_a_warning(fitted, X, tmp_path):
    estimator = pickle.loads(pickle.dumps(fitted))
    estimator.set_params(callbacks=[keras.callbacks.TerminateOnNaN()])
    # Recorded by hand: pytest.warns would re-emit Keras' own DeprecationWarnings.
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        estimator.save(tmp_path / "est.skae")
    assert any(
        issubclass(w.category, UserWarning) and "does not store callbacks" in str(w.message)
        for w in record
    )
    loaded = skautoenc.load(tmp_path / "est.skae")
    assert loaded.callbacks is None
    assert np.array_equal(loaded.transform(X), fitted.transform(X))


def test_random_state_instance_round_trips(fitted, tmp_path):
    estimator = pickle.loads(pickle.dumps(fitted))
    random_state = np.random.RandomState(42)
    random_state.uniform(size=3)  # move it off its seeded start
    estimator.set_params(random_state=random_state)
    estimator.save(tmp_path / "est.skae")
    loaded = skautoenc.load(tmp_path / "est.skae").random_state
    assert isinstance(loaded, np.random.RandomState)
    assert loaded is not random_state
    assert np.array_equal(loaded.uniform(size=5), random_state.uniform(size=5))


def test_save_refuses_params_changed_after_fit(fitted, tmp_path):
    estimator = pickle.loads(pickle.dumps(fitted))
    estimator.set_params(n_components=3)
    with pytest.raises(ValueError, match=r"n_components does not match its model.*refit"):
        estimator.save(tmp_path / "est.skae")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("noise", [None, "masking"])
def test_round_trip_without_noise_and_with_masking(X, noise, tmp_path):
    estimator = _fit(
        AutoencoderTransformer(
            hidden_layer_sizes=(8, 4), epochs=2, noise=noise, random_state=1, activation="tanh"
        ),
        X,
    )
    estimator.save(tmp_path / "est.skae")
    loaded = skautoenc.load(tmp_path / "est.skae")
    _assert_bitwise_equal(_outputs(estimator, X), _outputs(loaded, X))


def test_version_mismatch_warns_and_loads(fitted, saved, X, tmp_path):
    def edit(metadata):
        metadata["versions"]["keras"] = "3.0.0"
        metadata["versions"]["scikit-learn"] = "1.4.0"

    path = _with_metadata(saved, tmp_path / "old.skae", edit)
    with pytest.warns(UserWarning, match="was saved with") as record:
        loaded = skautoenc.load(path)
    message = " ".join(str(w.message) for w in record)
    assert f"keras 3.0.0 (installed: {keras.__version__})" in message
    assert f"scikit-learn 1.4.0 (installed: {sklearn.__version__})" in message
    assert np.array_equal(loaded.transform(X), fitted.transform(X))


def test_matching_versions_do_not_warn(saved):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        skautoenc.load(saved)


# ----------------------------------------------------- hostile and broken files
def _refused(path, *patterns):
    with pytest.raises(ValueError, match=f"^Cannot load {re.escape(repr(str(path)))}") as info:
        skautoenc.load(path)
    message = str(info.value)
    assert "Received: " in message
    assert "Expected: " in message
    for pattern in patterns:
        assert re.search(pattern, message), (pattern, message)
    return message


def test_lambda_layer_is_refused_without_running_code(saved, tmp_path, keras_never_loads):
    marker = tmp_path / "code-ran"
    marker_path = str(marker)
    _, encoder, decoder = build_autoencoder(
        6, 2, (8,), activation="relu", output_activation="sigmoid", seed=0
    )
    inputs = keras.Input(shape=(6,), name="features")
    payload = keras.layers.Lambda(
        lambda x: open(marker_path, "w").close() or x,
        output_shape=(6,),
        name="corruption",
    )
    model = keras.Model(inputs, decoder(encoder(payload(inputs))), name="autoencoder")
    hostile_model = model_to_bytes(model)
    assert not marker.exists()
    path = _with_model(saved, tmp_path / "hostile.skae", hostile_model)

    _refused(path, r"class_name='Lambda'", r"never builds")
    assert not marker.exists()

    # The file really carries code: an unsafe Keras load that runs the model creates
    # the marker (this is what skautoenc.load must never do).
    (tmp_path / "hostile.keras").write_bytes(hostile_model)
    unsafe = keras_never_loads(tmp_path / "hostile.keras", safe_mode=False)
    unsafe(np.zeros((1, 6), dtype=np.float32))
    assert marker.exists()


@pytest.mark.parametrize(
    ("class_name", "module", "registered_name"),
    [
        ("NotARealLayer", "keras.layers", None),
        ("NotARealLayer", "evil_package.layers", "evil_package>NotARealLayer"),
        ("Dense", "evil_package.layers", None),
        ("Dense", "keras.layers", "evil_package>Dense"),
        ("BatchNormalization", "keras.layers", None),
    ],
)
def test_unknown_or_custom_objects_are_refused(
    saved, tmp_path, keras_never_loads, class_name, module, registered_name
):
    def edit(config):
        dense = next(layer for layer in _layer_configs(config) if layer["class_name"] == "Dense")
        dense.update(class_name=class_name, module=module, registered_name=registered_name)

    path = _with_model_config(saved, tmp_path / "custom.skae", edit)
    _refused(path, re.escape(f"class_name={class_name!r} (module={module!r}"))


def test_custom_activation_object_is_refused(saved, tmp_path, keras_never_loads):
    def edit(config):
        dense = next(layer for layer in _layer_configs(config) if layer["class_name"] == "Dense")
        dense["config"]["activation"] = {
            "module": "builtins",
            "class_name": "function",
            "config": "my_activation",
            "registered_name": "function",
        }

    path = _with_model_config(saved, tmp_path / "activation.skae", edit)
    _refused(path, r"class_name='function'")


@pytest.mark.parametrize(
    ("key", "value"), [("use_bias", False), ("kernel_regularizer", "l2"), ("lora_rank", 2)]
)
def test_dense_options_this_library_never_sets_are_refused(
    saved, tmp_path, keras_never_loads, key, value
):
    def edit(config):
        dense = next(layer for layer in _layer_configs(config) if layer["class_name"] == "Dense")
        dense["config"][key] = value

    path = _with_model_config(saved, tmp_path / "dense.skae", edit)
    _refused(path, r"Dense layer 'encoder_hidden_0' is not one", re.escape(f"{key}={value!r}"))


@pytest.mark.parametrize("kind", ["flat", "misnamed_noise", "dropout_in_encoder", "rewired"])
def test_models_this_library_does_not_build_are_refused(saved, tmp_path, keras_never_loads, kind):
    _, encoder, decoder = build_autoencoder(
        6, 2, (8,), activation="relu", output_activation="sigmoid", seed=0
    )
    inputs = keras.Input(shape=(6,), name="features")
    if kind == "flat":
        hidden = keras.layers.Dense(2, name="code")(inputs)
        model = keras.Model(inputs, keras.layers.Dense(6, name="out")(hidden))
    elif kind == "misnamed_noise":
        noisy = keras.layers.Dropout(0.1, name="sneaky")(inputs)
        model = keras.Model(inputs, decoder(encoder(noisy)), name="autoencoder")
    elif kind == "dropout_in_encoder":
        code = keras.layers.Dense(2, name="code")(keras.layers.Dropout(0.5)(inputs))
        encoder = keras.Model(inputs, code, name="encoder")
        model = keras.Model(inputs, decoder(encoder(inputs)), name="autoencoder")
    else:  # a "decoder" first, then an "encoder": names right, order wrong
        decoder_input = keras.Input(shape=(6,))
        first = keras.Model(decoder_input, keras.layers.Dense(2)(decoder_input), name="decoder")
        encoder_input = keras.Input(shape=(2,))
        second = keras.Model(encoder_input, keras.layers.Dense(6)(encoder_input), name="encoder")
        model = keras.Model(inputs, second(first(inputs)), name="autoencoder")
    path = _with_model(saved, tmp_path / f"{kind}.skae", model_to_bytes(model))
    _refused(path, r"not the one this library builds")


def test_truncated_files_are_refused(saved, tmp_path, keras_never_loads):
    data = saved.read_bytes()
    for size in (len(data) // 2, len(data) - 10, 10):
        path = tmp_path / f"truncated-{size}.skae"
        path.write_bytes(data[:size])
        _refused(path, r"not a zip archive, or is truncated or corrupted")


def test_random_bytes_are_refused(tmp_path, keras_never_loads):
    path = tmp_path / "random.skae"
    path.write_bytes(np.random.RandomState(0).bytes(4096))
    _refused(path, r"not a zip archive", r"Received: 4096 bytes starting with")


@pytest.mark.parametrize("member", ["skautoenc.json", "model.keras"])
def test_corrupted_members_are_refused(saved, tmp_path, keras_never_loads, member):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as archive:
        info = archive.getinfo(member)
    # Flip a byte in the middle of the member's stored data (past its local header).
    header = 30 + len(info.filename.encode()) + len(info.extra)
    data[info.header_offset + header + info.compress_size // 2] ^= 0xFF
    path = tmp_path / "corrupted.skae"
    path.write_bytes(bytes(data))
    _refused(path, re.escape(f"member {member!r} of the file is corrupted or truncated"))


def test_unreadable_weights_are_refused(saved, tmp_path):
    inner = _members(saved)["model.keras"]
    with zipfile.ZipFile(io.BytesIO(inner)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["model.weights.h5"] = b"not an HDF5 file"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    path = _with_model(saved, tmp_path / "weights.skae", buffer.getvalue())
    _refused(path, r"Keras could not load its model", r"Received: \w+Error")


def test_plain_keras_file_is_refused_with_a_hint(fitted, tmp_path, keras_never_loads):
    path = tmp_path / "model.keras"
    path.write_bytes(model_to_bytes(fitted.model_))
    _refused(path, r"not a skautoenc file", r"keras\.saving\.load_model")


def test_text_file_is_refused(tmp_path, keras_never_loads):
    path = tmp_path / "notes.txt"
    path.write_text("n_components=2\n")
    _refused(path, r"not a zip archive", r"b'n_components=2")


def test_zip_without_metadata_is_refused(saved, tmp_path, keras_never_loads):
    path = _write_zip(tmp_path / "other.zip", {"model.keras": _members(saved)["model.keras"]})
    _refused(path, r"not a skautoenc file", r"\['model\.keras'\]")


@pytest.mark.parametrize(
    ("edit", "pattern"),
    [
        (lambda m: m.update(format="something.else"), r"format='something\.else'"),
        (lambda m: m.update(format_version=2), r"newer skautoenc.*format_version=2"),
        (lambda m: m.update(format_version="1"), r"format_version='1'"),
        (lambda m: m.pop("versions"), r"keys of format version 1"),
        (lambda m: m["params"].update(n_components=-3), r"'n_components' parameter"),
        (lambda m: m["params"].update(loss="cross_entropy"), r"'loss' parameter"),
        (lambda m: m["params"].update(surprise=1), r"parameters AutoencoderTransformer"),
        (lambda m: m["params"].update(hidden_layer_sizes="8"), r"hidden_layer_sizes='8'"),
        (lambda m: m["params"].update(random_state={"x": 1}), r"random_state is malformed"),
        (lambda m: m["fitted_attributes"].pop("history_"), r"fitted attributes are not"),
        (lambda m: m["fitted_attributes"].update(n_iter_="3"), r"n_iter_ is malformed"),
        (
            lambda m: m["fitted_attributes"].update(feature_names_in_=["a"]),
            r"feature_names_in_ is malformed",
        ),
    ],
    ids=[
        "format-name",
        "newer-format-version",
        "format-version-string",
        "missing-key",
        "n_components=-3",
        "unknown-loss",
        "unknown-parameter",
        "hidden_layer_sizes-string",
        "random_state-malformed",
        "missing-fitted-attribute",
        "n_iter_-string",
        "feature-names-length",
    ],
)
def test_bad_metadata_is_refused(saved, tmp_path, keras_never_loads, edit, pattern):
    path = _with_metadata(saved, tmp_path / "bad.skae", edit)
    _refused(path, pattern)


def test_metadata_that_is_not_json_is_refused(saved, tmp_path, keras_never_loads):
    members = _members(saved)
    members["skautoenc.json"] = b"\x80not json"
    path = _write_zip(tmp_path / "bad.skae", members)
    _refused(path, r"not valid UTF-8 JSON")


@pytest.mark.parametrize(
    ("edit", "pattern"),
    [
        (
            lambda f: f.update(n_features_in_=7, feature_names_in_=None),
            r"n_features_in_ does not match its model.*Expected: n_features_in_=6.*"
            r"Received: n_features_in_=7",
        ),
        (
            lambda f: f.update(output_activation_="tanh"),
            r"output_activation_ does not match its model.*'sigmoid'.*Received: .*'tanh'",
        ),
    ],
    ids=["n_features_in_", "output_activation_"],
)
def test_fitted_attributes_inconsistent_with_model_are_refused(saved, tmp_path, edit, pattern):
    path = _with_metadata(saved, tmp_path / "bad.skae", lambda m: edit(m["fitted_attributes"]))
    _refused(path, pattern)


def test_n_components_inconsistent_with_model_is_refused(saved, tmp_path):
    path = _with_metadata(
        saved, tmp_path / "bad.skae", lambda m: m["params"].update(n_components=3)
    )
    _refused(path, r"n_components does not match its model", r"Received: n_components=3")


def test_model_from_bytes_refuses_lambda_in_safe_mode():
    inputs = keras.Input(shape=(2,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2, output_shape=(2,))(inputs))
    with pytest.raises(ValueError, match="Lambda"):
        model_from_bytes(model_to_bytes(model))


# ------------------------------------------------------------------------ docs
def test_docs_snippets_run(tmp_path, monkeypatch):
    text = (REPO / "docs" / "saving.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks
    monkeypatch.chdir(tmp_path)
    namespace = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for block in blocks:
            exec(compile(block, "docs/saving.md", "exec"), namespace)
