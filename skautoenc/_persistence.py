"""Moving a fitted Keras model in and out of bytes, safely (no code runs on load)."""

from __future__ import annotations

import os
import tempfile


def model_to_bytes(model) -> bytes:
    """Serialize a Keras model, weights and optimizer state, to ``.keras`` bytes."""
    from ._keras import import_keras

    keras = import_keras()
    with tempfile.TemporaryDirectory(prefix="skautoenc-") as folder:
        path = os.path.join(folder, "model.keras")
        keras.saving.save_model(model, path)
        with open(path, "rb") as file:
            return file.read()


def model_from_bytes(data: bytes):
    """Load ``.keras`` bytes with ``safe_mode=True``: a Lambda layer is refused."""
    from ._keras import import_keras

    keras = import_keras()
    with tempfile.TemporaryDirectory(prefix="skautoenc-") as folder:
        path = os.path.join(folder, "model.keras")
        with open(path, "wb") as file:
            file.write(data)
        return keras.saving.load_model(path, compile=True, safe_mode=True)
