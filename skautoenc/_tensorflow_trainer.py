"""The TensorFlow trainer: a ``tf.function`` epoch of ``GradientTape`` steps over a
``tf.while_loop``, traced once per structure (see ``_trainers``), and the Adam update
it applies with TensorFlow's fused kernel."""

from __future__ import annotations

from ._trainer_base import Trainer, frame32


def concrete_function(function, *specs):
    """``function`` traced by TensorFlow once, for arguments of ``specs``.

    A concrete function: calling it skips ``tf.function``'s argument binding, a
    noticeable share of a small epoch. Without AutoGraph: the loops are written
    with ``tf.while_loop`` and the branches with ``tf.cond``, so it would have
    nothing to convert, and converting the functions' source cost the first fit
    in each process a second or more (``benchmarks/bench_fit.py``, cold fit).
    """
    import tensorflow as tf

    return tf.function(function, autograph=False).get_concrete_function(*specs)


class TensorFlowTrainer(Trainer):
    def _compile(self):
        import tensorflow as tf

        n_features = self.recipe.network.n_features
        model, optimizer = self.model, self.optimizer
        variables = model.trainable_variables

        strategy = self.recipe.distribution
        # Keras' Adam traces some fifteen operations per variable, about half of
        # tracing a new structure; TensorFlow's Adam kernel is one per variable. Not
        # under a strategy: Keras' optimizer sums the replicas' gradients.
        adam_slots = None if strategy is not None else _adam_slots(optimizer, variables)

        def evaluate(U, frame):
            return self.row_losses(U, model(U), frame)

        def step(u, u_in, frame):
            """One optimizer step on a batch, or on this replica's share of it.

            Each replica's loss is its rows' sum over the whole batch's row count:
            the optimizer sums the replicas' gradients, which makes the gradient of
            the batch's mean loss, as on one device.
            """
            n_rows = tf.cast(tf.shape(u)[0], tf.float32)
            count = 1
            if strategy is not None:
                replica = tf.distribute.get_replica_context()
                index, count = replica.replica_id_in_sync_group, replica.num_replicas_in_sync
                first, last = (tf.shape(u)[0] * i // count for i in (index, index + 1))
                u, u_in = u[first:last], u_in[first:last]
            with tf.GradientTape() as tape:
                rows = self.row_losses(u, model(u_in, training=True), frame)
                loss = tf.reduce_sum(rows) / n_rows
                if model.losses:  # a builder's regularizers: once over the replicas
                    loss += tf.add_n(model.losses) / count
            gradients = tape.gradient(loss, variables)
            if adam_slots is None or any(gradient is None for gradient in gradients):
                optimizer.apply(gradients, variables)
            else:
                fused_adam(optimizer, gradients, variables, adam_slots)
            return loss

        def epoch(U, U_val, frame, level, batch_size):
            n_rows = tf.shape(U)[0]

            def batch(start, total):
                u = U[start : start + batch_size]
                # Corrupted once for the whole batch: the same noise on any number of
                # replicas (and one seed stream, drawn outside the replicas).
                u_in = self.corrupt(u, frame, level)
                if strategy is None:
                    loss = step(u, u_in, frame)
                else:
                    losses = strategy.run(step, args=(u, u_in, frame))
                    loss = strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)
                return start + batch_size, total + loss * tf.cast(tf.shape(u)[0], tf.float32)

            _, total = tf.while_loop(
                lambda start, _: start < n_rows, batch, (tf.constant(0), tf.constant(0.0))
            )
            # Never on 0 rows (no validation): TensorFlow's oneDNN fused Conv2D (graph
            # mode, x86 CPUs) returns its input's shape for an empty batch, which the
            # next convolution refuses ("input depth must be evenly divisible").
            held_out = tf.cond(
                tf.shape(U_val)[0] > 0,
                lambda: evaluate(U_val, frame),
                lambda: tf.zeros([0], tf.float32),
            )
            return total / tf.cast(n_rows, tf.float32), held_out

        rows = tf.TensorSpec([None, n_features], tf.float32)
        vector = tf.TensorSpec([n_features], tf.float32)
        scalar = tf.TensorSpec([], tf.float32)
        frame = (vector, scalar, vector, vector)
        count = tf.TensorSpec([], tf.int32)
        self._epoch = concrete_function(epoch, rows, rows, frame, scalar, count)
        self._evaluate = concrete_function(evaluate, rows, frame)

        # Every weight read in one call. The tensors keep their values while training
        # goes on: TensorFlow copies a variable's buffer before updating it in place
        # when a read of it is still held.
        def read_weights():
            return [tf.identity(v) for v in model.weights]

        self._snapshot = concrete_function(read_weights)
        self._tf = tf

    def snapshot(self):
        return self._snapshot()

    def train_epoch(self, U, frame, level, U_val=None):
        tf = self._tf
        empty = U_val is None
        loss, rows = self._epoch(
            tf.constant(U),
            tf.constant(U[:0] if empty else U_val),
            frame32(frame),
            tf.constant(level, tf.float32),
            tf.constant(self.batch_size, tf.int32),
        )
        return float(loss), None if empty else rows.numpy()

    def evaluate(self, U, frame):
        return self._evaluate(self._tf.constant(U), frame32(frame)).numpy()


def _adam_slots(optimizer, variables):
    """Each variable's ``[momentum, velocity]`` in ``optimizer`` when it is a Keras
    ``Adam`` that updates by ``Adam.update_step`` alone (no AMSGrad, weight decay,
    clipping, moving average, accumulation, loss scale or constraint) on float32
    variables, so that ``fused_adam`` may update them; None otherwise."""
    from ._keras import import_keras

    if type(optimizer) is not import_keras().optimizers.Adam:
        return None
    extras = (
        optimizer.amsgrad,
        optimizer.weight_decay,
        optimizer.clipnorm,
        optimizer.clipvalue,
        optimizer.global_clipnorm,
        optimizer.use_ema,
        optimizer.gradient_accumulation_steps,
        optimizer.loss_scale_factor,
    )
    if any(extras) or any(v.constraint is not None or v.dtype != "float32" for v in variables):
        return None
    # Keras names a slot after its variable's path (``add_variable_from_reference``).
    by_name = {slot.name: slot for slot in optimizer.variables}
    slots = []
    for variable in variables:
        prefix = variable.path.replace("/", "_")
        pair = [by_name.get(f"{prefix}_{kind}") for kind in ("momentum", "velocity")]
        if any(slot is None or slot.shape != variable.shape for slot in pair):
            return None
        slots.append(pair)
    return slots


def fused_adam(optimizer, gradients, variables, slots) -> None:
    """``optimizer.apply(gradients, variables)`` for an ``optimizer`` that
    ``_adam_slots`` accepted, with TensorFlow's ``ResourceApplyAdam`` kernel: the
    update of ``keras.optimizers.Adam.update_step``, with its constants rounded to
    float32 before ``1 - beta`` is taken instead of after."""
    import tensorflow as tf

    step = tf.cast(optimizer.iterations + 1, tf.float32)
    beta_1 = tf.constant(optimizer.beta_1, tf.float32)
    beta_2 = tf.constant(optimizer.beta_2, tf.float32)
    shared = dict(
        beta1_power=tf.pow(beta_1, step),
        beta2_power=tf.pow(beta_2, step),
        lr=tf.cast(optimizer.learning_rate, tf.float32),
        beta1=beta_1,
        beta2=beta_2,
        epsilon=tf.constant(optimizer.epsilon, tf.float32),
    )
    for gradient, variable, (momentum, velocity) in zip(gradients, variables, slots, strict=True):
        tf.raw_ops.ResourceApplyAdam(
            var=variable.value.handle,
            m=momentum.value.handle,
            v=velocity.value.handle,
            grad=gradient,
            **shared,
        )
    optimizer.iterations.assign_add(1)
