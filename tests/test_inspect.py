"""The .tflite reader and ``liteconvert inspect`` on our output, the reference converter's output, real MediaPipe
models (metadata, sparse tensors, custom ops) and a model whose weights live after the flatbuffer."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

from liteconvert import ir
from liteconvert.cli import EXIT_FAILED, EXIT_NOT_FOUND, main
from liteconvert.errors import InvalidModelError, SourceNotFoundError
from liteconvert.inspect import format_report, inspect_model
from liteconvert.ir import Model, Op, Signature, Subgraph, Tensor
from liteconvert.tflite.reader import read_model
from liteconvert.tflite.writer import buffer_alignment, serialize

MEDIAPIPE_MODELS = {
    "face_detection_short_range": "mediapipe/modules/face_detection/face_detection_short_range.tflite",
    "face_detection_full_range_sparse": "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
    "selfie_segmentation": "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
}


# -- fixtures ----------------------------------------------------------------------------------------------------


def _small_model() -> tuple[Model, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((5, 3)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    x = Tensor("features", "float32", (-1, 3))
    h = Tensor("h", "float32", (-1, 5))
    y = Tensor("scores", "float32", (-1, 5))
    sg = Subgraph("main", [x], [y], [
        Op("FULLY_CONNECTED", [x, ir.const("w", w), ir.const("b", b)], [h], {"fused_activation_function": "RELU"}),
        Op("SOFTMAX", [h], [y], {"beta": 1.0}),
    ])
    return Model([sg], [Signature("serving_default", sg, {"features": x}, {"scores": y})]), w, b


@pytest.fixture(scope="module")
def ours(tmp_path_factory) -> str:
    model, _, _ = _small_model()
    path = str(tmp_path_factory.mktemp("ours") / "small.tflite")
    with open(path, "wb") as f:
        f.write(serialize(model))
    return path


@pytest.fixture(scope="module")
def reference(tf, keras, tmp_path_factory) -> str:
    inp = keras.Input((6,), name="tokens")
    out = keras.layers.Dense(2, activation="sigmoid", name="prob")(keras.layers.Dense(4)(inp))
    data = tf.lite.TFLiteConverter.from_keras_model(keras.Model(inp, out)).convert()
    path = str(tmp_path_factory.mktemp("ref") / "reference.tflite")
    with open(path, "wb") as f:
        f.write(data)
    return path


@pytest.fixture(scope="session")
def mediapipe() -> dict[str, str]:
    """Real MediaPipe models, extracted from the mediapipe wheel (downloaded once into .cache, never installed)."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "metadata"))
    from metadata_helpers import google_models

    files = google_models()
    return {name: next(p for p in files if p.endswith(member)) for name, member in MEDIAPIPE_MODELS.items()}


# -- our output --------------------------------------------------------------------------------------------------


def test_inspect_our_model(ours):
    _, w, b = _small_model()
    r = inspect_model(ours)
    assert r["file_size"] == os.path.getsize(ours)
    assert r["weights_bytes"] == w.nbytes + b.nbytes
    assert r["graph_bytes"] == r["file_size"] - r["weights_bytes"]
    assert r["description"] == "liteconvert"
    assert r["tensor_count"] == 5 and r["buffer_count"] == 4  # sentinel, w, b, min_runtime_version
    assert r["constant_buffer_count"] == 2
    assert r["signatures"] == [{
        "key": "serving_default", "subgraph": 0,
        "inputs": [{"name": "features", "tensor": 0, "dtype": "float32", "shape": [-1, 3]}],
        "outputs": [{"name": "scores", "tensor": 4, "dtype": "float32", "shape": [-1, 5]}],
    }]
    assert r["ops"] == [{"op": "FULLY_CONNECTED", "version": 1, "count": 1},
                        {"op": "SOFTMAX", "version": 1, "count": 1}]
    assert r["min_runtime_version"] == "1.5.0"
    assert r["metadata"] == [{"name": "min_runtime_version", "size": 16, "value": "1.5.0"}]


def test_reader_gives_constant_data_as_views(ours):
    _, w, b = _small_model()
    with read_model(ours) as m:
        sg = m.subgraphs[0]
        by_name = {t.name: t for t in sg.tensors}
        np.testing.assert_array_equal(m.tensor_data(0, by_name["w"].index), w)
        np.testing.assert_array_equal(m.tensor_data(0, by_name["b"].index), b)
        assert m.tensor_data(0, by_name["features"].index) is None
        assert all(m.buffers[i].file_offset % buffer_alignment(m.buffers[i].size) == 0 for i in m.constant_buffers())


def test_cli_text_and_json(ours, capsys):
    assert main(["inspect", ours]) == 0
    text = capsys.readouterr().out
    assert "Signature 'serving_default' (subgraph 0):" in text
    assert "features" in text and "[-1, 3]" in text and "float32" in text
    assert "FULLY_CONNECTED" in text and "min_runtime_version" in text and '"1.5.0"' in text
    assert main(["inspect", "--json", ours]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == inspect_model(ours)


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "missing.tflite")]) == EXIT_NOT_FOUND
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("liteconvert: error: model not found")
    bogus = tmp_path / "notes.tflite"
    bogus.write_bytes(b"this is not a flatbuffer at all")
    assert main(["inspect", str(bogus)]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a .tflite model" in err
    assert main(["inspect", str(tmp_path)]) == EXIT_FAILED
    assert "directory" in capsys.readouterr().err


def test_reader_errors(ours, tmp_path):
    with pytest.raises(SourceNotFoundError):
        read_model(tmp_path / "nope.tflite")
    data = open(ours, "rb").read()
    with pytest.raises(InvalidModelError):
        read_model(data[:40])  # truncated: the identifier is there, the tables are not
    with pytest.raises(InvalidModelError):
        read_model(b"\x08\x00\x00\x00TFL3" + b"\xff" * 8)


def test_inspect_does_not_import_tensorflow(ours):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"))
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "liteconvert", "inspect", ours],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = [line for line in proc.stderr.splitlines() if "tensorflow" in line.lower()]
    assert not imported, imported[:5]
    assert "FULLY_CONNECTED" in proc.stdout


# -- weights after the flatbuffer ----------------------------------------------------------------------------------


def test_model_with_buffers_after_the_flatbuffer(ours, tmp_path):
    from liteconvert.verify import run_tflite

    model, w, b = _small_model()
    data = open(ours, "rb").read()
    moved = serialize(model, weights_after_flatbuffer=True)
    path = tmp_path / "appended.tflite"
    path.write_bytes(moved)
    r = inspect_model(str(path))
    assert r["appended_buffer_count"] == 2
    assert r["weights_bytes"] == w.nbytes + b.nbytes
    assert r["signatures"] == inspect_model(ours)["signatures"]
    with read_model(str(path)) as m:
        by_name = {t.name: t for t in m.subgraphs[0].tensors}
        np.testing.assert_array_equal(m.tensor_data(0, by_name["w"].index), w)
        np.testing.assert_array_equal(m.tensor_data(0, by_name["b"].index), b)
        assert all(m.buffers[i].appended for i in m.constant_buffers())
    # The runtime reads the same layout and computes the same thing.
    x = np.random.default_rng(2).standard_normal((3, 3)).astype(np.float32)
    np.testing.assert_allclose(run_tflite(moved, {"features": x})["scores"],
                               run_tflite(data, {"features": x})["scores"], rtol=1e-6)
    # A buffer that points past the end of the file is a clear error, not a crash.
    with pytest.raises(InvalidModelError, match="past the end"):
        read_model(moved[:-8])


# -- the reference converter's output -------------------------------------------------------------------------------


def test_inspect_reference_converter_output(reference):
    r = inspect_model(reference)
    sig = r["signatures"][0]
    assert sig["key"] == "serving_default"
    assert [(e["name"], e["dtype"], e["shape"]) for e in sig["inputs"]] == [("tokens", "float32", [-1, 6])]
    assert [(e["name"], e["dtype"], e["shape"]) for e in sig["outputs"]] == [("output_0", "float32", [-1, 2])]
    ops = {o["op"]: o["version"] for o in r["ops"]}
    assert ops["FULLY_CONNECTED"] == 1 and "LOGISTIC" in ops
    names = [e["name"] for e in r["metadata"]]
    assert "min_runtime_version" in names and "CONVERSION_METADATA" in names
    assert r["min_runtime_version"] == "1.14.0"  # LOGISTIC v1
    assert r["weights_bytes"] == 4 * (6 * 4 + 4 * 2)  # the kernels; it drops the all-zero biases
    assert "Signature 'serving_default'" in format_report(r)


# -- MediaPipe models -------------------------------------------------------------------------------------------------


def test_mediapipe_face_detection(mediapipe):
    from liteconvert.verify import make_interpreter

    path = mediapipe["face_detection_short_range"]
    r = inspect_model(path)
    assert r["weights_bytes"] + r["graph_bytes"] == r["file_size"] == os.path.getsize(path)
    assert 0 < r["weights_bytes"] < r["file_size"]
    # No SignatureDefs: the main subgraph's inputs and outputs stand in, named by tensor.
    sig = r["signatures"][0]
    assert sig["key"] is None
    interp = make_interpreter(open(path, "rb").read())
    assert [(e["name"], e["shape"], e["dtype"]) for e in sig["inputs"]] == [
        (d["name"], [int(v) for v in d["shape_signature"]], np.dtype(d["dtype"]).name)
        for d in interp.get_input_details()]
    assert [e["name"] for e in sig["outputs"]] == [d["name"] for d in interp.get_output_details()]
    assert any(e["name"] == "TFLITE_METADATA" and e["size"] > 0 for e in r["metadata"])
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "DEQUANTIZE"} <= {o["op"] for o in r["ops"]}
    text = format_report(r)
    assert "No signature defs" in text and "TFLITE_METADATA" in text


def test_mediapipe_sparse_model(mediapipe):
    r = inspect_model(mediapipe["face_detection_full_range_sparse"])
    assert r["sparse_tensor_count"] > 0
    assert {"DENSIFY": 1}.items() <= {o["op"]: o["version"] for o in r["ops"]}.items()
    assert r["min_runtime_version"] == "2.2.0"
    assert r["signatures"][0]["inputs"][0]["shape"] == [1, 192, 192, 3]


def test_mediapipe_custom_ops_and_associated_files(mediapipe):
    r = inspect_model(mediapipe["selfie_segmentation"])
    custom = [o for o in r["ops"] if o["op"].startswith("CUSTOM:")]
    assert [o["op"] for o in custom] == ["CUSTOM:Convolution2DTransposeBias"]
    assert r["associated_files"] == ["labels.txt"]
    assert "CUSTOM:Convolution2DTransposeBias" in format_report(r)


def test_inspect_bytes_with_two_subgraphs_and_signatures():
    model, _, _ = _small_model()
    z = Tensor("z", "float32", (2, -1))
    r_out = Tensor("relu", "float32", (2, -1))
    extra = Subgraph("second", [z], [r_out], [Op("RELU", [z], [r_out])])
    model.subgraphs.append(extra)
    model.signatures.append(Signature("rectify", extra, {"z": z}, {"relu": r_out}))
    r = inspect_model(serialize(model))
    assert r["path"] is None
    assert [s["key"] for s in r["signatures"]] == ["serving_default", "rectify"]
    assert r["signatures"][1]["subgraph"] == 1
    assert r["signatures"][1]["inputs"][0]["shape"] == [2, -1]
    assert [(sg["name"], sg["operators"]) for sg in r["subgraphs"]] == [("main", 2), ("second", 1)]
    assert {"op": "RELU", "version": 1, "count": 1} in r["ops"]
    text = format_report(r)
    assert "subgraphs: 0 main (2 ops), 1 second (1 ops)" in text
    assert "Signature 'rectify' (subgraph 1):" in text
