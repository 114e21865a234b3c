"""TensorFlow's fake-quantization ops, each as a graph carries it: FakeQuantWithMinMaxArgs/Vars(PerChannel) and
QuantizeAndDequantizeV2/V3/V4. Float conversion computes what TensorFlow computes (on weights: folded; on
activations: FAKE_QUANT); with optimizations the trained ranges make the model int8 without data."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close

import liteconvert
from liteconvert.errors import UnsupportedOpsError
from liteconvert.tflite.ops.quant import fake_quantize, nudge
from liteconvert.tflite.reader import read_model
from liteconvert.verify import make_interpreter, run_tflite


def _kinds(data: bytes) -> set[str]:
    return {k for (k, _), _ in read_model(data).op_histogram().items()}


def test_fake_quantize_is_tensorflows(tf):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 5, 7)) * 3).astype(np.float32)
    for lo, hi, bits, narrow in [(-2.3, 4.1, 8, False), (-6.0, 6.0, 8, True), (0.2, 3.0, 8, False),
                                 (-1.0, -0.1, 4, False)]:
        want = tf.quantization.fake_quant_with_min_max_args(x, lo, hi, bits, narrow).numpy()
        assert np.abs(fake_quantize(x, lo, hi, bits, narrow) - want).max() <= 1e-6
    lo = rng.uniform(-3, -0.5, 7).astype(np.float32)
    hi = rng.uniform(0.5, 3, 7).astype(np.float32)
    want = tf.quantization.fake_quant_with_min_max_vars_per_channel(x, lo, hi, 8, True).numpy()
    assert np.abs(fake_quantize(x, lo, hi, 8, True, axis=2) - want).max() <= 1e-6
    nlo, _, scale = nudge(-2.3, 4.1)
    assert abs(float(-nlo / scale) - round(float(-nlo / scale))) < 1e-4  # zero lies on a level


@pytest.fixture(scope="module")
def qat_graph(tf):
    """A conv net fake-quantized the ways TF's ops allow: per-channel weights (FakeQuantWithMinMaxVarsPerChannel),
    per-tensor weights (QuantizeAndDequantizeV4, narrow range), activations through FakeQuantWithMinMaxVars,
    FakeQuantWithMinMaxArgs, QuantizeAndDequantizeV2 and V3 with given ranges."""
    rng = np.random.default_rng(1)
    k1 = tf.Variable(rng.standard_normal((3, 3, 2, 8)).astype(np.float32) * 0.3)
    b1 = tf.Variable(rng.standard_normal(8).astype(np.float32) * 0.1)
    k1_lo = tf.Variable(np.min(k1.numpy(), axis=(0, 1, 2)))
    k1_hi = tf.Variable(np.max(k1.numpy(), axis=(0, 1, 2)))
    w2 = tf.Variable(rng.standard_normal((8, 4)).astype(np.float32) * 0.4)
    m = tf.Module()
    m.vars = [k1, b1, k1_lo, k1_hi, w2]

    @tf.function(input_signature=[tf.TensorSpec([None, 6, 6, 2], tf.float32, name="image")])
    def f(x):
        x = tf.quantization.fake_quant_with_min_max_vars(x, -1.0, 1.0)
        k = tf.quantization.fake_quant_with_min_max_vars_per_channel(k1, k1_lo, k1_hi, narrow_range=True)
        h = tf.nn.relu(tf.nn.conv2d(x, k, 1, "SAME") + b1)
        h = tf.quantization.fake_quant_with_min_max_args(h, 0.0, 3.0)
        h = tf.reduce_mean(h, axis=[1, 2])
        h = tf.raw_ops.QuantizeAndDequantizeV2(input=h, input_min=-2.0, input_max=2.0, range_given=True)
        w = tf.raw_ops.QuantizeAndDequantizeV4(input=w2, input_min=0.0, input_max=0.0, range_given=False,
                                               narrow_range=True)
        y = tf.matmul(h, w)
        return {"y": tf.raw_ops.QuantizeAndDequantizeV3(input=y, input_min=-3.0, input_max=3.0, num_bits=8,
                                                        range_given=True, narrow_range=True)}

    m.f = f
    x = rng.uniform(-1, 1, (16, 6, 6, 2)).astype(np.float32)
    return m, f.get_concrete_function(), x


def test_float_conversion_computes_what_tensorflow_computes(qat_graph):
    m, fn, x = qat_graph
    data = liteconvert.TFLiteConverter.from_concrete_functions([fn], m).convert()
    assert "FAKE_QUANT" in _kinds(data)
    assert_close(run_tflite(data, {"image": x})["y"], fn(x)["y"].numpy(), what="fake-quantized graph")


def test_optimizations_alone_give_int8_from_the_graphs_ranges(qat_graph):
    m, fn, x = qat_graph
    conv = liteconvert.TFLiteConverter.from_concrete_functions([fn], m)
    conv.optimizations = [liteconvert.Optimize.DEFAULT]
    data = conv.convert()
    kinds = _kinds(data)
    assert "FAKE_QUANT" not in kinds and {"QUANTIZE", "DEQUANTIZE"} <= kinds
    info = read_model(data)
    sg = info.subgraphs[0]
    for op in sg.operators:
        if info.opcode(op).display_name in ("CONV_2D", "FULLY_CONNECTED", "MEAN"):
            assert sg.tensors[op.inputs[0]].dtype == "int8"
    # the activation ranges are the trained ones: the input's is [-1, 1] nudged, the output's [-3, 3]
    interp = make_interpreter(data)
    got = run_tflite(data, {"image": x})["y"]
    want = fn(x)["y"].numpy()
    step = 6.0 / 254
    assert np.abs(got - want).max() <= 3 * step, np.abs(got - want).max()
    assert interp.get_input_details()[0]["dtype"] == np.float32


def test_a_range_computed_at_run_time_on_an_activation_is_one_clear_problem(tf):
    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
    def f(x):
        return tf.raw_ops.QuantizeAndDequantizeV2(input=x * 2.0, input_min=0.0, input_max=0.0, range_given=False)

    with pytest.raises(UnsupportedOpsError) as e:
        liteconvert.TFLiteConverter.from_concrete_functions([f.get_concrete_function()]).convert()
    [p] = e.value.problems
    assert p.op_type == "QuantizeAndDequantizeV2" and "range_given=false" in p.reason


def test_per_channel_fake_quantization_of_an_activation_is_one_clear_problem(tf):
    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
    def f(x):
        return tf.quantization.fake_quant_with_min_max_vars_per_channel(x, [-1.0, -1.0, -1.0], [1.0, 1.0, 1.0])

    with pytest.raises(UnsupportedOpsError) as e:
        liteconvert.TFLiteConverter.from_concrete_functions([f.get_concrete_function()]).convert()
    [p] = e.value.problems
    assert p.op_type == "FakeQuantWithMinMaxVarsPerChannel" and "per tensor" in p.reason
