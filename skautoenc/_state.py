"""A fitted estimator as plain values and arrays, and back: what ``save``/``load`` carry.

The network is never stored as a description: ``load`` rebuilds it from the
validated parameters (``_validation.network_for``) and accepts only the arrays
that network has, by name, shape and dtype.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np

from ._fitting import derived_attributes
from ._inference import FittedNetwork
from ._validation import network_for, structure

# Fitted attributes stored as JSON values (the others derive from these).
VALUES = (
    "n_features_in_",
    "feature_names_in_",
    "scale_",
    "history_",
    "fallback_to_pca_",
    "pca_validation_loss_",
    "optimizer",
    "optimizer_variables",
)
# Per-feature arrays in the data's units (the bounds may be infinite: unbounded).
DATA_ARRAYS = ("mean_", "output_min_", "output_max_")
BOUND_ARRAYS = ("output_min_", "output_max_")
# Per-component: what the codes are multiplied by (``FittedNetwork.code_scale``), then
# what is subtracted from them (``FittedNetwork.code_mean``). Files of format 4 hold
# both only with ``whiten=False``, of format 3 the scale only (see ``_persistence``).
CODE_SCALE = "code_scale"
CODE_MEAN = "code_mean"
WEIGHT_PREFIX = "weights/"
WEIGHT_DTYPES = ("float32", "float64")
# Keras' iteration counter is int64, and int32 on JAX, whose default integers are 32-bit.
OPTIMIZER_DTYPES = ("float32", "int64", "int32")
OPTIMIZER_PREFIX = "optimizer/"


def export_state(estimator) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(values, arrays)`` of a fitted estimator whose parameters match its network."""
    fitted = estimator._fitted
    network = network_for(estimator, estimator.n_features_in_)
    if network != fitted.network or estimator.whiten != fitted.whiten:
        raise ValueError(
            "The estimator's parameters no longer describe its fitted network: it was "
            f"fitted with {structure(fitted.network)} and whiten={fitted.whiten}, and "
            f"its parameters now say {structure(network)} and "
            f"whiten={estimator.whiten}. Refit it, or set the parameters back, before "
            "saving."
        )
    names = getattr(estimator, "feature_names_in_", None)
    values = {
        "n_features_in_": int(estimator.n_features_in_),
        "feature_names_in_": None if names is None else [str(name) for name in names],
        "scale_": float(estimator.scale_),
        "history_": {
            str(key): [float(v) for v in values] for key, values in estimator.history_.items()
        },
        "fallback_to_pca_": bool(estimator.fallback_to_pca_),
        "pca_validation_loss_": _optional_float(estimator.pca_validation_loss_),
        "optimizer": estimator._optimizer_name,
        "optimizer_variables": [name for name, _ in estimator._optimizer_state],
    }
    arrays = {name: np.asarray(getattr(estimator, name), np.float64) for name in DATA_ARRAYS}
    arrays[CODE_SCALE], arrays[CODE_MEAN] = fitted.code_scale, fitted.code_mean
    arrays.update({WEIGHT_PREFIX + name: w for name, w in fitted.weights.items()})
    arrays.update(
        {f"{OPTIMIZER_PREFIX}{i}": v for i, (_, v) in enumerate(estimator._optimizer_state)}
    )
    return values, arrays


def expected_arrays(estimator, values: dict[str, Any]) -> dict[str, tuple[tuple, tuple]]:
    """The arrays a file must hold for ``estimator``'s parameters: name -> (shape, dtypes).

    Computed from the parameters and ``values`` alone, before anything is read,
    so that a file declaring other shapes is refused before allocation. Weights are
    float32 once trained, float64 when the fit kept PCA's start (exactly PCA); each
    optimizer variable has the shape of a weight, or none (a scalar).
    """
    network = network_for(estimator, values["n_features_in_"])
    shapes = network.weight_shapes()
    expected = {name: ((network.n_features,), ("float64",)) for name in DATA_ARRAYS}
    expected[CODE_SCALE] = expected[CODE_MEAN] = ((network.n_components,), ("float64",))
    expected.update(
        {WEIGHT_PREFIX + name: (shape, WEIGHT_DTYPES) for name, shape in shapes.items()}
    )
    for i, name in enumerate(values["optimizer_variables"]):
        suffix = name.rsplit("/", 1)[-1]
        matching = [s for n, s in shapes.items() if suffix.startswith(n.replace(".", "_"))]
        expected[f"{OPTIMIZER_PREFIX}{i}"] = (matching[0] if matching else (), OPTIMIZER_DTYPES)
    return expected


def import_state(estimator, values: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Publish the fitted state (``values`` and ``arrays`` already checked) on ``estimator``."""
    network = network_for(estimator, values["n_features_in_"])
    weights = {
        name[len(WEIGHT_PREFIX) :]: array
        for name, array in arrays.items()
        if name.startswith(WEIGHT_PREFIX)
    }
    optimizer = [
        (name, arrays[f"{OPTIMIZER_PREFIX}{i}"])
        for i, name in enumerate(values["optimizer_variables"])
    ]
    state = {
        "n_features_in_": values["n_features_in_"],
        "mean_": arrays["mean_"],
        "scale_": values["scale_"],
        "history_": values["history_"],
        "fallback_to_pca_": values["fallback_to_pca_"],
        "pca_validation_loss_": values["pca_validation_loss_"],
        "output_min_": arrays["output_min_"],
        "output_max_": arrays["output_max_"],
        "_fitted": FittedNetwork(
            network,
            weights,
            arrays["mean_"],
            values["scale_"],
            arrays["output_min_"],
            arrays["output_max_"],
            arrays.get(CODE_SCALE),
            arrays.get(CODE_MEAN),
            whiten=estimator.whiten,
        ),
        "_optimizer_state": optimizer,
        "_optimizer_name": values["optimizer"],
    }
    if values["feature_names_in_"] is not None:
        state["feature_names_in_"] = np.asarray(values["feature_names_in_"], dtype=object)
    state.update(derived_attributes(state))
    estimator._publish(state)


def check_values(values: Any) -> list[str]:
    """Problems with the JSON values of a file (an empty list when there are none)."""
    if not isinstance(values, dict) or set(values) != set(VALUES):
        keys = sorted(values) if isinstance(values, dict) else type(values).__name__
        return [f"fitted attributes with exactly the keys {list(VALUES)}; found {keys}"]
    problems = []

    def need(name, ok, what):
        if not ok:
            problems.append(f"{name} must be {what}; found {values[name]!r:.200}")

    n = values["n_features_in_"]
    need("n_features_in_", _is_int(n) and n >= 1, "a positive int")
    names = values["feature_names_in_"]
    need(
        "feature_names_in_",
        names is None
        or (
            isinstance(names, list)
            and all(isinstance(x, str) for x in names)
            and _is_int(n)
            and len(names) == n
        ),
        "null or n_features_in_ strings",
    )
    scale = values["scale_"]
    need("scale_", _is_number(scale) and np.isfinite(scale) and scale > 0, "a positive float")
    history = values["history_"]
    need(
        "history_",
        isinstance(history, dict)
        and {"loss", "learning_rate"} <= set(history) <= {"loss", "learning_rate", "val_loss"}
        and all(isinstance(v, list) and all(_is_number(x) for x in v) for v in history.values()),
        "a dict of loss, learning_rate (and val_loss) lists of numbers",
    )
    need("fallback_to_pca_", isinstance(values["fallback_to_pca_"], bool), "a bool")
    loss = values["pca_validation_loss_"]
    need("pca_validation_loss_", loss is None or _is_number(loss), "null or a number")
    need("optimizer", isinstance(values["optimizer"], str), "a string")
    variables = values["optimizer_variables"]
    need(
        "optimizer_variables",
        isinstance(variables, list) and all(isinstance(x, str) for x in variables),
        "a list of strings",
    )
    return problems


def _is_int(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _optional_float(value):
    return None if value is None else float(value)
