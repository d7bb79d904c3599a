"""The documentation: every public name is in the API reference, and Sphinx builds it
with no warning (the examples' code is rendered, not run: ``make docs`` runs them)."""

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PUBLIC_MODULES = {
    "skautoenc": ROOT / "skautoenc" / "__init__.py",
    "skautoenc.datasets": ROOT / "skautoenc" / "datasets.py",
    "skautoenc.plotting": ROOT / "skautoenc" / "plotting.py",
}


def _all_names(path):
    """``__all__`` of a module, read without importing it."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets
        ):
            return list(ast.literal_eval(node.value))
    raise AssertionError(f"{path} has no __all__")


def test_api_reference_lists_every_public_name():
    text = (DOCS / "api.rst").read_text(encoding="utf-8")
    documented = {}
    module = None
    for line in text.splitlines():
        current = re.match(r"\.\. currentmodule:: (\S+)", line)
        if current:
            module = current.group(1)
        entry = re.fullmatch(r"   (\w+)", line)  # an autosummary entry
        if entry and module:
            documented.setdefault(module, set()).add(entry.group(1))
    for module, path in PUBLIC_MODULES.items():
        public = set(_all_names(path)) - {"__version__"}
        missing = public - documented.get(module, set())
        assert not missing, f"docs/api.rst does not list {module}.{sorted(missing)}"


def test_docs_build_without_warnings(tmp_path):
    for name in ("sphinx", "numpydoc", "sphinx_gallery", "myst_parser", "pydata_sphinx_theme"):
        pytest.importorskip(
            name, reason='the docs extra is not installed: pip install -e ".[docs]"'
        )
    # Build a copy, so that the generated pages of `make docs` (docs/auto_examples,
    # docs/gen_modules) are left alone.
    source = tmp_path / "docs"
    shutil.copytree(
        DOCS, source, ignore=shutil.ignore_patterns("_build", "auto_examples", "gen_modules")
    )
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    html = tmp_path / "html"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-D",
            "plot_gallery=0",
            str(source),
            str(html),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"sphinx-build failed:\n{result.stderr}\n{result.stdout}"

    for page in ("index", "getting_started", "user_guide", "api", "changelog", "saving"):
        assert (html / f"{page}.html").is_file(), page
    gallery = (html / "auto_examples" / "index.html").read_text(encoding="utf-8")
    for example in sorted((ROOT / "examples").glob("plot_*.py")):
        assert (html / "auto_examples" / f"{example.stem}.html").is_file(), example.name
        assert f"{example.stem}.html" in gallery, f"{example.name} is not in the gallery index"
    api_pages = {path.stem for path in (html / "gen_modules").glob("*.html")}
    for module, path in PUBLIC_MODULES.items():
        for name in set(_all_names(path)) - {"__version__"}:
            assert f"{module}.{name}" in api_pages, f"no API page for {module}.{name}"


def test_readme_python_blocks_run_as_written_in_order(tmp_path, monkeypatch):
    """A reader copies them one after the other: each must run in the namespace the
    previous ones left, with no warning but the seed's (7 epochs do not converge).

    scikit-learn's ``load_digits`` gives them its first 300 rows: the README's grid
    search fits 13 autoencoders, and on all 1,797 rows it was the suite's longest
    test by far. ``make demo`` and ``benchmarks/bench_search.py`` fit the full digits.
    """
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    assert len(blocks) >= 3
    monkeypatch.chdir(tmp_path)
    import sklearn.datasets

    all_digits = sklearn.datasets.load_digits

    def first_digits(*args, **kwargs):
        digits = all_digits(*args, **kwargs)
        if isinstance(digits, tuple):  # return_X_y=True
            return tuple(array[:300] for array in digits)
        for key in ("data", "target", "images"):
            digits[key] = digits[key][:300]
        return digits

    monkeypatch.setattr(sklearn.datasets, "load_digits", first_digits)
    namespace = {"__name__": "__readme__"}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*maximum number of epochs \\(7\\)")
        for block in blocks:
            exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["search"].best_params_["ae__n_components"] in (2, 4, 8, 16)


def test_integrations_page_python_blocks_run_in_order(tmp_path, monkeypatch):
    """docs/integrations.md as a reader runs it: blocks in order in one namespace; a
    block that starts with ``# file: NAME`` is that file's content, written out."""
    for name in ("skl2onnx", "onnxruntime", "skops", "mlflow", "optuna", "imblearn"):
        pytest.importorskip(name, reason=f"{name} is in the test extra")
    page = (DOCS / "integrations.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.S)
    assert len(blocks) >= 8
    monkeypatch.chdir(tmp_path)
    # Set here, so that they are restored after the test (the page sets them too).
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    namespace = {"__name__": "__integrations__"}
    try:
        for block in blocks:
            written = re.match(r"# file: (\S+)\n", block)
            if written:
                (tmp_path / written.group(1)).write_text(block, encoding="utf-8")
            else:
                exec(compile(block, "integrations.md", "exec"), namespace)
    finally:
        if "mlflow" in namespace:
            namespace["mlflow"].set_tracking_uri(None)
    assert set(namespace["study"].best_params) == {"n_components", "width"}
    assert set(np.unique(namespace["balanced"].predict(namespace["X"]))) == set(range(10))
