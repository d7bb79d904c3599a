"""In Jupyter: the progress lines, each figure shown once, the HTML repr's doc link.

A small notebook runs in a real kernel (nbclient + ipykernel, this interpreter),
with matplotlib's inline backend as Jupyter uses by default.
"""

import os
import re
import sys

import pytest

import skautoenc
from skautoenc import AutoencoderTransformer

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib_inline")

EPOCHS = 3
DOC_PAGE = "/gen_modules/skautoenc.AutoencoderTransformer.html"
CELLS = {
    "setup": """\
import sys
import matplotlib
import pandas as pd
from skautoenc import AutoencoderTransformer
from skautoenc.datasets import load_digits_images
from skautoenc.plotting import plot_comparison, plot_embedding, plot_history, plot_reconstructions

digits = load_digits_images()
X, y = digits.data[:150], digits.target[:150]
print(sys.executable)
print(matplotlib.get_backend())""",
    "fit": f"""\
ae = AutoencoderTransformer(2, hidden_layer_sizes=(16,), epochs={EPOCHS}, verbose=1,
                            random_state=0).fit(X)""",
    "plot_reconstructions": "plot_reconstructions(ae, X, image_shape=(8, 8), n_images=4)",
    "plot_embedding": "plot_embedding(X, y, estimator=ae, pca=True)",
    "plot_history": "plot_history(ae)",
    "plot_comparison": """\
plot_comparison(pd.DataFrame({"method": ["PCA", "autoencoder"] * 2,
                              "n_components": [2, 2, 8, 8],
                              "mse": [0.05, 0.03, 0.02, 0.01]}))""",
    "repr": "ae",
}
PLOTS = ["plot_reconstructions", "plot_embedding", "plot_history", "plot_comparison"]
CONTROL = re.compile(r"[\r\b\x1b]")  # carriage return, backspace, ANSI escape


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """Each cell's outputs, by name, after running the notebook in a fresh kernel."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS.values()]
    path = tmp_path_factory.mktemp("notebook") / "skautoenc.ipynb"
    nbformat.write(notebook, path)
    # The kernel spec's "python" is this interpreter (jupyter_client substitutes
    # sys.executable); without MPLBACKEND (Agg in some test setups), the kernel
    # picks the inline backend, as in Jupyter.
    env = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}
    client = nbclient.NotebookClient(
        nbformat.read(path, as_version=4),
        kernel_name="python3",
        timeout=120,
        startup_timeout=60,
        resources={"metadata": {"path": str(path.parent)}},
    )
    executed = client.execute(env=env)
    return dict(zip(CELLS, (cell.outputs for cell in executed.cells), strict=True))


def streams(cell_outputs, name):
    return "".join(o.text for o in cell_outputs if o.output_type == "stream" and o.name == name)


def test_the_kernel_is_this_interpreter_with_the_inline_backend(outputs):
    executable, backend = streams(outputs["setup"], "stdout").splitlines()
    assert os.path.realpath(executable) == os.path.realpath(sys.executable)
    assert backend.endswith("backend_inline") or backend == "inline", backend


def test_verbose_prints_one_plain_line_per_epoch(outputs):
    cell = outputs["fit"]
    lines = streams(cell, "stdout").splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["epoch", f"{epoch}/{EPOCHS}"] for epoch in range(1, EPOCHS + 1)
    ]
    assert all("loss" in line for line in lines)
    for output in cell:  # nothing that redraws a line: no \r, \b or ANSI codes
        if output.output_type == "stream":
            assert not CONTROL.search(output.text), output.text
    assert not [o for o in cell if o.output_type in ("execute_result", "display_data")]


@pytest.mark.parametrize("cell", PLOTS)
def test_a_plot_as_last_line_shows_one_figure(outputs, cell):
    shown = [o for o in outputs[cell] if "image/png" in o.get("data", {})]
    assert len(shown) == 1, [o.get("data", {}).keys() for o in outputs[cell]]
    assert shown[0].output_type == "display_data"  # from the inline backend, not a repr
    assert not [o for o in outputs[cell] if o.output_type == "error"]


def test_html_repr_links_to_the_api_page(outputs):
    (result,) = [o for o in outputs["repr"] if o.output_type == "execute_result"]
    html = result.data["text/html"]
    link = AutoencoderTransformer()._get_doc_link()
    assert link.endswith(DOC_PAGE)
    assert f'href="{link}"' in html


@pytest.mark.parametrize(
    ("version", "docs"), [("0.2.0", "0.2.0"), ("1.10.3", "1.10.3"), ("0.3.dev0", "latest")]
)
def test_doc_link_names_the_installed_version(monkeypatch, version, docs):
    monkeypatch.setattr(skautoenc, "__version__", version)
    link = AutoencoderTransformer()._get_doc_link()
    assert link == f"https://skautoenc.readthedocs.io/en/{docs}{DOC_PAGE}"
    assert f'href="{link}"' in AutoencoderTransformer()._repr_html_()


def test_subclasses_elsewhere_get_no_link():
    class Custom(AutoencoderTransformer):
        pass

    assert Custom()._get_doc_link() == ""  # scikit-learn's rule for third-party classes
