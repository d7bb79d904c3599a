"""The autoencoder as a scikit-learn transformer, started from PCA."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils.validation import check_is_fitted

from ._array_api import array_api_io
from ._fitted_mixin import FittedNetworkMixin
from ._params import PARAMETER_CONSTRAINTS
from ._validation import check_finite_scores, validate_codes, validate_rows

# The API pages of docs/api.rst's autosummary; scikit-learn fills in the doubled braces.
DOC_URL = (
    "https://skautoenc.readthedocs.io/en/{version}/gen_modules/"
    "{{estimator_module}}.{{estimator_name}}.html"
)


class AutoencoderTransformer(
    FittedNetworkMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Dimensionality reduction with an autoencoder, used like PCA.

    The encoder maps each sample to ``n_components`` codes (``transform``); the
    decoder maps codes back to the input space (``inverse_transform``). Like
    ``PCA``, the estimator centres the data itself and measures everything in the
    data's own units: it needs no scaler.

    The network starts *as* PCA: a linear path initialised to PCA's projection,
    plus a nonlinear residual path whose last layer starts at zero.
    Training adds what a nonlinear map explains beyond PCA. With
    ``early_stopping=True`` (the default) the trained network is kept only if it
    beats that start on held-out rows clearly (a one-sided paired t-test at the
    1 % level, and by 2 %); otherwise the fitted model is PCA itself
    (``fallback_to_pca_``), so the reconstruction error is never worse than PCA's
    on data like the training data.

    Inference replays the fitted weights in NumPy, in the input's float dtype, so
    transforming one row costs about what ``PCA.transform`` costs and an unpickled
    model needs no TensorFlow. With ``sklearn.set_config(array_api_dispatch=True)``,
    the methods also take PyTorch, CuPy or other array API arrays (computed on NumPy)
    and return arrays of the input's namespace and device; fitted attributes are NumPy.

    Parameters
    ----------
    n_components : int, default=2
        Size of the code (the bottleneck). Must not exceed the number of features.
    whiten : bool, default=False
        As PCA's: False gives codes in the data's units, each with the spread of
        the PCA score it started as (a fit that kept PCA's start transforms
        exactly as ``PCA().transform``); True gives codes of unit variance, as
        ``PCA(whiten=True)``. Either way they are centred, over the rows given to
        ``fit``. The network trains on whitened codes. See :ref:`whiten`.
    hidden_layer_sizes : tuple of int, default=(128, 128)
        Widths of the encoder's residual path; the decoder mirrors them. ``()``
        gives a linear autoencoder (PCA, trainable).
    image_shape : tuple of int or None, default=None
        For rows that are flattened images: ``(height, width)`` or ``(height,
        width, channels)``, channels last (rows as ``image.reshape(-1)``); one
        entry may be -1, worked out from ``n_features`` as by ``numpy.reshape``.
        The residual paths become convolutional: the encoder's applies stride-2
        3x3 convolutions (``conv_filters``) before its dense layers, the
        decoder's mirrors them with transposed convolutions. The linear PCA path
        is unchanged, so the network still starts as PCA. None: dense paths.
    conv_filters : tuple of int, default=(32, 64)
        Channels of the encoder's convolutions, each halving the image's height
        and width; the decoder mirrors them. Ignored when ``image_shape`` is None.
    builder : callable or None, default=None
        Your own residual paths (see :ref:`own-networks`): ``builder(n_features,
        n_components, **builder_kwargs)`` returns Keras models ``(encoder,
        decoder)`` of built-in layers, each ending in a layer with weights and a
        linear activation (zeroed, so the network still starts as PCA). Called once
        per fit and kept as Keras configs: your objects are never trained. Replaces
        ``hidden_layer_sizes``, ``activation``, ``image_shape``, ``conv_filters``.
        For models you already have: :class:`KerasNetwork`.
    builder_kwargs : dict or None, default=None
        Keyword arguments of ``builder`` (searched as whole dicts).
    activation : str, default="relu"
        Keras activation of the hidden layers (a name ``keras.activations.get``
        accepts). ReLU suits tables; ``"elu"`` suits images (see the user guide).
    output_activation : str, default="auto"
        The reconstruction's activation, in the data's units. ``"auto"``: linear,
        clipped to the bounds the training data show (``output_min_``,
        ``output_max_``): a feature whose minimum or maximum at least 5 % of the
        rows take (two rows at least) is bounded there, as pixels at 0 or counts at
        0 are. ``"linear"``: unbounded. Any other Keras activation (e.g.
        ``"sigmoid"`` for data in [0, 1]) means the network no longer starts at
        PCA's solution.
    loss : {"mse", "mae", "huber", "binary_crossentropy"}, default="mse"
        Reconstruction loss, on standardised values (``"binary_crossentropy"``
        on the data, which must lie in [0, 1], with a sigmoid output).
    optimizer : str, default="adam"
        Name of a Keras optimizer.
    learning_rate : float, default=4e-3
        The optimizer's initial learning rate.
    batch_size : int, default=128
        Samples per gradient step, capped at the number of training samples.
    epochs : int, default=500
        Maximum number of passes over the data; training usually stops much
        earlier (see ``n_iter_no_change``).
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the rows, keep the epoch with the
        lowest held-out loss, and fall back to PCA when training does not beat it
        significantly. When False, train on all rows and keep the epoch with the
        lowest training loss.
    validation_fraction : float, default=0.1
        Fraction of the rows held out when ``early_stopping=True``.
    n_iter_no_change : int, default=10
        Epochs without an improvement of ``tol`` after which training goes back
        to its best weights with 0.3 times the learning rate (twice, waiting half
        as long in those phases), then stops.
    tol : float, default=1e-3
        Smallest *relative* decrease of the monitored loss (smoothed over
        epochs) that counts as an improvement.
    noise : {"auto", "gaussian", "masking"} or None, default="auto"
        Corrupt the inputs during training only (a denoising autoencoder):
        ``"gaussian"`` adds noise of standard deviation ``noise_level`` in the
        data's units; ``"masking"`` sets a fraction ``noise_level`` of the inputs
        to zero. ``"auto"`` adds Gaussian noise whose variance is half the
        variance per feature that PCA leaves unexplained at ``n_components``: it
        regularises the nonlinear part without drowning what the code carries.
        None trains on clean inputs.
    noise_level : float, default=0.1
        Standard deviation (``"gaussian"``) or fraction zeroed (``"masking"``,
        below 1). Unused with ``"auto"`` and None.
    warm_start : bool, default=False
        When True, ``fit`` continues training the fitted network (weights and
        optimizer state) on the new data. Training options (``learning_rate``,
        ``optimizer``, ``loss``, ``noise``, ...) apply to the continuation; a new
        ``optimizer`` starts with a fresh state. Parameters that shape the network
        (``n_components``, ``hidden_layer_sizes``, ``image_shape``,
        ``conv_filters``, ``activation``, ``output_activation``) must stay those of
        the fitted network.
    callbacks : list of keras.callbacks.Callback, default=None
        Keras callbacks, called at the start and end of training and of each
        epoch (logs: ``loss``, ``val_loss``); one can stop training with
        ``model.stop_training = True``. Each fit works on shallow copies.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialization, the validation split, the shuffling and the
        noise. An int gives identical results fit after fit in one process, and
        leaves the global random states of NumPy, ``random`` and Keras alone;
        None draws a seed from NumPy's global state, as scikit-learn does.
    verbose : int, default=0
        0 is silent; 1 prints one line per epoch.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Per-feature mean of the training data, subtracted before encoding.
    scale_ : float
        The root mean variance of the training features: standardised rows are
        ``(X - mean_) / scale_``, one scale for all features, so their relative
        sizes stay as PCA sees them.
    output_min_, output_max_ : ndarray of shape (n_features,)
        Reconstructions are clipped to these (``-inf``/``inf``: unbounded); see
        ``output_activation``. Unbounded when the fit fell back to PCA.
    weights_ : dict of str to ndarray
        The network's arrays by name (``"encoder_linear.kernel"``, ...): float32
        once trained, float64 when the fitted model is PCA's start.
    fallback_to_pca_ : bool
        True when the fitted model is the PCA start, because training did not
        beat it on the held-out rows.
    pca_validation_loss_ : float or None
        Held-out loss of the start (PCA), when ``early_stopping=True``.
    history_ : dict of str to list of float
        Per epoch: ``loss``, ``val_loss`` (with early stopping) and
        ``learning_rate``.
    loss_curve_ : list of float
        The training loss at each epoch.
    validation_scores_ : list of float or None
        Negative held-out loss at each epoch (greater is better), or None.
    best_validation_score_ : float or None
        The best of ``validation_scores_`` (PCA's when it was kept), or None.
    n_iter_ : int
        Number of epochs run, over all calls to ``fit`` with ``warm_start`` and
        ``partial_fit``.
    model_, encoder_, decoder_ : keras.Model
        Keras copies of the fitted network, in the data's units, built on first
        access (``model_`` is ``decoder_(encoder_(x))``). Plain Keras models:
        ``model_.save("x.keras")`` and ``keras.saving.load_model`` work. Changing
        them does not change the estimator.
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
    >>> X = load_digits().data
    >>> ae = AutoencoderTransformer(n_components=8, random_state=0)
    >>> codes = ae.fit_transform(X)
    >>> codes.shape
    (1797, 8)
    >>> ae.inverse_transform(codes).shape
    (1797, 64)
    """

    _parameter_constraints: ClassVar[dict] = PARAMETER_CONSTRAINTS

    def __init__(
        self,
        n_components=2,
        *,
        whiten=False,
        hidden_layer_sizes=(128, 128),
        image_shape=None,
        conv_filters=(32, 64),
        builder=None,
        builder_kwargs=None,
        activation="relu",
        output_activation="auto",
        loss="mse",
        optimizer="adam",
        learning_rate=4e-3,
        batch_size=128,
        epochs=500,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-3,
        noise="auto",
        noise_level=0.1,
        warm_start=False,
        callbacks=None,
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.whiten = whiten
        self.hidden_layer_sizes = hidden_layer_sizes
        self.image_shape = image_shape
        self.conv_filters = conv_filters
        self.builder = builder
        self.builder_kwargs = builder_kwargs
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
    @_fit_context(prefer_skip_nested_validation=True)
    @array_api_io
    def fit(self, X, y=None):
        """Train the autoencoder to reconstruct ``X``, starting from PCA.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, in its own units (no scaling needed).
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : AutoencoderTransformer
            The fitted estimator.
        """
        continuing = self.warm_start and self._is_fitted()
        self._publish(self._fit(X, continuing=continuing, partial=False))
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    @array_api_io
    def partial_fit(self, X, y=None):
        """Run one epoch over ``X``; the first call starts from PCA of ``X``.

        Call it block by block to train on data larger than memory. Every call
        trains exactly one pass over ``X``: no validation split and no early
        stopping (as ``MLPRegressor.partial_fit``), whatever ``early_stopping``.

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
        self._publish(self._fit(X, continuing=self._is_fitted(), partial=True))
        return self

    def _fit(self, X, *, continuing: bool, partial: bool) -> dict:
        from ._fitting import fit_state

        return fit_state(self, X, continuing=continuing, partial=partial)

    # ---------------------------------------------------------------- inference
    @array_api_io
    def transform(self, X):
        """Encode ``X`` into ``n_components`` codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to encode.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            The codes, computed in ``X``'s float dtype (float64 unless float32). With
            ``array_api_dispatch`` on, in ``X``'s array namespace and on its device.
        """
        check_is_fitted(self)
        fitted = self._fitted
        return fitted.encode(validate_rows(self, X, reset=False))

    @array_api_io
    def inverse_transform(self, X):
        """Decode codes back to the input space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, as returned by ``transform``.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            The reconstruction, in the codes' float dtype (and, with
            ``array_api_dispatch`` on, their array namespace and device).
        """
        check_is_fitted(self)
        fitted = self._fitted
        return fitted.decode(validate_codes(X, fitted.network.n_components))

    @array_api_io
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
            The reconstruction, in ``X``'s float dtype (and, with
            ``array_api_dispatch`` on, its array namespace and device).
        """
        check_is_fitted(self)
        fitted = self._fitted
        return fitted.reconstruct(validate_rows(self, X, reset=False))

    @array_api_io
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
            ``-mean((X - denoise(X)) ** 2, axis=1)``, in the data's units (in
            ``X``'s array namespace and device with ``array_api_dispatch`` on).
        """
        check_is_fitted(self)
        fitted = self._fitted
        X = validate_rows(self, X, reset=False)
        with np.errstate(over="ignore"):
            scores = -np.mean((X - fitted.reconstruct(X)) ** 2, axis=1)
        return check_finite_scores(scores, X)

    @array_api_io
    def score(self, X, y=None):
        """Negative mean squared reconstruction error over all of ``X``.

        Greater is better: ``GridSearchCV`` ranks settings by it with no scorer.
        More codes reconstruct better, so choose ``n_components`` by a downstream
        model's score or with :func:`~skautoenc.compare_with_pca`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to score.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        score : float
            ``mean(score_samples(X))``, a Python float whatever ``X``'s array type.
        """
        return float(np.mean(self.score_samples(X)))

    @property
    def _n_features_out(self):
        """Number of codes, used by ``get_feature_names_out``."""
        return self._fitted.network.n_components

    # ----------------------------------------------------------- scikit-learn
    # The HTML repr (Jupyter) links to the API page, as scikit-learn's do; by template,
    # as _doc_link_url_param_generator's calling convention differs between versions.
    _doc_link_module = "skautoenc"

    @property
    def _doc_link_template(self) -> str:
        from . import __version__  # read here: the package is not initialised at import

        release = __version__.replace(".", "").isdigit()  # else the main branch's docs
        return DOC_URL.format(version=__version__ if release else "latest")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        # No array_api_support: array API inputs are computed on NumPy copies and the
        # fitted attributes stay NumPy, which check_array_api_input would refuse.
        return tags
