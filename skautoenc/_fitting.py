"""From an estimator's parameters and data to its fitted attributes, without touching it.

``fit`` and ``partial_fit`` compute every fitted attribute here into one dict,
which the estimator then publishes in one step: a failing fit leaves the
estimator as it was, and threads reading it meanwhile see the old model.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

from ._inference import FittedNetwork
from ._keras import import_keras
from ._network import code_scale, initial_weights, spectrum
from ._rows import InMemoryRows, StreamedRows, is_streamed, standardize, summarize
from ._threads import one_blas_thread
from ._trainer_base import compiled_network
from ._trainers import Recipe, active_distribution
from ._training import Settings, train
from ._validation import check_training_params, network_for, structure, validate_rows

# What noise="auto" adds: Gaussian noise whose variance is this fraction of the
# variance per feature that PCA leaves unexplained at n_components.
AUTO_NOISE_FRACTION = 0.5
# output_activation="auto" bounds a feature at an edge of its range that at least this
# share of the rows take: a bound of the data (a floor, a ceiling, an indicator's two
# values), not a chance extreme. Repeated rows make small piles at extremes that are
# not bounds: at 1 %, a table whose rows repeat one years-of-experience value (2.4 % of
# them) was clipped there, and a held-out row past it lost to PCA; 10 % left out
# bounds that helped (benchmarks/bench_vs_pca.py; the changelog has the numbers).
BOUND_SHARE = 0.05


# Keras computes the fit in its own thread pool; the fit's NumPy products
# (statistics, the PCA start, held-out rows) are small next to it (see ``_threads``).
@one_blas_thread()
def fit_state(estimator, X, *, continuing: bool, partial: bool) -> dict:
    """Validate, train and return the fitted attributes of ``estimator`` on ``X``.

    ``continuing``: train the fitted network further (``warm_start``,
    ``partial_fit`` after the first call). ``partial``: one epoch, no validation.
    """
    est = estimator
    features = _features_seen(est, X, reset=not continuing)
    X = features.pop("X")
    network = network_for(est, X.shape[1])
    check_training_params(est)
    rng = np.random.RandomState(check_random_state(est.random_state).randint(2**31 - 1))
    previous = est._fitted if continuing else None
    if previous is not None and previous.network != network:
        raise ValueError(
            "warm_start=True and partial_fit continue training the fitted network, "
            f"shaped by {structure(previous.network)}; set warm_start=False to train "
            f"another. Received: {structure(network)}."
        )
    if previous is not None and est.whiten != previous.whiten:
        raise ValueError(
            "warm_start=True and partial_fit continue the fitted network, whose codes "
            f"were fitted with whiten={previous.whiten}; set warm_start=False "
            f"to change it. Received: whiten={est.whiten!r}."
        )
    needs_bounds = previous is None or est.fallback_to_pca_  # PCA carries no bounds
    # The spectrum serves the PCA start and noise="auto"; a continuation needs it only
    # for the latter.
    needs_spectrum = previous is None or est.noise == "auto"
    summary = summarize(
        X,
        mean=None if previous is None else previous.mean,
        scale=None if previous is None else previous.scale,
        edges=needs_bounds and est.output_activation == "auto",
        covariance=needs_spectrum,
        check=is_streamed(X),  # arrays were validated whole; streamed rows are checked here
    )
    mean, scale = summary.mean, summary.scale
    if needs_bounds:
        lower, upper = output_bounds(X, est.output_activation, summary.edges)
    else:
        lower, upper = previous.lower, previous.upper
    eigen = spectrum(summary.covariance_root) if needs_spectrum else None
    start = initial_weights(network, eigen, rng) if previous is None else previous.weights

    rows = _training_rows(est, X, mean, scale, rng, validating=est.early_stopping and not partial)
    result = None
    if rows.n_validation is None or rows.n_validation >= 2:  # else PCA: nothing to select on
        same_optimizer = previous is not None and est._optimizer_name == est.optimizer
        settings = Settings(
            recipe=Recipe(
                compiled_network(network, callbacks=est.callbacks),
                est.optimizer,
                est.loss,
                "gaussian" if est.noise == "auto" else est.noise,
                active_distribution(),
                import_keras().config.dtype_policy().name,
            ),
            learning_rate=float(est.learning_rate),
            batch_size=int(min(est.batch_size, rows.n_train)),
            noise_level=noise_level(est, scale, eigen, network.n_components),
            epochs=1 if partial else int(est.epochs),
            tol=float(est.tol),
            n_iter_no_change=int(est.n_iter_no_change),
            callbacks=list(est.callbacks or ()),
            verbose=int(est.verbose),
            stop_on_plateau=not partial,
        )
        optimizer_state = est._optimizer_state if same_optimizer else None
        result = train(
            settings,
            start,
            rows,
            frame=_frame(mean, scale, lower, upper),
            start_frame=_frame(mean, scale, *(previous.lower, previous.upper) if previous else ()),
            rng=rng,
            optimizer_state=optimizer_state or None,
        )

    kept_start = result is None or result.kept_start
    weights = start if kept_start else result.weights
    # PCA itself (the start, kept by a first fit) is unbounded, as the reference it is.
    bounds = () if kept_start and previous is None else (lower, upper)
    if previous is not None:  # a continuation keeps the units of the codes it continues
        codes, code_mean = previous.code_scale, previous.code_mean
    else:
        codes = code_scale(eigen, network.n_components, scale, est.whiten)
        code_mean = None  # PCA's scores (the start's codes) are centred already
        if not kept_start:
            # The trained network's codes spread wider than the start's, and off
            # centre: each is scaled to the spread of the PCA score it started as
            # (1 when whitened), and centred as that score is.
            unscaled = FittedNetwork(network, weights, mean, scale, *bounds)
            centre, spread = _code_moments(unscaled, rows)
            codes = codes / spread
            code_mean = centre * codes
    fitted = FittedNetwork(
        network,
        weights,
        mean,
        scale,
        *bounds,
        code_scale=codes,
        code_mean=code_mean,
        whiten=est.whiten,
    )
    state = {
        **features,
        "mean_": mean,
        "scale_": scale,
        "history_": _extend_history(
            est.history_ if previous is not None else {},
            result.history if result is not None else {},
            with_validation=rows.n_validation is not None,
        ),
        "fallback_to_pca_": kept_start and (previous is None or est.fallback_to_pca_),
        # A continuation starts from the previous network, not from PCA.
        "pca_validation_loss_": None
        if result is None or previous is not None
        else result.start_validation_loss,
        "_fitted": fitted,
        "output_min_": fitted.lower,
        "output_max_": fitted.upper,
        "_optimizer_state": _optimizer_state(est, previous, result, kept_start),
        "_optimizer_name": est.optimizer,
    }
    state.update(derived_attributes(state))
    return state


def _code_moments(fitted: FittedNetwork, rows) -> tuple[np.ndarray, np.ndarray]:
    """The mean and standard deviation of each of the network's codes over the rows
    given to ``fit``, held-out ones included, as PCA's over the rows it is fitted on
    (a standard deviation of 1 where a code is constant: nothing to scale)."""
    count, total, squares = 0, 0.0, 0.0
    for U in rows.blocks():
        Z = fitted.standardised_codes(U).astype(np.float64)
        count, total, squares = count + len(Z), total + Z.sum(0), squares + (Z**2).sum(0)
    variance = (squares - total**2 / count) / max(count - 1, 1)
    spread = np.sqrt(np.maximum(variance, 0.0))
    return total / count, np.where(spread > 1e-12 * max(spread.max(), 1.0), spread, 1.0)


def _frame(mean, scale, lower=None, upper=None) -> tuple:
    """``(mean, scale, lower, upper)`` with the bounds in standardised units (None: none)."""
    if lower is None:
        lower, upper = np.full_like(mean, -np.inf), np.full_like(mean, np.inf)
    return mean, scale, (lower - mean) / scale, (upper - mean) / scale


def _extend_history(previous: dict, new: dict, *, with_validation: bool) -> dict:
    """Append a fit's curves; epochs without a validation loss get NaN, so that every
    curve has one value per epoch (``n_iter_`` values) whatever fits were mixed."""
    keys = ["loss", "learning_rate"]
    if with_validation or "val_loss" in previous:
        keys.append("val_loss")
    done, added = len(previous.get("loss", [])), len(new.get("loss", []))
    return {
        key: list(previous.get(key, [np.nan] * done)) + list(new.get(key, [np.nan] * added))
        for key in keys
    }


def _optimizer_state(estimator, previous, result, kept_start):
    """The optimizer state that goes with the published weights."""
    if result is not None and not kept_start:
        return result.optimizer_state
    return estimator._optimizer_state if previous is not None else []


def _features_seen(estimator, X, *, reset: bool) -> dict:
    """Validate ``X`` on a scratch copy: ``X``, ``n_features_in_``, ``feature_names_in_``."""
    scratch = object.__new__(type(estimator))
    scratch.__dict__.update(estimator.get_params(deep=False))
    if not reset:
        for name in ("n_features_in_", "feature_names_in_"):
            if name in estimator.__dict__:
                scratch.__dict__[name] = estimator.__dict__[name]
    if is_streamed(X):  # the first row checks the shape and features; summarize, values
        validate_rows(scratch, np.asarray(X[:1]), reset=reset)
    else:
        X = validate_rows(scratch, X, reset=reset)
    seen = {"X": X, "n_features_in_": scratch.n_features_in_}
    if hasattr(scratch, "feature_names_in_"):
        seen["feature_names_in_"] = scratch.feature_names_in_
    return seen


def output_bounds(X, output_activation: str, edges=None) -> tuple[np.ndarray, np.ndarray]:
    """The bounds of the reconstruction, per feature, in the data's units.

    With ``output_activation="auto"``: a feature whose minimum (maximum) is taken by
    at least ``BOUND_SHARE`` of the rows, and by two rows at least, is bounded there
    (pixels at 0 and 1, counts at 0, indicators at both ends); other features are
    unbounded (infinite). ``edges`` are ``summarize``'s, computed when not given.
    """
    n = X.shape[1]
    if output_activation != "auto":
        return np.full(n, -np.inf), np.full(n, np.inf)
    low, high, at_low, at_high = edges or summarize(X, edges=True).edges
    # Two rows at least: with few rows, one row is a large share of them.
    needed = max(2, BOUND_SHARE * X.shape[0])
    lower = np.where(at_low >= needed, low, -np.inf)
    upper = np.where(at_high >= needed, high, np.inf)
    return lower.astype(np.float64), upper.astype(np.float64)


def noise_level(estimator, scale: float, eigen, n_components: int) -> float:
    """The corruption's level: standardised units (Gaussian) or a fraction (masking).

    ``eigen`` is the ``spectrum`` of the standardised rows (used by ``"auto"``).
    """
    if estimator.noise == "masking":
        return float(estimator.noise_level)
    if estimator.noise == "gaussian":
        return float(estimator.noise_level) / scale
    if estimator.noise is None:
        return 0.0
    variances = eigen[0]
    unexplained = variances[n_components:].sum() / len(variances)
    return float(np.sqrt(AUTO_NOISE_FRACTION * unexplained))


def derived_attributes(state: dict) -> dict:
    """The fitted attributes computed from the others (fit, unpickling and load share it)."""
    history = state["history_"]
    losses = history.get("val_loss")
    best = None
    if state["fallback_to_pca_"] and state["pca_validation_loss_"] is not None:
        best = -state["pca_validation_loss_"]
    elif losses and not np.isnan(losses).all():
        best = -float(np.nanmin(losses))
    return {
        "loss_curve_": list(history["loss"]),
        "validation_scores_": None if losses is None else [-v for v in losses],
        "best_validation_score_": best,
        "n_iter_": len(history["loss"]),
    }


def _training_rows(estimator, X, mean, scale, rng, *, validating: bool):
    """The standardised rows to train on, split into training and held-out rows.

    In memory for arrays; streamed block by block for a large memmap or Dask array.
    """
    n_rows = X.shape[0]
    n_validation = int(np.ceil(estimator.validation_fraction * n_rows)) if validating else 0
    if validating and n_rows - n_validation < 1:  # too few rows to hold any out
        n_validation = 0
    if is_streamed(X):
        held_out = None
        if validating:
            held_out = np.zeros(n_rows, dtype=bool)
            held_out[rng.permutation(n_rows)[:n_validation]] = True
        return StreamedRows(X, mean, scale, held_out)
    U = standardize(X, mean, scale)
    if not validating:
        return InMemoryRows(U, None)
    if n_validation == 0:
        return InMemoryRows(U, U[:0])
    U_train, U_val = train_test_split(U, test_size=n_validation, random_state=rng)
    return InMemoryRows(U_train, U_val)
