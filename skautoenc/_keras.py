"""Lazy, quiet import of Keras: the only place the library imports it at module level."""

from __future__ import annotations

import os


def import_keras():
    """Import and return ``keras``, keeping TensorFlow's C++ start-up chatter quiet.

    ``TF_CPP_MIN_LOG_LEVEL=2`` hides TensorFlow's INFO and WARNING start-up lines
    (CPU feature flags, oneDNN notices) but keeps its errors. A value the user
    already set is left alone.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras
