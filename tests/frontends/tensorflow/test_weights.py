"""Keras models and concrete functions are imported without freezing: weights are read from the live variables."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_matches_keras

import liteconvert
from liteconvert.frontends.tensorflow.loader import load_concrete_functions, load_keras_model
from liteconvert.frontends.tensorflow.weights import LiveWeights
from liteconvert.verify import run_tflite, signature_specs


def test_keras_model_graph_holds_no_weights(keras):
    keras.utils.set_random_seed(5)
    i = keras.Input((10, 10, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu")(i)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.DepthwiseConv2D(3)(x)
    x = keras.layers.Flatten()(x)
    model = keras.Model(i, keras.layers.Dense(4)(x))
    g, = load_keras_model(model)
    assert isinstance(g.variables, LiveWeights)
    # each weight read exactly where it is used
    assert len({id(v) for v in g.variables.keys.values()}) == len(model.weights)
    big = [n.name for n in g.graph_def.node if n.op == "Const" and len(n.attr["value"].tensor.tensor_content) > 64]
    assert not big, big
    assert_matches_keras(model, batch=3)


def test_concrete_function_with_captured_constant_and_gather(tf):
    rng = np.random.default_rng(2)
    table = tf.Variable(rng.standard_normal((20, 5)).astype(np.float32))
    w = tf.Variable(rng.standard_normal((5, 3)).astype(np.float32))
    offset = tf.constant(rng.standard_normal((3,)).astype(np.float32))
    big = tf.constant(rng.standard_normal((2048,)).astype(np.float32))  # captured by the function, not inlined

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.int32, name="ids")])
    def f(ids):
        e = tf.reduce_mean(tf.gather(table, ids), axis=1)
        return tf.matmul(e, w) + offset + tf.reduce_max(big)

    func = f.get_concrete_function()
    g, = load_concrete_functions([func])
    assert isinstance(g.variables, LiveWeights)
    data = liteconvert.TFLiteConverter.from_concrete_functions([func]).convert()
    ids = rng.integers(0, 20, (4, 2)).astype(np.int32)
    got = next(iter(run_tflite(data, {"ids": ids}).values()))
    np.testing.assert_allclose(got, f(tf.constant(ids)).numpy(), rtol=1e-5, atol=1e-5)


def test_control_flow_falls_back_to_freezing(tf):
    v = tf.Variable(np.float32(3.0))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def f(x):
        return tf.cond(tf.reduce_sum(x) > 0, lambda: x * v, lambda: x - v)

    g, = load_concrete_functions([f.get_concrete_function()])
    assert g.variables is None  # frozen: the variable a constant; the If kept functional (no Switch/Merge)
    ops = {n.op for n in g.graph_def.node}
    assert ops & {"If", "StatelessIf"} and not ops & {"ReadVariableOp", "Switch", "Merge"}, ops
    data = liteconvert.TFLiteConverter.from_concrete_functions([f.get_concrete_function()]).convert()
    for x in (np.array([1.0, 2.0], np.float32), np.array([-1.0, -2.0], np.float32)):
        got = next(iter(run_tflite(data, {"x": x}).values()))
        np.testing.assert_allclose(got, x * 3 if x.sum() > 0 else x - 3, rtol=1e-6)


@pytest.mark.parametrize("reader", ["keras", "concrete"])
def test_weights_changed_after_tracing_are_read_at_conversion(tf, keras, reader):
    """The values are read when the importer reaches them, so they are the variables' values at conversion."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    conv = (liteconvert.TFLiteConverter.from_keras_model(model) if reader == "keras" else
            liteconvert.TFLiteConverter.from_concrete_functions(
                [tf.function(lambda x: model(x)).get_concrete_function(tf.TensorSpec([None, 3], tf.float32))]))
    model.layers[-1].set_weights([np.eye(3, 2, dtype=np.float32) * 2, np.ones(2, np.float32)])
    data = conv.convert()
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    got = next(iter(run_tflite(data, {next(iter(signature_specs(data))): x}).values()))
    np.testing.assert_allclose(got, x @ (np.eye(3, 2) * 2) + 1, rtol=1e-6)
