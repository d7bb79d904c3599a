"""What every backend's trainer shares: its cache key (``Recipe``), the Keras model
and optimizer of one recipe, the loss and corruption written with ``keras.ops``, and
moving weights and optimizer state in and out. The backend-specific loops subclass
``Trainer`` in ``_trainers``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace

import numpy as np

from ._network import Network, keras_weight_names


@dataclass(frozen=True)
class Recipe:
    """What a compiled training function depends on (its cache key).

    Not the batch size: a fit sets it (``Trainer.reset``). It is capped at the
    training rows, which differ from fold to fold on small data, and a compiled
    function per fold would cost more than the folds' training. Nor, within a
    step of ``CODE_STEP``, the number of codes: see ``compiled_network``.
    """

    network: Network
    optimizer: str
    loss: str
    corruption: str | None  # None, "gaussian" or "masking"
    # The data-parallel setting the fit runs under (``active_distribution``): the
    # variables are laid out on its devices, so it is part of the key.
    distribution: object = None
    # The Keras dtype policy the network is built under (``keras.config.dtype_policy()``):
    # "float32", or mixed precision such as "mixed_bfloat16".
    dtype_policy: str = "float32"


# Compiled trainers are built for code widths in steps of this many codes.
CODE_STEP = 8


def compiled_network(network: Network, *, callbacks) -> Network:
    """The network a fit's trainer is compiled for: ``network`` with its codes padded
    to a multiple of ``CODE_STEP``, so that a search over ``n_components`` (2, 4, 8)
    traces one training function instead of one per value.

    The padded codes change nothing but the arrays' sizes: their weights start at
    zero, so the codes are zero and every decoder weight that reads them is too;
    their gradients are then exactly zero, and each optimizer offered
    (``_params.OPTIMIZERS``) updates element by element, so they stay zero and the
    other weights train as without them. ``Trainer`` pads what goes in and cuts
    what comes out. Not padded: a builder's network (its layers are the user's)
    and a fit with callbacks (they are handed the Keras model).
    """
    if network.builder_layers or callbacks:
        return network
    padded = -(-network.n_components // CODE_STEP) * CODE_STEP
    return replace(network, n_components=padded)


class Trainer:
    """A Keras model, its optimizer and compiled epoch function for one recipe.

    The model may have more codes than the fit's network (``compiled_network``):
    ``reset`` and ``set_weights`` take the fit's arrays and pad them with zeros;
    ``weights`` and ``optimizer_variables`` cut them back to the fit's shapes.
    """

    def __init__(self, recipe: Recipe):
        from ._keras import import_keras

        keras = self.keras = import_keras()
        self.recipe = recipe
        # Built in the distribution's scope: its variables get the distribution's layout.
        with scope(recipe.distribution):
            self._build(keras, recipe)

    def _build(self, keras, recipe):
        self.model, _, _ = recipe.network.build_keras()
        self.names = keras_weight_names(self.model)
        # State that is not a weight: the seed generators of a builder's random layers
        # (Dropout, GaussianNoise), reset from each fit's seed so that fits repeat.
        weights = {id(variable) for variable in self.model.weights}
        self.random_states = [v for v in self.model.non_trainable_variables if id(v) not in weights]
        # Named explicitly: Keras numbers unnamed optimizers per process ("adam_3"),
        # and the names of its variables are how a saved state is matched.
        optimizer_class = type(keras.optimizers.get(recipe.optimizer))
        self.optimizer = optimizer_class(name=recipe.optimizer)
        self.optimizer.build(self.model.trainable_variables)
        self.fresh_optimizer = self._read(self.optimizer.variables)
        self._optimizer_shapes_by_weights: dict = {}
        self.seed_generator = keras.random.SeedGenerator(0)
        self._compile()

    # ------------------------------------------------------------ shared math
    # A "frame" is (mean, scale, lower, upper): the standardisation of the rows and the
    # bounds of the reconstruction in standardised units (infinite where unbounded).
    def row_losses(self, u, u_hat, frame):
        """Per-row reconstruction loss; mse/mae/huber in standardised units."""
        ops, losses = self.keras.ops, self.keras.losses
        mean, scale, lower, upper = frame
        # Under a mixed-precision policy the network computes in float16/bfloat16 and
        # its variables stay float32; the loss is computed in float32, as Keras does.
        u_hat = ops.cast(u_hat, "float32")
        activation = self.recipe.network.output_activation
        if activation != "linear":
            x_hat = self.keras.activations.get(activation)(mean + scale * u_hat)
            u_hat = (x_hat - mean) / scale
        u_hat = ops.clip(u_hat, lower, upper)
        kind = self.recipe.loss
        if kind == "binary_crossentropy":  # on the data, in [0, 1]
            return losses.binary_crossentropy(mean + scale * u, mean + scale * u_hat)
        if kind == "mse":
            return losses.mean_squared_error(u, u_hat)
        if kind == "mae":
            return losses.mean_absolute_error(u, u_hat)
        return ops.mean(losses.huber(u[..., None], u_hat[..., None]), axis=-1)

    def corrupt(self, u, frame, level):
        """Training-time corruption of standardised rows (none, Gaussian, masking)."""
        keras = self.keras
        mean, scale = frame[0], frame[1]
        if self.recipe.corruption == "gaussian":
            return u + level * self.standard_normal(keras.ops.shape(u))
        if self.recipe.corruption == "masking":
            keep = keras.random.uniform(keras.ops.shape(u), seed=self.seed_generator) >= level
            return keras.ops.where(keep, u, -mean / scale)  # masked inputs are 0 in data units
        return u

    def standard_normal(self, shape):
        """Standard normal draws by inverse transform: ``sqrt(2) * erfinv(v)``, ``v``
        uniform on (-1, 1), the way ``jax.random.normal`` draws them.

        Why not ``keras.random.normal``: on TensorFlow it is Box-Muller, whose CPU
        kernel costs a small epoch as much as ``erfinv`` or more (``bench_fit.py``
        prints both; the difference varies from run to run); on JAX the two give
        the same numbers, so the backends share one way of drawing.
        """
        keras = self.keras
        above_minus_one = float(np.nextafter(np.float32(-1), np.float32(0)))  # erfinv(-1) = -inf
        v = keras.random.uniform(shape, above_minus_one, 1.0, seed=self.seed_generator)
        return np.float32(np.sqrt(2)) * keras.ops.erfinv(v)

    # ---------------------------------------------------------------- state
    def _read(self, variables):
        return [np.array(v.numpy()) for v in variables]

    def reset(self, weights, optimizer_state, learning_rate, seed, batch_size):
        """Start a fit: weights by name, optimizer state (or a fresh one), seed, and
        the rows per optimizer step.

        ``optimizer_state`` is a list of ``(name, value)``, as ``optimizer_variables``
        returns it; it must be that of this optimizer on this network.
        """
        self.batch_size = int(batch_size)
        self.shapes = {name: tuple(np.shape(value)) for name, value in weights.items()}
        Trainer.set_weights(self, weights)  # the variables only: subclasses sync after
        values = self.fresh_optimizer
        if optimizer_state is not None:
            names = [v.path for v in self.optimizer.variables]
            found = [name for name, _ in optimizer_state]
            if found != names or any(
                tuple(np.shape(value)) != shape
                for (_, value), shape in zip(optimizer_state, self._optimizer_shapes(), strict=True)
            ):
                raise ValueError(
                    "The optimizer state to continue from is not that of a "
                    f"{self.recipe.optimizer!r} optimizer on this network. Expected "
                    f"the variables {names}. Received: {found}."
                )
            values = [value for _, value in optimizer_state]
        for variable, value in zip(self.optimizer.variables, values, strict=True):
            variable.assign(zero_padded(value, variable.shape))
        self.optimizer.learning_rate = learning_rate
        for i, state in enumerate([self.seed_generator.state, *self.random_states]):
            state.assign(np.array([seed, i], dtype=state.dtype))

    def set_weights(self, weights):
        for name, variable in zip(self.names, self.model.weights, strict=True):
            variable.assign(zero_padded(weights[name], variable.shape))

    def set_learning_rate(self, value):
        self.optimizer.learning_rate = value

    def weights(self) -> dict[str, np.ndarray]:
        return self.weights_of(self.snapshot())

    def snapshot(self) -> list:
        """The current values of ``self.model.weights``, in that order, held where
        copying them is cheapest (``weights_of`` reads them). A fit takes one at
        every improvement, and reading every weight back to NumPy each time was a
        noticeable share of a small fit on TensorFlow."""
        return self._read(self.model.weights)

    def weights_of(self, snapshot: list) -> dict[str, np.ndarray]:
        """A ``snapshot``'s weights by name, as NumPy arrays of the fit's shapes."""
        values = zip(self.names, map(np.array, snapshot), strict=True)
        return {name: _cut(value, self.shapes[name]) for name, value in values}

    def optimizer_variables(self) -> list[tuple[str, np.ndarray]]:
        names = [v.path for v in self.optimizer.variables]
        values = map(_cut, self._read(self.optimizer.variables), self._optimizer_shapes())
        return list(zip(names, values, strict=True))

    def _optimizer_shapes(self) -> list[tuple[int, ...]]:
        """The shapes of the optimizer's variables for the fit's weights (``reset``).

        Read off the same optimizer built on stand-ins of the fit's shapes: each
        optimizer lays out its own variables, and this asks none of them how.
        """
        shape_of = {
            id(v): self.shapes[name] for name, v in zip(self.names, self.model.weights, strict=True)
        }
        if all(shape_of[id(v)] == tuple(v.shape) for v in self.model.weights):  # not padded
            return [tuple(v.shape) for v in self.optimizer.variables]
        key = tuple(shape_of[id(v)] for v in self.model.weights)
        if key not in self._optimizer_shapes_by_weights:
            stand_ins = [
                self.keras.Variable(np.zeros(shape_of[id(v)], np.float32))
                for v in self.model.trainable_variables
            ]
            optimizer = type(self.optimizer)(name=self.recipe.optimizer)
            optimizer.build(stand_ins)
            self._optimizer_shapes_by_weights[key] = [tuple(v.shape) for v in optimizer.variables]
        return self._optimizer_shapes_by_weights[key]

    def sync(self):
        """Make ``self.model``'s variables current (for callbacks); a no-op when stateful."""

    def train_epoch(self, U, frame, level, U_val=None):
        """One pass over the rows of ``U`` (float32, standardised).

        Returns the mean training loss and, when ``U_val`` is given, the per-row
        loss on it after the epoch.
        """
        raise NotImplementedError

    def evaluate(self, U, frame) -> np.ndarray:
        """Per-row loss of the current weights on ``U``, without corruption."""
        raise NotImplementedError


def zero_padded(value, shape) -> np.ndarray:
    """``value`` at the start of a zero array of ``shape`` (as large or larger on
    every axis)."""
    value = np.asarray(value)
    shape = tuple(shape)
    if value.shape == shape:
        return value
    return np.pad(value, [(0, size - n) for n, size in zip(value.shape, shape, strict=True)])


def _cut(value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The leading ``shape`` block of ``value`` (undoes ``zero_padded``)."""
    if value.shape == shape:
        return value
    return np.ascontiguousarray(value[tuple(slice(0, n) for n in shape)])


def scope(distribution):
    return contextlib.nullcontext() if distribution is None else distribution.scope()


def frame32(frame):
    """A frame's arrays in float32 (infinite bounds stay infinite)."""
    mean, scale, lower, upper = frame
    return (
        np.asarray(mean, np.float32),
        np.float32(scale),
        np.asarray(lower, np.float32),
        np.asarray(upper, np.float32),
    )
