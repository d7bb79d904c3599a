"""What skops must be told to trust to load a fitted skautoenc estimator.

``skops.io.load`` builds only the types it knows to be safe (NumPy arrays, built-in
containers, scikit-learn's estimators, ...) and those its caller names in
``trusted``. skops stores a fitted :class:`~skautoenc.AutoencoderTransformer` as its
``__getstate__``: parameters, plain values and NumPy arrays (the weights, the
optimizer's state), no Keras object and no pickled bytes. So the estimator's own
class is the only type skops must be told about, with :class:`~skautoenc.KerasNetwork`
when it is the ``builder``. Trusting them lets a file run only their
``__setstate__``, which stores those values (a builder's network as Keras configs,
checked as :func:`skautoenc.load` checks them) and rebuilds the forward pass from
them; everything else in the file must still be of a type skops trusts by itself.

Neither skops nor MLflow is imported here: ``import skautoenc`` stays light.

Examples
--------
>>> import numpy as np
>>> import skops.io
>>> from skautoenc import SKOPS_TRUSTED_TYPES, AutoencoderTransformer
>>> X = np.random.default_rng(0).normal(size=(60, 5))
>>> ae = AutoencoderTransformer(2, hidden_layer_sizes=(8,), epochs=2, random_state=0).fit(X)
>>> data = skops.io.dumps(ae)
>>> skops.io.get_untrusted_types(data=data)
['skautoenc._autoencoder.AutoencoderTransformer']
>>> loaded = skops.io.loads(data, trusted=SKOPS_TRUSTED_TYPES)
>>> bool(np.array_equal(loaded.transform(X), ae.transform(X)))
True
"""

from __future__ import annotations

from ._autoencoder import AutoencoderTransformer
from ._keras_network import KerasNetwork


def _qualified_name(cls: type) -> str:
    """The name ``skops.io.get_untrusted_types`` reports for instances of ``cls``."""
    return f"{cls.__module__}.{cls.__qualname__}"


# A list, not a tuple: MLflow writes ``skops_trusted_types`` to a YAML file, whose
# safe dumper accepts lists only.
SKOPS_TRUSTED_TYPES: list[str] = [
    _qualified_name(AutoencoderTransformer),
    # A builder given as models; its __setstate__ checks the configs as load does.
    _qualified_name(KerasNetwork),
]
