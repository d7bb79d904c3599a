"""Networks users bring: Keras models from a builder, kept as declarative Keras configs.

``AutoencoderTransformer(builder=...)`` calls ``builder(n_features, n_components,
**builder_kwargs)`` once per fit for an encoder and a decoder (Keras ``Sequential``
or functional models). They become the residual paths of the network (see
``_network``): each is serialized to its Keras config, with canonical layer names,
and that config, not the user's objects, is what the fit trains, pickles and
saves. So the user's models are never trained, mutated or shared between fits,
and the network rebuilds anywhere from plain text and arrays.

A config may only hold Keras' built-in layers, initializers, regularizers and
constraints named in ``_config_check``, and activations by name: a ``Lambda`` (Python
bytecode) or a custom class (code outside Keras) could not be rebuilt from a file
without running code, so they are refused when the builder's models are read, with
the reason. Deserialization then runs Keras' own code only, in its safe mode.
"""

from __future__ import annotations

import functools
import json

import numpy as np

from ._config_check import check_config, serialized_objects, shortened
from ._keras import import_keras
from ._trainers import stateless_call

# The names of the two residual paths (``_network``) and of the layers inside them.
PATH_NAMES = ("encoder_residual", "decoder_residual")


class KerasNetwork:
    """An encoder and a decoder given as Keras models, usable as ``builder``.

    For ``AutoencoderTransformer(builder=KerasNetwork(encoder, decoder))``: the
    models' architecture (their Keras configs, not the objects) is kept, so the
    estimator clones, pickles and saves like any other, and each fit trains a
    fresh copy of it with fresh weights: your models are never modified. Calling
    it returns a new ``(encoder, decoder)`` pair built from the configs, whatever
    ``n_features`` and ``n_components`` it is asked for; the estimator checks that
    their shapes fit the data.

    This is also what ``skautoenc.load`` gives as ``builder`` for an estimator
    fitted with a builder function: a file holds the network the function built,
    never the function.

    Parameters
    ----------
    encoder, decoder : keras.Model or str
        ``Sequential`` or functional models of Keras' built-in layers (see
        :class:`AutoencoderTransformer`'s ``builder``), or their configs as JSON
        text (``encoder_config`` of another ``KerasNetwork``).

    Attributes
    ----------
    encoder_config, decoder_config : str
        The models' Keras configs, as JSON.

    Examples
    --------
    >>> import keras
    >>> from skautoenc import AutoencoderTransformer, KerasNetwork
    >>> encoder = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, "relu"),
    ...                             keras.layers.Dense(4)])
    >>> decoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(32, "relu"),
    ...                             keras.layers.Dense(64)])
    >>> ae = AutoencoderTransformer(4, builder=KerasNetwork(encoder, decoder), epochs=5)
    >>> from sklearn.datasets import load_digits
    >>> X = load_digits().data[:300]
    >>> ae.fit(X).transform(X).shape
    (300, 4)
    >>> ae.builder  # the models' configs, not the objects
    KerasNetwork(encoder=<Sequential: 3 layers>, decoder=<Sequential: 3 layers>)
    """

    def __init__(self, encoder, decoder):
        self.encoder_config = _config_text(encoder, "encoder")
        self.decoder_config = _config_text(decoder, "decoder")

    def __call__(self, n_features: int, n_components: int):
        return build_model(self.encoder_config), build_model(self.decoder_config)

    def describe(self, n_features: int, n_components: int) -> tuple:
        """``describe(self, None, n_features, n_components)``, worked out once."""
        key = (n_features, n_components)
        described = self.__dict__.setdefault("_described", {})
        if key not in described:
            described[key] = describe(self, None, n_features, n_components)
        return described[key]

    def __eq__(self, other):
        return isinstance(other, KerasNetwork) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def _key(self):
        return (self.encoder_config, self.decoder_config)

    def __repr__(self):
        encoder, decoder = _summary(self.encoder_config), _summary(self.decoder_config)
        return f"KerasNetwork(encoder={encoder}, decoder={decoder})"

    def __getstate__(self):
        return {"encoder_config": self.encoder_config, "decoder_config": self.decoder_config}

    def __deepcopy__(self, memo):  # clone(): the configs are immutable text
        return KerasNetwork(self.encoder_config, self.decoder_config)

    def __setstate__(self, state):
        # From a pickle or a skops file: the configs are checked as a file's would be.
        for part in ("encoder", "decoder"):
            check_config(json.loads(state[f"{part}_config"]), part)
        self.__dict__.update(state)


def _config_text(model, part: str) -> str:
    """A model's (or a model config's JSON text's) checked, canonical config as text."""
    if isinstance(model, str):
        try:
            config = json.loads(model)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"KerasNetwork's {part} must be a keras.Model or its config as JSON text "
                f"({error}). Received: {shortened(model)}."
            ) from None
        check_config(config, part)
    else:
        config = model_config(model, part)
    return json.dumps(_canonical(config, f"{part}_residual"), sort_keys=True)


def model_config(model, part: str) -> dict:
    """The checked config of a user's Sequential or functional model (unchanged)."""
    keras = import_keras()
    kind = type(model)
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"The {part} must be a Keras model. Received: {shortened(model)} of type "
            f"{kind.__name__}."
        )
    if kind is not keras.Sequential and not (
        kind.__name__ == "Functional" and kind.__module__.startswith("keras.")
    ):
        raise ValueError(
            f"The {part} must be a keras.Sequential or functional keras.Model (a "
            f"subclassed model has no config to rebuild it from). Received: a {kind.__name__}."
        )
    config = _public_names(keras.saving.serialize_keras_object(model))
    check_config(config, part)
    return config


def _public_names(config: dict) -> dict:
    """``config`` with each functional model named by its public class, ``keras.Model``.

    Keras serializes a functional model under its implementation's private module;
    ``keras.Model`` rebuilds the same model from the same config.
    """
    for node in serialized_objects(config):
        if node.get("class_name") == "Functional":
            node.update(module="keras", class_name="Model", registered_name=None)
    return config


def _summary(text: str) -> str:
    config = json.loads(text)
    return f"<{config['class_name']}: {len(config['config']['layers'])} layers>"


# ------------------------------------------------------------- describing
def describe(builder, builder_kwargs, n_features: int, n_components: int) -> tuple:
    """The two residual paths a builder makes, as ``_layers.Layer`` of kind "keras".

    Calls ``builder(n_features, n_components, **builder_kwargs)``; checks the
    models' types, shapes and classes, gives their layers canonical names (so that
    every fit of one builder has one config: one cache entry, stable array names)
    and checks that zeroing each path's last weighted layer silences it (the
    network must start as PCA).
    """
    from ._layers import Layer

    built = builder(n_features, n_components, **(builder_kwargs or {}))
    if not (isinstance(built, (tuple, list)) and len(built) == 2):
        raise TypeError(
            "builder must return a pair (encoder, decoder) of Keras models. "
            f"Received: {shortened(built)}."
        )
    layers = []
    shapes = ((n_features, n_components), (n_components, n_features))
    for name, model, (n_in, n_out) in zip(PATH_NAMES, built, shapes, strict=True):
        part = name.split("_")[0]
        config = model_config(model, part)
        if not model.built:  # a copy is built to the rows: the user's model stays as it is
            model = build_model(json.dumps(config))
            model.build((None, n_in))
            config = _public_names(import_keras().saving.serialize_keras_object(model))
        received = (tuple(model.input_shape), tuple(model.output_shape))
        if received != ((None, n_in), (None, n_out)):
            raise ValueError(
                f"The {part} from builder must map rows of {n_in} values to rows of "
                f"{n_out} (n_features={n_features}, n_components={n_components}). "
                f"Received input shape {received[0]} and output shape {received[1]}."
            )
        text = json.dumps(_canonical(config, name), sort_keys=True)
        rebuilt = build_model(text)
        arrays = tuple((path_name(v), tuple(v.shape)) for v in rebuilt.weights)
        _check_silent(rebuilt, part, n_in)
        layers.append(Layer(name, "keras", (n_in,), (n_out,), config=text, arrays=arrays))
    return tuple(layers)


def _canonical(config: dict, prefix: str) -> dict:
    """``config`` with the model named ``prefix`` and its layers ``<prefix>_<i>``
    (their arrays are named by layer: the two paths' names must differ).

    Keras numbers unnamed layers per process ("dense_7"): two calls of one builder
    give configs that differ in names only. Names are replaced where Keras keeps
    them: ``name`` entries, and the references of functional models
    (``keras_history``, ``input_layers``, ``output_layers``).
    """
    config = json.loads(json.dumps(config))
    inner = config["config"]
    old = [layer.get("name") or layer["config"]["name"] for layer in inner["layers"]]
    names = {name: f"{prefix}_{i}" for i, name in enumerate(old)}
    names[inner["name"]] = prefix

    def rename(node, key=None):
        if isinstance(node, dict):
            for k, value in node.items():
                if k == "name" and isinstance(value, str) and value in names:
                    node[k] = names[value]
                else:
                    rename(value, k)
        elif isinstance(node, list):
            referring = key in ("keras_history", "input_layers", "output_layers")
            if referring and node and isinstance(node[0], str) and node[0] in names:
                node[0] = names[node[0]]
            for value in node:
                rename(value, key if isinstance(value, list) else None)

    rename(config)
    # A random layer (Dropout, GaussianNoise) gets a seed: its draws then come from
    # its own seed generator, which each fit resets from random_state (on PyTorch,
    # Keras draws an unseeded layer's from torch's global generator instead).
    for i, node in enumerate(serialized_objects(config)):
        layer = node.get("config") if node.get("module") == "keras.layers" else None
        if isinstance(layer, dict) and "seed" in layer and layer["seed"] is None:
            layer["seed"] = i
    return config


def path_name(variable) -> str:
    """An array's name: the variable's path with dots (``"encoder_residual_2.kernel"``)."""
    return variable.path.replace("/", ".")


def build_model(text: str, seed: int | None = None):
    """A fresh Keras model from a checked config; ``seed`` seeds its random initializers."""
    keras = import_keras()
    config = json.loads(text)
    if seed is not None:
        for i, node in enumerate(serialized_objects(config)):
            if node.get("module") == "keras.initializers" and "seed" in node.get("config", {}):
                node["config"]["seed"] = int(seed) + i
    return keras.saving.deserialize_keras_object(config, safe_mode=True)


def _last_weighted(model):
    for layer in reversed(model.layers):
        if layer.weights:
            return layer
    return None


def _check_silent(model, part: str, n_in: int) -> None:
    last = _last_weighted(model)
    if last is not None:
        for variable in last.weights:
            variable.assign(np.zeros(variable.shape, variable.dtype))
    probe = np.random.default_rng(0).normal(size=(4, n_in)).astype("float32")
    out = import_keras().ops.convert_to_numpy(model(probe, training=False))
    if last is None or np.any(out != 0):
        raise ValueError(
            f"The {part} from builder must be able to start silent, so that the "
            "untrained network is PCA: with the weights of its last layer with weights "
            f"({'none' if last is None else last.__class__.__name__}) set to zero, its "
            "output must be zero. End it with a layer with weights and a linear "
            "activation (e.g. Dense(n, activation=None)), after any reshaping. "
            f"Received: outputs up to {np.abs(out).max():.3g} in absolute value."
        )


def initial_arrays(layer, seed: int) -> dict[str, np.ndarray]:
    """A path's starting arrays: Keras' own initializers (seeded), then its last
    weighted layer zeroed (as ``describe`` checked it silences the path)."""
    model = build_model(layer.config, seed)
    last = _last_weighted(model)
    zeroed = {path_name(v) for v in last.weights}
    return {
        path_name(v): np.zeros(v.shape) if path_name(v) in zeroed else np.array(v.numpy(), float)
        for v in model.weights
    }


# ----------------------------------------------------------------- inference
# Compiled forward passes kept per process, by config: a grid search or the
# estimator checks fit many networks of one structure. Older ones are dropped.
@functools.lru_cache(maxsize=16)
def _compiled_forward(config: str) -> tuple:
    """``(model, function)`` for a path's config: a Keras model of it (its variables
    give the order of ``function``'s values) and ``_trainers.stateless_call``."""
    model = build_model(config)
    return model, stateless_call(model)


class Forward:
    """A residual path's forward pass as a compiled Keras function (float32).

    The function is shared by every path of the same config (``_compiled_forward``);
    this path's arrays are converted for it on first use, then reused: no
    ``model.predict`` per call. Rows are padded to a power of two on JAX, whose
    compiled functions are per shape.
    """

    def __init__(self, layer):
        self.layer = layer
        self._values = None

    def __call__(self, h: np.ndarray, w: dict) -> np.ndarray:
        model, function = _compiled_forward(self.layer.config)
        if self._values is None:
            self._values = _values(model, w)
        return np.asarray(function(self._values, np.ascontiguousarray(h, np.float32)), h.dtype)


def _values(model, w: dict) -> list:
    """The arrays of ``w`` in the order of ``model``'s variables, as backend tensors;
    a variable that is not a weight (a random layer's seed state) keeps its value."""
    ops = import_keras().ops
    weights = {id(v) for v in model.weights}
    return [
        ops.convert_to_tensor(
            np.asarray(w[path_name(v)], np.float32) if id(v) in weights else v.numpy(), v.dtype
        )
        for v in [*model.trainable_variables, *model.non_trainable_variables]
    ]
