"""Default AutoencoderTransformer vs PCA on digits: held-out reconstruction MSE.

The core issue's target: with only ``n_components`` set, on scikit-learn's digits
scaled to [0, 1] (75/25 split), the autoencoder's held-out MSE is at most 0.75x
PCA's at every k in {2, 4, 8, 16}, each fit taking seconds on 2 CPU cores.
Run: ``python benchmarks/bench_vs_pca.py [--seeds 0 1 2]``.
"""

from __future__ import annotations

import argparse

from sklearn.model_selection import train_test_split

from skautoenc import AutoencoderTransformer, compare_with_pca
from skautoenc.datasets import load_digits_images

TARGET = 0.75


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--components", type=int, nargs="+", default=[2, 4, 8, 16])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()

    X = load_digits_images().data
    from skautoenc._keras import import_keras

    import_keras()  # so that no fit time below includes importing TensorFlow
    print(f"{'seed':>4} {'k':>3} {'PCA MSE':>9} {'AE MSE':>9} {'ratio':>6} {'AE fit s':>9}  target")
    worst = 0.0
    for seed in args.seeds:
        X_train, X_test = train_test_split(X, test_size=0.25, random_state=seed)
        table = compare_with_pca(
            X_train,
            args.components,
            X_test=X_test,
            estimator=AutoencoderTransformer(random_state=seed),
        )
        by_method = table.set_index(["method", "n_components"])
        for k in args.components:
            pca = by_method.loc[("PCA", k)]
            ae = by_method.loc[("AutoencoderTransformer", k)]
            ratio = ae.mse / pca.mse
            worst = max(worst, ratio)
            verdict = "ok" if ratio <= TARGET else "MISSED"
            print(
                f"{seed:>4} {k:>3} {pca.mse:>9.5f} {ae.mse:>9.5f} {ratio:>6.3f} "
                f"{ae.fit_seconds:>9.1f}  <= {TARGET} {verdict}"
            )
    print(f"worst ratio: {worst:.3f} (target <= {TARGET})")


if __name__ == "__main__":
    main()
