"""Quantization-aware-trained models: a real QAT model made by TensorFlow's own tooling
(tensorflow-model-optimization's ``quantize_model``, on tf-keras; scripts/setup.sh installs them with the dev
extra) converts to int8 from the ranges training chose, without a representative dataset, from the Keras
object, its SavedModel and the command line, side by side with Google's converter on the same model."""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np
import pytest
from conftest import ROOT, run_cli

import liteconvert
from liteconvert.tflite.reader import read_model
from liteconvert.verify import make_interpreter

pytest.importorskip("tensorflow_model_optimization", reason="installed by scripts/setup.sh (dev extra)")
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))


@pytest.fixture(scope="module")
def qat(tf, tmp_path_factory):
    """The QAT CNN of benchmarks/quant.py (conv + BatchNorm + ReLU, conv, max pool, depthwise conv, dense,
    trained on the digits then quantization-aware trained, deterministically): (tf-keras model, test x, test y,
    its outputs, its SavedModel directory)."""
    import quant

    sm = str(tmp_path_factory.mktemp("qat") / "saved_model")
    q, tx, ty, ref = quant.train_qat(sm)
    return q, tx, ty, ref, sm


def _convert(module, make, optimize: bool = True, io=None) -> bytes:
    conv = make(module)
    if optimize:
        conv.optimizations = [module.Optimize.DEFAULT]
    if io is not None:
        conv.inference_input_type = conv.inference_output_type = io
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return conv.convert()


def _run(data: bytes, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(raw output, dequantized output) for ``x`` (quantized first for an integer input)."""
    interp = make_interpreter(data)
    tin, tout = interp.get_input_details()[0], interp.get_output_details()[0]
    interp.resize_tensor_input(tin["index"], list(x.shape))
    interp.allocate_tensors()
    if tin["dtype"] != np.float32:
        s, z = tin["quantization"]
        x = np.clip(np.round(x / s + z), -128, 127).astype(tin["dtype"])
    interp.set_tensor(tin["index"], x)
    interp.invoke()
    raw = interp.get_tensor(tout["index"])
    if tout["dtype"] == np.float32:
        return raw, raw
    s, z = tout["quantization"]
    return raw, (raw.astype(np.float32) - z) * s


def _integer_ops(data: bytes) -> dict[str, set[str]]:
    """Per weighted op kind, the dtypes of its data inputs."""
    m = read_model(data)
    sg = m.subgraphs[0]
    out: dict[str, set[str]] = {}
    for op in sg.operators:
        name = m.opcode(op).display_name
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "MEAN"):
            out.setdefault(name, set()).add(sg.tensors[op.inputs[0]].dtype)
    return out


SOURCES = {
    "keras": lambda q, sm: (lambda mod: mod.TFLiteConverter.from_keras_model(q)),
    "saved_model": lambda q, sm: (lambda mod: mod.TFLiteConverter.from_saved_model(sm)),
}


@pytest.mark.parametrize("source", list(SOURCES))
def test_optimizations_alone_give_full_integer_from_the_trained_ranges(tf, qat, source):
    q, tx, ty, ref, sm = qat
    make = SOURCES[source](q, sm)
    ours = _convert(liteconvert, make)  # no representative dataset
    google = _convert(tf.lite, make)
    assert _integer_ops(ours) == {k: {"int8"} for k in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED",
                                                         "MAX_POOL_2D", "MEAN")}
    _, p = _run(ours, tx)
    _, g = _run(google, tx)
    keras_acc = float(np.mean(ref.argmax(1) == ty))
    assert float(np.mean(p.argmax(1) == ty)) >= keras_acc - 1 / len(ty)
    assert np.mean(p.argmax(1) == ref.argmax(1)) >= np.mean(g.argmax(1) == ref.argmax(1))
    assert np.abs(p - ref).max() <= np.abs(g - ref).max() * 1.05 + 1e-6, (np.abs(p - ref).max(),
                                                                         np.abs(g - ref).max())
    assert len(ours) <= len(google), (len(ours), len(google))


def test_an_integer_interface_computes_what_googles_computes(tf, qat):
    """With int8 input and output the trained ranges fix every parameter: our integers are Google's."""
    q, tx, _, _, sm = qat
    make = SOURCES["keras"](q, sm)
    ours = _convert(liteconvert, make, io=tf.int8)
    google = _convert(tf.lite, make, io=tf.int8)
    a, _ = _run(ours, tx)
    b, _ = _run(google, tx)
    assert a.dtype == b.dtype == np.int8
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    assert np.mean(a == b) >= 0.99
    ours_in = make_interpreter(ours).get_input_details()[0]
    assert ours_in["quantization"] == make_interpreter(google).get_input_details()[0]["quantization"]


def test_float_conversion_keeps_the_fake_quantization_exactly(qat):
    """No optimizations: FAKE_QUANT ops, and the outputs are the QAT model's own."""
    q, tx, _, ref, sm = qat
    data = _convert(liteconvert, SOURCES["keras"](q, sm), optimize=False)
    kinds = {k for (k, _), _ in read_model(data).op_histogram().items()}
    assert "FAKE_QUANT" in kinds
    _, p = _run(data, tx)
    # (a sum computed in another order can land on the other side of a rounding boundary and move a level: at
    # most a few samples may; none does on this network)
    assert np.mean(np.abs(p - ref).max(axis=1) > 1e-5) <= 0.01, np.abs(p - ref).max()


def test_command_line_int8_without_data_on_the_saved_model(qat, tmp_path):
    _, tx, _, ref, sm = qat
    out = tmp_path / "qat_int8.tflite"
    r = run_cli("convert", sm, "-o", str(out), "--quantize", "int8")
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    assert _integer_ops(data)["CONV_2D"] == {"int8"}
    _, p = _run(data, tx)
    assert float(np.mean(p.argmax(1) == ref.argmax(1))) >= 0.99


def test_command_line_int8_without_data_on_a_float_model_is_one_clear_error(tmp_path, keras):
    inp = keras.Input((4,), name="x")
    model = keras.Model(inp, keras.layers.Dense(3)(inp))
    path = tmp_path / "plain.keras"
    model.save(path)
    r = run_cli("convert", str(path), "-o", str(tmp_path / "out.tflite"), "--quantize", "int8")
    assert r.returncode != 0
    lines = [line for line in r.stderr.strip().splitlines() if line]
    assert len(lines) == 1 and "representative" in lines[0] and "Fix:" in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert not os.path.exists(tmp_path / "out.tflite")


def test_quantize_command_on_a_float_qat_tflite_needs_no_data(qat, tmp_path):
    """The float .tflite of a QAT model keeps its FAKE_QUANT ops: ``liteconvert quantize`` makes it int8 from
    them, with the same integers as converting the source directly."""
    q, tx, _, _, sm = qat
    src = tmp_path / "qat_float.tflite"
    src.write_bytes(_convert(liteconvert, SOURCES["keras"](q, sm), optimize=False))
    out = tmp_path / "qat_int8.tflite"
    r = run_cli("quantize", str(src), "-o", str(out), "--quantize", "int8", "--io-type", "int8")
    assert r.returncode == 0, r.stderr
    direct = _convert(liteconvert, SOURCES["keras"](q, sm), io=np.int8)
    a, _ = _run(out.read_bytes(), tx)
    b, _ = _run(direct, tx)
    assert a.dtype == np.int8 and np.array_equal(a, b)
