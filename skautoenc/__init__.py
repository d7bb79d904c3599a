"""Autoencoders as scikit-learn transformers: a drop-in for PCA, built on Keras 3.

``import skautoenc`` stays light: Keras (and TensorFlow) are imported on the first
``fit`` or load, never at import time.
"""

from ._archive import UnsafeFileError
from ._autoencoder import AutoencoderTransformer
from ._persistence import load
from .compare import compare_with_pca

__version__ = "0.2.0"

__all__ = [
    "AutoencoderTransformer",
    "UnsafeFileError",
    "__version__",
    "compare_with_pca",
    "load",
]
