"""TFLite metadata: the M001 flatbuffer, attaching it faithfully, reading it back, the CLI and safe extraction.

The cross-checks against independent readers (tflite-support's MetadataDisplayer, MediaPipe Tasks) are in
test_metadata_crosscheck.py (slow: they build side environments).
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from conftest import run_cli
from metadata_helpers import ROOT, _plain, google_models, model_meaning

from liteconvert import metadata as md_api
from liteconvert.metadata import container, schema

# A metadata dict that uses every table, union member and vector type of the schema.
RICH = {
    "name": "rich", "description": "every field", "version": "3",
    "subgraph_metadata": [{
        "name": "main", "description": "the only subgraph",
        "input_tensor_metadata": [
            {"name": "image", "description": "pixels", "dimension_names": ["b", "h", "w", "c"],
             "content": {"content_properties_type": "ImageProperties",
                         "content_properties": {"color_space": "GRAYSCALE",
                                                "default_size": {"width": 8, "height": 6}},
                         "range": {"min": 1, "max": 2}},
             "process_units": [{"options_type": "NormalizationOptions",
                                "options": {"mean": [0.5, 127.5], "std": [0.25, 1e-3]}}],
             "stats": {"max": [1.0], "min": [-1.0]}},
            {"name": "audio", "content": {"content_properties_type": "AudioProperties",
                                          "content_properties": {"sample_rate": 16000, "channels": 1}}},
        ],
        "output_tensor_metadata": [
            {"name": "boxes", "content": {"content_properties_type": "BoundingBoxProperties",
                                          "content_properties": {"index": [1, 0, 3, 2], "type": "CENTER",
                                                                 "coordinate_type": "PIXEL"}}},
            {"name": "scores", "content": {"content_properties_type": "FeatureProperties", "content_properties": {}},
             "process_units": [
                 {"options_type": "ScoreCalibrationOptions",
                  "options": {"score_transformation": "INVERSE_LOGISTIC", "default_score": 0.25}},
                 {"options_type": "ScoreThresholdingOptions", "options": {"global_score_threshold": 0.5}}],
             "associated_files": [
                 {"name": "labels_fr.txt", "description": "labels", "type": "TENSOR_AXIS_LABELS", "locale": "fr"},
                 {"name": "calib.csv", "type": "TENSOR_AXIS_SCORE_CALIBRATION"}]},
        ],
        "associated_files": [{"name": "vocab.txt", "type": "VOCABULARY"}],
        "input_process_units": [
            {"options_type": "BertTokenizerOptions", "options": {"vocab_file": [{"name": "vocab.txt"}]}},
            {"options_type": "SentencePieceTokenizerOptions",
             "options": {"sentencePiece_model": [{"name": "sp.model"}], "vocab_file": [{"name": "vocab.txt"}]}},
            {"options_type": "RegexTokenizerOptions",
             "options": {"delim_regex_pattern": "[ ]+", "vocab_file": [{"name": "vocab.txt"}]}}],
        "output_process_units": [],
        "input_tensor_groups": [{"name": "g", "tensor_names": ["image", "audio"]}],
        "output_tensor_groups": [{"name": "o", "tensor_names": ["boxes"]}],
        "custom_metadata": [{"name": "blob", "data": [0, 1, 2, 255]}],
    }],
    "author": "someone", "license": "Apache-2.0",
    "associated_files": [{"name": "index.ldb", "type": "SCANN_INDEX_FILE", "version": "2"}],
}


def test_schema_round_trip_every_field():
    data = schema.encode(RICH)
    assert data[4:8] == b"M001"
    back = schema.decode(data)
    assert back == {**RICH, "min_parser_version": "1.5.0"}
    # The custom metadata blob is 16-byte aligned in the buffer, as the schema's force_align asks.
    blob = bytes([0, 1, 2, 255])
    assert data.index(blob) % 16 == 0


MIN_VERSION_CASES = [
    ({}, "1.0.0"),
    ({"associated_files": [{"name": "v", "type": "VOCABULARY"}]}, "1.0.1"),
    ({"subgraph_metadata": [{"input_process_units": []}]}, "1.1.0"),
    ({"subgraph_metadata": [{"input_tensor_metadata": [{"process_units": [
        {"options_type": "BertTokenizerOptions", "options": {}}]}]}]}, "1.1.0"),
    ({"subgraph_metadata": [{"output_tensor_groups": []}]}, "1.2.0"),
    ({"subgraph_metadata": [{"input_tensor_metadata": [{"process_units": [
        {"options_type": "RegexTokenizerOptions", "options": {}}]}]}]}, "1.2.1"),
    ({"subgraph_metadata": [{"input_tensor_metadata": [{"content": {
        "content_properties_type": "AudioProperties", "content_properties": {}}}]}]}, "1.3.0"),
    ({"associated_files": [{"name": "i", "type": "SCANN_INDEX_FILE"}]}, "1.4.0"),
    ({"associated_files": [{"name": "i", "version": "1"}]}, "1.4.1"),
    ({"subgraph_metadata": [{"custom_metadata": []}]}, "1.5.0"),
]


@pytest.mark.parametrize(("extra", "version"), MIN_VERSION_CASES)
def test_min_parser_version_rules(extra, version):
    md = {"name": "m", **extra}
    assert schema.min_parser_version(md) == version
    assert schema.decode(schema.encode(md))["min_parser_version"] == version


@pytest.mark.parametrize(("bad", "message"), [
    ({"nmae": "typo"}, "unknown field"),
    ({"subgraph_metadata": [{"input_tensor_metadata": [{"content": {"content_properties": {}}}]}]}, "_type"),
    ({"associated_files": [{"name": "x", "type": "LABELS"}]}, "AssociatedFileType"),
    ({"subgraph_metadata": [{"input_tensor_metadata": [{"stats": {"max": ["a"]}}]}]}, "number"),
])
def test_schema_rejects_bad_input_with_the_path(bad, message):
    with pytest.raises(md_api.MetadataSchemaError, match=message):
        schema.encode(bad)


def test_decode_rejects_non_metadata():
    with pytest.raises(md_api.MetadataSchemaError, match="M001"):
        schema.decode(b"\x08\x00\x00\x00TFL3" + bytes(16))


# -- converted models ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def classifier(keras):
    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 3), name="pixels")
    x = keras.layers.Conv2D(4, 3, activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(3, activation="softmax", name="scores")(x)
    return keras.Model(inp, out)


@pytest.fixture(scope="module")
def plain(classifier):
    import liteconvert

    return liteconvert.TFLiteConverter.from_keras_model(classifier).convert()


LABELS = ["red", "green", "blue"]


def _classifier_md(**kw):
    args = {"name": "colors", "description": "Finds the dominant color.", "version": "1.0", "author": "liteconvert",
            "license": "Apache-2.0", "input_norm": (127.5, 127.5), "labels": LABELS}
    args.update(kw)
    return md_api.ImageClassifierMetadata(**args)


def _run_all(data: bytes, seed: int) -> list[np.ndarray]:
    """Run a model on random inputs by tensor index (works without signatures)."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=data, num_threads=1)
    it.allocate_tensors()
    rng = np.random.default_rng(seed)
    for d in it.get_input_details():
        if np.dtype(d["dtype"]).kind == "f":
            it.set_tensor(d["index"], rng.standard_normal(d["shape"]).astype(d["dtype"]))
        else:
            it.set_tensor(d["index"], rng.integers(0, 10, d["shape"]).astype(d["dtype"]))
    it.invoke()
    return [it.get_tensor(d["index"]).copy() for d in it.get_output_details()]


def _outputs_equal(a: bytes, b: bytes, seed: int = 0) -> None:
    ra, rb = _run_all(a, seed), _run_all(b, seed)
    assert len(ra) == len(rb)
    for x, y in zip(ra, rb, strict=True):
        np.testing.assert_array_equal(x, y)


def test_converter_attaches_metadata(classifier, plain):
    import liteconvert

    conv = liteconvert.TFLiteConverter.from_keras_model(classifier)
    conv.metadata = _classifier_md()
    data = conv.convert()
    got = md_api.read(data)
    md = got["metadata"]
    assert md["name"] == "colors" and md["author"] == "liteconvert" and md["license"] == "Apache-2.0"
    assert md["min_parser_version"] == "1.0.0"
    (image,) = md["subgraph_metadata"][0]["input_tensor_metadata"]
    assert image["content"] == {"content_properties_type": "ImageProperties",
                                "content_properties": {"color_space": "RGB",
                                                       "default_size": {"width": 16, "height": 16}}}
    assert image["process_units"] == [{"options_type": "NormalizationOptions",
                                       "options": {"mean": [127.5], "std": [127.5]}}]
    assert image["stats"] == {"max": [1.0], "min": [-1.0]}
    (scores,) = md["subgraph_metadata"][0]["output_tensor_metadata"]
    assert scores["associated_files"][0]["name"] == "labels.txt"
    assert scores["associated_files"][0]["type"] == "TENSOR_AXIS_LABELS"
    assert got["associated_files"] == {"labels.txt": b"red\ngreen\nblue\n"}
    # Faithful: the model proper is the same, and so are the interpreter's outputs.
    assert model_meaning(data) == model_meaning(plain)
    _outputs_equal(plain, data)
    # The associated files are a plain, uncompressed zip that Python's zipfile reads from the model file.
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert [i.compress_type for i in zf.infolist()] == [zipfile.ZIP_STORED]
    # The metadata buffer and the model's own buffers are aligned as the writer aligns them.
    from ai_edge_litert import schema_py_generated as fb

    from liteconvert.tflite.writer import buffer_alignment

    m = fb.Model.GetRootAs(data, 0)
    for i in range(m.BuffersLength()):
        b = m.Buffers(i)
        if b.DataLength():
            assert (b._tab.Vector(4)) % buffer_alignment(b.DataLength()) == 0


def test_attach_twice_replaces_and_remove_restores(plain):
    once = md_api.attach(plain, _classifier_md())
    twice = md_api.attach(once, _classifier_md())
    assert twice == once  # the same metadata again gives the same bytes: nothing piles up
    other = md_api.attach(once, md_api.ModelMetadata(name="other", version="2"))
    from ai_edge_litert import schema_py_generated as fb

    for data in (once, other):
        m = fb.ModelT.InitFromPackedBuf(bytearray(data), 0)
        names = [e.name for e in m.metadata]
        assert names.count(b"TFLITE_METADATA") == 1
        assert len(m.buffers) == len(fb.ModelT.InitFromPackedBuf(bytearray(plain), 0).buffers) + 1
    assert md_api.read(other) == {"metadata": {"name": "other", "version": "2", "min_parser_version": "1.0.0"},
                                  "associated_files": {}}
    assert len(other) < len(once)  # the old labels and metadata are gone, not kept as dead bytes
    assert md_api.remove(once) == plain and md_api.remove(other) == plain
    _outputs_equal(plain, other)


def test_general_form_per_tensor(keras):
    import liteconvert

    a = keras.Input((4,), name="a")
    b = keras.Input((2,), name="b")
    out1 = keras.layers.Dense(3, name="logits")(keras.layers.Concatenate()([a, b]))
    out2 = keras.layers.Dense(1, name="value")(a)
    model = keras.Model([a, b], [out1, out2])
    data = liteconvert.TFLiteConverter.from_keras_model(model).convert()
    ins, outs = md_api.model_io(data)
    spec = md_api.ModelMetadata(
        name="two-headed", inputs=[md_api.TensorInfo(description="features a", value_range=(0, 1)),
                                   md_api.TensorInfo(name="b", normalization=([1, 2], [3, 4]))],
        outputs=[md_api.TensorInfo(labels=["x", "y", "z"], score_calibration=md_api.ScoreCalibration(
                     [(1.0, 2.0, 0.5), None, (1, 1, 0, 0.1)], transformation="LOG", default_score=0.2)),
                 md_api.TensorInfo(description="a scalar", dimension_names=["batch", "value"])])
    out = md_api.attach(data, spec)
    got = md_api.read(out)
    sg = got["metadata"]["subgraph_metadata"][0]
    assert [t["name"] for t in sg["input_tensor_metadata"]] == [ins[0].name, "b"]
    assert sg["input_tensor_metadata"][0]["stats"] == {"max": [1.0], "min": [0.0]}
    assert sg["input_tensor_metadata"][1]["process_units"][0]["options"] == {"mean": [1.0, 2.0], "std": [3.0, 4.0]}
    units = sg["output_tensor_metadata"][0]["process_units"]
    assert units == [{"options_type": "ScoreCalibrationOptions",
                      "options": {"score_transformation": "LOG", "default_score": 0.2}}]
    assert got["associated_files"]["score_calibration.txt"] == b"1.0,2.0,0.5\n\n1.0,1.0,0.0,0.1\n"
    assert got["associated_files"]["labels.txt"] == b"x\ny\nz\n"
    assert sg["output_tensor_metadata"][1]["dimension_names"] == ["batch", "value"]
    assert model_meaning(out) == model_meaning(data)
    _outputs_equal(data, out)
    assert len(outs) == 2


@pytest.mark.parametrize(("spec", "message"), [
    (lambda: _classifier_md(labels=["just", "two"]), "2 labels for an output of 3 classes"),
    (lambda: md_api.ModelMetadata(inputs=[md_api.TensorInfo(), md_api.TensorInfo()]), "2 inputs described"),
    (lambda: {"subgraph_metadata": [{"output_tensor_metadata": [
        {"associated_files": [{"name": "missing.txt"}]}]}]}, "missing.txt"),
    (lambda: {"nmae": "typo"}, "unknown key"),
    (lambda: _classifier_md(input_norm=(0, 0)), "std must not be 0"),
])
def test_attach_errors_say_what_is_wrong(plain, spec, message):
    with pytest.raises(md_api.MetadataError.__mro__[1], match=message):
        md_api.attach(plain, spec())


def test_not_a_model():
    with pytest.raises(md_api.MetadataError, match="TFL3"):
        md_api.read(b"hello world, not a model")


# -- models we did not write ----------------------------------------------------------------------------------------
EXPECTED_GOOGLE = {  # file: (metadata name, min_parser_version, packed files)
    "face_detection_short_range.tflite": ("Short Range Face Detection", "1.0.0", []),
    "hand_landmark_full.tflite": ("HandLandmarkDetector", "1.2.0", ["handedness.txt"]),
    "palm_detection_full.tflite": ("Multi Hand Detection", "1.0.0", ["labels.txt"]),
    "selfie_segmentation.tflite": ("ImageSegmenter", "1.5.0", ["labels.txt"]),
    "iris_landmark.tflite": (None, None, []),
}


def test_google_models_read_and_reattach_faithfully(tmp_path):
    """Every Google-made mediapipe model: our reader reads its metadata; replacing it keeps the model intact."""
    files = google_models()
    assert len(files) == 14
    ran = 0
    for path in files:
        with open(path, "rb") as f:
            original = f.read()
        got = md_api.read(path)
        base = os.path.basename(path)
        if base in EXPECTED_GOOGLE:
            name, version, packed = EXPECTED_GOOGLE[base]
            md = got["metadata"]
            assert (md and md.get("name"), md and md.get("min_parser_version")) == (name, version), base
            assert sorted(got["associated_files"]) == packed, base
        if got["metadata"] is not None:  # our writer reproduces Google's metadata exactly
            assert schema.decode(schema.encode(got["metadata"])) == got["metadata"], base
            same = md_api.attach(original, got["metadata"])
            assert md_api.read(same) == got, base
        # Replace the metadata (or add some), through the streaming file path.
        out = tmp_path / base
        md_api.attach_file(path, out, md_api.ModelMetadata(name="replaced", description=base))
        new = out.read_bytes()
        assert md_api.read(new)["metadata"]["name"] == "replaced"
        assert model_meaning(new) == model_meaning(original), base
        try:
            _run_all(original, 0)
        except (RuntimeError, ValueError):
            continue  # custom ops this runtime lacks: the parsed comparison above is the proof
        _outputs_equal(original, new)
        ran += 1
    assert ran >= 8


# -- models over 2 GB: buffers outside the flatbuffer -------------------------------------------------------------
def externalize(data: bytes, pad_to: int = 0) -> bytes:
    """Rewrite a model the way models over 2 GB are stored: constant data after the flatbuffer, addressed by
    ``Buffer.offset/size`` from the file start (``pad_to`` puts the first one at least that far)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as fb

    m = fb.ModelT.InitFromPackedBuf(bytearray(data), 0)
    blobs = {}
    for i, b in enumerate(m.buffers):
        if b.data is not None and len(b.data) and not any(e.buffer == i for e in m.metadata or []):
            blobs[i] = bytes(np.asarray(b.data, np.uint8))
            b.data = None
            b.offset, b.size = 2, len(blobs[i])  # placeholders with the final field widths

    def pack() -> bytes:
        builder = flatbuffers.Builder(1024)
        builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())

    fbytes = pack()
    pos = max(len(fbytes), pad_to)
    layout = {}
    for i, blob in blobs.items():
        pos = -(-pos // 64) * 64
        layout[i] = pos
        m.buffers[i].offset = pos
        pos += len(blob)
    fbytes2 = pack()
    assert len(fbytes2) == len(fbytes)
    out = bytearray(fbytes2) + bytearray(pos - len(fbytes2))
    for i, blob in blobs.items():
        out[layout[i]:layout[i] + len(blob)] = blob
    return bytes(out)


def test_external_buffers_are_shifted_and_still_run(plain):
    ext = externalize(plain)
    from ai_edge_litert import schema_py_generated as fb

    assert any(b.offset > 1 for b in fb.ModelT.InitFromPackedBuf(bytearray(ext), 0).buffers)
    _outputs_equal(plain, ext)  # the runtime reads such models
    out = md_api.attach(ext, _classifier_md())
    assert model_meaning(out) == model_meaning(ext)
    _outputs_equal(plain, out)
    assert md_api.read(out)["associated_files"] == {"labels.txt": b"red\ngreen\nblue\n"}
    assert md_api.remove(md_api.attach(out, _classifier_md(version="2"))) == ext


# -- extraction never leaves the directory --------------------------------------------------------------------------
def _with_zip(model: bytes, entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return model + buf.getvalue()


@pytest.mark.parametrize("evil", ["../escape.txt", "/tmp/abs-escape.txt", "a/../../escape.txt", "..\\escape.txt",
                                  "C:/escape.txt", "link/escape.txt", "link"])
def test_extract_never_writes_outside(plain, tmp_path, evil):
    target = tmp_path / "out"
    target.mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    os.symlink(outside, target / "link")
    model = _with_zip(plain, {"labels.txt": b"ok\n", evil: b"pwned"})
    before = sorted(p for p in tmp_path.rglob("*"))
    # (a member named like the symlink itself is refused as being in the way: links are never written through)
    with pytest.raises(md_api.MetadataError, match="outside" if evil != "link" else "already exists"):
        md_api.extract(model, target)
    assert sorted(p for p in tmp_path.rglob("*")) == before
    assert not list(outside.iterdir())
    assert not os.path.exists("/tmp/abs-escape.txt")


def test_extract_writes_subdirectories_inside(plain, tmp_path):
    model = _with_zip(plain, {"labels.txt": b"a\n", "sub/dir/vocab.txt": b"v\n", "./x.txt": b"x"})
    written = md_api.extract(model, tmp_path / "d")
    assert sorted(os.path.relpath(p, tmp_path / "d") for p in written) == ["labels.txt", "sub/dir/vocab.txt",
                                                                             "x.txt"]
    assert (tmp_path / "d" / "sub" / "dir" / "vocab.txt").read_bytes() == b"v\n"


# -- the command line -----------------------------------------------------------------------------------------------
cli = run_cli


def test_cli_set_show_extract_remove(plain, tmp_path):
    model = tmp_path / "plain.tflite"
    model.write_bytes(plain)
    (tmp_path / "labels.txt").write_text("red\ngreen\nblue\n")
    (tmp_path / "meta.json").write_text(json.dumps({
        "type": "image_classifier", "name": "colors", "description": "Finds the dominant color.", "version": "1.0",
        "author": "liteconvert", "license": "Apache-2.0", "input_norm": {"mean": [127.5], "std": [127.5]}}))
    r = cli("metadata", "set", str(model), "--from", str(tmp_path / "meta.json"), "--labels",
            str(tmp_path / "labels.txt"), "-o", str(tmp_path / "out.tflite"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("wrote ")
    out = (tmp_path / "out.tflite").read_bytes()
    assert out == md_api.attach(plain, _classifier_md())  # the CLI and the API agree byte for byte
    r = cli("metadata", "show", str(tmp_path / "out.tflite"))
    assert r.returncode == 0, r.stderr
    assert "model: colors (version 1.0)" in r.stdout
    assert "input 0 'image': image RGB 16x16; normalization mean [127.5] std [127.5]" in r.stdout
    assert "file labels.txt (TENSOR_AXIS_LABELS): 3 lines: red, green, blue" in r.stdout
    r = cli("metadata", "show", "--json", str(tmp_path / "out.tflite"))
    shown = json.loads(r.stdout)
    assert shown["metadata"] == md_api.read(out)["metadata"]
    assert shown["associated_files"][0]["name"] == "labels.txt"
    # 'show --json' output feeds 'set --from' (the schema form), files taken from the model itself.
    (tmp_path / "shown.json").write_text(r.stdout)
    r = cli("metadata", "set", str(tmp_path / "out.tflite"), "--from", str(tmp_path / "shown.json"), "-o",
            str(tmp_path / "again.tflite"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "again.tflite").read_bytes() == out
    r = cli("metadata", "extract", str(tmp_path / "out.tflite"), "-d", str(tmp_path / "files"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "files" / "labels.txt").read_text() == "red\ngreen\nblue\n"
    r = cli("metadata", "remove", str(tmp_path / "out.tflite"), "-o", str(tmp_path / "back.tflite"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "back.tflite").read_bytes() == plain
    r = cli("metadata", "show", str(model))
    assert r.stdout.strip() == "no TFLite metadata"


def test_cli_labels_only_and_errors(plain, tmp_path):
    model = tmp_path / "plain.tflite"
    model.write_bytes(plain)
    (tmp_path / "labels.txt").write_text("red\ngreen\nblue\n")
    r = cli("metadata", "set", str(model), "--labels", str(tmp_path / "labels.txt"), "-o", str(model))
    assert r.returncode == 0, r.stderr
    got = md_api.read(str(model))
    assert got["associated_files"] == {"labels.txt": b"red\ngreen\nblue\n"}
    assert got["metadata"]["subgraph_metadata"][0]["output_tensor_metadata"][0]["associated_files"][0]["name"] \
        == "labels.txt"
    (tmp_path / "bad.json").write_text('{"name": "x", "colour": 1}')
    r = cli("metadata", "set", str(model), "--from", str(tmp_path / "bad.json"), "-o", str(tmp_path / "o.tflite"))
    assert r.returncode == 1 and "unknown key(s) ['colour']" in r.stderr and r.stderr.count("\n") == 1
    assert not (tmp_path / "o.tflite").exists()
    r = cli("metadata", "show", str(tmp_path / "nope.tflite"))
    assert r.returncode == 3 and "not found" in r.stderr
    (tmp_path / "meta.yaml").write_text("name: from-yaml\nversion: '7'\n")
    r = cli("metadata", "set", str(model), "--from", str(tmp_path / "meta.yaml"), "-o", str(tmp_path / "y.tflite"))
    try:
        import yaml  # noqa: F401
    except ImportError:
        assert r.returncode == 2 and "PyYAML" in r.stderr
    else:
        assert r.returncode == 0, r.stderr
        assert md_api.read(str(tmp_path / "y.tflite"))["metadata"]["name"] == "from-yaml"


def test_import_stays_light():
    code = "import sys, liteconvert.metadata, liteconvert.commands.metadata; print('tensorflow' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")})
    assert r.stdout.strip() == "False", r.stderr


def test_head_layout_is_documented(plain):
    """The head starts with the root offset and TFL3, then our marker: (magic, P, length of the original)."""
    out = md_api.attach(plain, md_api.ModelMetadata(name="x"))
    magic, p, n = struct.unpack_from("<16sQQ", out, 8)
    assert magic == container.MAGIC and p % 64 == 0 and out[p:p + n] == plain


def test_remove_drops_metadata_of_models_we_did_not_write(tmp_path):
    from ai_edge_litert import schema_py_generated as fb

    path = next(p for p in google_models() if p.endswith("palm_detection_full.tflite"))
    with open(path, "rb") as f:
        original = f.read()
    bare = md_api.remove(path)
    assert md_api.read(bare) == {"metadata": None, "associated_files": {}}
    m = fb.ModelT.InitFromPackedBuf(bytearray(bare), 0)
    assert [e.name for e in m.metadata] == [e.name for e in fb.ModelT.InitFromPackedBuf(
        bytearray(original), 0).metadata if e.name != b"TFLITE_METADATA"]
    # Everything else is as it was; the metadata buffer is left empty so that buffer indices do not move.
    mo = fb.ModelT.InitFromPackedBuf(bytearray(original), 0)
    (md_index,) = [e.buffer for e in mo.metadata if e.name == b"TFLITE_METADATA"]
    assert m.buffers[md_index].data is None and mo.buffers[md_index].data is not None
    m.buffers[md_index] = mo.buffers[md_index]
    m.metadata, mo.metadata = None, None
    assert _plain(m) == _plain(mo)
    _outputs_equal(original, bare)
    # Metadata attached to the bare model, then removed again, gives the bare model back.
    again = md_api.attach(bare, md_api.ModelMetadata(name="x"))
    assert md_api.read(again)["metadata"]["name"] == "x"
    assert md_api.remove(again) == md_api.remove(bare)


def test_labels_file_and_relative_paths(plain, tmp_path):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "colors.txt").write_text("red\ngreen\nblue\n")
    by_path = md_api.attach(plain, _classifier_md(labels=None, labels_file=tmp_path / "cfg" / "colors.txt"))
    got = md_api.read(by_path)
    assert got["associated_files"] == {"colors.txt": b"red\ngreen\nblue\n"}
    # In a JSON description, file paths count from the JSON file's directory.
    (tmp_path / "cfg" / "meta.json").write_text(json.dumps({
        "name": "general", "inputs": [{"content": "image", "norm": [[0, 0, 0], [255, 255, 255]]}],
        "outputs": [{"labels_file": "colors.txt", "value_range": {"min": 0, "max": 1}}]}))
    model = tmp_path / "m.tflite"
    model.write_bytes(plain)
    r = cli("metadata", "set", str(model), "--from", str(tmp_path / "cfg" / "meta.json"), "-o", str(model), "-q",
            cwd=str(tmp_path))
    assert r.returncode == 0 and r.stdout == "", r.stderr
    got = md_api.read(str(model))
    assert got["associated_files"] == {"colors.txt": b"red\ngreen\nblue\n"}
    tm = got["metadata"]["subgraph_metadata"][0]["input_tensor_metadata"][0]
    assert tm["process_units"][0]["options"] == {"mean": [0.0, 0.0, 0.0], "std": [255.0, 255.0, 255.0]}
    assert md_api.remove(str(model)) == plain


@pytest.mark.parametrize(("d", "schema_form"), [
    ({"name": "x"}, True),
    ({"name": "x", "associated_files": [{"name": "v.txt", "type": "VOCABULARY"}]}, True),
    ({"name": "x", "associated_files": [{"name": "v.txt", "path": "v.txt"}]}, False),
    ({"name": "x", "outputs": [{"labels": ["a"]}]}, False),
    ({"type": "image_classifier"}, False),
    ({"subgraph_metadata": []}, True),
])
def test_schema_form_or_builder_form(d, schema_form):
    assert md_api.is_schema_form(d) is schema_form


def test_model_without_buffers_keeps_buffer_0_empty():
    import flatbuffers
    from ai_edge_litert import schema_py_generated as fb

    m = fb.ModelT()
    m.version = 3
    m.subgraphs = [fb.SubGraphT()]
    b = flatbuffers.Builder(0)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    data = bytes(b.Output())
    out = md_api.attach(data, md_api.ModelMetadata(name="nobuf"))
    mt = fb.ModelT.InitFromPackedBuf(bytearray(out), 0)
    assert len(mt.buffers) == 2 and mt.buffers[0].data is None
    assert [(e.name, e.buffer) for e in mt.metadata] == [(b"TFLITE_METADATA", 1)]
    assert md_api.read(out)["metadata"]["name"] == "nobuf" and md_api.remove(out) == data
