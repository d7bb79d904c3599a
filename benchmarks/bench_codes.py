"""Models downstream of the codes: PCA vs the autoencoder, whitened codes or not.

For scikit-learn's wine, breast_cancer and digits, ``MinMaxScaler -> reducer ->
classifier`` with reducer = ``PCA(k)``, ``AutoencoderTransformer(k, whiten=True)``
and ``AutoencoderTransformer(k, whiten=False)`` (the default), k in {2, 4, 8}, and
classifier = k-nearest neighbours, an RBF ``SVC`` and ``LogisticRegression``, all
with their defaults (``max_iter=1000`` for the last): mean accuracy over a
stratified 3-fold split. Each reducer is fitted once per fold and serves the three
classifiers; both autoencoders train the same network (``whiten`` changes the
codes' units only). Prints every cell, then for each ``whiten`` the mean and the
worst accuracy difference to PCA per classifier, and how many cells are below PCA.

No target: this measures what ``whiten`` does downstream (see the user guide,
"Codes: whitened or in the data's units"). Run: ``python benchmarks/bench_codes.py
[--backend jax]``.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from _common import parse_args_and_import_keras
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import MinMaxScaler
from sklearn.svm import SVC

from skautoenc import AutoencoderTransformer

DATASETS = {"wine": load_wine, "breast_cancer": load_breast_cancer, "digits": load_digits}
CLASSIFIERS = {
    "knn": KNeighborsClassifier(),
    "svc": SVC(),
    "logistic": LogisticRegression(max_iter=1000),
}
COMPONENTS = (2, 4, 8)
REDUCERS = {
    "PCA": lambda k: PCA(k),
    "AE whiten=True": lambda k: AutoencoderTransformer(k, whiten=True, random_state=0),
    "AE whiten=False": lambda k: AutoencoderTransformer(k, whiten=False, random_state=0),
}


def accuracies(X, y, k):
    """``{(reducer, classifier): mean accuracy}`` over a stratified 3-fold split."""
    scores = {}
    for train, test in StratifiedKFold(3, shuffle=True, random_state=0).split(X, y):
        scaler = MinMaxScaler().fit(X[train])
        X_train, X_test = scaler.transform(X[train]), scaler.transform(X[test])
        for reducer_name, make in REDUCERS.items():
            reducer = make(k).fit(X_train)
            codes_train, codes_test = reducer.transform(X_train), reducer.transform(X_test)
            for name, classifier in CLASSIFIERS.items():
                model = clone(classifier).fit(codes_train, y[train])
                scores.setdefault((reducer_name, name), []).append(model.score(codes_test, y[test]))
    return {key: float(np.mean(values)) for key, values in scores.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _, keras = parse_args_and_import_keras(parser)
    warnings.simplefilter("ignore", ConvergenceWarning)
    print(f"Keras {keras.__version__}, backend {keras.backend.backend()}")
    print(f"{'data set':<15}{'k':>3}  {'classifier':<10}" + "".join(f"{r:>17}" for r in REDUCERS))
    cells = []
    for dataset, load in DATASETS.items():
        X, y = load(return_X_y=True)
        for k in COMPONENTS:
            scores = accuracies(X, y, k)
            for name in CLASSIFIERS:
                row = {reducer: scores[(reducer, name)] for reducer in REDUCERS}
                cells.append((name, row))
                shown = "".join(f"{row[r]:>17.3f}" for r in REDUCERS)
                print(f"{dataset:<15}{k:>3}  {name:<10}{shown}", flush=True)
    print("\naccuracy - PCA's, over the data sets and k:")
    for reducer in list(REDUCERS)[1:]:
        for name in CLASSIFIERS:
            gaps = [row[reducer] - row["PCA"] for classifier, row in cells if classifier == name]
            below = sum(gap < 0 for gap in gaps)
            print(
                f"  {reducer:<16} {name:<10} mean {np.mean(gaps):+.3f}  worst {min(gaps):+.3f}  "
                f"below PCA in {below}/{len(gaps)}"
            )


if __name__ == "__main__":
    main()
