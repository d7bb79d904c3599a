"""One fit: standardise, start from PCA, train, select on held-out rows.

The network starts as PCA (see ``_network``). Training runs epochs of shuffled
mini-batches and keeps the weights of the epoch with the lowest loss. When the
loss, smoothed over epochs, has not improved by ``tol`` (relative) for
``n_iter_no_change`` epochs, training goes back to the best weights with 0.3
times the learning rate (twice, each phase with half that patience), then stops.
With a validation split, the best epoch is kept only if its held-out loss beats
the start's clearly: in a one-sided paired t-test over the rows at the 1 % level
and by 2 % (``_significantly_better``); otherwise the fit returns the start
itself, so that small or linear data get PCA's error rather than an overfitted
network.
"""

from __future__ import annotations

import copy
import threading
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import stats
from sklearn.exceptions import ConvergenceWarning

from ._trainers import Recipe, get_trainer

# On a plateau: learning rate x this factor, at most this many times, then stop.
_LR_FACTOR = 0.3
_LR_REDUCTIONS = 2
# Plateaus are judged on the loss smoothed over epochs, each epoch weighing this
# many times as much as the one after it: the held-out loss of a few hundred rows
# jumps from epoch to epoch, and a lucky low epoch, unsmoothed, ended the first
# phase of some fits while the loss was still falling (benchmarks/bench_vs_pca.py,
# --seeds on the digits).
_SMOOTHING = 0.5
# The trained network must beat the start on held-out rows in a one-sided paired
# t-test at this level, and by this fraction of the start's loss: a smaller or less
# certain gain is within what picking the best of many epochs on few rows produces by
# chance (see benchmarks/bench_vs_pca.py), and not worth a nonlinear model.
_SIGNIFICANCE_LEVEL = 0.01
_MIN_RELATIVE_GAIN = 0.02

# Keras' variables and optimizer state are shared by the fits of one structure
# (see ``_trainers``): fits in threads of one process take turns.
_fit_lock = threading.RLock()


@dataclass
class Settings:
    """The training options of one fit (from the estimator's parameters)."""

    recipe: Recipe
    learning_rate: float
    batch_size: int
    noise_level: float  # in standardised units (gaussian) or a fraction (masking)
    epochs: int
    tol: float
    n_iter_no_change: int
    callbacks: list = field(default_factory=list)
    verbose: int = 0
    # False for partial_fit: exactly ``epochs`` epochs, no schedule, no warning.
    stop_on_plateau: bool = True


@dataclass
class Result:
    weights: dict[str, np.ndarray]
    optimizer_state: list[tuple[str, np.ndarray]]
    history: dict[str, list[float]]
    start_validation_loss: float | None
    kept_start: bool


def train(
    settings: Settings,
    start: dict[str, np.ndarray],
    rows,
    *,
    frame: tuple,
    start_frame: tuple,
    rng: np.random.RandomState,
    optimizer_state=None,
) -> Result:
    """Train from ``start`` on ``rows`` (``_rows.InMemoryRows`` or ``StreamedRows``);
    select on their held-out rows when they have some.

    ``frame`` is ``(mean, scale, lower, upper)``: the standardisation and the
    reconstruction's bounds in standardised units. ``start_frame`` is the one the
    start is measured in: unbounded when the start is PCA itself, the reference the
    trained network must beat.
    """
    with _fit_lock:
        trainer = get_trainer(settings.recipe)
        trainer.reset(
            start,
            optimizer_state,
            settings.learning_rate,
            rng.randint(2**31 - 1),
            settings.batch_size,
        )
        return _Loop(settings, trainer, frame, start_frame).run(start, rows, rng)


class _Loop:
    def __init__(self, settings, trainer, frame, start_frame):
        self.settings, self.trainer = settings, trainer
        self.frame, self.start_frame = frame, start_frame
        self.callbacks = None
        if settings.callbacks:
            keras = trainer.keras
            trainer.model.stop_training = False
            self.callbacks = keras.callbacks.CallbackList(
                [copy.copy(callback) for callback in settings.callbacks],
                model=trainer.model,
                epochs=settings.epochs,
                verbose=settings.verbose,
            )

    def run(self, start, rows, rng) -> Result:
        s, trainer = self.settings, self.trainer
        history: dict[str, list[float]] = {"loss": [], "learning_rate": []}
        start_rows = best_rows = None
        validating = rows.n_validation is not None
        if validating:
            history["val_loss"] = []
            start_rows = best_rows = rows.evaluate(trainer, self.start_frame)
            best = float(np.mean(start_rows))
        else:
            best = np.inf
        smoothed = best_smoothed = best
        # The best epoch's weights, as a trainer's snapshot (None: the start).
        best_weights, best_epoch, stalled, reductions = None, 0, 0, 0

        def weights_of(snapshot):
            return start if snapshot is None else trainer.weights_of(snapshot)

        learning_rate = s.learning_rate
        self._callback("on_train_begin")
        for epoch in range(1, s.epochs + 1):
            self._callback("on_epoch_begin", epoch - 1)
            loss, val_rows = rows.train_epoch(trainer, self.frame, s.noise_level, rng)
            logs = {"loss": loss}
            score = loss
            if validating:
                score = logs["val_loss"] = float(np.mean(val_rows))
            for key, value in logs.items():
                history[key].append(value)
            history["learning_rate"].append(learning_rate)
            if s.verbose:
                shown = "  ".join(f"{key} {value:.5g}" for key, value in logs.items())
                print(f"epoch {epoch}/{s.epochs}  {shown}  learning_rate {learning_rate:.3g}")
            if not np.isfinite(score):
                warnings.warn(
                    f"AutoencoderTransformer: training diverged at epoch {epoch} (loss "
                    f"{score}); keeping the weights of epoch {best_epoch}. Lower "
                    "learning_rate.",
                    ConvergenceWarning,
                    stacklevel=5,
                )
                break
            if score < best:
                best, best_epoch = score, epoch
                best_weights = trainer.snapshot()
                best_rows = val_rows
            smoothed = _SMOOTHING * smoothed + (1 - _SMOOTHING) * score
            if not np.isfinite(smoothed):  # no held-out rows: the first epoch starts it
                smoothed = score
            threshold = best_smoothed - s.tol * abs(best_smoothed)
            if not np.isfinite(best_smoothed) or smoothed < threshold:
                best_smoothed, stalled = smoothed, 0
            else:
                stalled += 1
            if self.callbacks is not None:
                trainer.sync()
                self.callbacks.on_epoch_end(epoch - 1, logs)
                if trainer.model.stop_training:
                    break
            if s.stop_on_plateau and stalled >= _patience(s.n_iter_no_change, reductions):
                if reductions == _LR_REDUCTIONS:
                    break
                reductions, stalled = reductions + 1, 0
                learning_rate *= _LR_FACTOR
                smoothed = best_smoothed = best  # the loss of the weights it goes back to
                trainer.set_weights(weights_of(best_weights))
                trainer.set_learning_rate(learning_rate)
        else:
            if s.stop_on_plateau:
                warnings.warn(
                    f"AutoencoderTransformer: the maximum number of epochs ({s.epochs}) "
                    "was reached and the loss is still improving. Raise epochs or tol.",
                    ConvergenceWarning,
                    stacklevel=5,
                )
        self._callback("on_train_end")
        optimizer_state = trainer.optimizer_variables()
        kept_start = validating and not _significantly_better(start_rows, best_rows)
        return Result(
            weights=start if kept_start else weights_of(best_weights),
            optimizer_state=optimizer_state,
            history=history,
            start_validation_loss=None if start_rows is None else float(np.mean(start_rows)),
            kept_start=kept_start,
        )

    def _callback(self, hook, *args):
        if self.callbacks is not None:
            self.trainer.sync()
            getattr(self.callbacks, hook)(*args)


def _patience(n_iter_no_change: int, reductions: int) -> int:
    """Epochs without improvement that make a plateau: ``n_iter_no_change``, then half
    as many once the learning rate was lowered. The later phases refine the best
    weights at a lower rate, where a plateau shows sooner; waiting as long there cost
    a fifth of a default fit for no better model (``benchmarks/bench_fit.py``)."""
    return n_iter_no_change if reductions == 0 else max(1, n_iter_no_change // 2)


def _significantly_better(start_rows, best_rows) -> bool:
    """Whether ``best_rows`` beat ``start_rows`` clearly (see ``_SIGNIFICANCE_LEVEL``)."""
    if best_rows is start_rows or len(start_rows) < 2:
        return False
    start = np.asarray(start_rows, np.float64)
    gain = start - np.asarray(best_rows, np.float64)
    error = gain.std(ddof=1) / np.sqrt(len(gain))
    critical = stats.t.ppf(1 - _SIGNIFICANCE_LEVEL, df=len(gain) - 1)
    needed = max(critical * error, _MIN_RELATIVE_GAIN * start.mean())
    return bool(gain.mean() > needed)
