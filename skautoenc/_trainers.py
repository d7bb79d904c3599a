"""Compiled training steps, built once per network structure and reused across fits.

Keras' ``Model.fit`` traces a new training function for every new model, and on
TensorFlow pays a data pipeline per epoch: on small data that overhead is most of
a fit (see ``benchmarks/bench_fit.py``). Here one Keras model and one compiled
epoch function serve every fit of the same structure in the process: a fit
assigns its starting weights and optimizer state, runs epochs, and reads the
arrays back. The loops follow Keras' guides "Writing a training loop from
scratch" for each backend: ``tf.function`` with ``GradientTape``
(``_tensorflow_trainer``); ``jax.jit`` with the stateless API (``stateless_call``,
``stateless_apply``); PyTorch eager.

Batches are consecutive slices of rows the caller has already shuffled.
"""

from __future__ import annotations

import collections
import threading

import numpy as np

from ._tensorflow_trainer import TensorFlowTrainer as _TensorFlowTrainer
from ._tensorflow_trainer import concrete_function
from ._trainer_base import Recipe, Trainer, frame32, zero_padded

# Trainers kept per process: a grid search over a few sizes reuses them; older
# ones are dropped so that a long-lived process does not grow without bound.
_MAX_CACHED = 8
_cache: collections.OrderedDict = collections.OrderedDict()
_cache_lock = threading.Lock()
# JAX: batches per compiled call. A shorter chunk is padded with empty batches that
# the loop does not run, so one compiled function serves every count.
_JAX_STEPS_PER_CALL = 16


def active_distribution():
    """The data-parallel setting a fit runs under: a ``keras.distribution`` (JAX), a
    ``tf.distribute.Strategy`` scope (TensorFlow), or None."""
    from ._keras import import_keras

    keras = import_keras()
    backend, distribution = keras.backend.backend(), keras.distribution.distribution()
    if backend == "tensorflow":
        import tensorflow as tf

        if tf.distribute.has_strategy():
            if distribution is not None:
                raise ValueError(
                    "A fit runs under one data-parallel setting: received both a "
                    f"tf.distribute strategy and {distribution!r}."
                )
            return tf.distribute.get_strategy()
    if distribution is not None and backend != "jax":
        raise ValueError(
            "keras.distribution is implemented by Keras on the JAX backend; this process "
            f"runs {backend!r}. On TensorFlow, fit in a tf.distribute.MirroredStrategy "
            f"scope instead, or set KERAS_BACKEND=jax. Received: {distribution!r}."
        )
    return distribution


def get_trainer(recipe: Recipe):
    """The cached trainer for ``recipe``, built on first use."""
    with _cache_lock:
        trainer = _cache.get(recipe)
        if trainer is not None:
            _cache.move_to_end(recipe)
            return trainer
    from ._keras import import_keras

    backend = import_keras().backend.backend()
    trainer = {"tensorflow": _TensorFlowTrainer, "jax": _JaxTrainer, "torch": _TorchTrainer}[
        backend
    ](recipe)
    with _cache_lock:
        _cache[recipe] = trainer
        while len(_cache) > _MAX_CACHED:
            _cache.popitem(last=False)
    return trainer


class _TorchTrainer(Trainer):
    def _compile(self):
        pass

    def train_epoch(self, U, frame, level, U_val=None):
        import torch

        ops = self.keras.ops
        variables = self.model.trainable_variables
        tensors, total = tuple(ops.convert_to_tensor(v) for v in frame32(frame)), 0.0
        for start in range(0, U.shape[0], self.batch_size):
            u = ops.convert_to_tensor(U[start : start + self.batch_size])
            self.model.zero_grad()
            u_hat = self.model(self.corrupt(u, tensors, level), training=True)
            loss = ops.mean(self.row_losses(u, u_hat, tensors))
            if self.model.losses:  # a builder's regularizers
                loss = loss + sum(self.model.losses)
            loss.backward()
            with torch.no_grad():
                self.optimizer.apply([v.value.grad for v in variables], variables)
            total += float(loss.detach()) * u.shape[0]
        rows = None if U_val is None else self.evaluate(U_val, frame)
        return total / U.shape[0], rows

    def evaluate(self, U, frame):
        import torch

        ops = self.keras.ops
        with torch.no_grad():
            u = ops.convert_to_tensor(U)
            tensors = tuple(ops.convert_to_tensor(v) for v in frame32(frame))
            rows = self.row_losses(u, self.model(u), tensors)
        return ops.convert_to_numpy(rows)


class _JaxTrainer(Trainer):
    """Stateless: the variables live in ``self.state`` between epochs."""

    def _compile(self):
        import jax

        keras, model, optimizer = self.keras, self.model, self.optimizer
        seed_variable = self.seed_generator.state

        def loss_and_updates(trainable, non_trainable, u, u_in, frame):
            u_hat, non_trainable, losses = model.stateless_call(
                trainable, non_trainable, u_in, training=True, return_losses=True
            )
            loss = keras.ops.mean(self.row_losses(u, u_hat, frame))
            return loss + sum(losses) if losses else loss, non_trainable  # + regularizers

        gradient = jax.value_and_grad(loss_and_updates, has_aux=True)

        def steps(state, batches, n_steps, frame, level):
            def step(i, carry):
                trainable, non_trainable, optimizer_vars, seed, total = carry
                u = batches[i]
                with keras.StatelessScope(state_mapping=[(seed_variable, seed)]) as scope:
                    u_in = self.corrupt(u, frame, level)
                seed = scope.get_current_value(seed_variable)
                if seed is None:  # no corruption: the seed was not used
                    seed = carry[3]
                (loss, non_trainable), grads = gradient(trainable, non_trainable, u, u_in, frame)
                trainable, optimizer_vars = optimizer.stateless_apply(
                    optimizer_vars, grads, trainable
                )
                return trainable, non_trainable, optimizer_vars, seed, total + loss

            *state, total = jax.lax.fori_loop(0, n_steps, step, (*state, 0.0))
            return tuple(state), total

        self._steps = jax.jit(steps)

        def evaluate(trainable, non_trainable, U, frame):
            u_hat, _ = model.stateless_call(trainable, non_trainable, U)
            return self.row_losses(U, u_hat, frame)

        self._evaluate = jax.jit(evaluate)

    def reset(self, weights, optimizer_state, learning_rate, seed, batch_size):
        super().reset(weights, optimizer_state, learning_rate, seed, batch_size)
        self._pull()

    def set_weights(self, weights):
        # The weights only: the optimizer state and the seed stream go on, as on the
        # other backends (the variables hold them only once synced).
        self.sync()
        super().set_weights(weights)
        self._pull()

    def set_learning_rate(self, value):
        self.sync()
        super().set_learning_rate(value)
        self._pull()

    def _pull(self):
        self.state = (
            [v.value for v in self.model.trainable_variables],
            [v.value for v in self.model.non_trainable_variables],
            [v.value for v in self.optimizer.variables],
            self.seed_generator.state.value,
        )

    def sync(self):
        trainable, non_trainable, optimizer_vars, seed = self.state
        for group, values in (
            (self.model.trainable_variables, trainable),
            (self.model.non_trainable_variables, non_trainable),
            (self.optimizer.variables, optimizer_vars),
            ([self.seed_generator.state], [seed]),
        ):
            for variable, value in zip(group, values, strict=True):
                variable.assign(value)

    def snapshot(self):
        # The state's arrays themselves: JAX arrays do not change, so holding them is
        # the copy. Not assigned to the variables first (``sync``).
        trainable, non_trainable = self.state[:2]
        variables = [*self.model.trainable_variables, *self.model.non_trainable_variables]
        values = dict(zip(map(id, variables), [*trainable, *non_trainable], strict=True))
        return [values[id(v)] for v in self.model.weights]

    def optimizer_variables(self):
        self.sync()
        return super().optimizer_variables()

    def _read(self, variables):
        # The JAX arrays themselves: Keras' Variable.numpy() goes through its own
        # __array__, which NumPy 2 warns about (no ``copy`` keyword).
        return [np.array(v.value) for v in variables]

    def _distribute(self, array, batch_axis):
        """``array`` split over the distribution's devices along ``batch_axis``."""
        distribution = self.recipe.distribution
        if distribution is None:
            return array
        mesh = distribution.device_mesh
        n_devices = mesh.shape[list(mesh.axis_names).index(distribution.batch_dim_name)]
        if self.batch_size % n_devices:
            raise ValueError(
                f"Data-parallel training splits each batch over {n_devices} devices: "
                f"batch_size must be a multiple of {n_devices}. Received: "
                f"batch_size={self.batch_size}."
            )
        axes = [None] * array.ndim
        axes[batch_axis] = distribution.batch_dim_name
        layout = self.keras.distribution.TensorLayout(axes, distribution.device_mesh)
        return self.keras.distribution.distribute_tensor(array, layout)

    def train_epoch(self, U, frame, level, U_val=None):
        batch_size = self.batch_size
        n_batches = U.shape[0] // batch_size  # the incomplete last batch is skipped
        batches = U[: n_batches * batch_size].reshape(n_batches, batch_size, -1)
        total, state = 0.0, self.state
        args = (frame32(frame), np.float32(level))
        for start in range(0, n_batches, _JAX_STEPS_PER_CALL):
            chunk = batches[start : start + _JAX_STEPS_PER_CALL]
            n_steps = len(chunk)
            # Padded: one compiled shape for every count.
            chunk = zero_padded(chunk, (_JAX_STEPS_PER_CALL, *chunk.shape[1:]))
            chunk = self._distribute(chunk, 1)
            state, loss = self._steps(state, chunk, np.int32(n_steps), *args)
            total += float(loss)
        self.state = state
        rows = None if U_val is None else self.evaluate(U_val, frame)
        return total / max(n_batches, 1), rows

    def evaluate(self, U, frame):
        # Padded to a multiple of the batch size: a few traces serve every size.
        n_rows = U.shape[0]
        padded = -(-n_rows // self.batch_size) * self.batch_size
        U = zero_padded(U, (padded, U.shape[1]))
        trainable, non_trainable, _, _ = self.state
        U = self._distribute(U, batch_axis=0)
        rows = self._evaluate(trainable, non_trainable, U, frame32(frame))
        return np.asarray(rows)[:n_rows]


def stateless_call(model):
    """``(values, x) -> model(x, training=False)`` from NumPy rows to NumPy rows,
    compiled once for the model's structure.

    ``values`` are the model's variables (``model.trainable_variables``, then
    ``model.non_trainable_variables``) as backend tensors: they are arguments, not
    the model's state (Keras' stateless API), so every fitted network of one
    structure shares the compiled function, and calls in threads do not interfere.
    """
    from ._keras import import_keras

    keras = import_keras()
    backend = keras.backend.backend()
    n_in = model.input_shape[-1]
    n_trainable = len(model.trainable_variables)

    def forward(values, x):
        trainable, non_trainable = values[:n_trainable], values[n_trainable:]
        return model.stateless_call(trainable, non_trainable, x, training=False)[0]

    if backend == "tensorflow":
        import tensorflow as tf

        variables = [*model.trainable_variables, *model.non_trainable_variables]
        specs = [tf.TensorSpec(v.shape, v.dtype) for v in variables]
        rows = tf.TensorSpec([None, n_in], tf.float32)
        concrete = concrete_function(forward, specs, rows)
        return lambda values, x: concrete(values, tf.constant(x)).numpy()
    if backend == "jax":
        import jax

        jitted = jax.jit(forward)

        def call(values, x):
            rows = len(x)
            padded = 1 << max(rows - 1, 0).bit_length()
            x = zero_padded(x, (padded, n_in))
            return np.asarray(jitted(values, x))[:rows]

        return call
    import torch

    def call(values, x):
        with torch.no_grad():
            return keras.ops.convert_to_numpy(forward(values, keras.ops.convert_to_tensor(x)))

    return call
