"""The Python API: TFLiteConverter constructors, convert(), signatures, dynamic batch, unbuilt options."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, assert_close, assert_matches_keras, op_histogram

import liteconvert
from liteconvert.errors import InvalidOptionError, SignatureKeyError
from liteconvert.verify import make_interpreter, run_tflite


@pytest.fixture(scope="module")
def cnn(keras):
    keras.utils.set_random_seed(1)
    inp = keras.Input((16, 16, 3), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same")(inp)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU(6.0)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(5, activation="softmax", name="probs")(x)
    model = keras.Model(inp, out)
    rng = np.random.default_rng(0)
    for w in model.layers[2].weights:
        w.assign(rng.uniform(0.5, 1.5, w.shape).astype("float32"))
    return model


@pytest.fixture(scope="module")
def cnn_tflite(cnn):
    return liteconvert.TFLiteConverter.from_keras_model(cnn).convert()


def test_keras_model_signature_names_and_numerics(cnn, cnn_tflite):
    interp = make_interpreter(cnn_tflite)
    sigs = interp.get_signature_list()
    assert sigs == {"serving_default": {"inputs": ["image"], "outputs": ["probs"]}}
    assert_matches_keras(cnn, batch=3, data=cnn_tflite)


def test_conv_batchnorm_relu6_is_one_conv(cnn_tflite):
    hist = op_histogram(cnn_tflite)
    assert hist == {"CONV_2D": 1, "MEAN": 1, "FULLY_CONNECTED": 1, "SOFTMAX": 1}


def test_dynamic_batch_resize(cnn, cnn_tflite):
    interp = make_interpreter(cnn_tflite)
    detail = interp.get_input_details()[0]
    assert list(detail["shape_signature"]) == [-1, 16, 16, 3]
    for batch in (1, 4):
        interp.resize_tensor_input(detail["index"], [batch, 16, 16, 3])
        interp.allocate_tensors()
        x = np.random.default_rng(batch).standard_normal((batch, 16, 16, 3)).astype(np.float32)
        interp.set_tensor(detail["index"], x)
        interp.invoke()
        got = interp.get_tensor(interp.get_output_details()[0]["index"])
        ref = np.asarray(cnn(x))
        assert got.shape == (batch, 5)
        assert_close(got, ref)


def test_deterministic_bytes(cnn, cnn_tflite):
    assert liteconvert.TFLiteConverter.from_keras_model(cnn).convert() == cnn_tflite


def test_convert_function_writes_file_and_reads_keras_files(cnn, cnn_tflite, tmp_path):
    keras_path = tmp_path / "m.keras"
    cnn.save(keras_path)
    out = tmp_path / "m.tflite"
    assert liteconvert.convert(str(keras_path), out) == str(out)  # streamed to the file; its path returned
    data = out.read_bytes()
    assert data == liteconvert.convert(str(keras_path))  # the same bytes as in memory
    assert_matches_keras(cnn, data=data)
    h5 = tmp_path / "m.h5"
    cnn.save(h5)
    assert_matches_keras(cnn, data=liteconvert.convert(h5))
    assert liteconvert.convert(cnn) == cnn_tflite


@pytest.fixture(scope="module")
def multi_sig_dir(tf, tmp_path_factory):
    class Calc(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(np.arange(12, dtype=np.float32).reshape(4, 3) / 10)

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="features")])
        def project(self, features):
            return {"projected": tf.nn.relu(tf.matmul(features, self.w) + 0.5)}

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="a"),
                                      tf.TensorSpec([None, 3], tf.float32, name="b")])
        def combine(self, a, b):
            return {"sum": a + b, "scaled": a * 2.0 - b}

    m = Calc()
    path = str(tmp_path_factory.mktemp("sm") / "calc")
    tf.saved_model.save(m, path, signatures={"serving_default": m.project, "combine": m.combine})
    return path


def test_saved_model_all_signatures(multi_sig_dir):
    data = liteconvert.TFLiteConverter.from_saved_model(multi_sig_dir).convert()
    sigs = make_interpreter(data).get_signature_list()
    assert sigs == {"serving_default": {"inputs": ["features"], "outputs": ["projected"]},
                    "combine": {"inputs": ["a", "b"], "outputs": ["scaled", "sum"]}}
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    w = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    got = run_tflite(data, {"features": x}, "serving_default")["projected"]
    np.testing.assert_allclose(got, np.maximum(x @ w + 0.5, 0), atol=1e-5)
    a, b = np.ones((3, 3), np.float32), np.full((3, 3), 2.0, np.float32)
    out = run_tflite(data, {"a": a, "b": b}, "combine")
    np.testing.assert_allclose(out["sum"], a + b)
    np.testing.assert_allclose(out["scaled"], a * 2 - b)


def test_saved_model_signature_keys(multi_sig_dir):
    data = liteconvert.TFLiteConverter.from_saved_model(multi_sig_dir, signature_keys=["combine"]).convert()
    assert list(make_interpreter(data).get_signature_list()) == ["combine"]
    with pytest.raises(SignatureKeyError, match=r"'nope' not in .*available: serving_default, combine"):
        liteconvert.TFLiteConverter.from_saved_model(multi_sig_dir, signature_keys=["nope"]).convert()


def test_concrete_functions(tf):
    @tf.function(input_signature=[tf.TensorSpec([None, 6], tf.float32, name="x")])
    def f(x):
        return tf.nn.softmax(tf.reduce_mean(tf.reshape(x, [-1, 2, 3]), axis=1) * 3.0)

    data = liteconvert.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], None).convert()
    x = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    out = run_tflite(data, {"x": x})
    assert list(out) == ["output_0"]
    np.testing.assert_allclose(out["output_0"], f(x).numpy(), atol=1e-6)


def _weight_types(data: bytes) -> set[str]:
    from liteconvert.tflite.reader import read_model

    m = read_model(data)
    sg = m.subgraphs[0]
    return {t.dtype for t in sg.tensors if t.buffer and m.tensor_data(0, t.index) is not None and t.dtype != "int32"}


def test_optimization_options_select_the_mode_as_googles_do(tf, keras):
    """optimizations alone: dynamic range (int8 weights); a representative dataset without optimizations is
    ignored, as by Google's converter (a float model); TensorFlow's own enums and dtypes are accepted."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((32,), name="x")
    cnn = keras.Model(inp, keras.layers.Dense(10)(keras.layers.Dense(64, activation="relu")(inp)))  # 2048 weights
    conv = liteconvert.TFLiteConverter.from_keras_model(cnn)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]  # TensorFlow's own enum, as in a user's script
    assert "int8" in _weight_types(conv.convert())
    conv = liteconvert.TFLiteConverter.from_keras_model(cnn)
    conv.optimizations = [liteconvert.Optimize.DEFAULT]
    conv.target_spec.supported_types = [tf.float16]
    assert "float16" in _weight_types(conv.convert())
    conv = liteconvert.TFLiteConverter.from_keras_model(cnn)
    conv.representative_dataset = lambda: iter([])
    assert _weight_types(conv.convert()) == {"float32"}


def test_an_integer_interface_without_an_integer_mode_is_one_clear_error(cnn):
    conv = liteconvert.TFLiteConverter.from_keras_model(cnn)
    conv.inference_input_type = np.int8
    with pytest.raises(InvalidOptionError, match=r"inference_input_type=int8 needs an integer mode.*Fix"):
        conv.convert()


def test_int8_without_data_on_a_float_model_is_one_clear_error(tf, cnn):
    conv = liteconvert.TFLiteConverter.from_keras_model(cnn)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with pytest.raises(InvalidOptionError, match=r"needs a representative_dataset.*Fix"):
        conv.convert()


def test_import_does_not_import_tensorflow():
    code = "import sys, liteconvert, liteconvert.cli; liteconvert.TFLiteConverter; " \
           "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True, env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")})
    assert out.stdout.strip() == "False False"
    assert "tensorflow" not in out.stderr  # the -X importtime listing


def test_outputs_that_are_inputs_or_repeated(tf):
    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32, name="x")])
    def f(x):
        y = x * 2.0
        return {"same": x, "double": y, "again": y, "const": tf.constant([1.0, 2.0])}

    data = liteconvert.TFLiteConverter.from_concrete_functions([f.get_concrete_function()]).convert()
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = run_tflite(data, {"x": x})
    np.testing.assert_array_equal(out["same"], x)
    np.testing.assert_array_equal(out["double"], 2 * x)
    np.testing.assert_array_equal(out["again"], 2 * x)
    np.testing.assert_array_equal(out["const"], [1.0, 2.0])


def test_verify_against_source(cnn, tf):
    conv = liteconvert.TFLiteConverter.from_keras_model(cnn)
    report = conv.verify(conv.convert(), batch=3)
    assert list(report.signatures) == ["serving_default"]
    assert report.ok(1e-5), report.text()

    @tf.function(input_signature=[tf.TensorSpec([None, None, 4], tf.float32, name="seq")])
    def f(seq):
        return tf.reduce_max(tf.nn.elu(seq), axis=1)

    conv = liteconvert.TFLiteConverter.from_concrete_functions([f.get_concrete_function()])
    report = conv.verify(conv.convert(), batch=2, dynamic_dim=7)
    assert report.ok(1e-6) and report.signatures["serving_default"][0].reference_scale > 0
