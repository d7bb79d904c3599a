"""Test-session settings shared by tests/ and the doctests in skautoenc/."""

import importlib.util
import os

# scikit-learn's check_array_api_input runs only when SciPy's array API support is
# on, and SciPy reads this variable once, at import.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

# skautoenc.onnx needs the onnx extra; without it, its doctest is not collected.
collect_ignore = [] if importlib.util.find_spec("skl2onnx") else ["skautoenc/onnx.py"]

# pytest-xdist runs one worker per core (Makefile: -n auto): a backend pool of one
# thread per worker keeps the workers from competing for every core, as joblib's
# workers do (``skautoenc._keras._limit_threads_as_asked``). BLAS is left alone:
# tests/test_threads.py checks what the library does to its limits.
_workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
if _workers.isdigit() and int(_workers) >= (os.cpu_count() or 1):
    for _name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ.setdefault(_name, "1")

# Each process of the session (the xdist workers) exits as ``python -m skautoenc``
# does, without CPython's collections over every object still alive: with TensorFlow
# imported they took seconds per process, after the last test. Imported here, after
# SCIPY_ARRAY_API is set: SciPy reads it once.
from skautoenc.__main__ import _skip_the_last_collection  # noqa: E402

_skip_the_last_collection()
