"""The estimator's parameters as the JSON values a file holds, and back.

``encode_param`` writes numbers, strings, sequences of ints, a ``KerasNetwork``
(its two Keras configs) and a ``RandomState`` (its MT19937 state) as plain JSON;
anything else is refused at ``save``. ``decode_params`` reads them back for
``load``, refusing through the ``ArchiveReader`` anything but what
``encode_param`` writes; a builder's configs pass ``_config_check`` before Keras
sees them, and a network that could not fit in the file, or whose size its
configs do not bound, is refused before Keras allocates its weights.
"""

from __future__ import annotations

import json
from numbers import Integral, Real
from typing import Any

import numpy as np

from ._archive import ArchiveReader
from ._autoencoder import AutoencoderTransformer
from ._config_check import allocated_weights
from ._keras_network import KerasNetwork
from ._state import WEIGHT_DTYPES

_RANDOM_STATE_TAG = "numpy.random.RandomState"
_NETWORK_TAG = "skautoenc.KerasNetwork"


def encode_param(name: str, value: Any) -> Any:
    """A JSON value for one parameter; TypeError for what JSON cannot hold."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return float(value)
    if isinstance(value, KerasNetwork):
        return {
            _NETWORK_TAG: {
                "encoder": json.loads(value.encoder_config),
                "decoder": json.loads(value.decoder_config),
            }
        }
    if isinstance(value, np.random.RandomState):
        state = value.get_state(legacy=False)
        return {
            _RANDOM_STATE_TAG: {
                "key": [int(k) for k in state["state"]["key"]],
                "pos": int(state["state"]["pos"]),
                "has_gauss": int(state["has_gauss"]),
                "gauss": float(state["gauss"]),
            }
        }
    if isinstance(value, (list, tuple, np.ndarray)) and all(
        isinstance(item, Integral) and not isinstance(item, (bool, np.bool_)) for item in value
    ):
        return [int(item) for item in value]
    raise TypeError(
        "AutoencoderTransformer.save can store parameters that are None, bool, int, "
        "float, str, a sequence of ints or a numpy RandomState. Received: "
        f"{name}={value!r} of type {type(value).__name__}."
    )


def decode_params(reader: ArchiveReader, encoded: dict) -> dict[str, Any]:
    """The estimator's parameters from a file's JSON values, or ``reader.refuse``."""
    known = set(AutoencoderTransformer().get_params(deep=False))
    if set(encoded) != known:
        reader.refuse(
            "it does not hold the parameters of AutoencoderTransformer.",
            sorted(known),
            sorted(encoded),
        )
    params = dict(encoded)
    # Sequences of ints, as encode_param writes them: lists in JSON, tuples here.
    for name in ("hidden_layer_sizes", "conv_filters", "image_shape"):
        sizes = params[name]
        if name == "image_shape" and sizes is None:
            continue
        if not isinstance(sizes, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in sizes
        ):
            reader.refuse(
                f"its {name} is malformed.",
                "a list of ints" + (" or null" if name == "image_shape" else ""),
                f"{name}={sizes!r:.200}",
            )
        params[name] = tuple(sizes)
    if params["callbacks"] is not None:
        reader.refuse("it holds callbacks.", "callbacks=None", f"{params['callbacks']!r:.200}")
    if params["builder_kwargs"] is not None:
        shown = f"{params['builder_kwargs']!r:.200}"
        reader.refuse("it holds builder_kwargs.", "builder_kwargs=None", shown)
    if params["builder"] is not None:
        params["builder"] = _decode_network(reader, params["builder"])
    if isinstance(params["random_state"], dict):
        params["random_state"] = _decode_random_state(reader, params["random_state"])
    return params


def _decode_network(reader: ArchiveReader, encoded: Any) -> KerasNetwork:
    """A saved builder: two Keras configs, checked before Keras sees them."""
    try:
        if not isinstance(encoded, dict) or set(encoded) != {_NETWORK_TAG}:
            raise ValueError("not a saved network")
        configs = encoded[_NETWORK_TAG]
        if not isinstance(configs, dict) or set(configs) != {"encoder", "decoder"}:
            raise ValueError("not an encoder and a decoder")
        network = KerasNetwork(
            json.dumps(configs["encoder"], sort_keys=True),
            json.dumps(configs["decoder"], sort_keys=True),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        reader.refuse(
            f"its builder is not a network of Keras' built-in layers ({error}).",
            f"null or {{{_NETWORK_TAG!r}: {{'encoder': <config>, 'decoder': <config>}}}}",
            f"builder={encoded!r:.200}",
            error,
        )
    # Keras would allocate the network's weights before they are compared with the
    # file's arrays: a network that cannot fit in the file is refused first.
    try:
        weights = sum(allocated_weights(configs[part]) for part in ("encoder", "decoder"))
    except ValueError as error:
        reader.refuse(
            "its builder's network cannot be bounded before Keras builds it.",
            "a build_config with the input shape on every layer with weights",
            str(error),
            error,
        )
    size = min(np.dtype(dtype).itemsize for dtype in WEIGHT_DTYPES)
    if size * weights > reader.size:
        reader.refuse(
            f"its builder's network has at least {weights:,} weights, more than the "
            f"file can hold ({size} bytes each at least).",
            f"at most {reader.size // size:,} weights in a file of {reader.size:,} bytes",
            f"{weights:,} weights",
        )
    return network


def _decode_random_state(reader: ArchiveReader, encoded: dict) -> np.random.RandomState:
    state = encoded.get(_RANDOM_STATE_TAG)
    try:
        if set(encoded) != {_RANDOM_STATE_TAG} or len(state["key"]) != 624:
            raise ValueError("not an MT19937 state")
        random_state = np.random.RandomState()
        random_state.set_state(
            {
                "bit_generator": "MT19937",
                "state": {"key": np.array(state["key"], dtype=np.uint32), "pos": int(state["pos"])},
                "has_gauss": int(state["has_gauss"]),
                "gauss": float(state["gauss"]),
            }
        )
    except (KeyError, TypeError, ValueError, OverflowError) as error:
        reader.refuse(
            f"its random_state is malformed ({error}).",
            f"an int, null or {{{_RANDOM_STATE_TAG!r}: <MT19937 state>}}",
            f"random_state={encoded!r:.200}",
            error,
        )
    return random_state
