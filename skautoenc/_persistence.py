"""Saving and loading: pickling helpers and the native one-file format, safely.

Two ways out of a process:

- ``pickle``/``joblib``: ``AutoencoderTransformer.__getstate__`` turns the Keras
  model into ``.keras`` bytes (:func:`model_to_bytes`) and ``__setstate__`` loads
  them with ``safe_mode=True`` (:func:`model_from_bytes`), then rebuilds the
  encoder, the decoder and the NumPy forward passes (``model_attributes``).
  Pickle itself runs code on load: for trusted files only.
- ``est.save(path)`` / :func:`load`: a zip archive holding ``skautoenc.json``
  (format, versions, parameters, fitted attributes) and ``model.keras`` (the
  exact bytes ``keras.saving.save_model`` writes). No pickle inside. Loading
  checks the JSON and the Keras model's configuration against what this library
  builds *before* Keras deserializes anything, so that an unexpected class (a
  ``Lambda`` layer, a custom object) is refused without running code.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import tempfile
import warnings
import zipfile
from numbers import Integral, Real
from typing import Any, NoReturn

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._architecture import DECODER_NAME, ENCODER_NAME, NOISE_LAYER_NAME
from ._autoencoder import AutoencoderTransformer, model_attributes

FORMAT_NAME = "skautoenc.AutoencoderTransformer"
FORMAT_VERSION = 1
METADATA_MEMBER = "skautoenc.json"
MODEL_MEMBER = "model.keras"

# JSON members larger than this are refused before they are read (zip bombs).
_MAX_JSON_BYTES = 64 * 1024 * 1024
_KERAS_MEMBERS_REQUIRED = ("config.json", "model.weights.h5")
_KERAS_MEMBERS_OPTIONAL = ("metadata.json",)
# Every ``class_name`` that may appear in the configuration of a model this
# library builds: layers, the nested models, dtype policies, initializers, the
# optimizers ``AutoencoderTransformer`` accepts, and Keras' symbolic tensors.
_ALLOWED_CLASSES = frozenset(
    {
        "Functional",
        "Model",
        "InputLayer",
        "Dense",
        "GaussianNoise",
        "Dropout",
        "DTypePolicy",
        "FloatDTypePolicy",
        "GlorotUniform",
        "Zeros",
        "Adam",
        "AdamW",
        "Adamax",
        "Nadam",
        "SGD",
        "RMSprop",
        "Adagrad",
        "Adadelta",
        "Ftrl",
        "Lion",
        "__keras_tensor__",
    }
)
# Dense options this library never sets: each must be absent or null.
_DENSE_UNUSED = (
    "kernel_regularizer",
    "bias_regularizer",
    "activity_regularizer",
    "kernel_constraint",
    "bias_constraint",
    "lora_rank",
    "quantization_config",
)
_NOISE_CLASSES = ("GaussianNoise", "Dropout")
_MODEL_CLASSES = ("Functional", "Model")
_FITTED_ATTRIBUTES = (
    "n_features_in_",
    "feature_names_in_",
    "output_activation_",
    "history_",
    "loss_curve_",
    "validation_scores_",
    "n_iter_",
)
_METADATA_KEYS = ("format", "format_version", "versions", "params", "fitted_attributes")
# Versions compared on load: a mismatch warns, it does not refuse.
_CHECKED_VERSIONS = ("skautoenc", "keras", "scikit-learn")
_RANDOM_STATE_TAG = "numpy.random.RandomState"


# --------------------------------------------------------------- Keras models
def model_to_bytes(model) -> bytes:
    """Serialize a Keras model, weights and optimizer state, to ``.keras`` bytes.

    Parameters
    ----------
    model : keras.Model
        The model to serialize.

    Returns
    -------
    data : bytes
        The file ``keras.saving.save_model`` writes, byte for byte.
    """
    from ._keras import import_keras

    keras = import_keras()
    with tempfile.TemporaryDirectory(prefix="skautoenc-") as folder:
        path = os.path.join(folder, MODEL_MEMBER)
        keras.saving.save_model(model, path)
        with open(path, "rb") as file:
            return file.read()


def model_from_bytes(data: bytes):
    """Load ``.keras`` bytes with ``safe_mode=True``: a Lambda layer is refused.

    Parameters
    ----------
    data : bytes
        A ``.keras`` file's content.

    Returns
    -------
    model : keras.Model
        The compiled model, optimizer state included.
    """
    from ._keras import import_keras

    keras = import_keras()
    with tempfile.TemporaryDirectory(prefix="skautoenc-") as folder:
        path = os.path.join(folder, MODEL_MEMBER)
        with open(path, "wb") as file:
            file.write(data)
        return keras.saving.load_model(path, compile=True, safe_mode=True)


# ----------------------------------------------------------------------- save
def save_estimator(estimator: AutoencoderTransformer, path: str | os.PathLike) -> None:
    """Write a fitted estimator to one file (see ``AutoencoderTransformer.save``).

    The file is a zip archive holding ``skautoenc.json`` (format name and
    version, library versions, parameters, fitted attributes) and
    ``model.keras`` (the Keras model in Keras' own format). It is written to a
    temporary file in the same folder, then moved over ``path``, so that a
    failed save leaves any existing file at ``path`` untouched.

    Parameters
    ----------
    estimator : AutoencoderTransformer
        A fitted estimator.
    path : str or os.PathLike
        Where to write the file. Any extension is accepted; ``.skae`` is the
        convention.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    ValueError
        If its parameters are invalid, or its model does not match its fitted
        attributes (e.g. ``n_components`` was changed after ``fit``).
    TypeError
        If a parameter cannot be stored as JSON.
    """
    check_is_fitted(estimator)
    estimator._validate_params()
    params = estimator.get_params(deep=False)
    if params.get("callbacks") is not None:
        warnings.warn(
            "AutoencoderTransformer.save does not store callbacks (Keras objects "
            "cannot be saved without pickle); the loaded estimator has "
            "callbacks=None. Received: callbacks="
            f"{params['callbacks']!r}.",
            UserWarning,
            stacklevel=3,
        )
    encoded_params = {
        name: None if name == "callbacks" else _encode_param(name, value)
        for name, value in params.items()
    }
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "versions": _installed_versions(),
        "params": encoded_params,
        "fitted_attributes": _encode_fitted(estimator),
    }
    model_bytes = model_to_bytes(estimator.model_)
    # What save writes, load must accept: check it here, not in the reader's hands.
    _check_model_config(_read_keras_config(model_bytes, None), None)
    _check_consistency(estimator, estimator.n_components, vars(estimator), None)
    metadata_bytes = json.dumps(metadata, indent=1).encode("utf-8")
    _write_atomically(
        path,
        [
            (METADATA_MEMBER, metadata_bytes, zipfile.ZIP_DEFLATED),
            (MODEL_MEMBER, model_bytes, zipfile.ZIP_STORED),
        ],
    )


def _installed_versions() -> dict[str, str]:
    import sklearn

    from . import __version__
    from ._keras import import_keras

    return {
        "skautoenc": __version__,
        "keras": import_keras().__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
    }


def _encode_param(name: str, value: Any) -> Any:
    """A JSON value for one parameter; raise TypeError for what JSON cannot hold."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return float(value)
    if isinstance(value, np.random.RandomState):
        state = value.get_state(legacy=False)
        return {
            _RANDOM_STATE_TAG: {
                "bit_generator": state["bit_generator"],
                "key": [int(k) for k in state["state"]["key"]],
                "pos": int(state["state"]["pos"]),
                "has_gauss": int(state["has_gauss"]),
                "gauss": float(state["gauss"]),
            }
        }
    if isinstance(value, (list, tuple, np.ndarray)) and all(
        isinstance(item, (Integral, Real)) and not isinstance(item, (bool, np.bool_))
        for item in value
    ):
        return [item.item() if isinstance(item, np.generic) else item for item in value]
    raise TypeError(
        f"AutoencoderTransformer.save can store parameters that are None, bool, int, "
        f"float, str, a sequence of numbers or a numpy RandomState. Received: "
        f"{name}={value!r} of type {type(value).__name__}."
    )


def _encode_fitted(estimator: AutoencoderTransformer) -> dict[str, Any]:
    names = getattr(estimator, "feature_names_in_", None)
    scores = estimator.validation_scores_
    return {
        "n_features_in_": int(estimator.n_features_in_),
        "feature_names_in_": None if names is None else [str(name) for name in names],
        "output_activation_": str(estimator.output_activation_),
        "history_": {
            str(key): [float(v) for v in values] for key, values in estimator.history_.items()
        },
        "loss_curve_": [float(v) for v in estimator.loss_curve_],
        "validation_scores_": None if scores is None else [float(v) for v in scores],
        "n_iter_": int(estimator.n_iter_),
    }


def _write_atomically(path: str | os.PathLike, members: list[tuple[str, bytes, int]]) -> None:
    """Write a zip archive to a temporary file next to ``path``, then replace ``path``."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(8)}.tmp")
    # 0o666 lets the umask decide the permissions, as open() would.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    descriptor = os.open(temporary, flags, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as file:
            with zipfile.ZipFile(file, "w") as archive:
                for name, data, compression in members:
                    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                    info.compress_type = compression
                    info.external_attr = 0o644 << 16
                    archive.writestr(info, data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


# ----------------------------------------------------------------------- load
def load(path: str | os.PathLike) -> AutoencoderTransformer:
    """Load an estimator written by ``AutoencoderTransformer.save``.

    The file is checked before anything in it is deserialized: its format name
    and version, its parameters (validated as ``fit`` would), its fitted
    attributes, and the Keras model's configuration, which may only hold the
    layers this library builds (an ``InputLayer``, an optional ``GaussianNoise``
    or ``Dropout`` named ``"corruption"``, and nested ``"encoder"`` and
    ``"decoder"`` models made of ``Dense`` layers). The model is then loaded
    with ``keras.saving.load_model(..., safe_mode=True)``. No pickle is
    involved, so loading a file runs none of its content as code.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by ``AutoencoderTransformer.save``.

    Returns
    -------
    estimator : AutoencoderTransformer
        The fitted estimator. ``transform``, ``inverse_transform`` and
        ``denoise`` return bitwise what the saved estimator returned;
        ``callbacks`` is None (callbacks are not saved).

    Raises
    ------
    ValueError
        If the file is not a skautoenc file, is truncated or corrupted, comes
        from a newer format version, holds invalid parameters or fitted
        attributes that do not match its model, or holds a model this library
        does not build (e.g. with a ``Lambda`` layer or a custom object).
    OSError
        If the file cannot be read (e.g. it does not exist).

    Warns
    -----
    UserWarning
        If the file was saved with another version of skautoenc, Keras or
        scikit-learn. The file still loads.

    See Also
    --------
    AutoencoderTransformer.save : Write the file.

    Notes
    -----
    The archive's ``model.keras`` member is a plain Keras file: extract it with
    :mod:`zipfile` and load it with ``keras.saving.load_model`` to use the
    model without skautoenc.

    Examples
    --------
    >>> import os
    >>> import tempfile
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> import skautoenc
    >>> X = load_digits().data[:200] / 16.0
    >>> ae = skautoenc.AutoencoderTransformer(
    ...     n_components=4, hidden_layer_sizes=(8,), epochs=2, random_state=0
    ... ).fit(X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "digits.skae")
    ...     ae.save(path)
    ...     loaded = skautoenc.load(path)
    >>> np.array_equal(loaded.transform(X), ae.transform(X))
    True
    """
    shown = os.fspath(path)
    with open(path, "rb") as file:
        data = file.read()
    archive = _open_zip(data, shown, "file")
    names = _member_names(archive, shown, "file")
    if set(names) != {METADATA_MEMBER, MODEL_MEMBER}:
        hint = ""
        if "config.json" in names and "model.weights.h5" in names:
            hint = " It looks like a plain Keras .keras file: load it with keras.saving.load_model."
        _refuse(
            shown,
            "it is not a skautoenc file." + hint,
            f"a zip archive with exactly the members {METADATA_MEMBER!r} and {MODEL_MEMBER!r}",
            f"a zip archive with members {names}",
        )
    metadata = _read_json(archive, METADATA_MEMBER, shown, "file")
    _check_metadata(metadata, shown)
    params = _decode_params(metadata["params"], shown)
    estimator = AutoencoderTransformer(**params)
    try:
        estimator._validate_params()
    except (ValueError, TypeError) as error:
        _refuse(
            shown,
            f"its parameters fail validation: {error}",
            "valid parameters",
            params,
            cause=error,
        )
    fitted = _decode_fitted(metadata["fitted_attributes"], shown)
    model_bytes = _read_member(archive, MODEL_MEMBER, shown, "file")
    _check_model_config(_read_keras_config(model_bytes, shown), shown)
    _warn_on_version_mismatch(metadata["versions"], shown)

    try:
        model = model_from_bytes(model_bytes)
    except Exception as error:
        _refuse(
            shown,
            "Keras could not load its model.",
            "a model.keras that keras.saving.load_model(safe_mode=True) loads",
            f"{type(error).__name__}: {error}",
            cause=error,
        )
    _check_model_objects(model, shown)
    attributes = model_attributes(model)
    for name, value in fitted.items():
        setattr(estimator, name, value)
    _check_consistency(estimator, estimator.n_components, attributes, shown)
    for name, value in attributes.items():
        setattr(estimator, name, value)
    return estimator


def _refuse(path: str | None, problem: str, expected: Any, received: Any, cause=None) -> NoReturn:
    """Raise the ValueError of a refused file (or, with no path, of a refused save)."""
    where = f"Cannot load {path!r}" if path is not None else "Cannot save the estimator"
    message = f"{where}: {problem} Expected: {expected}. Received: {received}."
    raise ValueError(message) from cause


def _open_zip(data: bytes, path: str | None, what: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except Exception as error:  # any failure to parse the archive: zipfile, zlib, struct...
        _refuse(
            path,
            f"the {what} is not a zip archive, or is truncated or corrupted ({error}).",
            "a file written by AutoencoderTransformer.save (a zip archive)"
            if what == "file"
            else "a .keras zip archive",
            f"{len(data)} bytes starting with {data[:16]!r}",
            cause=error,
        )


def _member_names(archive: zipfile.ZipFile, path: str | None, what: str) -> list[str]:
    names = archive.namelist()
    if len(set(names)) != len(names):
        _refuse(
            path,
            f"the {what} has duplicate members, which different readers resolve differently.",
            "each member once",
            f"members {names}",
        )
    return names


def _read_member(archive: zipfile.ZipFile, name: str, path: str | None, what: str) -> bytes:
    try:
        return archive.read(name)
    except Exception as error:  # a bad checksum, a broken deflate stream, ...
        _refuse(
            path,
            f"member {name!r} of the {what} is corrupted or truncated ({error}).",
            "a zip member that reads back with a valid checksum",
            f"{type(error).__name__}: {error}",
            cause=error,
        )


def _read_json(archive: zipfile.ZipFile, name: str, path: str | None, what: str) -> dict:
    size = archive.getinfo(name).file_size
    if size > _MAX_JSON_BYTES:
        _refuse(
            path,
            f"member {name!r} of the {what} is too large.",
            f"at most {_MAX_JSON_BYTES} bytes",
            f"{size} bytes",
        )
    data = _read_member(archive, name, path, what)
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        _refuse(
            path,
            f"member {name!r} of the {what} is not valid UTF-8 JSON ({error}).",
            "a JSON object",
            f"{len(data)} bytes starting with {data[:32]!r}",
            cause=error,
        )
    if not isinstance(value, dict):
        _refuse(path, f"member {name!r} of the {what} is not a JSON object.", "an object", value)
    return value


def _check_metadata(metadata: dict, path: str) -> None:
    if metadata.get("format") != FORMAT_NAME:
        _refuse(
            path,
            f"{METADATA_MEMBER} does not name the skautoenc format.",
            f"format={FORMAT_NAME!r}",
            f"format={metadata.get('format')!r}",
        )
    version = metadata.get("format_version")
    if not _is_int(version) or version < 1:
        _refuse(
            path,
            "its format version is not a positive integer.",
            f"an integer from 1 to {FORMAT_VERSION}",
            f"format_version={version!r}",
        )
    if version > FORMAT_VERSION:
        _refuse(
            path,
            "it was written by a newer skautoenc, in a format version this one cannot "
            "read; upgrade skautoenc to load it.",
            f"format_version <= {FORMAT_VERSION}",
            f"format_version={version}",
        )
    if set(metadata) != set(_METADATA_KEYS):
        _refuse(
            path,
            f"{METADATA_MEMBER} does not have the keys of format version {FORMAT_VERSION}.",
            sorted(_METADATA_KEYS),
            sorted(metadata),
        )
    versions = metadata["versions"]
    if not isinstance(versions, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in versions.items()
    ):
        _refuse(path, "its versions are malformed.", "an object of strings", versions)
    for key in ("params", "fitted_attributes"):
        if not isinstance(metadata[key], dict):
            _refuse(path, f"its {key} are malformed.", "a JSON object", metadata[key])


def _warn_on_version_mismatch(saved: dict[str, str], path: str) -> None:
    installed = _installed_versions()
    mismatches = [
        f"{name} {saved.get(name, 'unknown')} (installed: {installed[name]})"
        for name in _CHECKED_VERSIONS
        if saved.get(name) != installed[name]
    ]
    if mismatches:
        warnings.warn(
            f"{path!r} was saved with {', '.join(mismatches)}. It loads, but results "
            "may differ; save it again with the installed versions to silence this.",
            UserWarning,
            stacklevel=3,
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _decode_params(encoded: dict, path: str) -> dict[str, Any]:
    known = set(AutoencoderTransformer().get_params(deep=False))
    unknown = sorted(set(encoded) - known)
    if unknown:
        _refuse(
            path,
            "it holds parameters AutoencoderTransformer does not have.",
            f"names among {sorted(known)}",
            unknown,
        )
    params = dict(encoded)
    sizes = params.get("hidden_layer_sizes")
    if "hidden_layer_sizes" in params:
        if not isinstance(sizes, list) or not all(_is_int(size) and size >= 1 for size in sizes):
            _refuse(
                path,
                "its hidden_layer_sizes is malformed.",
                "a list of positive integers",
                f"hidden_layer_sizes={sizes!r}",
            )
        params["hidden_layer_sizes"] = tuple(sizes)
    if params.get("callbacks") is not None:
        _refuse(path, "it holds callbacks.", "callbacks=None", params["callbacks"])
    random_state = params.get("random_state")
    if isinstance(random_state, dict):
        params["random_state"] = _decode_random_state(random_state, path)
    return params


def _decode_random_state(encoded: dict, path: str) -> np.random.RandomState:
    state = encoded.get(_RANDOM_STATE_TAG)
    try:
        if set(encoded) != {_RANDOM_STATE_TAG} or not isinstance(state, dict):
            raise ValueError("unexpected keys")
        if state["bit_generator"] != "MT19937" or len(state["key"]) != 624:
            raise ValueError("not an MT19937 state")
        random_state = np.random.RandomState()
        random_state.set_state(
            {
                "bit_generator": "MT19937",
                "state": {
                    "key": np.array(state["key"], dtype=np.uint32),
                    "pos": int(state["pos"]),
                },
                "has_gauss": int(state["has_gauss"]),
                "gauss": float(state["gauss"]),
            }
        )
    except (KeyError, TypeError, ValueError, OverflowError) as error:
        _refuse(
            path,
            f"its random_state is malformed ({error}).",
            f"an int, null or {{{_RANDOM_STATE_TAG!r}: <MT19937 state>}}",
            f"random_state={encoded!r}",
            cause=error,
        )
    return random_state


def _decode_fitted(encoded: dict, path: str) -> dict[str, Any]:
    if set(encoded) != set(_FITTED_ATTRIBUTES):
        _refuse(
            path,
            "its fitted attributes are not those of a fitted AutoencoderTransformer.",
            sorted(_FITTED_ATTRIBUTES),
            sorted(encoded),
        )

    def check(name, ok, expected):
        if not ok:
            _refuse(path, f"its fitted attribute {name} is malformed.", expected, encoded[name])

    def is_numbers(value):
        return isinstance(value, list) and all(_is_number(v) for v in value)

    n_features = encoded["n_features_in_"]
    check("n_features_in_", _is_int(n_features) and n_features >= 1, "a positive integer")
    names = encoded["feature_names_in_"]
    check(
        "feature_names_in_",
        names is None
        or (
            isinstance(names, list)
            and len(names) == n_features
            and all(isinstance(name, str) for name in names)
        ),
        f"null or a list of n_features_in_={n_features} strings",
    )
    check("output_activation_", isinstance(encoded["output_activation_"], str), "a string")
    history = encoded["history_"]
    check(
        "history_",
        isinstance(history, dict) and all(is_numbers(v) for v in history.values()),
        "an object of lists of numbers",
    )
    check("loss_curve_", is_numbers(encoded["loss_curve_"]), "a list of numbers")
    scores = encoded["validation_scores_"]
    check("validation_scores_", scores is None or is_numbers(scores), "null or a list of numbers")
    check("n_iter_", _is_int(encoded["n_iter_"]) and encoded["n_iter_"] >= 0, "an integer >= 0")

    fitted = {
        "n_features_in_": n_features,
        "output_activation_": encoded["output_activation_"],
        "history_": {key: [float(v) for v in values] for key, values in history.items()},
        "loss_curve_": [float(v) for v in encoded["loss_curve_"]],
        "validation_scores_": None if scores is None else [float(v) for v in scores],
        "n_iter_": encoded["n_iter_"],
    }
    if names is not None:
        fitted["feature_names_in_"] = np.asarray(names, dtype=object)
    return fitted


# ------------------------------------------------------------ model checks
def _read_keras_config(model_bytes: bytes, path: str | None) -> dict:
    """Return ``config.json`` of ``.keras`` bytes, checking the archive's members."""
    archive = _open_zip(model_bytes, path, f"{MODEL_MEMBER} member")
    names = _member_names(archive, path, f"{MODEL_MEMBER} member")
    allowed = {*_KERAS_MEMBERS_REQUIRED, *_KERAS_MEMBERS_OPTIONAL}
    if not set(_KERAS_MEMBERS_REQUIRED) <= set(names) <= allowed:
        _refuse(
            path,
            f"its {MODEL_MEMBER} does not hold what Keras writes for a model this library builds.",
            f"members {sorted(_KERAS_MEMBERS_REQUIRED)} and optionally "
            f"{list(_KERAS_MEMBERS_OPTIONAL)}",
            f"members {names}",
        )
    return _read_json(archive, "config.json", path, f"{MODEL_MEMBER} member")


def _check_model_config(config: dict, path: str | None) -> None:
    """Refuse a Keras model configuration this library does not build.

    Runs on the parsed ``config.json``, before Keras deserializes anything:
    first every object named in it must be of an allowed class, from Keras
    itself; then the layers and their wiring must be those ``build_autoencoder``
    creates.
    """
    try:
        _check_classes(config, path)
    except RecursionError:
        _refuse(path, "its model configuration is nested too deeply.", "a shallow config", "")
    _check_autoencoder(config, path)


def _check_classes(node: Any, path: str | None) -> None:
    if isinstance(node, list):
        for item in node:
            _check_classes(item, path)
        return
    if not isinstance(node, dict):
        return
    if "class_name" in node:
        class_name = node["class_name"]
        module = node.get("module")
        registered = node.get("registered_name")
        if (
            not isinstance(class_name, str)
            or class_name not in _ALLOWED_CLASSES
            or not (module is None or module == "keras" or str(module).startswith("keras."))
            or registered not in (None, class_name)
        ):
            _refuse(
                path,
                "its model holds an object this library never builds, which is "
                "refused before Keras deserializes anything (a Lambda layer or a "
                "custom object could run code).",
                f"only Keras classes among {sorted(_ALLOWED_CLASSES)}",
                f"class_name={class_name!r} (module={module!r}, registered_name={registered!r})",
            )
    for value in node.values():
        _check_classes(value, path)


def _layers(config: dict, path: str | None, model_name: str) -> list[dict]:
    inner = config.get("config")
    layers = inner.get("layers") if isinstance(inner, dict) else None
    if (
        config.get("class_name") not in _MODEL_CLASSES
        or not isinstance(layers, list)
        or not all(isinstance(layer, dict) for layer in layers)
    ):
        _refuse(
            path,
            f"its model {model_name!r} is not a Keras functional model.",
            "class_name='Functional' with a list of layers",
            f"class_name={config.get('class_name')!r}",
        )
    return layers


def _tensor_sources(node: Any) -> list[str]:
    """Names of the layers whose outputs a config fragment refers to."""
    if isinstance(node, list):
        return [name for item in node for name in _tensor_sources(item)]
    if not isinstance(node, dict):
        return []
    if node.get("class_name") == "__keras_tensor__":
        history = (node.get("config") or {}).get("keras_history")
        return [history[0]] if isinstance(history, list) and history else ["?"]
    return [name for value in node.values() for name in _tensor_sources(value)]


def _endpoints(value: Any) -> list[Any]:
    """Layer names of ``input_layers``/``output_layers``: ``[n, 0, 0]`` or ``[[n, 0, 0]]``."""
    if isinstance(value, list) and value and isinstance(value[0], str):
        return [value[0]]
    if isinstance(value, list):
        return [item[0] if isinstance(item, list) and item else item for item in value]
    return [value]


def _check_chain(config: dict, expected: list[tuple[tuple[str, ...], str | None]], path, name):
    """Check a functional config is the chain ``expected`` of (classes, layer name).

    A layer name of None accepts any name. Each layer must take the previous
    layer's output, once; the model's input and output are the chain's ends.
    """
    layers = _layers(config, path, name)
    received = [(layer.get("class_name"), layer.get("name")) for layer in layers]
    shape = [
        f"{'/'.join(classes)}" + (f" named {layer_name!r}" if layer_name else "")
        for classes, layer_name in expected
    ]
    matches = len(layers) == len(expected) and all(
        layer.get("class_name") in classes and (wanted is None or layer.get("name") == wanted)
        for layer, (classes, wanted) in zip(layers, expected, strict=False)
    )
    if matches:
        inner = config["config"]
        names = [layer.get("name") for layer in layers]
        wired = (
            len(set(names)) == len(names)
            and all(isinstance(n, str) for n in names)
            and layers[0].get("inbound_nodes") in ([], None)
            and all(
                isinstance(layer.get("inbound_nodes"), list)
                and len(layer["inbound_nodes"]) == 1
                and _tensor_sources(layer["inbound_nodes"]) == [previous]
                for layer, previous in zip(layers[1:], names[:-1], strict=True)
            )
            and _endpoints(inner.get("input_layers")) == [names[0]]
            and _endpoints(inner.get("output_layers")) == [names[-1]]
        )
        if wired:
            return layers
    _refuse(
        path,
        f"its model {name!r} is not the one this library builds.",
        f"the chain [{', '.join(shape)}], each layer feeding the next",
        f"layers {received}",
    )


def _check_autoencoder(config: dict, path: str | None) -> None:
    layers = _layers(config, path, "autoencoder")
    has_noise = len(layers) == 4
    expected = [(("InputLayer",), None)]
    if has_noise:
        expected.append((_NOISE_CLASSES, NOISE_LAYER_NAME))
    expected += [(_MODEL_CLASSES, ENCODER_NAME), (_MODEL_CLASSES, DECODER_NAME)]
    layers = _check_chain(config, expected, path, "autoencoder")
    for sub in layers[-2:]:
        sub_layers = _layers(sub, path, sub["name"])
        stack = [(("InputLayer",), None)] + [(("Dense",), None)] * max(len(sub_layers) - 1, 1)
        for layer in _check_chain(sub, stack, path, sub["name"])[1:]:
            dense = layer.get("config") or {}
            extras = {key: dense[key] for key in _DENSE_UNUSED if dense.get(key) is not None}
            if (
                dense.get("use_bias") is not True
                or not isinstance(dense.get("activation"), str)
                or extras
            ):
                _refuse(
                    path,
                    f"its Dense layer {layer['name']!r} is not one this library builds.",
                    "use_bias=True, an activation given by name, and no "
                    f"{', '.join(_DENSE_UNUSED)}",
                    f"use_bias={dense.get('use_bias')!r}, "
                    f"activation={dense.get('activation')!r}"
                    + "".join(f", {key}={value!r}" for key, value in extras.items()),
                )


def _check_model_objects(model, path: str) -> None:
    """After loading: the deserialized objects have the classes the config named."""
    from ._keras import import_keras

    keras = import_keras()
    layers = keras.layers
    allowed = (layers.InputLayer, layers.GaussianNoise, layers.Dropout, keras.Model)
    ok = isinstance(model, keras.Model)
    for layer in model.layers:
        ok = ok and isinstance(layer, allowed)
        if isinstance(layer, keras.Model):
            ok = ok and all(
                isinstance(inner, (layers.InputLayer, layers.Dense)) for inner in layer.layers
            )
    if not ok:
        _refuse(
            path,
            "its deserialized model is not the one this library builds.",
            "InputLayer, optional GaussianNoise/Dropout, and Dense-only encoder and decoder",
            [type(layer).__name__ for layer in model.layers],
        )


def _check_consistency(estimator, n_components: int, attributes: dict, path: str | None) -> None:
    """Refuse fitted attributes that do not match the model they come with."""
    from ._keras import import_keras

    keras = import_keras()
    encoder, decoder = attributes["_forward_encoder"], attributes["_forward_decoder"]
    n_features = estimator.n_features_in_
    checks = [
        ("n_features_in_", n_features, encoder.n_inputs, "the model's input width"),
        ("n_features_in_", n_features, decoder.n_outputs, "the model's output width"),
        ("n_components", n_components, encoder.n_outputs, "the encoder's output width"),
        ("n_components", n_components, decoder.n_inputs, "the decoder's input width"),
        (
            "output_activation_",
            estimator.output_activation_,
            keras.activations.serialize(attributes["decoder_"].layers[-1].activation),
            "the activation of the decoder's last layer",
        ),
    ]
    for name, value, actual, meaning in checks:
        if value != actual:
            _refuse(
                path,
                f"{name} does not match its model"
                + ("" if path is not None else " (was it set after fit? refit first)")
                + ".",
                f"{name}={actual!r}, {meaning}",
                f"{name}={value!r}",
            )
