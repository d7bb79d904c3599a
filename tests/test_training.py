"""Training: the PCA start and fallback, scale, noise, stopping, warm_start, partial_fit,
callbacks, divergence, and the compiled trainers' cache."""

import os
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from _fits import FAST, fit
from sklearn.datasets import load_wine, make_swiss_roll
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skautoenc import AutoencoderTransformer, _trainers
from skautoenc._fitting import AUTO_NOISE_FRACTION
from skautoenc._keras import _filtered_stderr
from skautoenc._trainer_base import CODE_STEP, compiled_network
from skautoenc._training import Settings, _Loop, _significantly_better


def held_out_mse(model, X_test):
    return float(np.mean((model.inverse_transform(model.transform(X_test)) - X_test) ** 2))


@pytest.fixture(scope="module")
def X():
    return np.random.RandomState(0).uniform(size=(80, 6))


@pytest.fixture(scope="module")
def swiss_roll():
    """A curved 2-D sheet in 20 noisy dimensions: a nonlinear code of 2 beats PCA's.

    1,000 rows, so that the fit's 75 held-out rows show the gain as significant
    on every backend: with 45, one backend's fit fell just short of the test's
    threshold (``_significantly_better``) at half PCA's held-out loss."""
    rng = np.random.RandomState(0)
    points, _ = make_swiss_roll(1000, noise=0.1, random_state=0)
    X = points @ rng.normal(size=(3, 20)) + 0.05 * rng.normal(size=(1000, 20))
    return train_test_split(X, test_size=0.25, random_state=0)


@pytest.fixture(scope="module")
def linear():
    """Gaussian data of rank 3 plus isotropic noise: nothing beats PCA here."""
    rng = np.random.RandomState(1)
    X = rng.normal(size=(400, 3)) @ rng.normal(size=(3, 10)) + 0.1 * rng.normal(size=(400, 10))
    return train_test_split(X, test_size=0.25, random_state=0)


# ------------------------------------------------------- the PCA start and fallback
def test_curved_data_keeps_the_trained_network_and_beats_pca(swiss_roll):
    X_train, X_test = swiss_roll
    est = AutoencoderTransformer(2, random_state=0).fit(X_train)
    pca = PCA(2).fit(X_train)
    assert not est.fallback_to_pca_
    assert est.best_validation_score_ > -est.pca_validation_loss_
    assert held_out_mse(est, X_test) < 0.8 * held_out_mse(pca, X_test)


def test_linear_data_falls_back_to_pcas_reconstruction(linear):
    X_train, X_test = linear
    est = AutoencoderTransformer(2, random_state=0).fit(X_train)
    assert est.fallback_to_pca_
    assert est.best_validation_score_ == -est.pca_validation_loss_
    pca = PCA(2).fit(X_train)
    expected = pca.inverse_transform(pca.transform(X_test))
    # The fallback keeps PCA's float64 weights: agreement to float64 rounding.
    np.testing.assert_allclose(est.denoise(X_test), expected, atol=1e-9 * np.abs(X_test).max())


def test_unscaled_data_is_never_worse_than_pca():
    """Wine: one feature in the hundreds, others near 1, as a user gives it to PCA."""
    X_train, X_test = train_test_split(load_wine().data, test_size=0.25, random_state=0)
    for k in (2, 4):
        est = AutoencoderTransformer(k, random_state=0).fit(X_train)
        pca = PCA(k).fit(X_train)
        # PCA itself is the worst case; float32 weights may add rounding only.
        assert held_out_mse(est, X_test) <= held_out_mse(pca, X_test) * (1 + 1e-5)


def test_a_table_of_lower_rank_is_reconstructed_to_float64_rounding_at_its_rank():
    """Columns in units 10,000 times apart, one the total of three others, one
    constant: at n_components equal to the rank, PCA's reconstruction is exact, and so
    must the autoencoder's be (it keeps PCA's start: there is nothing left to learn).
    A start computed from the products ``X.T @ X`` lost the small directions' digits:
    here an error of 300 float64 epsilons of the data's root mean square, against 4
    from the rows' own factor (``_rows.summarize``); the bound allows 50."""
    rng = np.random.RandomState(0)

    def table(n_rows):
        X = rng.normal(size=(n_rows, 8)) * np.logspace(-1, 3, 8)
        return np.hstack([X, X[:, :3].sum(axis=1, keepdims=True), np.full((n_rows, 1), 5.0)])

    X_train, X_test = table(160), table(40)
    est = AutoencoderTransformer(8, random_state=0).fit(X_train)
    assert est.fallback_to_pca_
    error = np.sqrt(held_out_mse(est, X_test) / np.mean(X_test**2))
    assert error < 50 * np.finfo(np.float64).eps


def test_too_few_rows_to_select_on_give_pca_without_training():
    X = np.random.RandomState(0).normal(size=(8, 4))
    est = AutoencoderTransformer(2, random_state=0).fit(X)
    assert est.n_iter_ == 0
    assert est.fallback_to_pca_
    pca = PCA(2).fit(X)
    np.testing.assert_allclose(est.denoise(X), pca.inverse_transform(pca.transform(X)), atol=1e-5)


@pytest.mark.parametrize(
    ("start", "best", "expected"),
    [
        ([1.0, 1.0, 1.0, 1.0], [0.5, 0.5, 0.5, 0.6], True),  # clearly better on every row
        ([1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.9], False),  # better on average, not clearly
        ([1.0, 1.1, 1.2, 1.3], [0.99, 1.09, 1.19, 1.29], False),  # consistently, by 1 % only
        ([1.0, 1.0], [1.5, 1.5], False),  # worse
        ([1.0], [0.0], False),  # one row: no standard error
    ],
)
def test_the_significance_test_against_the_start(start, best, expected):
    assert _significantly_better(np.array(start), np.array(best)) is expected


# -------------------------------------------------------------------- scale
def test_location_and_scale_do_not_change_the_model(X):
    base = fit(AutoencoderTransformer(**FAST), X)
    moved = fit(AutoencoderTransformer(**FAST), 1000 * X + 5)
    # Same standardised rows, same training: reconstructions follow the data's units
    # (float32 training: agreement to a few float32 roundings, amplified by 3 epochs).
    np.testing.assert_allclose(moved.denoise(1000 * X + 5), 1000 * base.denoise(X) + 5, rtol=1e-4)
    assert moved.scale_ == pytest.approx(1000 * base.scale_)


def test_constant_columns_and_constant_data_are_handled():
    X = np.random.RandomState(0).normal(size=(50, 4))
    X[:, 2] = 7.0
    est = fit(AutoencoderTransformer(2, **{**FAST, "epochs": 2}), X)
    assert np.isfinite(est.transform(X)).all()
    constant = fit(AutoencoderTransformer(1, **{**FAST, "epochs": 2}), np.full((20, 3), 4.0))
    assert constant.scale_ == 1.0
    np.testing.assert_allclose(constant.denoise(np.full((2, 3), 4.0)), 4.0, atol=1e-5)


# -------------------------------------------------------------------- noise
@pytest.mark.parametrize("noise", ["gaussian", "masking", "auto"])
def test_noise_is_reproducible_and_changes_training(X, noise):
    params = {**FAST, "noise": noise, "noise_level": 0.3}
    first = fit(AutoencoderTransformer(**params), X)
    second = fit(AutoencoderTransformer(**params), X)
    np.testing.assert_array_equal(first.transform(X), second.transform(X))
    clean = fit(AutoencoderTransformer(**{**FAST, "noise": None}), X)
    assert not np.allclose(first.transform(X), clean.transform(X))


def test_training_noise_is_standard_normal_and_finite():
    """The trainers' own Gaussian draws (inverse transform): normal, and never
    erfinv(-1) = -inf, which uniform draws on [-1, 1) would reach about once in 2**23."""
    from scipy import stats

    from skautoenc._keras import import_keras
    from skautoenc._trainer_base import Trainer

    keras = import_keras()
    # What standard_normal reads of a trainer.
    draws = SimpleNamespace(keras=keras, seed_generator=keras.random.SeedGenerator(0))
    z = keras.ops.convert_to_numpy(Trainer.standard_normal(draws, (2**12, 2**12)))
    assert z.dtype == np.float32
    assert np.isfinite(z).all()
    assert stats.kstest(z[:64].ravel(), "norm").pvalue > 1e-3
    assert abs(z.mean()) < 5 / 2**12
    assert abs(z.std() - 1) < 5 / 2**12


def test_auto_noise_is_half_the_variance_pca_leaves(X, monkeypatch):
    from skautoenc import _training

    seen = []

    original = _training._Loop.run

    def spy(self, *args, **kwargs):
        seen.append(self.settings.noise_level)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(_training._Loop, "run", spy)
    est = fit(AutoencoderTransformer(2, **FAST), X)
    U = (X - est.mean_) / est.scale_
    variances = np.sort(np.linalg.eigvalsh(np.cov(U, rowvar=False)))[::-1]
    expected = np.sqrt(AUTO_NOISE_FRACTION * variances[2:].sum() / X.shape[1])
    assert seen == [pytest.approx(expected, rel=1e-9)]


def test_denoising_removes_gaussian_noise(swiss_roll):
    X_train, X_test = swiss_roll
    sigma = 0.5 * X_train.std()
    est = AutoencoderTransformer(2, noise="gaussian", noise_level=sigma, random_state=0)
    est.fit(X_train)
    noisy = X_test + sigma * np.random.RandomState(0).normal(size=X_test.shape)
    assert np.mean((est.denoise(noisy) - X_test) ** 2) < 0.75 * np.mean((noisy - X_test) ** 2)


# ------------------------------------------------------------------ stopping
def test_early_stopping_records_the_validation_curve_and_keeps_the_best(swiss_roll):
    X_train, _ = swiss_roll
    est = fit(AutoencoderTransformer(2, **{**FAST, "early_stopping": True, "epochs": 30}), X_train)
    losses = est.history_["val_loss"]
    assert len(losses) == est.n_iter_ == len(est.history_["learning_rate"])
    assert est.validation_scores_ == [-v for v in losses]
    if not est.fallback_to_pca_:
        assert est.best_validation_score_ == -min(losses)


def test_plateaus_lower_the_learning_rate_then_stop(X):
    est = fit(AutoencoderTransformer(**{**FAST, "epochs": 500, "n_iter_no_change": 2}), X)
    rates = sorted(set(est.history_["learning_rate"]), reverse=True)
    assert est.n_iter_ < 500
    assert rates == pytest.approx([4e-3, 4e-3 * 0.3, 4e-3 * 0.09])


def test_each_lower_learning_rate_waits_half_as_long(X):
    """A loss that cannot improve (a learning rate of 1e-30, no noise): the first
    epoch sets the best, then plateaus of 6, 3 and 3 epochs end the three phases."""
    params = {**FAST, "epochs": 500, "n_iter_no_change": 6, "noise": None}
    est = fit(AutoencoderTransformer(**params, learning_rate=1e-30), X)
    assert est.n_iter_ == 1 + 6 + 3 + 3
    rates = est.history_["learning_rate"]
    assert [rates.count(rate) for rate in sorted(set(rates), reverse=True)] == [7, 3, 3]


class _ScriptedRows:
    """Held-out rows whose loss after each epoch is given (times a profile over 20
    rows); the weights are the epoch."""

    profile = np.linspace(1, 1.2, 20)

    def __init__(self, start, losses):
        self.start, self.losses, self.n_validation = start, list(losses), len(self.profile)

    def evaluate(self, trainer, frame):
        return self.start * self.profile

    def train_epoch(self, trainer, frame, level, rng):
        trainer.epoch += 1
        return 0.0, self.losses[trainer.epoch - 1] * self.profile


def test_plateaus_are_judged_on_the_smoothed_loss():
    """A held-out loss falling by 0.01 an epoch, with a lucky dip at epoch 3 that the
    trend only passes at epoch 9: unsmoothed, epochs 4 to 7 would make a plateau of
    4 and lower the learning rate; smoothed, the dip weighs half and the trend
    passes it at once."""
    losses = [1 - 0.01 * epoch for epoch in range(1, 16)]
    losses[2] -= 0.05
    trainer = SimpleNamespace(
        epoch=0,
        snapshot=lambda: trainer.epoch,
        weights_of=lambda epoch: {"epoch": epoch},
        set_weights=lambda weights: None,
        set_learning_rate=lambda rate: None,
        optimizer_variables=lambda: [],
    )
    settings = Settings(
        recipe=None,
        learning_rate=1.0,
        batch_size=1,
        noise_level=0.0,
        epochs=len(losses),
        tol=1e-4,
        n_iter_no_change=4,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # still falling at the end
        result = _Loop(settings, trainer, None, None).run({}, _ScriptedRows(1.0, losses), None)
    assert result.history["learning_rate"] == [1.0] * len(losses)
    assert result.weights == {"epoch": len(losses)}  # the lowest loss, the dip's beaten


def test_convergence_warning_when_epochs_run_out(X):
    with pytest.warns(ConvergenceWarning, match="maximum number of epochs"):
        AutoencoderTransformer(**{**FAST, "epochs": 2}).fit(X)


def test_verbose_0_prints_nothing_and_verbose_1_prints_a_line_per_epoch(X, capfd):
    # capfd: what reaches file descriptors 1 and 2, Python's writes and the C++ runtime's.
    fit(AutoencoderTransformer(**FAST, verbose=0), X)
    assert capfd.readouterr() == ("", "")
    fit(AutoencoderTransformer(**FAST, verbose=1), X)
    loud, errors = capfd.readouterr()
    assert errors == ""
    lines = loud.splitlines()
    assert [line.split()[:2] for line in lines] == [["epoch", f"{i}/3"] for i in (1, 2, 3)]
    assert not any(c in loud for c in "\r\b\x1b")  # renders the same in a notebook


# --------------------------------------------------------------- continuing
def test_warm_start_continues_the_network_and_its_optimizer(X):
    est = fit(AutoencoderTransformer(**{**FAST, "warm_start": True}), X)
    weights = {name: w.copy() for name, w in est.weights_.items()}
    iterations = dict(est._optimizer_state)["adam/iteration"]
    fit(est.set_params(learning_rate=1e-3), X)
    assert est.n_iter_ == 6 == len(est.history_["loss"])
    assert est.history_["learning_rate"][3:] == [1e-3] * 3
    assert dict(est._optimizer_state)["adam/iteration"] > iterations
    assert any(not np.array_equal(weights[n], w) for n, w in est.weights_.items())


def test_warm_start_applies_training_options_and_refuses_a_new_shape(X):
    est = fit(AutoencoderTransformer(**{**FAST, "warm_start": True}), X)
    before = est.transform(X)
    for change in ({"activation": "tanh"}, {"n_components": 3}, {"hidden_layer_sizes": (4,)}):
        est.set_params(**change)
        with pytest.raises(ValueError, match="set warm_start=False"):
            est.fit(X)
        np.testing.assert_array_equal(est.transform(X), before)
        est.set_params(activation="relu", n_components=2, hidden_layer_sizes=(8,))
    fit(est.set_params(optimizer="sgd", loss="mae", noise="gaussian"), X)
    assert est._optimizer_state[0][0].startswith("sgd/")
    network = est._fitted.network
    params = est.get_params()
    assert (network.activation, network.n_components) == (params["activation"], 2)


def test_without_warm_start_fit_starts_afresh(X):
    est = fit(AutoencoderTransformer(**FAST), X)
    first = est.transform(X)
    fit(est, X)
    np.testing.assert_array_equal(est.transform(X), first)
    assert est.n_iter_ == 3


def test_partial_fit_trains_one_epoch_per_block_without_validation(swiss_roll):
    X_train, X_test = swiss_roll
    est = AutoencoderTransformer(2, hidden_layer_sizes=(32,), batch_size=16, random_state=0)
    blocks = np.array_split(X_train, 3)
    est.partial_fit(blocks[0])
    first = held_out_mse(est, X_test)
    for _ in range(20):
        for block in blocks:
            est.partial_fit(block)
    assert est.n_iter_ == 61
    assert est.validation_scores_ is None
    assert held_out_mse(est, X_test) < 0.9 * first
    with pytest.raises(ValueError, match="X has 3 features"):
        est.partial_fit(X_train[:, :3])


# ---------------------------------------------------------------- callbacks
def test_callbacks_see_every_epoch_and_can_stop_training(X):
    import keras

    class Recorder(keras.callbacks.Callback):
        def __init__(self, stop_at=None):
            super().__init__()
            self.epochs, self.stop_at = [], stop_at

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append((epoch, sorted(logs)))
            if epoch == self.stop_at:
                self.model.stop_training = True

    recorder = Recorder()
    fit(AutoencoderTransformer(**FAST, callbacks=[recorder]), X)
    assert recorder.epochs == [(e, ["loss"]) for e in range(3)]  # a shallow copy shares it
    assert getattr(recorder, "_model", None) is None  # the original is never bound
    stopper = Recorder(stop_at=1)
    est = fit(AutoencoderTransformer(**{**FAST, "epochs": 10}, callbacks=[stopper]), X)
    assert est.n_iter_ == 2


# ------------------------------------------------------------------ losses
@pytest.fixture(scope="module")
def mse_fit(X):
    return fit(AutoencoderTransformer(**FAST), X)


@pytest.mark.parametrize(
    "params",
    [
        {"loss": "mae"},
        {"loss": "huber"},
        {"loss": "binary_crossentropy", "output_activation": "sigmoid"},
        {"optimizer": "rmsprop"},
        {"optimizer": "adagrad"},
        {"hidden_layer_sizes": ()},
    ],
    ids=lambda p: "-".join(f"{v}" for v in p.values()),
)
def test_other_losses_optimizers_and_the_linear_network_train(X, params, mse_fit):
    est = fit(AutoencoderTransformer(**{**FAST, **params}), X)
    assert np.isfinite(est.loss_curve_).all()
    assert np.isfinite(est.denoise(X)).all()
    assert est._optimizer_state[0][0].startswith(params.get("optimizer", "adam") + "/")
    changed = [name for name, w in est.weights_.items() if "residual" not in name]
    assert any(not np.array_equal(est.weights_[n], mse_fit.weights_[n]) for n in changed)
    if "loss" in params:  # the loss is really another function of the same start
        # (whole curves: one epoch's two losses can meet by chance, as BCE's ln 2 did)
        assert est.loss_curve_ != pytest.approx(mse_fit.loss_curve_, rel=1e-3)
    if params.get("output_activation") == "sigmoid":
        reconstruction = est.denoise(X)
        assert reconstruction.min() >= 0
        assert reconstruction.max() <= 1


def test_divergence_keeps_the_best_weights_and_warns(X):
    est = AutoencoderTransformer(**{**FAST, "learning_rate": 1e30, "optimizer": "sgd"})
    with pytest.warns(ConvergenceWarning, match="diverged"):
        est.fit(X)
    assert np.isfinite(est.transform(X)).all()


# ------------------------------------------------------------ the trainers
def last_trainer(est):
    """The compiled trainer of the last fit (``est``, fitted without callbacks): the
    cache keeps its most recently used entry last."""
    recipe, trainer = next(reversed(_trainers._cache.items()))
    assert recipe.network == compiled_network(est._fitted.network, callbacks=None)
    return trainer


def test_fits_of_one_structure_share_one_compiled_trainer(X):
    trainer = last_trainer(fit(AutoencoderTransformer(2, **FAST), X))
    again = last_trainer(fit(AutoencoderTransformer(2, **{**FAST, "random_state": 5}), X))
    assert again is trainer


def test_the_trainer_cache_keeps_the_most_recently_used_few(monkeypatch):
    """The cache's policy, on stand-in trainers: building real ones would only add
    seconds of tracing per structure."""
    from skautoenc._network import Network

    built = []
    for name in ("_TensorFlowTrainer", "_JaxTrainer", "_TorchTrainer"):
        monkeypatch.setattr(_trainers, name, lambda recipe: built.append(recipe) or object())
    monkeypatch.setattr(_trainers, "_cache", type(_trainers._cache)())
    monkeypatch.setattr(_trainers, "_MAX_CACHED", 3)  # the bound is tested, not its size
    recipes = [
        _trainers.Recipe(Network(5, 8, (width,), "relu", "linear"), "adam", "mse", None)
        for width in range(1, 6)
    ]
    first = [_trainers.get_trainer(recipe) for recipe in recipes[:3]]
    assert _trainers.get_trainer(recipes[0]) is first[0]  # cached, and now the most recent
    _trainers.get_trainer(recipes[3])  # evicts recipes[1], the least recently used
    assert list(_trainers._cache) == [recipes[2], recipes[0], recipes[3]]
    assert _trainers.get_trainer(recipes[1]) is not first[1]  # built again
    assert len(built) == 5
    assert len(_trainers._cache) == _trainers._MAX_CACHED


def test_batch_sizes_share_one_compiled_trainer_and_each_fit_uses_its_own(X):
    """Small data caps the batch at each fold's rows: a compiled function per size
    would cost more than the folds' training."""

    def weights(batch_size):
        est = fit(AutoencoderTransformer(2, **{**FAST, "batch_size": batch_size}), X)
        return est._fitted.weights, last_trainer(est)

    first, trainer = weights(16)
    other, trainer_after = weights(32)
    again, _ = weights(16)
    assert trainer_after is trainer
    name = "decoder_linear.kernel"
    assert not np.allclose(first[name], other[name], rtol=1e-3)
    for key in first:  # float32 training: equal to float32 rounding
        np.testing.assert_allclose(again[key], first[key], rtol=1e-5, atol=1e-6)


def test_code_widths_share_one_compiled_trainer_and_train_as_without_padding(X):
    """n_components 2 and 3 train in one compiled trainer, its codes padded to
    CODE_STEP; the padding changes nothing: its weights stay exactly zero, and a
    fit with a callback (handed the unpadded model) trains the same weights and
    optimizer state to float32 rounding."""
    from skautoenc._keras import import_keras

    two = fit(AutoencoderTransformer(2, **FAST), X)
    trainer = last_trainer(two)
    three = fit(AutoencoderTransformer(3, **FAST), X)
    assert last_trainer(three) is trainer
    assert trainer.recipe.network.n_components == CODE_STEP
    # The compiled state itself (on JAX the variables are only synced on demand).
    for name, value in zip(trainer.names, map(np.array, trainer.snapshot()), strict=True):
        outside = np.ones(value.shape, bool)
        outside[tuple(slice(0, n) for n in three.weights_[name].shape)] = False
        assert not value[outside].any(), name

    callback = import_keras().callbacks.Callback()
    unpadded = fit(AutoencoderTransformer(2, **FAST, callbacks=[callback]), X)
    assert two.weights_.keys() == unpadded.weights_.keys()
    for name, value in unpadded.weights_.items():
        assert two.weights_[name].shape == value.shape == two._fitted.network.weight_shapes()[name]
        np.testing.assert_allclose(two.weights_[name], value, rtol=1e-4, atol=1e-5)
    assert [n for n, _ in two._optimizer_state] == [n for n, _ in unpadded._optimizer_state]
    states = zip(two._optimizer_state, unpadded._optimizer_state, strict=True)
    for (_, padded), (_, value) in states:
        np.testing.assert_allclose(padded, value, rtol=1e-4, atol=1e-6)


@pytest.fixture
def stepping(X):
    """A compiled trainer driven by hand from a fitted start: ``restart()`` resets it
    (same seed), ``epoch(rows)`` trains one epoch on 48 fixed rows (3 batches of 16)
    or on ``rows``."""
    est = fit(AutoencoderTransformer(2, **{**FAST, "batch_size": 16}), X)
    trainer, start = last_trainer(est), est._fitted.weights
    U = np.random.RandomState(1).normal(size=(48, X.shape[1])).astype(np.float32)
    n = X.shape[1]
    frame = (np.zeros(n), 1.0, np.full(n, -np.inf), np.full(n, np.inf))

    def restart():
        trainer.reset(start, None, 1e-2, 0, 16)

    def epoch(rows=U):
        trainer.train_epoch(rows, frame, 0.1)

    return SimpleNamespace(trainer=trainer, start=start, U=U, restart=restart, epoch=epoch)


def test_an_epoch_runs_exactly_its_batches_however_the_calls_split_them(stepping):
    """One epoch over 3 batches trains as an epoch over 2 and one over 1 (the seed
    stream goes on); on JAX a short chunk is padded to one compiled shape, and its
    padding must not be trained on."""

    def train(*parts):
        stepping.restart()
        for part in parts:
            stepping.epoch(part)
        return stepping.trainer.weights()

    U = stepping.U
    whole, split = train(U), train(U[:32], U[32:])
    name = "decoder_linear.kernel"
    assert not np.allclose(whole[name], stepping.start[name], atol=1e-4)
    for key, value in whole.items():  # float32 training: equal to its rounding
        np.testing.assert_allclose(split[key], value, rtol=1e-5, atol=1e-6)


def test_a_snapshot_keeps_its_weights_while_training_goes_on(stepping):
    """A fit keeps its best epoch as a snapshot, held on the device where it can
    be: neither training on nor setting the weights may change it."""
    trainer = stepping.trainer
    stepping.restart()
    stepping.epoch()
    before, snapshot = trainer.weights(), trainer.snapshot()
    stepping.epoch()
    trained = trainer.weights()
    trainer.set_weights(stepping.start)
    stepping.epoch()
    name = "decoder_linear.kernel"
    assert not np.array_equal(trained[name], before[name])
    kept = trainer.weights_of(snapshot)
    assert kept.keys() == before.keys()
    for key, value in before.items():
        np.testing.assert_array_equal(kept[key], value)


def test_setting_the_weights_leaves_the_optimizer_state_and_the_noise_going(stepping):
    """Restoring weights (as a learning-rate drop restores the best ones) sets the
    weights only: setting the current weights back changes nothing that follows."""
    trainer = stepping.trainer

    def train(set_back):
        stepping.restart()
        stepping.epoch()
        if set_back:
            trainer.set_weights(trainer.weights())
        stepping.epoch()
        return trainer.weights(), trainer.optimizer_variables()

    (weights, state), (weights_again, state_again) = train(False), train(True)
    for key, value in weights.items():
        np.testing.assert_allclose(weights_again[key], value, rtol=1e-5, atol=1e-6)
    for (_, value), (_, again) in zip(state, state_again, strict=True):
        np.testing.assert_allclose(again, value, rtol=1e-5, atol=1e-6)


def test_tensorflows_fused_adam_is_keras_adam(stepping):
    """The TensorFlow trainer updates with TensorFlow's Adam kernel instead of Keras'
    Adam, about half of a new structure's tracing: the same updates, to the
    float32 rounding of its constants (``1 - beta_2`` differs by 1.3e-5 relative)."""
    from skautoenc import _tensorflow_trainer

    tf = pytest.importorskip("tensorflow")
    trainer = stepping.trainer
    if not isinstance(trainer, _tensorflow_trainer.TensorFlowTrainer):
        pytest.skip("the TensorFlow backend's trainer")
    variables = trainer.model.trainable_variables
    slots = _tensorflow_trainer._adam_slots(trainer.optimizer, variables)
    assert slots is not None  # else every fit silently takes Keras' slower path
    rng = np.random.RandomState(0)
    steps = [[tf.constant(rng.normal(size=v.shape), tf.float32) for v in variables]] * 3

    def after_steps(update):
        stepping.restart()  # learning rate 1e-2, a fresh optimizer state
        for gradients in steps:
            update(gradients)
        return [v.numpy() for v in variables], [v.numpy() for v in trainer.optimizer.variables]

    fused, fused_state = after_steps(
        lambda g: _tensorflow_trainer.fused_adam(trainer.optimizer, g, variables, slots)
    )
    keras, keras_state = after_steps(lambda g: trainer.optimizer.apply(g, variables))
    assert not np.allclose(fused[0], stepping.start[trainer.names[0]], atol=1e-3)
    # Adam moves a weight by about the learning rate per step: 3e-2 over the steps,
    # of which the constants' rounding changes about 1e-5.
    for ours, theirs in zip(fused, keras, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5 * 3 * 1e-2)
    for ours, theirs in zip(fused_state, keras_state, strict=True):  # step count, m, v
        np.testing.assert_allclose(ours, theirs, rtol=1e-4)


def test_the_fused_adam_is_used_for_a_plain_adam_only():
    """AMSGrad, clipping, AdamW's decay, other optimizers, constrained weights and
    weights other than float32 keep Keras' own update."""
    keras = pytest.importorskip("keras")
    from skautoenc._tensorflow_trainer import _adam_slots

    def slots(optimizer, **dense):
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, **dense)])
        optimizer.build(model.trainable_variables)
        return _adam_slots(optimizer, model.trainable_variables)

    assert slots(keras.optimizers.Adam()) is not None
    optimizers = keras.optimizers
    for other in (
        optimizers.Adam(amsgrad=True),
        optimizers.Adam(clipnorm=1.0),
        optimizers.AdamW(),
        optimizers.SGD(),
    ):
        assert slots(other) is None, other
    assert slots(optimizers.Adam(), kernel_constraint="non_neg") is None
    assert slots(optimizers.Adam(), dtype="float64") is None


def test_the_startup_filter_drops_chatter_and_keeps_real_errors(capfd):
    with _filtered_stderr():
        os.write(2, b"I0000 00:00:1 port.cc:153] oneDNN custom operations are on.\n")
        os.write(2, b"E0000 00:00:1 cuda_platform.cc:52] failed call to cuInit: no GPU\n")
        os.write(2, b"E0000 00:00:1 real.cc:1] a real error\n")
        os.write(2, b"Traceback: something broke\n")
    err = capfd.readouterr().err
    assert "oneDNN" not in err
    assert "cuInit" not in err
    assert "a real error" in err
    assert "something broke" in err


# ------------------------------------------------------------------ bounds
def test_output_bounds_are_the_edges_many_rows_take():
    from skautoenc._fitting import output_bounds

    rng = np.random.RandomState(0)
    X = np.column_stack(
        [
            np.clip(rng.normal(size=300), 0, None),  # a floor at 0 (half the rows)
            rng.normal(size=300),  # continuous: no edge taken twice
            rng.randint(0, 3, size=300),  # 0, 1, 2: both ends
            # A few repeated rows at the top (3 %) are no ceiling: more rows may go past it.
            np.r_[np.full(9, 10.0), rng.uniform(0, 9, size=291)],
        ]
    )
    lower, upper = output_bounds(X, "auto")
    np.testing.assert_array_equal(lower, [0.0, -np.inf, 0.0, -np.inf])
    np.testing.assert_array_equal(upper, [np.inf, np.inf, 2.0, np.inf])
    assert np.isinf(output_bounds(X, "linear")).all()
    # With few rows one row is a large share: it takes two rows to make an edge a bound.
    assert np.isinf(output_bounds(rng.normal(size=(20, 2)), "auto")).all()


def test_reconstructions_stay_within_the_bounds_and_pca_has_none():
    X = np.clip(np.random.RandomState(0).normal(size=(200, 5)) + 0.5, 0, None)
    est = fit(AutoencoderTransformer(2, **FAST), X)
    assert (est.output_min_ == 0).all()
    assert (est.denoise(3 * X - 2) >= 0).all()
    linear = fit(AutoencoderTransformer(2, **{**FAST, "output_activation": "linear"}), X)
    assert np.isinf(linear.output_min_).all()
    pca = AutoencoderTransformer(2, random_state=0).fit(X[:8])  # too few rows: PCA itself
    assert pca.fallback_to_pca_
    assert np.isinf(pca.output_min_).all()
    assert np.isinf(pca.output_max_).all()


def test_continuing_from_a_pca_fallback_finds_the_bounds():
    X = np.clip(np.random.RandomState(0).normal(size=(200, 5)) + 0.5, 0, None)
    est = AutoencoderTransformer(2, random_state=0, epochs=3).fit(X[:8])  # PCA: no bounds
    assert np.isinf(est.output_min_).all()
    fit(est.set_params(warm_start=True, early_stopping=False), X)
    assert not est.fallback_to_pca_
    assert (est.output_min_ == 0).all()
