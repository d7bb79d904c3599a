"""What a fitted estimator holds about its network beyond its arrays: the Keras views,
saving, and the pickled state (parameters and plain arrays, no Keras)."""

from __future__ import annotations

from ._inference import FittedNetwork

# Fitted state that does not end in "_" (and is replaced by every fit).
_PRIVATE_STATE = ("_fitted", "_optimizer_state", "_optimizer_name", "_keras_views")


class FittedNetworkMixin:
    """Mixin for an estimator whose fitted network lives in ``self._fitted``."""

    def _is_fitted(self) -> bool:
        return "_fitted" in self.__dict__

    def _publish(self, state: dict) -> None:
        """Swap in the new fitted attributes at once: readers see the old or the new model."""
        kept = {
            key: value
            for key, value in self.__dict__.items()
            if not (key.endswith("_") or key in _PRIVATE_STATE)
        }
        old = self.__dict__  # alive until the swap is done: no destructor runs mid-way
        self.__dict__ = {**kept, **state}
        del old

    @property
    def weights_(self) -> dict:
        return self._fitted_or_raise("weights_").weights

    @property
    def model_(self):
        return self._keras_models("model_")[0]

    @property
    def encoder_(self):
        return self._keras_models("encoder_")[1]

    @property
    def decoder_(self):
        return self._keras_models("decoder_")[2]

    def _fitted_or_raise(self, name):
        fitted = self.__dict__.get("_fitted")
        if fitted is None:  # AttributeError, so that hasattr() says False
            raise AttributeError(f"{type(self).__name__} is not fitted: no {name}.")
        return fitted

    def _keras_models(self, name):
        fitted = self._fitted_or_raise(name)
        views = self.__dict__.get("_keras_views")
        if views is None or views[0] is not fitted:
            models = fitted.build_keras()
            views = self.__dict__["_keras_views"] = (fitted, models)
        return views[1]

    def save(self, file) -> None:
        """Save the fitted estimator to one file, readable by :func:`skautoenc.load`.

        The file holds the parameters, the fitted attributes and the arrays
        (weights, optimizer state); no pickle, so loading it runs no code.

        Parameters
        ----------
        file : str, os.PathLike or binary file object
            Where to write. A path is written atomically, through symbolic links,
            keeping an existing file's permissions.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        ValueError
            If a parameter that shapes the network was changed since ``fit``.
        """
        from ._persistence import save

        save(self, file)

    def __getstate__(self):
        state = dict(super().__getstate__())  # object's is the live __dict__
        state.pop("_keras_views", None)
        if "_fitted" in state:
            state["_fitted"] = state["_fitted"].to_dict()
        return state

    def __setstate__(self, state):
        if "model_" in state and "_fitted" not in state:
            raise ValueError(
                f"This {type(self).__name__} was pickled by skautoenc 0.1, whose network "
                "is not the one this version builds: refit it with this version."
            )
        # Pickles made before whiten existed have whitened codes.
        state = {"whiten": True, **state}
        if isinstance(state.get("_fitted"), dict):
            state = {**state, "_fitted": FittedNetwork.from_dict(state["_fitted"])}
        super().__setstate__(state)
