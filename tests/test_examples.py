"""Every examples/plot_*.py runs, in quick mode (SKAUTOENC_QUICK=1), and draws figures."""

import ast
import runpy
from pathlib import Path

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("plot_*.py"))


def test_there_are_examples():
    assert len(EXAMPLES) >= 7


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_is_a_gallery_script(path):
    source = path.read_text(encoding="utf-8")
    docstring = ast.get_docstring(ast.parse(source), clean=True)
    assert docstring, "sphinx-gallery needs a module docstring"
    title, underline = docstring.splitlines()[:2]
    assert title.strip()
    assert set(underline) == {"="}
    assert len(underline) >= len(title)
    assert "SKAUTOENC_QUICK=1" in docstring
    assert "# %%" in source


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_uses_no_removed_api(path):
    # The estimator centres and scales the data itself (no MinMaxScaler needed)
    # and its output layer is linear: output_activation_ is gone.
    source = path.read_text(encoding="utf-8")
    assert "output_activation_" not in source
    assert "MinMaxScaler" not in source


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_runs_in_quick_mode(path, monkeypatch, tmp_path):
    monkeypatch.setenv("SKAUTOENC_QUICK", "1")
    monkeypatch.chdir(tmp_path)  # whatever an example writes lands here
    plt.close("all")
    try:
        runpy.run_path(str(path), run_name="__main__")
        assert plt.get_fignums(), f"{path.name} drew no figure"
    finally:
        plt.close("all")
    assert list(tmp_path.iterdir()) == []  # and it cleans up after itself
