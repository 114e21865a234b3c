"""SavedModels are read without restoring them: one signature's functions, and its variables on demand.

``tf.saved_model.load`` is made to fail in these tests wherever the reader must not need it, so a silent fallback
to the full restore (correct, but slower and bigger in memory) shows up as a failure.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import ROOT, assert_close

import liteconvert
from liteconvert.frontends.tensorflow.loader import _load_saved_model_lean, load_saved_model
from liteconvert.verify import make_interpreter, run_tflite


@pytest.fixture
def no_restore(tf, monkeypatch):
    """``tf.saved_model.load`` raises: the conversion must not restore the model."""
    def refuse(*args, **kwargs):
        raise AssertionError("tf.saved_model.load was called")

    monkeypatch.setattr(tf.saved_model, "load", refuse)


@pytest.fixture(scope="module")
def keras_export(keras, tmp_path_factory):
    import sys

    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import zoo

    keras.utils.set_random_seed(3)
    i = keras.Input((12, 12, 3), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same")(i)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU(6.0)(x)
    x = keras.layers.DepthwiseConv2D(3)(x)  # Keras 3 traces it in a function marked for XLA
    x = keras.layers.GlobalAveragePooling2D()(x)
    o = keras.layers.Dense(5, activation="softmax", name="probs")(x)
    model = keras.Model(i, o)
    zoo.randomize_batchnorm(model)
    path = str(tmp_path_factory.mktemp("sm") / "k3")
    model.export(path, format="tf_saved_model", verbose=False)
    return model, path


def test_keras_export_converts_without_restoring(keras_export, no_restore):
    model, path = keras_export
    graphs = load_saved_model(path, ["serving_default"])
    assert graphs[0].variables is not None
    assert len(set(graphs[0].variables.keys.values())) == 10  # conv 2, bn 4, depthwise 2, dense 2
    nodes = {n.op for n in graphs[0].graph_def.node}
    assert not nodes & {"VarHandleOp", "ReadVariableOp", "StatefulPartitionedCall"}, nodes
    data = liteconvert.TFLiteConverter.from_saved_model(path, ["serving_default"]).convert()
    x = np.random.default_rng(0).standard_normal((3, 12, 12, 3)).astype(np.float32)
    got = run_tflite(data, {"image": x})["output_0"]  # Keras 3's export names its outputs output_<i>
    want = np.asarray(model(x, training=False))
    assert_close(got, want)


def test_keras_export_defaults_to_serving_default_only(keras_export, no_restore):
    """A model.export() artifact gets one signature, serving_default, as from Google's converter: scripts that
    call get_signature_runner() without a key keep working."""
    from liteconvert.tflite.reader import read_model

    model, path = keras_export
    assert [g.key for g in load_saved_model(path)] == ["serving_default"]
    data = liteconvert.TFLiteConverter.from_saved_model(path).convert()
    assert [s.key for s in read_model(data).signatures] == ["serving_default"]
    x = np.random.default_rng(4).standard_normal((2, 12, 12, 3)).astype(np.float32)
    got = make_interpreter(data).get_signature_runner()(image=x)["output_0"]
    want = np.asarray(model(x, training=False))
    assert_close(got, want)


def test_keras_export_aliases_share_one_subgraph(keras_export, no_restore):
    """Asked for both, Keras 3's "serve" and "serving_default" (one function) are one subgraph, two signatures."""
    from liteconvert.tflite.reader import read_model

    model, path = keras_export
    graphs = load_saved_model(path, ["serving_default", "serve"])
    assert [(g.key, g.alias_of) for g in graphs] == [("serving_default", None), ("serve", "serving_default")]
    data = liteconvert.TFLiteConverter.from_saved_model(path, ["serving_default", "serve"]).convert()
    info = read_model(data)
    assert len(info.subgraphs) == 1
    assert sorted((s.key, s.subgraph) for s in info.signatures) == [("serve", 0), ("serving_default", 0)]
    x = np.random.default_rng(4).standard_normal((2, 12, 12, 3)).astype(np.float32)
    want = np.asarray(model(x, training=False))
    for key in ("serve", "serving_default"):
        got = run_tflite(data, {"image": x}, key)["output_0"]
        assert_close(got, want, what=key)


def test_verify_restores_only_when_asked(keras_export):
    _, path = keras_export
    conv = liteconvert.TFLiteConverter.from_saved_model(path, ["serving_default", "serve"])
    data = conv.convert()
    report = conv.verify(data)
    assert set(report.signatures) == {"serving_default", "serve"}
    assert report.ok, report


def test_only_the_chosen_signature_is_read(tf, tmp_path, no_restore):
    class Two(tf.Module):
        def __init__(self):
            super().__init__()
            self.a = tf.Variable(np.full((3, 3), 0.5, np.float32))
            self.b = tf.Variable(np.arange(9, dtype=np.float32).reshape(3, 3))

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
        def first(self, x):
            return {"y": tf.matmul(x, self.a)}

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
        def second(self, x):
            return {"y": tf.matmul(x, self.b) + tf.matmul(x, self.a)}

    m = Two()
    path = str(tmp_path / "two")
    tf.saved_model.save(m, path, signatures={"serving_default": m.first, "second": m.second})
    first, = load_saved_model(path, ["serving_default"])
    assert len(set(first.variables.keys.values())) == 1
    data = liteconvert.TFLiteConverter.from_saved_model(path).convert()
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(run_tflite(data, {"x": x}, "second")["y"], x @ m.b.numpy() + x @ m.a.numpy(),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(run_tflite(data, {"x": x}, "serving_default")["y"], x @ m.a.numpy(), rtol=1e-6)


def test_captured_constant_and_embedding_lookup(tf, tmp_path, no_restore):
    """A large eager constant captured by the function, and tf.gather on a variable (ResourceGather)."""
    rng = np.random.default_rng(1)

    class Lookup(tf.Module):
        def __init__(self):
            super().__init__()
            self.table = tf.Variable(rng.standard_normal((50, 8)).astype(np.float32))
            self.shift = tf.constant(rng.standard_normal((8,)).astype(np.float32))
            self.big = tf.constant(rng.standard_normal((4096,)).astype(np.float32))  # captured, not inlined

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.int32, name="ids")])
        def embed(self, ids):
            e = tf.gather(self.table, ids)  # ResourceGather on the variable
            return {"out": tf.reduce_sum(e, axis=1) + self.shift + tf.reduce_sum(self.big)}

    m = Lookup()
    path = str(tmp_path / "lookup")
    tf.saved_model.save(m, path, signatures={"serving_default": m.embed})
    g, = load_saved_model(path)
    assert g.variables is not None and "ResourceGather" not in {n.op for n in g.graph_def.node}
    data = liteconvert.TFLiteConverter.from_saved_model(path).convert()
    ids = rng.integers(0, 50, (3, 4)).astype(np.int32)
    want = m.embed(tf.constant(ids))["out"].numpy()
    np.testing.assert_allclose(run_tflite(data, {"ids": ids})["out"], want, rtol=1e-5, atol=1e-4)


def test_tf1_savedmodel_is_restored_in_full(tf, tmp_path):
    """A TF1 SavedModel (graph-mode variables, no object graph) goes through tf.saved_model.load."""
    path = str(tmp_path / "tf1")
    w = np.arange(6, dtype=np.float32).reshape(3, 2)
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
        v = tf.compat.v1.get_variable("w", initializer=w, use_resource=False)
        y = tf.nn.relu(tf.matmul(x, v) - 4.0, name="y")
        sess.run(tf.compat.v1.global_variables_initializer())
        tf.compat.v1.saved_model.simple_save(sess, path, inputs={"x": x}, outputs={"y": y})
    assert _load_saved_model_lean(path, None, None) is None
    data = liteconvert.TFLiteConverter.from_saved_model(path).convert()
    xs = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(run_tflite(data, {"x": xs})["y"], np.maximum(xs @ w - 4.0, 0), rtol=1e-6, atol=1e-6)


def test_keras2_savedmodel_with_optimizer_needs_no_restore(no_restore):
    """The Keras 2 + Adam fixture: the optimizer's slots are never touched, so no workaround is needed."""
    path = os.path.join(ROOT, "tests", "data", "keras2_adam_savedmodel")
    graphs = load_saved_model(path)
    assert [g.key for g in graphs] == ["serving_default", "logits"]
    assert all(g.variables is not None for g in graphs)
