"""Training: noise, stopping, history, warm_start, partial_fit, callbacks, divergence."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skautoenc import AutoencoderTransformer
from skautoenc.datasets import add_noise, load_digits_images

FAST = {"hidden_layer_sizes": (8,), "epochs": 3, "random_state": 0}


def keras_output(model, X):
    import keras

    return keras.ops.convert_to_numpy(model(X.astype("float32"), training=False))


@pytest.fixture(scope="module")
def X():
    return np.random.RandomState(0).uniform(size=(80, 6))


@pytest.fixture(scope="module")
def digits():
    X = load_digits_images().data
    return train_test_split(X, test_size=0.25, random_state=0)


# ------------------------------------------------------------------ denoising
@pytest.mark.parametrize("noise", ["gaussian", "masking"])
def test_noise_is_reproducible_and_changes_training(X, noise):
    params = {**FAST, "noise": noise, "noise_level": 0.3}
    first = AutoencoderTransformer(**params).fit(X)
    second = AutoencoderTransformer(**params).fit(X)
    np.testing.assert_array_equal(first.transform(X), second.transform(X))
    clean = AutoencoderTransformer(**FAST).fit(X)
    assert not np.array_equal(first.transform(X), clean.transform(X))
    assert first.model_.get_layer("corruption") is not None


def test_noise_layer_is_inactive_at_inference(X):
    est = AutoencoderTransformer(**FAST, noise="gaussian", noise_level=0.5).fit(X)
    outputs = [keras_output(est.model_, X) for _ in range(2)]
    np.testing.assert_array_equal(*outputs)
    np.testing.assert_allclose(outputs[0], est.denoise(X), rtol=1e-5, atol=1e-6)


def test_denoising_autoencoder_removes_gaussian_noise(digits):
    X_train, X_test = digits
    est = AutoencoderTransformer(
        n_components=16, noise="gaussian", noise_level=0.2, epochs=40, random_state=0
    ).fit(X_train)
    noisy = add_noise(X_test, "gaussian", 0.2, clip=(0, 1), random_state=0)
    noisy_error = np.mean((noisy - X_test) ** 2)
    denoised_error = np.mean((est.denoise(noisy) - X_test) ** 2)
    assert denoised_error < 0.65 * noisy_error


# ------------------------------------------------------- stopping and history
def test_early_stopping_stops_on_validation_loss_and_keeps_history(X):
    est = AutoencoderTransformer(
        **{**FAST, "epochs": 500},
        early_stopping=True,
        n_iter_no_change=2,
        tol=1.0,  # nothing counts as an improvement: stop after patience epochs
    ).fit(X)
    assert est.n_iter_ == 3
    assert len(est.history_["val_loss"]) == est.n_iter_
    assert est.validation_scores_ == [-v for v in est.history_["val_loss"]]
    assert est.loss_curve_ == est.history_["loss"]


def test_stopping_on_training_loss_without_early_stopping(X):
    est = AutoencoderTransformer(**{**FAST, "epochs": 500}, n_iter_no_change=3, tol=1.0).fit(X)
    assert est.n_iter_ == 4
    assert "val_loss" not in est.history_
    assert est.validation_scores_ is None


def test_best_weights_are_restored(X):
    # With tol=1 no epoch after the first counts as an improvement, so the first
    # epoch's weights are the best ones and must be what the estimator keeps.
    stopped = AutoencoderTransformer(**{**FAST, "epochs": 500}, n_iter_no_change=3, tol=1.0)
    stopped.fit(X)
    assert stopped.n_iter_ == 4
    one_epoch = AutoencoderTransformer(**{**FAST, "epochs": 1}).fit(X)
    for a, b in zip(stopped.model_.get_weights(), one_epoch.model_.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(stopped.transform(X), one_epoch.transform(X))


def test_convergence_warning_when_epochs_run_out(X):
    with pytest.warns(ConvergenceWarning, match="maximum number of epochs"):
        AutoencoderTransformer(**FAST).fit(X)


def test_early_stopping_needs_a_validation_sample():
    with pytest.raises(ValueError, match="at least one training and one validation"):
        AutoencoderTransformer(**FAST, early_stopping=True).fit(np.random.rand(1, 3))


# ------------------------------------------------------------------ verbosity
def test_verbose_0_prints_nothing_and_verbose_1_shows_progress():
    script = (
        "import sys, numpy as np, warnings; warnings.simplefilter('ignore');"
        "from skautoenc import AutoencoderTransformer;"
        "AutoencoderTransformer(epochs=2, random_state=0, verbose=int(sys.argv[1]))"
        ".fit(np.random.RandomState(0).rand(50, 4))"
    )
    quiet = subprocess.run(
        [sys.executable, "-c", script, "0"], capture_output=True, text=True, check=True
    )
    assert quiet.stdout == ""
    assert quiet.stderr == ""
    loud = subprocess.run(
        [sys.executable, "-c", script, "1"], capture_output=True, text=True, check=True
    )
    assert "Epoch 1/2" in loud.stdout
    assert "loss" in loud.stdout


# ----------------------------------------------------------------- continuing
def test_warm_start_continues_from_fitted_weights(X):
    est = AutoencoderTransformer(**FAST, warm_start=True).fit(X)
    first_loss = est.loss_curve_[-1]
    weights = [w.copy() for w in est.model_.get_weights()]
    iterations = int(est.model_.optimizer.iterations.numpy())
    est.fit(X)
    assert est.n_iter_ == 6
    assert len(est.loss_curve_) == 6
    assert est.loss_curve_[3] < first_loss * 1.05  # continues, no restart from scratch
    assert int(est.model_.optimizer.iterations.numpy()) > iterations  # optimizer state kept
    assert any(
        not np.array_equal(a, b) for a, b in zip(weights, est.model_.get_weights(), strict=True)
    )
    # The fast inference path follows the new weights.
    np.testing.assert_allclose(
        est.transform(X), keras_output(est.encoder_, X), rtol=1e-5, atol=1e-6
    )


def test_warm_start_refuses_another_network_shape(X):
    est = AutoencoderTransformer(**FAST, warm_start=True).fit(X)
    codes = est.transform(X)
    est.set_params(n_components=4)
    with pytest.raises(ValueError, match="set warm_start=False"):
        est.fit(X)
    np.testing.assert_array_equal(est.transform(X), codes)


def test_warm_start_applies_a_new_learning_rate(X):
    est = AutoencoderTransformer(**FAST, warm_start=True).fit(X)
    est.set_params(learning_rate=1e-5).fit(X)
    assert float(np.asarray(est.model_.optimizer.learning_rate)) == pytest.approx(1e-5)


def test_without_warm_start_fit_starts_afresh(X):
    est = AutoencoderTransformer(**FAST).fit(X)
    first = est.transform(X)
    est.fit(X)
    np.testing.assert_array_equal(est.transform(X), first)
    assert est.n_iter_ == 3


def test_partial_fit_builds_then_improves(digits):
    X_train, X_test = digits
    est = AutoencoderTransformer(n_components=8, random_state=0)
    blocks = np.array_split(X_train, 4)
    est.partial_fit(blocks[0])
    assert est.n_iter_ == 1
    first = -est.score(X_test)
    for _ in range(5):
        for block in blocks:
            est.partial_fit(block)
    assert est.n_iter_ == 21
    assert -est.score(X_test) < 0.8 * first
    with pytest.raises(ValueError, match="X has 3 features"):
        est.partial_fit(X_train[:, :3])


def test_callbacks_run_on_copies(X):
    import keras

    class CountEpochs(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs = []

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append(epoch)

    counter = CountEpochs()
    est = AutoencoderTransformer(**FAST, callbacks=[counter]).fit(X)
    assert counter.epochs == [0, 1, 2]  # a shallow copy shares the list
    assert getattr(counter, "_model", None) is None  # but is never bound to the model
    assert est.get_params()["callbacks"][0] is counter


# ----------------------------------------------------------------- divergence
def test_diverging_fit_raises_and_keeps_previous_state(X):
    est = AutoencoderTransformer(**FAST, warm_start=True).fit(X)
    codes = est.transform(X)
    weights = est.model_.get_weights()
    est.set_params(learning_rate=1e30, optimizer="sgd", loss="mse")
    huge = X * 1e20
    with pytest.raises(ValueError, match="Training diverged"):
        est.fit(huge)
    np.testing.assert_array_equal(est.transform(X), codes)
    for a, b in zip(weights, est.model_.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert est.n_iter_ == 3


def test_diverging_fresh_fit_leaves_no_model():
    est = AutoencoderTransformer(**FAST, learning_rate=1e30, optimizer="sgd")
    with pytest.raises(ValueError, match="Training diverged"):
        est.fit(np.random.RandomState(0).rand(40, 4) * 1e20)
    assert not hasattr(est, "model_")
