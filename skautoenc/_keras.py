"""Lazy, quiet import of Keras: the only place the library imports it at module level."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import sys
import tempfile

# What TensorFlow's C++ runtime prints on every start-up, before its logging is
# configured (so TF_CPP_MIN_LOG_LEVEL cannot hide it): absl's preamble, INFO lines
# ("I0000 ..."), the CPU-feature notice, and the CUDA driver probe failing on a
# machine without a GPU. Warnings and every other error still get through.
_STARTUP_CHATTER = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\)"
    r"|I\d{4} "
    r"|To enable the following instructions: .*rebuild TensorFlow"
    r"|E\d{4} .*failed call to cuInit"
)


def import_keras():
    """Import and return ``keras`` without TensorFlow's start-up chatter.

    The first call sets ``TF_CPP_MIN_LOG_LEVEL=2`` unless the user set it,
    imports Keras and initializes its backend's devices with the process's
    standard error filtered: the lines matched by ``_STARTUP_CHATTER`` are
    dropped, everything else is passed on. Later calls just return ``keras``.
    """
    if "keras" in sys.modules:
        return sys.modules["keras"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _filtered_stderr():
        import keras

        keras.ops.convert_to_numpy(keras.ops.zeros(1))  # device discovery happens here
        if keras.backend.backend() != "tensorflow" and importlib.util.find_spec("tensorflow"):
            # On the JAX and PyTorch backends Keras' data pipeline still imports
            # TensorFlow when it is installed, during the first fit: do it here.
            import tensorflow  # noqa: F401
    return keras


@contextlib.contextmanager
def _filtered_stderr():
    """Capture file descriptor 2 (C++ and Python writes alike) and replay it filtered."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no real stderr (embedded interpreter)
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode(errors="replace")
            kept = [line for line in text.splitlines(True) if not _STARTUP_CHATTER.match(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()
