"""Sphinx configuration: numpydoc API pages, the examples/ gallery, Markdown pages.

Build with ``make docs`` (HTML into ``docs/_build/html``, any warning fails it).
One environment variable:

``SKAUTOENC_DOCS_QUICK=1``
    Run the gallery's examples in their quick mode (``SKAUTOENC_QUICK=1``: a
    subset of the data, a few epochs). For checking the build, not for
    publishing: the numbers and figures shown are then meaningless. The next
    build without it runs every example again.

``sphinx-build -D plot_gallery=0`` skips running the examples (the gallery then
shows their code only); ``tests/test_docs.py`` builds that way.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import skautoenc  # installed with `pip install -e ".[docs]"`, as `make docs` does


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


QUICK = _flag("SKAUTOENC_DOCS_QUICK")
if QUICK:
    os.environ["SKAUTOENC_QUICK"] = "1"
# sphinx-gallery re-runs an example only when its source changed. After a build in
# the other mode (quick or full), re-run them all, so that a full build never shows
# a quick build's results.
_MODE_FILE = Path(__file__).resolve().parent / "auto_examples" / ".skautoenc-mode"
_MODE = "quick" if QUICK else "full"
_MODE_CHANGED = not _MODE_FILE.is_file() or _MODE_FILE.read_text().strip() != _MODE
_MODE_FILE.parent.mkdir(exist_ok=True)
_MODE_FILE.write_text(_MODE)
# Examples call plt.show(); the gallery scrapes the figures instead of showing them.
os.environ.setdefault("MPLBACKEND", "agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The MLflow example of the gallery: no usage data sent from a docs build.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

# -- Project -----------------------------------------------------------------
project = "skautoenc"
author = "skautoenc developers"
copyright = "skautoenc developers"
release = skautoenc.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_templates", "**.ipynb_checkpoints"]
templates_path = ["_templates"]
default_role = "literal"  # `x` in reStructuredText is code, as in Markdown
pygments_style = "sphinx"

# -- API reference: autosummary + numpydoc -----------------------------------
autosummary_generate = True
autodoc_typehints = "none"  # the numpydoc "Parameters" sections say the types
# Methods are documented by the autosummary class template
# (_templates/autosummary/class.rst), not listed by numpydoc, whose member tables
# would duplicate them and warn about stub pages that do not exist.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False


# -- Markdown (docs/saving.md, docs/scaling.md) ------------------------------
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3  # links like saving.md#save-and-load resolve

# -- Example gallery ---------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    # By title: "Autoencoder against PCA, component by component" comes first.
    "within_subsection_order": "ExampleTitleSortKey",
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("skautoenc",),
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "remove_config_comments": True,
    "show_memory": False,
    "min_reported_time": 1,
    "abort_on_example_error": True,
    "run_stale_examples": _MODE_CHANGED,
    # No sg_execution_times pages (they would land in docs/ itself); the build log
    # prints each example's time.
    "write_computation_times": False,
}

# Keep TensorFlow's and Keras' warnings about their own dependencies out of the
# examples' printed output.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(tensorflow|keras)")

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skautoenc {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"**": ["sidebar-nav-bs"], "index": []}
html_static_path: list[str] = []
html_show_sourcelink = False

SKLEARN_DOCS = "https://scikit-learn.org/stable/"


def _sklearn_refs_offline(app, what, name, obj, options, lines):
    """Rewrite the ``:ref:`` roles of docstrings inherited from scikit-learn.

    ``AutoencoderTransformer.set_output`` (from scikit-learn's mixin) refers to
    labels of scikit-learn's own documentation, which this build cannot resolve
    (no intersphinx: the build works offline). Keep their words as text, and
    point example references at scikit-learn's site.
    """
    if not str(getattr(obj, "__module__", "")).startswith("sklearn."):
        return

    def example_link(match):
        folder, script = match.group(1), match.group(2)
        return f"`this example <{SKLEARN_DOCS}auto_examples/{folder}/{script}.html>`__"

    for i, line in enumerate(lines):
        line = re.sub(r":ref:`sphx_glr_auto_examples_(\w+?)_(plot_\w+)\.py`", example_link, line)
        lines[i] = re.sub(r":ref:`([^`<]+?)\s*<[^`>]+>`", r"\1", line)


def setup(app):
    app.connect("autodoc-process-docstring", _sklearn_refs_offline)
