"""Quantization the way a user's shell reaches it: ``liteconvert convert --quantize ...`` on a .keras file and a
SavedModel, ``liteconvert quantize`` on existing float .tflite files (ours, Google's, MediaPipe's) keeping their
signatures and metadata, the report in text, JSON and HTML, ``--keep-float-worst``, and one clear error for
every kind of bad calibration data."""

from __future__ import annotations

import json
import os
import sys
import warnings

import numpy as np
import pytest
from conftest import ROOT, configure_quantization, one_error_line, run_cli

import liteconvert
from liteconvert import metadata as md_api
from liteconvert.errors import UnsupportedOpsError
from liteconvert.tflite.reader import read_model
from liteconvert.verify import make_interpreter

sys.path.insert(0, os.path.join(ROOT, "tests", "metadata"))


@pytest.fixture(scope="module")
def model_files(keras, tmp_path_factory):
    """A small trained-looking CNN as .keras and as a SavedModel (model.export), calibration data in an .npz,
    and held-out inputs with the Keras outputs."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((12, 12, 3), name="image")
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inp)
    h = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    h = keras.layers.Dense(64, activation="relu")(h)
    out = keras.layers.Dense(10, activation="softmax", name="probs")(h)
    model = keras.Model(inp, out)
    d = tmp_path_factory.mktemp("quant_cli")
    model.save(d / "cnn.keras")
    model.export(str(d / "sm"), verbose=False)
    rng = np.random.default_rng(0)
    calib = rng.uniform(0, 1, (64, 12, 12, 3)).astype(np.float32)
    np.savez(d / "calib.npz", image=calib)
    test = rng.uniform(0, 1, (32, 12, 12, 3)).astype(np.float32)
    return model, d, calib, test, np.asarray(model(test))


def _outputs(data: bytes, x: np.ndarray) -> np.ndarray:
    """The first output, dequantized, for a batch ``x`` fed one sample at a time."""
    interp = make_interpreter(data)
    tin, tout = interp.get_input_details()[0], interp.get_output_details()[0]
    outs = []
    for row in x:
        v = row[None]
        if tin["dtype"] != np.float32:
            s, z = tin["quantization"]
            info = np.iinfo(tin["dtype"])
            v = np.clip(np.round(v / s + z), info.min, info.max).astype(tin["dtype"])
        interp.set_tensor(tin["index"], v)
        interp.invoke()
        o = interp.get_tensor(tout["index"])
        if tout["dtype"] != np.float32:
            s, z = tout["quantization"]
            o = (o.astype(np.float32) - z) * s
        outs.append(o[0])
    return np.stack(outs)


def _weighted_input_dtypes(data: bytes) -> set[str]:
    m = read_model(data)
    sg = m.subgraphs[0]
    return {sg.tensors[op.inputs[0]].dtype for op in sg.operators
            if m.opcode(op).display_name in ("CONV_2D", "FULLY_CONNECTED")}


@pytest.mark.parametrize("source", ["cnn.keras", "sm"])
@pytest.mark.parametrize("mode,io,want", [
    ("int8", None, ("int8", np.float32)), ("int8", "int8", ("int8", np.int8)), ("int8", "uint8", ("int8", np.uint8)),
    ("int16x8", "int16", ("int16", np.int16)), ("dynamic", None, ("float32", np.float32)),
    ("float16", None, ("float32", np.float32))])
def test_convert_quantize_modes(model_files, tmp_path, source, mode, io, want):
    _, d, _, test, ref = model_files
    out = tmp_path / "q.tflite"
    args = ["convert", str(d / source), "-o", str(out), "--quantize", mode, "-q"]
    if mode in ("int8", "int16x8"):
        args += ["--representative-data", str(d / "calib.npz")]
    if io:
        args += ["--io-type", io]
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    assert _weighted_input_dtypes(data) == {want[0]}
    assert make_interpreter(data).get_input_details()[0]["dtype"] == want[1]
    err = np.abs(_outputs(data, test) - ref)
    assert err.max() <= 0.05 and err.mean() <= 0.01, (err.max(), err.mean())


def test_convert_quantize_is_no_larger_than_googles(tf, model_files, tmp_path):
    _, d, calib, _, _ = model_files
    for mode in ("dynamic", "float16", "int8", "int16x8"):
        out = tmp_path / f"{mode}.tflite"
        args = ["convert", str(d / "sm"), "-o", str(out), "--quantize", mode, "-q"]
        if mode in ("int8", "int16x8"):
            args += ["--representative-data", str(d / "calib.npz")]
        assert run_cli(*args).returncode == 0
        conv = tf.lite.TFLiteConverter.from_saved_model(str(d / "sm"))
        configure_quantization(conv, tf, mode, calib)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            google = conv.convert()
        assert out.stat().st_size <= len(google), (mode, out.stat().st_size, len(google))


# -- calibration data that cannot be used: one error line each, nothing written ------------------------------

def _bad(tmp_path, name: str, writer) -> str:
    path = tmp_path / name
    writer(path)
    return str(path)


BAD_DATA = {
    "wrong key": (lambda p: np.savez(p, pixels=np.zeros((4, 12, 12, 3), np.float32),
                                     other=np.zeros((4, 3), np.float32)), "no array for input(s) ['image']"),
    "wrong shape": (lambda p: np.savez(p, image=np.zeros((4, 8, 8, 3), np.float32)), "shape [1, 8, 8, 3]"),
    "wrong dtype": (lambda p: np.savez(p, image=np.full((4, 12, 12, 3), "a")), "dtype <U1"),
    "no samples": (lambda p: np.savez(p, image=np.zeros((0, 12, 12, 3), np.float32)), "no samples"),
    "object array": (lambda p: np.savez(p, image=np.array([None, 1], dtype=object)), "never unpickles"),
    "nan": (lambda p: np.savez(p, image=np.full((4, 12, 12, 3), np.nan, np.float32)), "NaN or Inf"),
    "inf": (lambda p: np.savez(p, image=np.where(np.eye(12)[None, :, :, None] > 0, np.inf,
                                                 np.ones((4, 12, 12, 3))).astype(np.float32)), "NaN or Inf"),
    "empty file": (lambda p: p.write_bytes(b""), "(it is empty)"),
    "not an npz": (lambda p: p.write_text("image,1,2,3\n"), "is not an .npz or .npy file"),
    "a broken zip": (lambda p: p.write_bytes(b"PK\x03\x04garbage"), "Fix:"),
}


@pytest.mark.parametrize("case", list(BAD_DATA))
def test_bad_calibration_data_is_one_error_line(model_files, tmp_path, case):
    _, d, _, _, _ = model_files
    writer, needle = BAD_DATA[case]
    data = _bad(tmp_path, "data.npz", writer)
    out = tmp_path / "q.tflite"
    r = run_cli("convert", str(d / "cnn.keras"), "-o", str(out), "--quantize", "int8", "--representative-data", data)
    one_error_line(r, 2, needle)
    assert not out.exists()


def test_data_for_a_mode_that_does_not_calibrate_is_refused(model_files, tmp_path):
    _, d, _, _, _ = model_files
    r = run_cli("convert", str(d / "cnn.keras"), "-o", str(tmp_path / "q.tflite"), "--quantize", "dynamic",
                "--representative-data", str(d / "calib.npz"))
    one_error_line(r, 2, "does not apply to --quantize dynamic")


@pytest.mark.parametrize("form", ["folder of .npy", "one .npy"])
def test_npy_files_are_calibration_data(model_files, tmp_path, form):
    _, d, calib, test, ref = model_files
    if form == "one .npy":  # a one-input model: any name
        where = tmp_path / "samples.npy"
        np.save(where, calib)
    else:
        where = tmp_path / "calib"
        where.mkdir()
        np.save(where / "image.npy", calib)
    out = tmp_path / "q.tflite"
    r = run_cli("convert", str(d / "cnn.keras"), "-o", str(out), "--quantize", "int8", "--representative-data",
                str(where), "--calibration-samples", "16", "-q")
    assert r.returncode == 0, r.stderr
    assert np.abs(_outputs(out.read_bytes(), test) - ref).max() <= 0.05


def test_python_api_takes_lists_dicts_and_tf_datasets(tf, model_files):
    """representative_dataset as Google's accepts it: a generator of lists, of dicts, or a tf.data pipeline."""
    model, _, calib, test, ref = model_files
    gens = {
        "lists": lambda: ([calib[i:i + 1]] for i in range(16)),
        "dicts": lambda: ({"image": calib[i:i + 1]} for i in range(16)),
        "tf.data": lambda: (list(t) for t in tf.data.Dataset.from_tensor_slices(calib[:16]).batch(1).map(
            lambda x: (x,)).take(16)),
    }
    for name, gen in gens.items():
        conv = liteconvert.TFLiteConverter.from_keras_model(model)
        conv.optimizations = [liteconvert.Optimize.DEFAULT]
        conv.representative_dataset = gen
        data = conv.convert()
        assert _weighted_input_dtypes(data) == {"int8"}, name
        assert np.abs(_outputs(data, test) - ref).max() <= 0.05, name


def test_integer_only_names_the_op_that_has_no_integer_kernel(tf):
    @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32, name="x")])
    def f(x):
        return tf.sin(x) * 2.0 + 1.0

    calib = np.random.default_rng(0).uniform(-2, 2, (16, 8)).astype(np.float32)
    conv = liteconvert.TFLiteConverter.from_concrete_functions([f.get_concrete_function()])
    conv.optimizations = [liteconvert.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(16))
    data = conv.convert()  # SIN stays float between a DEQUANTIZE and a QUANTIZE
    assert {k for (k, _), _ in read_model(data).op_histogram().items()} >= {"SIN", "QUANTIZE", "DEQUANTIZE"}
    assert any("SIN" in line and "stays float" in line for line in conv.log)
    conv.target_spec.supported_ops = [liteconvert.OpsSet.TFLITE_BUILTINS_INT8]
    with pytest.raises(UnsupportedOpsError) as e:
        conv.convert()
    assert [p.op_type for p in e.value.problems] == ["SIN"]


# -- quantizing an existing .tflite ----------------------------------------------------------------------------

def test_quantize_our_float_tflite_keeps_signatures_and_metadata(model_files, tmp_path):
    model, d, _, test, ref = model_files
    src = tmp_path / "float.tflite"
    conv = liteconvert.TFLiteConverter.from_keras_model(model)
    conv.metadata = md_api.ImageClassifierMetadata(name="cnn", description="a test CNN", version="3", author="us",
                                                   input_norm=(0.0, 1.0), labels=[f"c{i}" for i in range(10)])
    src.write_bytes(conv.convert())
    before = src.read_bytes()
    out = tmp_path / "int8.tflite"
    r = run_cli("quantize", str(src), "-o", str(out), "--quantize", "int8", "--representative-data",
                str(d / "calib.npz"), "-q")
    assert r.returncode == 0, r.stderr
    assert src.read_bytes() == before
    data = out.read_bytes()
    assert [s.key for s in read_model(data).signatures] == [s.key for s in read_model(before).signatures]
    assert md_api.read(data)["metadata"] == md_api.read(before)["metadata"]
    assert md_api.read(data)["associated_files"] == md_api.read(before)["associated_files"]
    assert md_api.read(data)["associated_files"]
    assert _weighted_input_dtypes(data) == {"int8"}
    assert np.abs(_outputs(data, test) - ref).max() <= 0.05


def test_quantize_googles_float_tflite(tf, model_files, tmp_path):
    _, d, _, test, ref = model_files
    src = tmp_path / "google.tflite"
    src.write_bytes(tf.lite.TFLiteConverter.from_saved_model(str(d / "sm")).convert())
    out = tmp_path / "dr.tflite"
    r = run_cli("quantize", str(src), "-o", str(out), "--quantize", "dynamic", "-q")
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    assert [s.key for s in read_model(data).signatures] == ["serving_default"]
    assert "int8" in {t.dtype for t in read_model(data).subgraphs[0].tensors}
    assert len(data) < src.stat().st_size / 2
    assert np.abs(_outputs(data, test) - ref).max() <= 0.05


def test_quantize_a_mediapipe_model_keeps_its_metadata(tmp_path):
    from metadata_helpers import google_models

    src = next(p for p in google_models() if p.endswith("face_detection_short_range.tflite"))
    before = open(src, "rb").read()
    rng = np.random.default_rng(0)
    calib = tmp_path / "faces.npz"
    spec = make_interpreter(before).get_input_details()[0]
    name = read_model(before).subgraphs[0].tensors[read_model(before).subgraphs[0].inputs[0]].name
    np.savez(calib, **{name: rng.uniform(-1, 1, (16, *spec["shape"][1:])).astype(np.float32)})
    out = tmp_path / "int8.tflite"
    r = run_cli("quantize", src, "-o", str(out), "--quantize", "int8", "--representative-data", str(calib), "-q")
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    assert read_model(data).metadata_bytes("TFLITE_METADATA") is not None
    assert md_api.read(data)["metadata"] == md_api.read(before)["metadata"]
    assert "int8" in {t.dtype for t in read_model(data).subgraphs[0].tensors}
    x = rng.uniform(-1, 1, (1, *spec["shape"][1:])).astype(np.float32)
    a = make_interpreter(before)
    a.set_tensor(spec["index"], x)
    a.invoke()
    b = make_interpreter(data)
    b.set_tensor(b.get_input_details()[0]["index"], x)
    b.invoke()
    for da, db in zip(a.get_output_details(), b.get_output_details(), strict=True):
        want, got = a.get_tensor(da["index"]), b.get_tensor(db["index"])
        cos = float(np.dot(want.ravel(), got.ravel()) / (np.linalg.norm(want) * np.linalg.norm(got)))
        assert cos >= 0.98, (da["name"], cos)


def test_quantize_a_mediapipe_model_with_custom_ops(tmp_path):
    """face_landmark_with_attention runs three MediaPipe custom ops: dynamic range and float16 keep them (with
    the versions MediaPipe looks them up by) and say the runtime needs their kernels; int8 needs the float model
    to run here for calibration, and --verify to run the result, which LiteRT cannot without those kernels: one
    error line each, naming the ops and what to do (they used to be a refusal asking for a flag the command did
    not have, and an internal error)."""
    from metadata_helpers import google_models

    src = next(p for p in google_models() if p.endswith("face_landmark_with_attention.tflite"))
    custom = {"Landmarks2TransformMatrix", "TransformLandmarks", "TransformTensorBilinear"}
    versions = {op.custom_code: v for op, v in _custom_versions(open(src, "rb").read())}
    for mode in ("dynamic", "float16"):
        out = tmp_path / f"{mode}.tflite"
        r = run_cli("quantize", src, "-o", str(out), "--quantize", mode)
        assert r.returncode == 0, r.stderr
        assert all(n in r.stderr for n in custom) and "warning" in r.stderr
        assert {op.custom_code: v for op, v in _custom_versions(out.read_bytes())} == versions
    np.savez(tmp_path / "c.npz", input_1=np.random.default_rng(0).uniform(0, 1, (4, 192, 192, 3)).astype(np.float32))
    r = run_cli("quantize", src, "-o", str(tmp_path / "i.tflite"), "--quantize", "int8", "--representative-data",
                str(tmp_path / "c.npz"))
    one_error_line(r, 1, "calibration", "Landmarks2TransformMatrix", "--quantize dynamic or float16")
    r = run_cli("quantize", src, "-o", str(tmp_path / "v.tflite"), "--quantize", "dynamic", "--verify")
    one_error_line(r, 1, "--verify", "custom op", "drop --verify")
    r = run_cli("quantization-report", src, str(tmp_path / "dynamic.tflite"))
    one_error_line(r, 1, "report", "Landmarks2TransformMatrix")
    assert not (tmp_path / "i.tflite").exists() and not (tmp_path / "v.tflite").exists()


def _custom_versions(data: bytes) -> list:
    m = read_model(data)
    return [(m.opcode(op), m.opcode(op).version) for sg in m.subgraphs for op in sg.operators
            if m.opcode(op).custom_code]


# -- the report -------------------------------------------------------------------------------------------------

def test_report_text_json_and_html(model_files, tmp_path):
    _, d, _, _, _ = model_files
    out = tmp_path / "q.tflite"
    r = run_cli("convert", str(d / "cnn.keras"), "-o", str(out), "--quantize", "int8", "--representative-data",
                str(d / "calib.npz"), "--report", "-q")
    assert r.returncode == 0, r.stderr
    assert "quantization report (int8" in r.stdout and "SNR dB" in r.stdout and "CONV_2D" in r.stdout
    report = tmp_path / "report.json"
    r = run_cli("convert", str(d / "cnn.keras"), "-o", str(out), "--quantize", "int8", "--representative-data",
                str(d / "calib.npz"), "--report", str(report), "-q")
    assert r.returncode == 0, r.stderr
    rep = json.loads(report.read_text())
    snrs = [o["snr_db"] for o in rep["ops"]]
    assert snrs == sorted(snrs) and len(snrs) >= 4
    assert all(o["layer"] for o in rep["ops"]) and {"float", "quantized"} <= set(rep["sizes"])
    html = tmp_path / "report.html"
    float_model = tmp_path / "float.tflite"
    assert run_cli("convert", str(d / "cnn.keras"), "-o", str(float_model), "-q").returncode == 0
    r = run_cli("quantization-report", str(float_model), str(out), "--representative-data", str(d / "calib.npz"),
                "--html", str(html))
    assert r.returncode == 0, r.stderr
    page = html.read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page and "CONV_2D" in page


def test_keep_float_worst_recovers_accuracy_where_one_layer_is_the_problem(keras, tmp_path):
    """A layer whose int8 weights lose everything: each output channel has one huge weight, on an input that is
    always zero (harmless in float), so its per-channel scale leaves the real weights at zero. Its output error
    is the worst, and so is every op's after it; the report's "added" column finds the one that makes the
    error, and keeping that one float recovers the accuracy (from the command line too)."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((16,), name="x")
    h = keras.layers.Dense(32, activation="relu", name="first")(inp)
    h = keras.layers.Dense(32, activation="relu", name="bad")(h)
    out = keras.layers.Dense(4, name="logits")(keras.layers.Dense(16, activation="relu", name="after")(h))
    model = keras.Model(inp, out)
    first, bad = model.get_layer("first"), model.get_layer("bad")
    w, b = first.get_weights()
    w[:, 0], b[0] = 0.0, -1.0  # unit 0 of "first" is always 0 after its ReLU
    first.set_weights([w, b])
    w, b = bad.get_weights()
    w[0, :] = 1000.0  # ... and "bad" weighs it hugely
    bad.set_weights([w, b])
    rng = np.random.default_rng(0)
    calib = rng.standard_normal((64, 16)).astype(np.float32)
    test = rng.standard_normal((64, 16)).astype(np.float32)
    ref = np.asarray(model(test))

    def quantized(**extra):
        conv = liteconvert.TFLiteConverter.from_keras_model(model)
        conv.optimizations = [liteconvert.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
        for k, v in extra.items():
            setattr(conv, k, v)
        return conv.convert(), conv

    plain, conv = quantized(report=True)
    report = conv.quantization_report
    assert report.culprits(1)[0].layer == "bad", report.to_text()  # the Keras layer's name (its scope: bad_1)
    assert report.worst(1)[0].snr_db < 3  # the error is everywhere downstream
    kept, conv2 = quantized(keep_float_worst=1)
    err_plain = np.abs(_outputs(plain, test) - ref).max()
    err_kept = np.abs(_outputs(kept, test) - ref).max()
    assert err_kept < err_plain / 20, (err_plain, err_kept)
    assert np.mean(_outputs(kept, test).argmax(1) == ref.argmax(1)) >= 0.95
    assert any("keep_float_worst" in line and "bad" in line for line in conv2.log)
    # the layer by its Keras name, as a user types it; a name that matches nothing is a warning, not silence
    by_name, _ = quantized(keep_float=["bad"])
    assert np.abs(_outputs(by_name, test) - ref).max() < err_plain / 20
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quantized(keep_float=["badd"])
    assert any("'badd' name(s) no op or layer" in str(w.message) for w in caught)
    # the command line
    src = tmp_path / "m.keras"
    model.save(src)
    np.savez(tmp_path / "calib.npz", x=calib)
    out = tmp_path / "kept.tflite"
    r = run_cli("convert", str(src), "-o", str(out), "--quantize", "int8", "--representative-data",
                str(tmp_path / "calib.npz"), "--keep-float-worst", "1", "-q")
    assert r.returncode == 0, r.stderr
    assert np.abs(_outputs(out.read_bytes(), test) - ref).max() < err_plain / 20


@pytest.mark.parametrize("mode,min_cosine", [("dynamic", 0.99), ("int8", 0.98), ("float16", 0.99999)])
def test_quantize_a_sparse_mediapipe_model(tmp_path, mode, min_cosine):
    """pose_detection keeps its weights sparse (float16, behind DENSIFY ops): dynamic range and int8 decode them
    and quantize them; float16 leaves them sparse (they are already float16) and computes what the source does."""
    from metadata_helpers import google_models

    src = next(p for p in google_models() if p.endswith("pose_detection.tflite"))
    before = open(src, "rb").read()
    spec = make_interpreter(before).get_input_details()[0]
    rng = np.random.default_rng(0)
    args = ["quantize", src, "-o", str(tmp_path / "q.tflite"), "--quantize", mode, "-q"]
    if mode == "int8":
        np.savez(tmp_path / "calib.npz", **{spec["name"]: rng.uniform(-1, 1, (16, *spec["shape"][1:])).astype(
            np.float32)})
        args += ["--representative-data", str(tmp_path / "calib.npz")]
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr
    data = (tmp_path / "q.tflite").read_bytes()
    m = read_model(data)
    kinds = {m.operator_codes[op.opcode_index].display_name for op in m.subgraphs[0].operators}
    if mode == "float16":
        assert "DENSIFY" in kinds and len(data) <= len(before)
    else:
        assert "DENSIFY" not in kinds and "int8" in {t.dtype for t in m.subgraphs[0].tensors}
    assert open(src, "rb").read() == before
    a, b = make_interpreter(before), make_interpreter(data)
    for seed in range(2):
        x = np.random.default_rng(seed + 1).uniform(-1, 1, spec["shape"]).astype(np.float32)
        a.set_tensor(spec["index"], x)
        a.invoke()
        b.set_tensor(b.get_input_details()[0]["index"], x)
        b.invoke()
        for da, db in zip(a.get_output_details(), b.get_output_details(), strict=True):
            want, got = a.get_tensor(da["index"]), b.get_tensor(db["index"])
            cos = float(np.dot(want.ravel(), got.ravel()) / (np.linalg.norm(want) * np.linalg.norm(got)))
            assert cos >= min_cosine, (mode, da["name"], cos)


def test_report_on_a_model_without_signatures_measures_hybrid_ops(tmp_path):
    """MediaPipe's files have no SignatureDefs; dynamic range leaves every activation float, so the report
    measures the ops that read int8 weights by their float outputs."""
    from metadata_helpers import google_models

    src = next(p for p in google_models() if p.endswith("face_detection_short_range.tflite"))
    out = tmp_path / "dr.tflite"
    assert run_cli("quantize", src, "-o", str(out), "--quantize", "dynamic", "-q").returncode == 0
    r = run_cli("quantization-report", src, str(out), "--json")
    assert r.returncode == 0, r.stderr
    ops = json.loads(r.stdout)["ops"]
    assert len(ops) >= 10 and "CONV_2D" in {o["op"] for o in ops}  # (small weights stay float)
    assert min(o["cosine"] for o in ops) > 0.95


def test_dynamic_min_elements_is_configurable(model_files, tmp_path):
    """Dynamic range leaves weights of fewer than 1024 elements float, as Google's converter does; the threshold
    is ``dynamic_min_elements`` / ``--dynamic-min-elements``, and a bad value is one clear error."""
    model, d, _, test, ref = model_files

    def int8_weights(**extra) -> int:
        conv = liteconvert.TFLiteConverter.from_keras_model(model)
        conv.optimizations = [liteconvert.Optimize.DEFAULT]
        for k, v in extra.items():
            setattr(conv, k, v)
        data = conv.convert()
        assert np.abs(_outputs(data, test) - ref).max() < 0.05
        return sum(t.dtype == "int8" for t in read_model(data).subgraphs[0].tensors)

    default, everything = int8_weights(), int8_weights(dynamic_min_elements=0)
    assert everything > default >= 1  # (the 3x3x3x16 stem and the 64x10 head are under 1024)
    with pytest.raises(liteconvert.errors.InvalidOptionError, match="dynamic_min_elements"):
        int8_weights(dynamic_min_elements=-1)
    out = tmp_path / "all.tflite"
    r = run_cli("convert", str(d / "cnn.keras"), "-o", str(out), "--quantize", "dynamic", "--dynamic-min-elements",
                "0", "-q")
    assert r.returncode == 0, r.stderr
    assert sum(t.dtype == "int8" for t in read_model(out.read_bytes()).subgraphs[0].tensors) == everything
    one_error_line(run_cli("convert", str(d / "cnn.keras"), "-o", str(out), "--quantize", "float16",
                           "--dynamic-min-elements", "0"), 2, "--dynamic-min-elements")
