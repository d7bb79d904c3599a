"""Lazy, quiet import of Keras: the only place the library imports it at module level."""

from __future__ import annotations

import contextlib
import os
import random
import re
import sys
import tempfile
import threading

import numpy as np

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


_import_lock = threading.Lock()


def import_keras():
    """Import and return ``keras`` without TensorFlow's start-up chatter.

    The first call sets ``TF_CPP_MIN_LOG_LEVEL=2`` unless the user set it,
    imports Keras and initializes its backend's devices with the process's
    standard error filtered: the lines matched by ``_STARTUP_CHATTER`` are
    dropped, everything else is passed on. Later calls just return ``keras``.
    """
    with _import_lock:  # fits starting in several threads import once, together
        if "keras" in sys.modules:
            import keras  # waits for an import still running in another thread

            return keras
        return _first_import()


def _first_import():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _limit_threads_as_asked()
    # Importing TensorFlow draws from NumPy's global random state: keep the user's.
    numpy_state, python_state = np.random.get_state(), random.getstate()
    with _filtered_stderr():
        import keras

        # Device discovery happens here. On JAX and PyTorch, TensorFlow is not
        # imported: the trainers (``_trainers``) do not use Keras' data pipeline.
        keras.ops.convert_to_numpy(keras.ops.zeros(1))
    np.random.set_state(numpy_state)
    random.setstate(python_state)
    return keras


def _limit_threads_as_asked() -> None:
    """Give the backend's thread pools the size ``OMP_NUM_THREADS`` asks for.

    joblib's process workers (``GridSearchCV(n_jobs=...)``) and Dask's workers set
    ``OMP_NUM_THREADS`` so that each uses its share of the cores; BLAS and OpenMP
    read it, TensorFlow and XLA do not. Their own settings win when present, and
    this only runs before the backend starts (its pools are fixed then).
    """
    threads = os.environ.get("OMP_NUM_THREADS", "")
    if not threads.isdigit() or int(threads) < 1:
        return
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", threads)
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", threads)
    if threads == "1" and "xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false".strip()


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
