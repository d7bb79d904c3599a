"""Files, pickles and skops files of networks made by a ``builder``: what they hold
and what loading them refuses.

A file holds the builder's network as two Keras configs (``params["builder"]``),
never the function; ``load`` checks that they name only the classes
``_keras_network`` allows before Keras rebuilds them, then checks the arrays
against the rebuilt network. Each hostile file below must be refused with
``UnsafeFileError`` and must not run what it carries (a ``Lambda`` that would
create a marker file). Round trips are compared bitwise in one process and to
float32 rounding (``rtol=1e-5`` of the largest value) in another. The
behaviour of builder networks is in test_builder.py.
"""

import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits

import skautoenc
from skautoenc import AutoencoderTransformer, KerasNetwork, UnsafeFileError

keras = pytest.importorskip("keras")
FAST = {"epochs": 2, "early_stopping": False, "random_state": 0}


def small_network(n_features, n_components, units=8):
    layers = keras.layers
    encoder = keras.Sequential(
        [
            keras.Input((n_features,)),
            layers.Reshape((n_features, 1)),
            layers.Conv1D(4, 3, padding="same", activation="relu"),
            layers.Flatten(),
            layers.Dense(n_components),
        ]
    )
    decoder = keras.Sequential(
        [
            keras.Input((n_components,)),
            layers.Dense(units, activation="relu"),
            layers.Dense(n_features),
        ]
    )
    return encoder, decoder


@pytest.fixture(scope="module")
def X():
    return load_digits().data[:200]


@pytest.fixture(scope="module")
def fitted(X):
    return AutoencoderTransformer(3, builder=small_network, **FAST).fit(X)


@pytest.fixture(scope="module")
def saved(fitted):
    file = io.BytesIO()
    fitted.save(file)
    return file.getvalue()


def _edited(data: bytes, edit) -> bytes:
    """The file with its JSON member changed by ``edit(document)``."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "skautoenc.json":
                document = json.loads(content)
                edit(document)
                content = json.dumps(document).encode()
            target.writestr(info.filename, content)
    return out.getvalue()


def _encoder(document) -> dict:
    return document["params"]["builder"]["skautoenc.KerasNetwork"]["encoder"]


def _lambda_layer(marker) -> dict:
    """A real Lambda layer's config, whose function would create ``marker``."""
    writes = keras.layers.Lambda(lambda t, m=str(marker): open(m, "w") and t)  # noqa: SIM115
    return keras.saving.serialize_keras_object(writes)  # never called: no model built


# ------------------------------------------------------------------ round trips
def test_the_file_holds_the_network_not_the_function(fitted, saved, X):
    document = json.loads(zipfile.ZipFile(io.BytesIO(saved)).read("skautoenc.json"))
    assert document["params"]["builder_kwargs"] is None
    classes = [layer["class_name"] for layer in _encoder(document)["config"]["layers"]]
    assert classes == ["InputLayer", "Reshape", "Conv1D", "Flatten", "Dense"]
    assert "small_network" not in json.dumps(document)
    loaded = skautoenc.load(io.BytesIO(saved))
    assert isinstance(loaded.builder, KerasNetwork)
    for method in ("transform", "denoise", "score_samples"):
        np.testing.assert_array_equal(getattr(loaded, method)(X), getattr(fitted, method)(X))
    again = io.BytesIO()
    loaded.save(again)
    assert again.getvalue() == saved  # the same bytes: the configs are canonical


def test_a_loaded_network_refits_and_continues(saved, X):
    loaded = skautoenc.load(io.BytesIO(saved))
    refit = clone(loaded).fit(X)
    assert refit.weights_.keys() == loaded.weights_.keys()
    epochs = loaded.n_iter_
    loaded.set_params(warm_start=True).fit(X)
    assert loaded.n_iter_ == 2 * epochs


def test_a_file_loads_in_a_process_that_does_not_know_the_builder(saved, fitted, X, tmp_path):
    (tmp_path / "model.skae").write_bytes(saved)
    np.save(tmp_path / "X.npy", X)
    script = textwrap.dedent(
        """
        import sys, numpy as np, skautoenc
        est = skautoenc.load(sys.argv[1] + "/model.skae")
        np.save(sys.argv[1] + "/codes.npy", est.transform(np.load(sys.argv[1] + "/X.npy")))
        """
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, env=os.environ)
    codes, expected = np.load(tmp_path / "codes.npy"), fitted.transform(X)
    np.testing.assert_allclose(codes, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_save_refuses_parameters_changed_after_fit(fitted, tmp_path):
    changed = clone(fitted)
    changed.__dict__.update(fitted.__dict__)  # the fitted state, other builder_kwargs
    changed.set_params(builder_kwargs={"units": 4})
    with pytest.raises(ValueError, match="no longer describe its fitted network"):
        changed.save(tmp_path / "x.skae")
    assert not (tmp_path / "x.skae").exists()


# --------------------------------------------------------------- hostile files
HOSTILE = {
    "a Lambda layer": lambda document, marker: _encoder(document)["config"]["layers"].insert(
        1, _lambda_layer(marker)
    ),
    "a custom class": lambda document, marker: _encoder(document)["config"]["layers"][2].update(
        module="mymodule", registered_name="mymodule>Conv1D"
    ),
    "an activation object": lambda document, marker: _encoder(document)["config"]["layers"][2][
        "config"
    ].update(activation={"module": "os", "class_name": "system", "config": "echo"}),
    "a registered activation": lambda document, marker: _encoder(document)["config"]["layers"][2][
        "config"
    ].update(activation="tests>Doubling"),
    "a registered initializer": lambda document, marker: _encoder(document)["config"]["layers"][2][
        "config"
    ].update(kernel_initializer="tests>Marker"),
    "layers that are not objects": lambda document, marker: _encoder(document)["config"].update(
        layers=["x"]
    ),
    "a layer too large for any machine": lambda document, marker: _decoder_units(document, 2**57),
    "a widened layer without its input shape": lambda document, marker: _widened(document),
    "a widened PReLU without its input shape": lambda document, marker: _widened(
        document, keras.layers.PReLU(name="widen_3")
    ),
    "a layer larger than the file": lambda document, marker: _decoder_units(document, 4_000_000),
    "an unlisted class": lambda document, marker: _encoder(document)["config"]["layers"][2].update(
        class_name="TFSMLayer"
    ),
    "a subclassed model": lambda document, marker: _encoder(document).update(
        module="mymodule", class_name="MyModel"
    ),
    "no decoder": lambda document, marker: document["params"]["builder"][
        "skautoenc.KerasNetwork"
    ].pop("decoder"),
    "a builder that is not a network": lambda document, marker: document["params"].update(
        builder="os.system"
    ),
    "builder_kwargs": lambda document, marker: document["params"].update(
        builder_kwargs={"units": 4}
    ),
    "a config that does not fit the arrays": lambda document, marker: _encoder(document)["config"][
        "layers"
    ][2]["config"].update(filters=5),
    "another network than the arrays'": lambda document, marker: _decoder_units(document, 9),
}

# What each refusal says (the file's builder fails the checks of _keras_network, or
# the network it describes is not the one whose arrays the file holds).
REASONS = {
    "a Lambda layer": "built-in layers .*a Lambda layer holds Python bytecode",
    "a custom class": "built-in layers .*custom or unlisted classes.*mymodule.Conv1D",
    "an activation object": "built-in layers .*activations must be Keras activations given by",
    "a registered activation": "built-in layers .*activations must be Keras activations given",
    "a registered initializer": "built-in layers .*kernel_initializer must be a serialized",
    "layers that are not objects": "built-in layers .*must list its layers as objects",
    "a layer too large for any machine": "at least [0-9,]+ weights, more than the file can hold",
    "a widened layer without its input shape": "cannot be bounded before Keras builds it.*"
    "Dense layer 'decoder_residual_2' declares no input shape",
    "a widened PReLU without its input shape": "cannot be bounded before Keras builds it.*"
    "PReLU layer 'widen_3' declares no input shape",
    "a layer larger than the file": "at least [0-9,]+ weights, more than the file can hold",
    "an unlisted class": "built-in layers .*custom or unlisted classes.*keras.layers.TFSMLayer",
    "a subclassed model": "built-in layers .*subclassed model",
    "no decoder": "built-in layers .*not an encoder and a decoder",
    "a builder that is not a network": "built-in layers .*not a saved network",
    "builder_kwargs": "it holds builder_kwargs",
    "a config that does not fit the arrays": "parameters do not fit its data",
    "another network than the arrays'": r"Expected: shape \(3, 9\).*Received: shape \(3, 8\)",
}


def _decoder_units(document, units):
    """The decoder's hidden layer at ``units`` units, the next layer's input to match: a
    consistent network whose arrays the file does not hold (or cannot: 2**57 units)."""
    decoder = document["params"]["builder"]["skautoenc.KerasNetwork"]["decoder"]
    hidden, last = decoder["config"]["layers"][1:3]
    hidden["config"]["units"] = units
    last["build_config"]["input_shape"][-1] = units


def _widened(document, unbuilt=None):
    """Layers without weights that widen the decoder's hidden rows a millionfold before
    its last Dense, whose input shape is dropped, or before an ``unbuilt`` layer that
    declares none: Keras would size that layer's arrays (8 million rows) from the
    widened rows when it wires the model."""
    layers = document["params"]["builder"]["skautoenc.KerasNetwork"]["decoder"]["config"]
    widening = [
        keras.layers.Reshape((8, 1), name="widen_0"),
        keras.layers.UpSampling1D(10**6, name="widen_1"),
        keras.layers.Flatten(name="widen_2"),
        *([unbuilt] if unbuilt else []),
    ]
    layers["layers"][2:2] = [keras.saving.serialize_keras_object(layer) for layer in widening]
    if unbuilt is None:
        del layers["layers"][-1]["build_config"]


@pytest.mark.parametrize("hostile", list(HOSTILE))
def test_hostile_builders_are_refused_before_keras_runs_them(saved, tmp_path, hostile):
    marker = tmp_path / "ran"  # created if the Lambda's function ever runs
    data = _edited(saved, lambda document: HOSTILE[hostile](document, marker))
    reason = f"Cannot load the file object: .*{REASONS[hostile]}"
    with pytest.raises(UnsafeFileError, match=reason):
        skautoenc.load(io.BytesIO(data))
    assert not marker.exists()


def test_a_network_larger_than_its_file_is_refused_before_keras_builds_it(saved, monkeypatch):
    import skautoenc._keras_network

    def build_model(*args, **kwargs):
        raise AssertionError("Keras built the network")

    monkeypatch.setattr(skautoenc._keras_network, "build_model", build_model)
    data = _edited(saved, lambda document: _decoder_units(document, 4_000_000))
    with pytest.raises(UnsafeFileError, match="more than the file can hold"):
        skautoenc.load(io.BytesIO(data))


def test_allocated_weights_counts_what_keras_allocates():
    from skautoenc._config_check import allocated_weights
    from skautoenc._keras_network import model_config

    layers = keras.layers
    inner = keras.Sequential([keras.Input((5,)), layers.Dense(7), layers.Dense(3)])
    model = keras.Sequential(
        [
            keras.Input((30, 3)),
            layers.Conv1D(8, 5, padding="same"),
            layers.Conv1D(6, 3, groups=2, padding="same"),
            layers.Conv1DTranspose(4, 3, padding="same"),
            layers.Bidirectional(layers.GRU(5, return_sequences=True)),
            layers.LSTM(6),
            layers.Dense(12),
            layers.Dense(5),
            inner,
        ]
    )
    assert allocated_weights(model_config(model, "encoder")) == model.count_params()
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            layers.SeparableConv2D(8, 3, depth_multiplier=2),
            layers.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False),
            layers.Conv2D(4, 3, data_format="channels_first"),
            layers.Reshape((-1, 14)),
            layers.SimpleRNN(3, return_sequences=True),
            layers.GRU(2, reset_after=False, use_bias=False),
        ]
    )
    assert allocated_weights(model_config(model, "encoder")) == model.count_params()


@pytest.mark.filterwarnings("ignore:You passed `rms_scaling=True`:UserWarning")
def test_allocated_weights_counts_the_arrays_that_grow_with_the_input():
    from skautoenc._config_check import allocated_weights
    from skautoenc._keras_network import model_config

    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((6, 4)),
            layers.EinsumDense("abc,cd->abd", output_shape=(6, 5), bias_axes="bd"),
            layers.PReLU(shared_axes=[1]),
            layers.LayerNormalization(axis=[1, 2], center=False),
            layers.BatchNormalization(),
            layers.GroupNormalization(groups=5),
            layers.EinsumDense("...b,bc->...c", output_shape=3),
            layers.EinsumDense("ab...,bc->ac...", output_shape=(7,)),
            layers.Flatten(),
            layers.PReLU(),
            layers.LayerNormalization(rms_scaling=True),
            layers.BatchNormalization(center=False),
            layers.Dense(2),
        ]
    )
    assert allocated_weights(model_config(model, "encoder")) == model.count_params()


def test_allocated_weights_reads_a_malformed_config_without_failing():
    # A file's config is not trusted: a bias_axes Keras would refuse counts no bias
    # instead of raising a TypeError past load's refusals.
    from skautoenc._config_check import allocated_weights
    from skautoenc._keras_network import model_config

    layer = keras.layers.EinsumDense("ab,bc->ac", output_shape=5, bias_axes="c")
    config = model_config(keras.Sequential([keras.Input((4,)), layer]), "encoder")
    config["config"]["layers"][-1]["config"]["bias_axes"] = 5
    assert allocated_weights(config) == 4 * 5


# ------------------------------------------------------------ pickles and skops
def _tampered_state(fitted, marker) -> dict:
    state = fitted.__getstate__()
    state["_fitted"] = dict(state["_fitted"])
    network = state["_fitted"]["network"] = dict(state["_fitted"]["network"])
    layer = dict(network["builder_layers"][0])
    config = json.loads(layer["config"])
    config["config"]["layers"].insert(1, _lambda_layer(marker))
    layer["config"] = json.dumps(config)
    network["builder_layers"] = [layer, network["builder_layers"][1]]
    return state


def test_a_pickled_state_with_a_lambda_is_refused(fitted, tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(ValueError, match="a Lambda layer holds Python bytecode"):
        AutoencoderTransformer.__new__(AutoencoderTransformer).__setstate__(
            _tampered_state(fitted, marker)
        )
    assert not marker.exists()
    network = KerasNetwork(*small_network(64, 3))
    state = network.__getstate__()
    config = json.loads(state["encoder_config"])
    config["config"]["layers"].insert(1, _lambda_layer(marker))
    with pytest.raises(ValueError, match="Lambda"):
        KerasNetwork.__new__(KerasNetwork).__setstate__(
            {**state, "encoder_config": json.dumps(config)}
        )


def _tampered_decoder(fitted, edit) -> dict:
    """The fitted estimator's pickled state, its decoder path's layer configs changed
    by ``edit(layers)``."""
    state = fitted.__getstate__()
    state["_fitted"] = dict(state["_fitted"])
    network = state["_fitted"]["network"] = dict(state["_fitted"]["network"])
    layer = dict(network["builder_layers"][1])
    config = json.loads(layer["config"])
    edit(config["config"]["layers"])
    layer["config"] = json.dumps(config)
    network["builder_layers"] = [network["builder_layers"][0], layer]
    return state


def _outgrown(layers):
    hidden, last = layers[1:3]
    hidden["config"]["units"] = last["build_config"]["input_shape"][-1] = 4_000_000


PICKLED_DECODERS = {
    "more weights than its arrays": (_outgrown, "does not describe its arrays: it has at least"),
    "a layer of undeclared input shape": (
        lambda layers: layers[-1].pop("build_config"),
        "Dense layer 'decoder_residual_2' declares no input shape",
    ),
    "a PReLU of undeclared input shape": (
        lambda layers: layers.insert(2, keras.saving.serialize_keras_object(keras.layers.PReLU())),
        "PReLU layer 'p_re_lu.*' declares no input shape",
    ),
}


@pytest.mark.parametrize(("edit", "reason"), PICKLED_DECODERS.values(), ids=list(PICKLED_DECODERS))
def test_a_pickled_state_whose_decoder_is_not_bounded_by_its_arrays_is_refused(
    fitted, edit, reason
):
    with pytest.raises(ValueError, match=reason):
        AutoencoderTransformer.__new__(AutoencoderTransformer).__setstate__(
            _tampered_decoder(fitted, edit)
        )


def test_skops_files_round_trip_with_the_trusted_types(X):
    sio = pytest.importorskip("skops.io")
    est = AutoencoderTransformer(3, builder=KerasNetwork(*small_network(64, 3)), **FAST).fit(X)
    data = sio.dumps(est)
    assert set(sio.get_untrusted_types(data=data)) == set(skautoenc.SKOPS_TRUSTED_TYPES)
    loaded = sio.loads(data, trusted=skautoenc.SKOPS_TRUSTED_TYPES)
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
    assert loaded.builder == est.builder


def test_onnx_refuses_a_builders_network(fitted):
    skl2onnx = pytest.importorskip("skl2onnx")
    pytest.importorskip("onnx")
    import skautoenc.onnx  # noqa: F401  (registers the converter)

    with pytest.raises(ValueError, match="with a builder to ONNX"):
        skl2onnx.to_onnx(fitted, np.zeros((1, 64), np.float32))


def test_the_activation_names_a_config_may_give_are_keras_own():
    from skautoenc._config_check import ACTIVATIONS

    for name in ACTIVATIONS:
        assert callable(keras.activations.get(name)), name
