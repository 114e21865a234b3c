"""A quantized model's interface, the way scripts reach it: its input and output tensors keep the float model's
names with every interface type (as Google's converter keeps them; code that looks tensors up by name keeps
working), and ``--verify`` / ``converter.verify`` check every mode and interface type against the source, on the
representative samples when there are some."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from conftest import ROOT, configure_quantization, run_cli

import liteconvert
from liteconvert.errors import InvalidOptionError
from liteconvert.tflite.reader import read_model
from liteconvert.verify import make_interpreter

sys.path.insert(0, os.path.join(ROOT, "tests", "metadata"))

MODES = [("int8", None), ("int8", "int8"), ("int8", "uint8"), ("int16x8", None), ("int16x8", "int16"),
         ("dynamic", None), ("float16", None)]


@pytest.fixture(scope="module")
def cnn(keras, tmp_path_factory):
    keras.utils.set_random_seed(3)
    inp = keras.Input((10, 10, 3), name="image")
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    h = keras.layers.GlobalAveragePooling2D()(h)
    out = keras.layers.Dense(4, activation="softmax", name="probs")(keras.layers.Dense(40, activation="relu")(h))
    model = keras.Model(inp, out)
    d = tmp_path_factory.mktemp("iface")
    model.save(d / "cnn.keras")
    model.export(str(d / "sm"), verbose=False)
    calib = np.random.default_rng(0).uniform(0, 1, (32, 10, 10, 3)).astype(np.float32)
    np.savez(d / "calib.npz", image=calib)
    return model, d, calib


def _names(data: bytes) -> tuple[list[str], list[str]]:
    it = make_interpreter(data)
    return [d["name"] for d in it.get_input_details()], [d["name"] for d in it.get_output_details()]


def _configure(conv, tf, mode: str, io: str | None, calib: np.ndarray) -> None:
    configure_quantization(conv, tf, mode, calib, io)


@pytest.mark.parametrize("mode,io", MODES)
def test_interface_keeps_the_float_names_like_googles(tf, cnn, mode, io):
    model, _, calib = cnn
    names = {}
    for who, module in (("ours", liteconvert), ("google", tf.lite)):
        float_names = _names(module.TFLiteConverter.from_keras_model(model).convert())
        conv = module.TFLiteConverter.from_keras_model(model)
        _configure(conv, tf, mode, io, calib)
        names[who] = (float_names, _names(conv.convert()))
    assert names["google"][0] == names["google"][1]  # what Google's converter does
    assert names["ours"][0] == names["ours"][1]


def test_quantize_keeps_a_mediapipe_models_tensor_names(tmp_path):
    """MediaPipe models have no SignatureDefs: their graphs are wired by tensor name and order."""
    from metadata_helpers import google_models

    path = next(p for p in google_models() if p.endswith("face_detection_short_range.tflite"))
    src = open(path, "rb").read()
    calib = np.random.default_rng(0).uniform(-1, 1, (8, 128, 128, 3)).astype(np.float32)
    np.savez(tmp_path / "c.npz", input=calib)
    for mode, io in (("int8", None), ("int8", "uint8"), ("int16x8", "int16")):
        args = ["quantize", path, "-o", str(tmp_path / "q.tflite"), "--quantize", mode, "--representative-data",
                str(tmp_path / "c.npz"), "-q"] + (["--io-type", io] if io else [])
        res = run_cli(*args)
        assert res.returncode == 0, res.stderr
        assert _names((tmp_path / "q.tflite").read_bytes()) == _names(src), (mode, io)


@pytest.mark.parametrize("source", ["cnn.keras", "sm"])
@pytest.mark.parametrize("mode,io", MODES)
def test_verify_checks_every_mode_and_interface(cnn, tmp_path, source, mode, io):
    """``--verify`` feeds an integer interface quantized inputs and reads it dequantized (it used to fail with an
    internal error there), and checks a calibrated model on its representative samples."""
    _, d, _ = cnn
    args = ["convert", str(d / source), "-o", str(tmp_path / "q.tflite"), "--quantize", mode, "--verify"]
    if mode in ("int8", "int16x8"):
        args += ["--representative-data", str(d / "calib.npz")]
    if io:
        args += ["--io-type", io]
    res = run_cli(*args)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("verified: max abs error vs source: serving_default/"), res.stdout
    err = float(res.stdout.splitlines()[0].split()[-1])
    assert err < 0.05, res.stdout


def test_python_verify_on_the_representative_samples(tf, cnn):
    model, _, calib = cnn
    conv = liteconvert.TFLiteConverter.from_keras_model(model)
    _configure(conv, tf, "int8", "int8", calib)
    data = conv.convert()
    report = conv.verify(data)
    assert report.ok(0.05), report.text()
    # the same comparison by hand: the first 8 representative samples, quantized in, dequantized out
    it = make_interpreter(data)
    runner = it.get_signature_runner()
    (iname, idet), = runner.get_input_details().items()
    (oname, odet), = runner.get_output_details().items()
    (si, zi), (so, zo) = idet["quantization"], odet["quantization"]
    x = calib[:8]
    q = np.clip(np.round(x / si + zi), -128, 127).astype(np.int8)
    got = np.concatenate([(runner(**{iname: q[i:i + 1]})[oname].astype(np.float32) - zo) * so for i in range(8)])
    want = np.asarray(model(x))
    assert abs(np.max(np.abs(got - want)) - report.signatures["serving_default"][0].max_abs_error) < 1e-5


def test_inspect_shows_an_integer_interfaces_parameters(tf, cnn, tmp_path, capsys):
    """What a user needs to feed a uint8 model: ``liteconvert inspect`` prints each quantized input's and
    output's scale and zero point (the interpreter's own)."""
    from liteconvert.cli import main

    model, _, calib = cnn
    conv = liteconvert.TFLiteConverter.from_keras_model(model)
    _configure(conv, tf, "int8", "uint8", calib)
    path = tmp_path / "u8.tflite"
    path.write_bytes(conv.convert())
    assert main(["inspect", str(path)]) == 0
    text = capsys.readouterr().out
    runner = make_interpreter(str(path)).get_signature_runner()
    for name, d in [*runner.get_input_details().items(), *runner.get_output_details().items()]:
        scale, zero = d["quantization"]
        line = next(ln for ln in text.splitlines() if f" {name} " in ln)
        assert "uint8" in line and f"quantized: scale {scale:.6g}, zero point {zero}" in line, line


@pytest.mark.parametrize("mode,io", [("int8", "int8"), ("int8", "uint8"), ("int16x8", "int16")])
def test_saturating_final_activation_gets_a_fine_input_grid(keras, mode, io):
    """Logits computed in float (here a layer kept float, as a custom op computes a segmentation model's) that
    calibrate to about [-60, 60], then an integer sigmoid behind an integer output. A grid over all of [-60, 60]
    has steps of 0.47 near 0, where the probability moves: errors up to 0.47 / 2 x 0.25 = 0.059. The grid is
    clipped to where the sigmoid's output still changes (|x| < 6.5 for int8), so the error is the output step's."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((4,), name="x")
    dense = keras.layers.Dense(1, name="logits")
    model = keras.Model(inp, keras.layers.Activation("sigmoid", name="prob")(dense(inp)))
    dense.set_weights([np.array([[15.0], [-15.0], [15.0], [-15.0]], np.float32), np.zeros(1, np.float32)])
    rng = np.random.default_rng(0)
    calib = rng.uniform(-1, 1, (64, 4)).astype(np.float32)  # logits over about [-60, 60]
    test = rng.normal(0, 0.05, (256, 4)).astype(np.float32)  # near the decision boundary
    want = np.asarray(model(test))
    conv = liteconvert.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [liteconvert.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
    if mode == "int16x8":
        conv.target_spec.supported_ops = [
            liteconvert.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    conv.inference_output_type = io  # (the input stays float: the logits layer reads it as it is)
    conv.keep_float = ["logits"]
    if mode == "int16x8":  # the 16x8 op set alone means integer only, which a layer kept float contradicts
        with pytest.raises(InvalidOptionError, match="keep_float keeps FULLY_CONNECTED"):
            conv.convert()
        conv.target_spec.supported_ops = [*conv.target_spec.supported_ops, liteconvert.OpsSet.TFLITE_BUILTINS]
    data = conv.convert()
    m = read_model(data)
    kinds = {m.opcode(op).display_name: m.subgraphs[0].tensors[op.inputs[0]].dtype
             for op in m.subgraphs[0].operators}
    assert kinds["LOGISTIC"] == ("int16" if mode == "int16x8" else "int8") and kinds["FULLY_CONNECTED"] == "float32"
    runner = make_interpreter(data).get_signature_runner()
    (iname, _), = runner.get_input_details().items()
    (oname, odet), = runner.get_output_details().items()
    so, zo = odet["quantization"]
    got = np.concatenate([(runner(**{iname: test[i:i + 1]})[oname].astype(np.float32) - zo) * so
                          for i in range(len(test))])
    err = float(np.max(np.abs(got - want)))
    assert err <= (0.012 if mode == "int8" else 0.001), err
