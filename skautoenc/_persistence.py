"""``est.save`` and :func:`load`: parameters and arrays, never code.

A file is a zip archive (``_archive``) holding ``skautoenc.json`` (format,
versions, parameters as ``_saved_params`` writes them, fitted values) and one
``.npy`` member per array. ``load`` validates the parameters as ``fit`` would,
rebuilds the network they describe, and reads only the arrays that network has,
with the shapes and dtypes it implies. Nothing from the file is ever deserialized
as an object: no pickle and no Keras configuration, so no class named in a file is
ever instantiated.
"""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._archive import ArchiveReader, UnsafeFileError, open_archive, write_archive
from ._autoencoder import AutoencoderTransformer
from ._inference import valid_code_scale
from ._keras_network import KerasNetwork
from ._saved_params import decode_params, encode_param
from ._state import (
    BOUND_ARRAYS,
    CODE_MEAN,
    CODE_SCALE,
    check_values,
    expected_arrays,
    export_state,
    import_state,
)

FORMAT_NAME = "skautoenc.AutoencoderTransformer"
FORMAT_VERSION = 5
METADATA_MEMBER = "skautoenc.json"
ARRAY_FOLDER = "arrays/"
_METADATA_KEYS = ("format", "format_version", "versions", "params", "fitted", "arrays")
# Versions compared on load: a mismatch warns, it does not refuse.
_CHECKED_VERSIONS = ("skautoenc", "scikit-learn", "numpy")


def save(estimator: AutoencoderTransformer, file) -> None:
    """Write a fitted estimator (see ``AutoencoderTransformer.save``)."""
    check_is_fitted(estimator)
    estimator._validate_params()
    params = estimator.get_params(deep=False)
    if params["callbacks"] is not None:
        warnings.warn(
            "AutoencoderTransformer.save does not store callbacks (they are Python "
            "objects); the loaded estimator has callbacks=None. Received: "
            f"callbacks={params['callbacks']!r}.",
            UserWarning,
            stacklevel=3,
        )
    values, arrays = export_state(estimator)
    if params["builder"] is not None:
        # The network the builder made, never the builder (a file holds no code).
        params["builder"] = KerasNetwork(
            *(layer.config for layer in estimator._fitted.network.builder_layers)
        )
        params["builder_kwargs"] = None
    names = {name: f"{ARRAY_FOLDER}{i}.npy" for i, name in enumerate(arrays)}
    document = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "versions": _installed_versions(),
        "params": {k: None if k == "callbacks" else encode_param(k, v) for k, v in params.items()},
        "fitted": values,
        "arrays": names,
    }
    write_archive(
        file, METADATA_MEMBER, document, {names[name]: array for name, array in arrays.items()}
    )


def load(file) -> AutoencoderTransformer:
    """Load an estimator written by ``AutoencoderTransformer.save``.

    The parameters are validated as ``fit`` would validate them; the network
    they describe is rebuilt, and only its arrays are read from the file, each
    checked for name, shape, dtype and finiteness, with sizes checked against the
    file's before anything is allocated. Nothing in the file is executed or
    deserialized as an object, and Keras is not needed, except for a network made
    by a ``builder``: the file holds its Keras configs, which are checked to name
    only Keras' built-in layers (no ``Lambda``, no custom class) before Keras
    rebuilds them in its safe mode; ``builder`` is then a
    :class:`~skautoenc.KerasNetwork` of them.

    Parameters
    ----------
    file : str, os.PathLike or binary file object
        A file written by ``AutoencoderTransformer.save``.

    Returns
    -------
    estimator : AutoencoderTransformer
        The fitted estimator: ``transform``, ``inverse_transform`` and
        ``denoise`` return bitwise what the saved estimator returned.
        ``callbacks`` is None (callbacks are not saved).

    Raises
    ------
    skautoenc.UnsafeFileError
        A ``ValueError``: the file is not a skautoenc file, is truncated or
        corrupted, comes from a newer format version, or holds parameters,
        values or arrays that do not fit together.
    OSError
        If the file cannot be read (e.g. it does not exist).

    Warns
    -----
    UserWarning
        If the file was saved with another version of skautoenc, scikit-learn
        or NumPy. The file still loads.

    See Also
    --------
    AutoencoderTransformer.save : Write the file.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> import skautoenc
    >>> X = load_digits().data[:200]
    >>> ae = skautoenc.AutoencoderTransformer(4, hidden_layer_sizes=(8,), random_state=0).fit(X)
    >>> file = io.BytesIO()
    >>> ae.save(file)
    >>> loaded = skautoenc.load(io.BytesIO(file.getvalue()))
    >>> np.array_equal(loaded.transform(X), ae.transform(X))
    True
    """
    shown = repr(os.fspath(file)) if not hasattr(file, "read") else "the file object"
    with open_archive(file, shown) as reader:
        if METADATA_MEMBER not in reader.names:
            hint = ""
            if "model.keras" in reader.names or "config.json" in reader.names:
                hint = " It looks like a Keras file: load it with keras.saving.load_model."
            reader.refuse(
                "it is not a skautoenc file." + hint,
                f"a zip archive with a {METADATA_MEMBER!r} member",
                f"members {reader.names[:10]}",
            )
        document = reader.read_json(METADATA_MEMBER)
        _check_document(reader, document)
        params = document["params"]
        if document["format_version"] == 2:  # before whiten: the codes were whitened
            params = {"whiten": True, **params}
        estimator = AutoencoderTransformer(**decode_params(reader, params))
        try:
            estimator._validate_params()
        except (ValueError, TypeError) as error:
            reader.refuse(
                f"its parameters fail validation: {error}",
                "valid parameters",
                document["params"],
                error,
            )
        values = document["fitted"]
        problems = check_values(values)
        if problems:
            reader.refuse("its fitted values are malformed.", "; ".join(problems), "see above")
        try:
            expected = expected_arrays(estimator, values)
        # A builder's network is built by Keras here: its errors (TensorFlow's
        # included) are the file's fault too.
        except Exception as error:
            reader.refuse(
                f"its parameters do not fit its data: {error}",
                "consistent parameters",
                document["params"],
                error,
            )
        version = document["format_version"]
        if version < 5 and estimator.whiten:  # before 5: whitened codes, unscaled
            expected.pop(CODE_SCALE)
            expected.pop(CODE_MEAN)
        if version < 4:  # before code_mean: uncentred codes
            expected.pop(CODE_MEAN, None)
        arrays = _read_arrays(reader, document["arrays"], expected)
        _warn_on_version_mismatch(document["versions"], shown)
    import_state(estimator, values, arrays)
    return estimator


def _check_document(reader: ArchiveReader, document: Any) -> None:
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        found = document.get("format") if isinstance(document, dict) else type(document).__name__
        reader.refuse(
            f"{METADATA_MEMBER} does not name the skautoenc format.",
            f"format={FORMAT_NAME!r}",
            f"format={found!r}",
        )
    version = document.get("format_version")
    if type(version) is int and version == 1:  # not True or 1.0: those are not version 1
        reader.refuse(
            "it was written by skautoenc 0.1 (format version 1), whose network is not "
            "the one this version builds (it has no PCA path). Refit the estimator "
            "with this version; to reuse the old model itself, extract the file's "
            "model.keras member with zipfile and load it with keras.saving.load_model.",
            f"format_version {FORMAT_VERSION}",
            "format_version 1",
        )
    if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
        reader.refuse(
            "it has a format version this skautoenc cannot read (upgrade skautoenc).",
            f"format_version <= {FORMAT_VERSION}",
            f"format_version={version!r}",
        )
    if set(document) != set(_METADATA_KEYS):
        reader.refuse(
            f"{METADATA_MEMBER} does not have the keys of format version {version}.",
            sorted(_METADATA_KEYS),
            sorted(document),
        )
    versions = document["versions"]
    if not isinstance(versions, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in versions.items()
    ):
        reader.refuse("its versions are malformed.", "an object of strings", versions)
    for key in ("params", "fitted", "arrays"):
        if not isinstance(document[key], dict):
            reader.refuse(f"its {key} are malformed.", "a JSON object", document[key])
    if not all(isinstance(member, str) for member in document["arrays"].values()):
        reader.refuse("its arrays are malformed.", "member names", f"{document['arrays']!r:.200}")


def _read_arrays(reader: ArchiveReader, members: dict, expected: dict) -> dict[str, np.ndarray]:
    """Every expected array, from exactly the members the file lists: no more, no fewer."""
    wanted = {f"{ARRAY_FOLDER}{i}.npy" for i in range(len(expected))}
    if (
        set(members) != set(expected)
        or set(members.values()) != wanted
        or set(reader.names) != wanted | {METADATA_MEMBER}
    ):
        reader.refuse(
            "its arrays are not those of the network its parameters describe.",
            f"the arrays {sorted(expected)} in members {sorted(wanted)}",
            f"the arrays {sorted(members)[:20]} in members {sorted(reader.names)[:20]}",
        )
    # Python ints: parameters such as hidden_layer_sizes=[2**62] must not wrap around.
    total = sum(
        math.prod(shape) * min(np.dtype(d).itemsize for d in dtypes)
        for shape, dtypes in expected.values()
    )
    if total > reader.size:
        reader.refuse(
            "its parameters imply more weights than the file holds.",
            f"at most {reader.size} bytes of arrays",
            f"{total} bytes",
        )
    arrays = {}
    for name, (shape, dtypes) in expected.items():
        arrays[name] = reader.read_array(
            members[name], shape, dtypes, infinite_ok=name in BOUND_ARRAYS
        )
    if CODE_SCALE in arrays and not valid_code_scale(arrays[CODE_SCALE]):
        reader.refuse("its code scale is not positive.", f"{CODE_SCALE} > 0", "a scale <= 0")
    low, mean, high = arrays["output_min_"], arrays["mean_"], arrays["output_max_"]
    if np.any(low > mean) or np.any(mean > high):  # bounds of the data hold its mean
        reader.refuse(
            "its output bounds do not contain the data's mean.",
            "output_min_ <= mean_ <= output_max_",
            "a bound beyond the mean",
        )
    return arrays


def _installed_versions() -> dict[str, str]:
    import sklearn

    from . import __version__

    return {"skautoenc": __version__, "scikit-learn": sklearn.__version__, "numpy": np.__version__}


def _warn_on_version_mismatch(saved: dict[str, str], shown: str) -> None:
    installed = _installed_versions()
    mismatches = [
        f"{name} {saved.get(name, 'unknown')} (installed: {installed[name]})"
        for name in _CHECKED_VERSIONS
        if saved.get(name) != installed[name]
    ]
    if mismatches:
        warnings.warn(
            f"{shown} was saved with {', '.join(mismatches)}. It loads, but results may "
            "differ; save it again with the installed versions to silence this.",
            UserWarning,
            stacklevel=3,
        )


__all__ = ["UnsafeFileError", "load", "save"]
