"""
Choosing the bottleneck with GridSearchCV
=========================================

:class:`~skautoenc.AutoencoderTransformer` is a scikit-learn transformer, so it
goes into a :class:`~sklearn.pipeline.Pipeline` and its ``n_components`` into a
grid search like any other parameter. Here the pipeline encodes the raw pixels
(0..16: like PCA, the autoencoder centres and scales the data itself, so no
scaler is needed) and classifies the codes with a logistic regression; the
search picks the bottleneck with the best cross-validated accuracy. The same
search over PCA gives the baseline.

To keep the example quick, each autoencoder trains for at most 20 epochs (the
default allows 500, stopping when the held-out loss levels off); the sizes often
rank the same long before the fits converge, and the "quick searches" recipe of
:doc:`/scaling` then fits the chosen size with the defaults. The 13 fits (4
sizes x 3 folds, and the refit of the best) run one after the other;
``n_jobs=-1`` runs them in parallel.

Set the environment variable ``SKAUTOENC_QUICK=1`` to run it on a small subset
with a few epochs, as the test suite does.
"""

# %%
import os
import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skautoenc import AutoencoderTransformer

QUICK = os.environ.get("SKAUTOENC_QUICK", "0") not in ("", "0")

X, y = load_digits(return_X_y=True)  # raw pixels, 0..16, as given
sizes = [2, 4, 8, 16]
autoencoder = AutoencoderTransformer(epochs=20, random_state=0)
if QUICK:
    X, y, sizes = X[:300], y[:300], [2, 4]
    autoencoder.set_params(epochs=2, hidden_layer_sizes=(16,))

# The capped epochs warn that training could go on; so may the classifier.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

# %%
# The pipeline and the search
# ---------------------------
pipeline = Pipeline(
    [
        ("reduce", autoencoder),
        ("classify", LogisticRegression(max_iter=2000)),
    ]
)
search = GridSearchCV(pipeline, {"reduce__n_components": sizes}, cv=3)
search.fit(X, y)
print(f"best: {search.best_params_}, cross-validated accuracy {search.best_score_:.3f}")

# %%
# The same search with PCA in the middle:
pca_search = GridSearchCV(
    pipeline.set_params(reduce=PCA()), {"reduce__n_components": sizes}, cv=3
).fit(X, y)
print(f"PCA:  {pca_search.best_params_}, cross-validated accuracy {pca_search.best_score_:.3f}")

# %%
# Accuracy by bottleneck size
# ---------------------------
print("n_components  autoencoder  PCA")
for k, ae_score, pca_score in zip(
    sizes,
    search.cv_results_["mean_test_score"],
    pca_search.cv_results_["mean_test_score"],
    strict=True,
):
    print(f"{k:12d}  {ae_score:11.3f}  {pca_score:.3f}")

fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
for name, result in [("AutoencoderTransformer", search), ("PCA", pca_search)]:
    scores = result.cv_results_
    ax.errorbar(
        sizes,
        scores["mean_test_score"],
        yerr=scores["std_test_score"],
        marker="o",
        capsize=3,
        label=name,
    )
ax.set_xscale("log", base=2)
ax.set_xticks(sizes, labels=[str(k) for k in sizes])
ax.set_xticks([], minor=True)
ax.set_xlabel("n_components (bottleneck size)")
ax.set_ylabel("cross-validated accuracy (3 folds)")
ax.set_title("Logistic regression on the codes")
ax.grid(True, alpha=0.3)
ax.legend(title="reduce step")

plt.show()
