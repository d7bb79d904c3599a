"""Test-session settings shared by tests/ and the doctests in skautoenc/."""

import importlib.util
import os

# scikit-learn's check_array_api_input runs only when SciPy's array API support is
# on, and SciPy reads this variable once, at import.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

# skautoenc.onnx needs the onnx extra; without it, its doctest is not collected.
collect_ignore = [] if importlib.util.find_spec("skl2onnx") else ["skautoenc/onnx.py"]
