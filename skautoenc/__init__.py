"""Autoencoders as scikit-learn transformers: a drop-in for PCA, built on Keras 3.

``import skautoenc`` stays light: Keras (and TensorFlow) are imported on the first
``fit`` or load, never at import time.
"""

from ._archive import UnsafeFileError
from ._autoencoder import AutoencoderTransformer
from ._keras_network import KerasNetwork
from ._persistence import load
from ._skops import SKOPS_TRUSTED_TYPES as _SKOPS_TRUSTED_TYPES
from .compare import compare_with_pca

__version__ = "0.2.0"

# Bound again here, because Sphinx reads a name's "#:" comment in the module that
# exports it.
#: The fully qualified names of the types that ``skops.io.load`` must be told to
#: trust to load a fitted :class:`AutoencoderTransformer`, alone or inside a
#: scikit-learn ``Pipeline`` or ``ColumnTransformer`` (whose types skops trusts
#: already). Pass it as ``trusted=`` to ``skops.io.load`` and ``skops.io.loads``,
#: or as ``skops_trusted_types=`` to ``mlflow.sklearn.log_model``. It lists
#: skautoenc's own estimator only: trusting it lets a file run nothing but the
#: estimator's ``__setstate__``, which stores parameters, values and NumPy arrays.
#: An estimator given Keras ``callbacks`` also holds Keras objects, which this
#: list leaves untrusted: set ``callbacks=None`` before dumping it.
#:
#: Examples
#: --------
#: >>> import numpy as np
#: >>> import skops.io
#: >>> import skautoenc
#: >>> X = np.random.default_rng(0).normal(size=(60, 5))
#: >>> ae = skautoenc.AutoencoderTransformer(2, hidden_layer_sizes=(8,), epochs=2).fit(X)
#: >>> data = skops.io.dumps(ae)
#: >>> loaded = skops.io.loads(data, trusted=skautoenc.SKOPS_TRUSTED_TYPES)
#: >>> bool(np.array_equal(loaded.transform(X), ae.transform(X)))
#: True
SKOPS_TRUSTED_TYPES: list[str] = _SKOPS_TRUSTED_TYPES

__all__ = [
    "AutoencoderTransformer",
    "KerasNetwork",
    "SKOPS_TRUSTED_TYPES",
    "UnsafeFileError",
    "__version__",
    "compare_with_pca",
    "load",
]
