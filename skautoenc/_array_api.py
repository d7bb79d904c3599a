"""Array API inputs (PyTorch, CuPy, array-api-strict, ...) at the estimator's boundary.

With ``sklearn.set_config(array_api_dispatch=True)``, the estimator's methods take
arrays of any array API namespace: the input is copied to a NumPy array on the CPU,
the computation runs exactly as for NumPy input (Keras trains, NumPy replays the
fitted weights), and an array result goes back to the input's namespace and device.
With dispatch off, nothing changes: inputs go to ``check_array``, which converts
what NumPy can, and results are NumPy arrays, as scikit-learn's estimators do.

The fitted attributes stay NumPy arrays whatever the input. This is why the
estimator does not set scikit-learn's ``array_api_support`` tag: with it,
``check_estimator`` runs ``check_array_api_input``, which requires the fitted
attributes in the input's namespace.

``array_api_compat`` is imported only when dispatch is on: the NumPy path pays
nothing for it.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import numpy as np
from sklearn import get_config


class _Origin(NamedTuple):
    """Where an input came from: what results go back to."""

    namespace: Any
    device: Any
    dtype: Any

    def put(self, result: np.ndarray):
        """``result`` as an array of the input's namespace, on its device."""
        xp, device = self.namespace, self.device
        # Results of integer (or float16) input are float64, which some devices
        # cannot hold (Apple's MPS, array-api-strict's "no_float64"): float32 there.
        if (
            result.dtype == np.float64
            and self.dtype != getattr(xp, "float64", None)
            and not _holds_float64(xp, device)
        ):
            result = result.astype(np.float32)
        return xp.asarray(result, device=device)


def _holds_float64(xp, device) -> bool:
    try:
        floats = xp.__array_namespace_info__().dtypes(device=device, kind="real floating")
    except Exception:  # a namespace without the inspection API: assume it can
        return True
    return "float64" in floats


def origin(X) -> _Origin | None:
    """The namespace, device and dtype of ``X`` when it must be converted, else None.

    None when dispatch is off, and for what ``check_array`` takes as it is: NumPy
    arrays (memmaps included), lists, DataFrames, sparse matrices. Dask arrays are
    passed on too: converting one here would load all of it into memory.
    """
    if not get_config()["array_api_dispatch"]:
        return None
    import array_api_compat as compat

    if compat.is_numpy_array(X) or compat.is_dask_array(X) or not compat.is_array_api_obj(X):
        return None
    return _Origin(compat.array_namespace(X), compat.device(X), X.dtype)


def to_numpy(X) -> np.ndarray:
    """A NumPy array, on the CPU, with the values and dtype of the array API array ``X``.

    Raises
    ------
    TypeError
        If NumPy cannot hold ``X``'s values (e.g. a bfloat16 tensor).
    """
    import array_api_compat as compat

    try:
        if compat.is_torch_array(X):
            # NumPy cannot hold a tensor that requires grad; the results are not
            # differentiable anyway (NumPy computes them).
            X = compat.to_device(X.detach(), "cpu")
        elif compat.is_cupy_array(X):
            return compat.to_device(X, "cpu")  # CuPy copies to a NumPy array
        try:
            # The array API's exchange protocol: arrays on the CPU are shared, not copied.
            return np.from_dlpack(X)
        except (AttributeError, BufferError, RuntimeError, TypeError, ValueError):
            return np.asarray(X)  # e.g. JAX on a GPU, out of reach of NumPy's DLPack import
    except (AttributeError, BufferError, NotImplementedError, RuntimeError, TypeError) as error:
        raise TypeError(
            f"Could not copy X, a {type(X).__module__}.{type(X).__qualname__} of dtype "
            f"{X.dtype} on device {compat.device(X)}, to a NumPy array on the CPU: {error}. "
            "Expected an array of floats or ints that NumPy can hold, e.g. float32 or float64."
        ) from error


def array_api_io(method):
    """Decorate ``method(self, X, ...)`` to take array API arrays under dispatch.

    ``X`` is converted to NumPy (see :func:`to_numpy`); a NumPy array result comes
    back in ``X``'s namespace and on its device. Other results (the estimator itself,
    a float) are returned as they are.
    """

    @functools.wraps(method)
    def wrapper(self, X, *args, **kwargs):
        source = origin(X)
        if source is None:
            return method(self, X, *args, **kwargs)
        result = method(self, to_numpy(X), *args, **kwargs)
        return source.put(result) if isinstance(result, np.ndarray) else result

    return wrapper
