"""Dense autoencoder as a scikit-learn transformer."""

from __future__ import annotations

import contextlib
import copy
import random
import threading
import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._architecture import build_autoencoder, split_autoencoder
from ._inference import DenseForward

LOSSES = ("mse", "mae", "huber", "binary_crossentropy")
OPTIMIZERS = (
    "adam",
    "adamw",
    "adamax",
    "nadam",
    "sgd",
    "rmsprop",
    "adagrad",
    "adadelta",
    "ftrl",
    "lion",
)
_FLOAT_DTYPES = [np.float64, np.float32]
# Gradient steps per compiled function call. Small autoencoders spend most of a
# step in Python/dispatch overhead; running 32 steps per call cuts fit time by
# ~25 % on digits with TensorFlow (see benchmarks/bench_fit.py). Keras' PyTorch
# backend only supports 1.
_STEPS_PER_EXECUTION = 32


class AutoencoderTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Dimensionality reduction with a dense autoencoder, used like PCA.

    The encoder maps each sample to ``n_components`` codes (``transform``); the
    decoder maps codes back to the input space (``inverse_transform``). Both are
    Keras models trained together to reconstruct the input. Inference replays the
    fitted weights in NumPy, so transforming one row costs about what
    ``PCA.transform`` costs.

    Parameters
    ----------
    n_components : int, default=2
        Size of the code (the bottleneck). Must not exceed the number of features.
    hidden_layer_sizes : tuple of int, default=(128,)
        Widths of the encoder's hidden layers; the decoder mirrors them.
    activation : str, default="relu"
        Keras activation of the hidden layers (any name ``keras.activations.get``
        accepts). The code layer is linear.
    output_activation : str, default="auto"
        Keras activation of the reconstruction layer. ``"auto"`` picks
        ``"sigmoid"`` when the training data lie in [0, 1] and ``"linear"``
        otherwise; the choice is stored in ``output_activation_``.
    loss : {"mse", "mae", "huber", "binary_crossentropy"}, default="mse"
        Reconstruction loss. ``"binary_crossentropy"`` needs a sigmoid output.
    optimizer : str, default="adam"
        Name of a Keras optimizer.
    learning_rate : float, default=2e-3
        The optimizer's learning rate.
    batch_size : int, default=32
        Samples per gradient step, capped at the number of training samples.
    epochs : int, default=200
        Maximum number of passes over the data; training usually stops earlier,
        when the monitored loss stops improving (see ``n_iter_no_change``).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when the validation
        loss stops improving. When False, stop when the training loss does.
        The weights of the best epoch are restored in both cases.
    validation_fraction : float, default=0.1
        Fraction of the training data held out when ``early_stopping=True``.
    n_iter_no_change : int, default=10
        Epochs without an improvement of at least ``tol`` before stopping.
    tol : float, default=1e-4
        Smallest loss decrease that counts as an improvement.
    noise : {"gaussian", "masking"} or None, default=None
        Corrupt the inputs during training only (a denoising autoencoder):
        ``"gaussian"`` adds noise of standard deviation ``noise_level`` (Keras
        ``GaussianNoise``); ``"masking"`` zeroes a fraction ``noise_level`` of
        the inputs (Keras ``Dropout``, which scales the kept ones by
        ``1 / (1 - noise_level)``).
    noise_level : float, default=0.1
        Standard deviation (gaussian) or fraction zeroed (masking).
    warm_start : bool, default=False
        When True, ``fit`` continues training the fitted model (weights and
        optimizer state) instead of starting afresh. A new ``learning_rate``
        applies; ``n_components`` and ``hidden_layer_sizes`` must stay those of
        the fitted network, and its activations, noise, loss and optimizer are kept.
    callbacks : list of keras.callbacks.Callback, default=None
        Extra Keras callbacks passed to ``Model.fit``. Each fit works on shallow
        copies, so the objects you pass are never bound to a model.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialization, shuffling, the validation split and the
        noise. An int gives bitwise-identical results fit after fit, also
        across processes. The NumPy and ``random`` global states are restored
        after each fit; the Keras backend's global seed is left set. Keras
        shuffles with that process-global seed, so fits running in threads of
        one process take turns (process-based parallelism, joblib's default,
        is unaffected).
    verbose : int, default=0
        0 is silent; 1 shows Keras' progress bar; 2 prints one line per epoch.

    Attributes
    ----------
    model_ : keras.Model
        The autoencoder, ``decoder_(encoder_(x))``.
    encoder_ : keras.Model
        Maps ``n_features_in_`` inputs to ``n_components`` codes.
    decoder_ : keras.Model
        Maps codes back to the input space. Shares weights with ``model_``.
    output_activation_ : str
        The resolved output activation.
    history_ : dict of str to list of float
        Keras' training history (``loss``, and ``val_loss`` when early stopping).
    loss_curve_ : list of float
        The training loss at each epoch.
    validation_scores_ : list of float or None
        Negative validation loss at each epoch (greater is better) when
        ``early_stopping=True``, else None.
    n_iter_ : int
        Number of epochs run, over all calls to ``fit`` with ``warm_start`` and
        ``partial_fit``.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of features seen during ``fit``, when ``X`` has string column names.

    See Also
    --------
    sklearn.decomposition.PCA : Linear dimensionality reduction.
    sklearn.neural_network.MLPRegressor : Multi-layer perceptron regressor.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skautoenc import AutoencoderTransformer
    >>> X = load_digits().data / 16.0
    >>> ae = AutoencoderTransformer(n_components=8, epochs=3, random_state=0)
    >>> codes = ae.fit_transform(X)
    >>> codes.shape
    (1797, 8)
    >>> ae.inverse_transform(codes).shape
    (1797, 64)
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like"],
        "activation": [str],
        "output_activation": [str],
        "loss": [StrOptions(set(LOSSES))],
        "optimizer": [StrOptions(set(OPTIMIZERS))],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "noise": [StrOptions({"gaussian", "masking"}), None],
        "noise_level": [Interval(Real, 0, None, closed="neither")],
        "warm_start": ["boolean"],
        "callbacks": [list, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_components=2,
        *,
        hidden_layer_sizes=(128,),
        activation="relu",
        output_activation="auto",
        loss="mse",
        optimizer="adam",
        learning_rate=2e-3,
        batch_size=32,
        epochs=200,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        noise=None,
        noise_level=0.1,
        warm_start=False,
        callbacks=None,
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.output_activation = output_activation
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.noise = noise
        self.noise_level = noise_level
        self.warm_start = warm_start
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None):
        """Train the autoencoder to reconstruct ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data. Scale it first (e.g. ``MinMaxScaler``): autoencoders,
            like most neural networks, train best on features in [0, 1].
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : AutoencoderTransformer
            The fitted estimator.
        """
        self._validate_params()
        continuing = self.warm_start and hasattr(self, "model_")
        with _unchanged_on_failure(self, keep_weights=continuing):
            X = self._validate_X(X, reset=not continuing)
            self._train(X, epochs=self.epochs, continuing=continuing, stopping=True)
        return self

    def partial_fit(self, X, y=None):
        """Run one epoch over ``X``, building the model on the first call.

        Call it block by block to train on data larger than memory. No early
        stopping: every call trains exactly one pass over ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One block of training data.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : AutoencoderTransformer
            The updated estimator.
        """
        continuing = hasattr(self, "model_")
        if not continuing:
            self._validate_params()
        with _unchanged_on_failure(self, keep_weights=continuing):
            X = self._validate_X(X, reset=not continuing)
            self._train(X, epochs=1, continuing=continuing, stopping=False)
        return self

    def _train(self, X, *, epochs, continuing, stopping):
        """Fit the Keras model; set fitted attributes only when training succeeded."""
        from ._keras import import_keras

        keras = import_keras()
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        n_features = X32.shape[1]
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max - 2**20))

        if continuing:
            self._check_can_continue()
            model = self.model_
            output_activation = self.output_activation_
            model.optimizer.learning_rate = self.learning_rate
            seed += self.n_iter_  # a new shuffling order for each continuation
        else:
            output_activation = self._check_architecture(keras, X32)

        X_train, validation = X32, None
        if stopping and self.early_stopping:
            X_train, X_val = self._validation_split(X32, seed)
            validation = (X_val, X_val)
        batch_size = min(self.batch_size, X_train.shape[0])
        callbacks = [copy.copy(callback) for callback in self.callbacks or ()]
        if stopping:
            stopper = keras.callbacks.EarlyStopping(
                monitor="val_loss" if validation else "loss",
                min_delta=self.tol,
                patience=self.n_iter_no_change,
                restore_best_weights=True,
            )
            callbacks.append(stopper)

        with _seeded(keras, seed):
            if not continuing:
                model, _, _ = build_autoencoder(
                    n_features,
                    self.n_components,
                    self.hidden_layer_sizes,
                    activation=self.activation,
                    output_activation=output_activation,
                    seed=seed,
                    noise=self.noise,
                    noise_level=self.noise_level,
                )
                model.compile(
                    optimizer=self._make_optimizer(keras),
                    loss=self.loss,
                    steps_per_execution=_steps_per_execution(keras),
                )
            history = model.fit(
                X_train,
                X_train,
                batch_size=batch_size,
                epochs=epochs,
                shuffle=True,
                validation_data=validation,
                callbacks=callbacks,
                verbose=self.verbose,
            )

        attributes = model_attributes(model)  # encoder_, decoder_, the NumPy passes
        history = {key: [float(v) for v in values] for key, values in history.history.items()}
        finite = _all_finite(history.get("loss", []))
        forwards = attributes["_forward_encoder"], attributes["_forward_decoder"]
        if not finite or not _all_finite_weights(*forwards):
            raise ValueError(
                "Training diverged: the loss or the weights became NaN or infinite "
                f"(loss history: {history.get('loss')}). Scale the data to [0, 1] "
                "or lower learning_rate. The estimator was left as it was before."
            )

        if stopping and len(history["loss"]) == epochs and stopper.stopped_epoch == 0:
            warnings.warn(
                f"AutoencoderTransformer: the maximum number of epochs ({epochs}) was "
                "reached and the loss is still improving. Raise epochs or tol.",
                ConvergenceWarning,
                stacklevel=3,
            )

        for name, value in attributes.items():
            setattr(self, name, value)
        self.output_activation_ = output_activation
        previous = self.history_ if continuing else {}
        self.history_ = {key: previous.get(key, []) + values for key, values in history.items()}
        self.loss_curve_ = self.history_["loss"]
        self.validation_scores_ = (
            [-v for v in self.history_["val_loss"]] if "val_loss" in self.history_ else None
        )
        self.n_iter_ = (self.n_iter_ if continuing else 0) + len(history["loss"])

    def _check_can_continue(self):
        """Refuse to continue training a network of another shape than the parameters."""
        kernels = [kernel for kernel, _, _ in self._forward_encoder.layers]
        fitted = {
            "n_components": kernels[-1].shape[1],
            "hidden_layer_sizes": tuple(kernel.shape[1] for kernel in kernels[:-1]),
        }
        asked = {
            "n_components": self.n_components,
            "hidden_layer_sizes": tuple(self.hidden_layer_sizes),
        }
        if fitted != asked:
            raise ValueError(
                "warm_start=True continues training the fitted network, whose shape "
                f"is {fitted}; set warm_start=False to train a new one. "
                f"Received: {asked}."
            )

    def _check_architecture(self, keras, X):
        """Validate what ``_parameter_constraints`` cannot; return the output activation."""
        n_features = X.shape[1]
        if self.n_components > n_features:
            raise ValueError(
                f"n_components={self.n_components} must be between 1 and "
                f"n_features={n_features}. Received n_components={self.n_components} "
                f"for data with n_features = {n_features}."
            )
        sizes = self.hidden_layer_sizes
        if np.ndim(sizes) != 1 or not all(
            isinstance(size, Integral) and not isinstance(size, bool) and size >= 1
            for size in sizes
        ):
            raise ValueError(
                "hidden_layer_sizes must be a sequence of positive ints, e.g. (128,) "
                f"or (256, 64). Received: {sizes!r}."
            )
        output_activation = self.output_activation
        if output_activation == "auto":
            in_unit_range = X.min() >= 0 and X.max() <= 1
            output_activation = "sigmoid" if in_unit_range else "linear"
        for name, value in (
            ("activation", self.activation),
            ("output_activation", output_activation),
        ):
            try:
                keras.activations.get(value)
            except ValueError:
                raise ValueError(
                    f"{name} must be the name of a Keras activation such as 'relu', "
                    f"'tanh', 'sigmoid' or 'linear'. Received: {name}={value!r}."
                ) from None
        if self.loss == "binary_crossentropy" and output_activation != "sigmoid":
            raise ValueError(
                "loss='binary_crossentropy' needs outputs in [0, 1]: use "
                "output_activation='sigmoid', or 'auto' with data in [0, 1]. "
                f"Received: output_activation={output_activation!r}."
            )
        return output_activation

    def _make_optimizer(self, keras):
        optimizer = keras.optimizers.get(self.optimizer)
        optimizer.learning_rate = self.learning_rate
        return optimizer

    def _validation_split(self, X, seed):
        n_validation = int(np.ceil(self.validation_fraction * X.shape[0]))
        if n_validation < 1 or X.shape[0] - n_validation < 1:
            raise ValueError(
                "early_stopping=True needs at least one training and one validation "
                f"sample. Received: {X.shape[0]} samples with "
                f"validation_fraction={self.validation_fraction}."
            )
        return train_test_split(X, test_size=n_validation, random_state=seed)

    def _validate_X(self, X, *, reset):
        """``validate_data`` to float32/float64, with a clearer error for text."""
        try:
            return validate_data(self, X, dtype=_FLOAT_DTYPES, reset=reset)
        except ValueError as error:
            if "convert string to float" not in str(error):
                raise
            raise ValueError(
                f"{type(self).__name__} expects numeric data (floats or ints); received "
                f"non-numeric values ({error}). Encode text or categorical columns "
                "first, e.g. with OneHotEncoder in a ColumnTransformer."
            ) from error

    # ---------------------------------------------------------------- inference
    def transform(self, X):
        """Encode ``X`` into ``n_components`` codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to encode.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            The codes, in ``X``'s float dtype.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return self._forward_encoder(X)

    def inverse_transform(self, X):
        """Decode codes back to the input space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, as returned by ``transform``.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            The reconstruction, in ``X``'s float dtype.
        """
        check_is_fitted(self)
        X = check_array(X, dtype=_FLOAT_DTYPES, input_name="X")
        if X.shape[1] != self.n_components:
            raise ValueError(
                f"X has {X.shape[1]} features, but inverse_transform expects codes "
                f"with n_components={self.n_components} features."
            )
        return self._forward_decoder(X)

    def denoise(self, X):
        """Reconstruct ``X`` through the bottleneck: ``decoder(encoder(X))``.

        Trained with ``noise``, the autoencoder maps corrupted samples close to
        the clean ones; without, this is the plain reconstruction.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Possibly noisy data.

        Returns
        -------
        X_clean : ndarray of shape (n_samples, n_features)
            The reconstruction, in ``X``'s float dtype.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return self._forward_decoder(self._forward_encoder(X))

    def score_samples(self, X):
        """Negative mean squared reconstruction error of each sample.

        Greater is better; low values flag samples unlike the training data,
        which makes this an anomaly score.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``-mean((X - denoise(X)) ** 2, axis=1)``.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        reconstruction = self._forward_decoder(self._forward_encoder(X))
        return -np.mean((X - reconstruction) ** 2, axis=1)

    def score(self, X, y=None):
        """Negative mean squared reconstruction error over all of ``X``.

        Greater is better, so ``GridSearchCV`` can pick ``n_components`` with no
        scorer given.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to score.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        score : float
            ``mean(score_samples(X))``.
        """
        return float(np.mean(self.score_samples(X)))

    @property
    def _n_features_out(self):
        """Number of codes, used by ``get_feature_names_out``."""
        return self.n_components

    # ----------------------------------------------------------- scikit-learn
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # ----------------------------------------------------------- persistence
    def save(self, path) -> None:
        """Save the fitted estimator to one file, readable by :func:`skautoenc.load`.

        The file holds the parameters, the fitted attributes, the library
        versions and the Keras model in Keras' own ``.keras`` format; no pickle,
        so loading it runs no code.

        Parameters
        ----------
        path : str or os.PathLike
            Where to write the file.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        """
        from ._persistence import save_estimator

        save_estimator(self, path)

    def __getstate__(self):
        state = dict(super().__getstate__())
        if "model_" in state:
            from ._persistence import model_to_bytes

            state["model_"] = model_to_bytes(state["model_"])
            for key in ("encoder_", "decoder_", "_forward_encoder", "_forward_decoder"):
                state.pop(key, None)
        return state

    def __setstate__(self, state):
        model = state.get("model_")
        if isinstance(model, bytes):
            from ._persistence import model_from_bytes

            state = {**state, **model_attributes(model_from_bytes(model))}
        super().__setstate__(state)


def model_attributes(model) -> dict:
    """Return the fitted attributes that derive from an autoencoder model.

    Shared by ``fit``, unpickling and :func:`skautoenc.load`: the encoder and
    the decoder are the models nested in ``model`` (so the three share their
    layers, and a ``warm_start`` refit updates all of them), and the NumPy
    forward passes copy their weights.

    Parameters
    ----------
    model : keras.Model
        An autoencoder built by ``build_autoencoder``.

    Returns
    -------
    attributes : dict
        ``model_``, ``encoder_``, ``decoder_``, ``_forward_encoder`` and
        ``_forward_decoder``.
    """
    encoder, decoder = split_autoencoder(model)
    return {
        "model_": model,
        "encoder_": encoder,
        "decoder_": decoder,
        "_forward_encoder": DenseForward.from_keras(encoder),
        "_forward_decoder": DenseForward.from_keras(decoder),
    }


def _steps_per_execution(keras):
    return 1 if keras.backend.backend() == "torch" else _STEPS_PER_EXECUTION


@contextlib.contextmanager
def _unchanged_on_failure(estimator, keep_weights):
    """Undo every change to ``estimator`` if the block raises.

    Attributes are restored; with ``keep_weights`` (training continues in place)
    so are the Keras model's weights and optimizer state.
    """
    state = dict(estimator.__dict__)
    model = state.get("model_") if keep_weights else None
    if model is not None:
        weights = model.get_weights()
        optimizer_state = [variable.numpy() for variable in model.optimizer.variables]
    try:
        yield
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(state)
        if model is not None:
            model.set_weights(weights)
            for variable, value in zip(model.optimizer.variables, optimizer_state, strict=True):
                variable.assign(value)
        raise


# Keras shuffles with the backend's process-global seed, so two fits seeding it
# from two threads at once would shuffle each other's data: fits in threads of
# one process take turns (joblib's default, process-based loky backend runs them
# in parallel). Reentrant: a callback may fit another estimator.
_fit_lock = threading.RLock()


@contextlib.contextmanager
def _seeded(keras, seed):
    """Seed Keras, NumPy and ``random`` for one fit; restore NumPy's and ``random``'s state."""
    with _fit_lock:
        numpy_state, python_state = np.random.get_state(), random.getstate()
        keras.utils.set_random_seed(seed)
        try:
            yield
        finally:
            np.random.set_state(numpy_state)
            random.setstate(python_state)


def _all_finite(values):
    return bool(np.all(np.isfinite(values)))


def _all_finite_weights(*forwards):
    return all(
        np.isfinite(kernel).all() and np.isfinite(bias).all()
        for forward in forwards
        for kernel, bias, _ in forward.layers
    )
