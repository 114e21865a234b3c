"""``liteconvert check --quantize int8|int16x8``: before converting (and without calibration data), which ops full
integer quantization leaves in float and why, on a .keras file and a SavedModel and through the Python API. The
prediction is what the conversion then does, op for op; with ``--integer-only`` the check's exit code 13 and the
conversion's error name the same op (Google's converter, asked the same, leaves that op float without a word)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import one_error_line, run_cli

import liteconvert
from liteconvert.errors import UnsupportedOpsError
from liteconvert.tflite.reader import read_model
from liteconvert.verify import make_interpreter


@pytest.fixture(scope="module")
def model_files(keras, tmp_path_factory):
    """A CNN with a FLOOR (no integer kernel) and a final SOFTMAX, as a Keras object and a SavedModel (a .keras
    file with a Lambda is refused: liteconvert never runs a model file's Python code)."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 3), name="image")
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inp)
    h = keras.layers.Lambda(lambda t: keras.ops.floor(t * 4.0), name="floorq")(h)
    out = keras.layers.Dense(3, activation="softmax", name="probs")(keras.layers.Flatten()(h))
    model = keras.Model(inp, out)
    d = tmp_path_factory.mktemp("checkq")
    model.export(str(d / "sm"), verbose=False)
    calib = np.random.default_rng(0).uniform(0, 1, (16, 8, 8, 3)).astype(np.float32)
    np.savez(d / "calib.npz", image=calib)
    return model, d, calib


def _float_ops(data: bytes) -> dict[str, int]:
    """Ops of the converted model that compute in float (not the interface's QUANTIZE / DEQUANTIZE)."""
    m = read_model(data)
    sg = m.subgraphs[0]
    out: dict[str, int] = {}
    for op in sg.operators:
        kind = m.opcode(op).display_name
        if kind in ("QUANTIZE", "DEQUANTIZE"):
            continue
        if sg.tensors[op.outputs[0]].dtype == "float32":
            out[kind] = out.get(kind, 0) + 1
    return out


@pytest.mark.parametrize("mode,io", [("int8", None), ("int8", "int8"), ("int16x8", None)])
def test_check_predicts_what_the_conversion_leaves_float(model_files, tmp_path, mode, io):
    """The SavedModel from the command line, the Keras object from Python: the same prediction, which is what
    the conversion does."""
    model, d, calib = model_files
    extra = ["--io-type", io] if io else []
    res = run_cli("check", str(d / "sm"), "--quantize", mode, *extra, "--json")
    assert res.returncode == 0, res.stderr
    plan = json.loads(res.stdout)["quantization"]
    predicted = {r["op"]: r["count"] for r in plan["ops"] if not r["integer"]}
    out = tmp_path / "q.tflite"
    res = run_cli("convert", str(d / "sm"), "-o", str(out), "--quantize", mode, "--representative-data",
                  str(d / "calib.npz"), *extra, "-q")
    assert res.returncode == 0, res.stderr
    assert predicted == _float_ops(out.read_bytes())
    assert predicted == ({"FLOOR": 1} if io else {"FLOOR": 1, "SOFTMAX": 1})
    text = run_cli("check", str(d / "sm"), "--quantize", mode, *extra).stdout
    assert "FLOOR" in text and "no integer kernel" in text and "ops integer;" in text

    conv = liteconvert.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [liteconvert.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
    if mode == "int16x8":
        conv.target_spec.supported_ops = [  # (the 16x8 set alone is integer only, as in Google's converter)
            liteconvert.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
            liteconvert.OpsSet.TFLITE_BUILTINS]
    if io:
        conv.inference_input_type = conv.inference_output_type = io
    plan = conv.check().quantization
    assert {r.op: r.count for r in plan.floats} == predicted == _float_ops(conv.convert())
    floor = next(r for r in plan.floats if r.op == "FLOOR")
    assert floor.nodes[0][1] == "floorq"  # the layer the user wrote


def test_integer_only_exit_code_and_the_conversions_error(tf, model_files, tmp_path):
    model, d, calib = model_files
    res = run_cli("check", str(d / "sm"), "--quantize", "int8", "--io-type", "int8", "--integer-only")
    assert res.returncode == 13, res.stdout + res.stderr
    assert "not integer only: FLOOR has no integer kernel" in res.stdout
    res = run_cli("convert", str(d / "sm"), "-o", str(tmp_path / "x.tflite"), "--quantize", "int8",
                  "--representative-data", str(d / "calib.npz"), "--integer-only")
    assert res.returncode != 0 and "FLOOR" in res.stderr, res.stderr
    # Google's converter, asked for integer only the same way, silently leaves the FLOOR float
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    assert _float_ops(conv.convert()) == {"FLOOR": 1}
    one_error_line(run_cli("check", str(d / "sm"), "--integer-only"), 2, "--quantize")


def test_python_check_with_the_converters_quantization_settings(model_files):
    """The Python API: check() on a converter set up for int8 reports the plan too."""
    model, _, calib = model_files
    conv = liteconvert.TFLiteConverter.from_keras_model(model)
    assert conv.check().quantization is None  # float: nothing to say
    conv.optimizations = [liteconvert.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
    report = conv.check()
    assert {r.op for r in report.quantization.floats} == {"FLOOR", "SOFTMAX"}
    conv.target_spec.supported_ops = [liteconvert.OpsSet.TFLITE_BUILTINS_INT8]
    report = conv.check()
    assert report.exit_code == 13 and [r.op for r in report.quantization.blocking] == ["FLOOR"]
    with pytest.raises(UnsupportedOpsError, match="FLOOR"):
        conv.convert()


def test_div_is_integer_like_googles(tf, keras):
    """A softsign is x / (1 + |x|): its DIV has an int8 kernel in LiteRT, so int8 (and integer only) make it
    int8, as Google's converter does, with the same op version and no larger error."""
    keras.utils.set_random_seed(1)
    inp = keras.Input((8, 8, 3), name="image")
    h = keras.layers.Activation("softsign", name="soft")(keras.layers.Conv2D(4, 3, name="conv")(inp))
    model = keras.Model(inp, keras.layers.Dense(3, name="out")(keras.layers.Flatten()(h)))
    rng = np.random.default_rng(0)
    calib, test = (rng.uniform(0, 1, (n, 8, 8, 3)).astype(np.float32) for n in (32, 16))
    want = np.asarray(model(test))
    errors = {}
    for who, module in (("ours", liteconvert), ("google", tf.lite)):
        conv = module.TFLiteConverter.from_keras_model(model)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if who == "ours":
            assert conv.check().exit_code == 0
        data = conv.convert()
        m = read_model(data)
        sg = m.subgraphs[0]
        divs = [(m.opcode(op).version, sg.tensors[op.inputs[0]].dtype) for op in sg.operators
                if m.opcode(op).display_name == "DIV"]
        assert divs == [(1, "int8")], (who, divs)
        runner = make_interpreter(data).get_signature_runner()
        name = next(iter(runner.get_input_details()))
        got = np.concatenate([next(iter(runner(**{name: test[i:i + 1]}).values())) for i in range(len(test))])
        errors[who] = float(np.max(np.abs(got - want)))
    assert errors["ours"] <= errors["google"] * 1.05 + 1e-3, errors
