"""Proof with readers nobody on our team wrote (slow: builds side virtual environments under .cache/venvs).

- tflite-support 0.4.4's ``MetadataDisplayer`` (and its C++ ``GetMinimumMetadataParserVersion``) reads the
  metadata we write, and our reader reads the metadata of the 14 Google-made ``.tflite`` files of
  ``mediapipe==0.10.14`` exactly as it does.
- MediaPipe Tasks' ``ImageClassifier`` runs an image classifier converted by us, using our metadata
  (normalization, labels), and returns our labels with the scores LiteRT gives.
- A model over 2 GB gets metadata by streaming, with bounded memory.

Each test skips, saying why, when its environment cannot be built. Run: ``python -m pytest -m slow
tests/metadata/test_crosscheck.py``.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from metadata_helpers import google_models, mediapipe_wheel
from test_metadata import MIN_VERSION_CASES, RICH, externalize

from liteconvert import metadata as md_api

pytestmark = pytest.mark.slow

TFS_PROBE = "from tflite_support import metadata; metadata.MetadataDisplayer"
MP_PROBE = "import mediapipe as mp; from mediapipe.tasks.python import vision; vision.ImageClassifier"

DISPLAY = textwrap.dedent("""
    import base64, json, sys
    if sys.argv[1] == "mediapipe":
        from mediapipe.tasks.python.metadata import metadata
        from mediapipe.tasks.cc.metadata.python import _pywrap_metadata_version
    else:
        from tflite_support import metadata
        from tensorflow_lite_support.metadata.cc.python import _pywrap_metadata_version
    out = {}
    for path in sys.argv[2:]:
        try:
            d = metadata.MetadataDisplayer.with_model_file(path)
        except ValueError as e:
            out[path] = {"error": str(e)}
            continue
        names = d.get_packed_associated_file_list()
        buf = d.get_metadata_buffer()
        out[path] = {"json": json.loads(d.get_metadata_json()), "files": names,
                     "contents": {n: base64.b64encode(d.get_associated_file_buffer(n)).decode() for n in names},
                     "min_parser_version": _pywrap_metadata_version.GetMinimumMetadataParserVersion(bytes(buf))}
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def tfs_python():
    from metadata_helpers import ensure_venv

    if not any(os.path.exists(p) for p in ("/usr/lib/x86_64-linux-gnu/libusb-1.0.so.0",
                                            "/lib/x86_64-linux-gnu/libusb-1.0.so.0")):
        pytest.skip("tflite-support's native module needs Debian's libusb-1.0-0 (apt-get install libusb-1.0-0)")
    return ensure_venv("tflite_support", [["tflite-support==0.4.4", "protobuf<4", "numpy<2"]], TFS_PROBE)


@pytest.fixture(scope="module")
def mp_python():
    from metadata_helpers import ensure_venv

    wheel = mediapipe_wheel()
    if wheel is None:
        pytest.skip("the mediapipe==0.10.14 cp311 wheel is not cached and pip could not download it")
    # mediapipe's own requirements pull jax and opencv-contrib; the vision tasks need only these.
    return ensure_venv("mediapipe", [["--no-deps", wheel],
                                     ["numpy<2", "protobuf>=3.20,<5", "absl-py", "attrs", "flatbuffers",
                                      "opencv-python-headless==4.10.0.84", "matplotlib<3.10"]], MP_PROBE)


def display(py: str, paths: list[str], reader: str = "tflite_support") -> dict:
    r = subprocess.run([py, "-c", DISPLAY, reader, *paths], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def assert_same(theirs, ours, where="metadata"):
    """Equal as plain data; floats to the 6 decimals flatc prints."""
    if isinstance(theirs, dict):
        keys = sorted(ours) if isinstance(ours, dict) else ours
        assert isinstance(ours, dict) and theirs.keys() == ours.keys(), f"{where}: {sorted(theirs)} != {keys}"
        for k in theirs:
            assert_same(theirs[k], ours[k], f"{where}.{k}")
    elif isinstance(theirs, list):
        assert isinstance(ours, list) and len(theirs) == len(ours), f"{where}: {theirs} != {ours}"
        for i, (a, b) in enumerate(zip(theirs, ours, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(theirs, float) or isinstance(ours, float):
        # flatc prints floats with 6 decimals (1.9140625 shows as 1.914062), so compare to that precision.
        assert abs(float(theirs) - float(ours)) <= 1e-6 * (1 + abs(float(ours))), f"{where}: {theirs} != {ours}"
    else:
        assert theirs == ours, f"{where}: {theirs!r} != {ours!r}"


def _check_against_displayer(py: str, paths: list[str], reader: str = "tflite_support") -> int:
    import base64

    shown = display(py, paths, reader)
    checked = 0
    for path in paths:
        theirs = shown[path]
        ours = md_api.read(path)
        if "error" in theirs:
            assert ours["metadata"] is None, f"{path}: {theirs['error']}"
            continue
        assert_same(theirs["json"], ours["metadata"], os.path.basename(path))
        assert theirs["min_parser_version"] == ours["metadata"]["min_parser_version"], path
        assert sorted(theirs["files"]) == sorted(ours["associated_files"]), path
        for name, b64 in theirs["contents"].items():
            assert base64.b64decode(b64) == ours["associated_files"][name], (path, name)
        checked += 1
    return checked


def test_google_models_read_like_tflite_support(tfs_python):
    paths = google_models()
    assert len(paths) == 14
    checked = _check_against_displayer(tfs_python, paths)
    print(f"Google's mediapipe models: {checked} with metadata read as tflite-support reads them, "
          f"{len(paths) - checked} without metadata on both sides")
    assert checked >= 10  # 10 of the 14 carry metadata; the other 4 are checked to have none on both sides


@pytest.fixture(scope="module")
def our_models(keras, tmp_path_factory) -> list[str]:
    """Models with metadata written by us: converted ones, a RICH one, an external-buffer one, Google's
    models with our metadata, and Google's own metadata re-written by our writer."""
    import liteconvert

    tmp_path = tmp_path_factory.mktemp("ours")

    keras.utils.set_random_seed(1)
    a = keras.Input((4,), name="a")
    b = keras.Input((2,), name="b")
    out1 = keras.layers.Dense(3, name="logits")(keras.layers.Concatenate()([a, b]))
    out2 = keras.layers.Dense(1, name="value")(a)
    two = liteconvert.TFLiteConverter.from_keras_model(keras.Model([a, b], [out1, out2])).convert()
    inp = keras.Input((24, 32, 3), name="pixels")
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inp))
    clf = liteconvert.TFLiteConverter.from_keras_model(
        keras.Model(inp, keras.layers.Dense(4, activation="softmax")(x))).convert()
    rich_files = {"labels_fr.txt": "un\ndeux\ntrois\n", "calib.csv": "1,2,3\n\n1,1,0,0.5\n", "vocab.txt": "a\nb\n",
                  "sp.model": b"\x00\x01binary", "index.ldb": b"\xff" * 40}
    cases = {
        "classifier.tflite": md_api.attach(clf, md_api.ImageClassifierMetadata(
            name="clf", description="d", version="1", author="me", license="MIT",
            input_norm=([0.0, 10.0, 20.0], [255.0, 128.0, 64.0]), labels=["w", "x", "y", "z"],
            score_calibration=md_api.ScoreCalibration([(1, 2, 3), None, (1, 1, 0, 0.5), (0.5, 1, -1)],
                                                      transformation="INVERSE_LOGISTIC", default_score=0.1))),
        "rich.tflite": md_api.attach(two, RICH, rich_files),
        "general.tflite": md_api.attach(two, md_api.ModelMetadata(
            name="g", inputs=[md_api.TensorInfo(value_range=(0, 1)), md_api.TensorInfo(content="image",
                                                                                      color_space="GRAYSCALE")],
            outputs=[md_api.TensorInfo(labels=["p", "q", "r"], score_threshold=0.3), md_api.TensorInfo()])),
        "external.tflite": md_api.attach(externalize(clf), md_api.ImageClassifierMetadata(
            name="ext", input_norm=(127.5, 127.5), labels=list("abcd"))),
        "replaced_twice.tflite": md_api.attach(md_api.attach(clf, md_api.ModelMetadata(name="first")),
                                               md_api.ModelMetadata(name="second", version="2")),
    }
    # One model per min_parser_version rule: the C++ GetMinimumMetadataParserVersion must agree with ours.
    for i, (extra, version) in enumerate(MIN_VERSION_CASES):
        md = {"name": f"v{version}", **extra}
        cases[f"version_{i}_{version}.tflite"] = md_api.attach(
            clf, md, {n: b"x\n" for n in md_api.schema.associated_file_names(md)})
    paths = []
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    # Our metadata on Google's models, replacing theirs.
    for src in google_models()[:4]:
        dst = tmp_path / ("google_" + os.path.basename(src))
        md_api.attach_file(src, dst, md_api.ModelMetadata(name="ours", description="replaced", author="us"))
        paths.append(str(dst))
    # Google's own metadata, re-written by our writer (decoded by us, encoded by us, files carried over).
    for src in google_models():
        theirs = md_api.read(src)
        if theirs["metadata"] is not None:
            dst = tmp_path / ("rewritten_" + os.path.basename(src))
            md_api.attach_file(src, dst, theirs["metadata"])
            paths.append(str(dst))
    return paths


@pytest.mark.parametrize("reader", ["tflite_support", "mediapipe"])
def test_our_metadata_reads_in_independent_readers(reader, our_models, request):
    """tflite-support's and MediaPipe's MetadataDisplayer (and their C++ min_parser_version) read what we wrote."""
    py = request.getfixturevalue("tfs_python" if reader == "tflite_support" else "mp_python")
    checked = _check_against_displayer(py, our_models, reader)
    print(f"{reader} MetadataDisplayer: {checked}/{len(our_models)} models with our metadata read identically")
    assert checked == len(our_models)
    rich = next(p for p in our_models if p.endswith("rich.tflite"))
    shown = display(py, [rich], reader)[rich]
    assert shown["json"]["min_parser_version"] == shown["min_parser_version"] == "1.5.0"
    assert shown["json"]["subgraph_metadata"][0]["custom_metadata"][0]["data"] == [0, 1, 2, 255]


# -- MediaPipe Tasks' ImageClassifier on a model we converted ----------------------------------------------------
COLORS = ["red", "green", "blue", "gray"]

CLASSIFY = textwrap.dedent("""
    import json, sys
    import numpy as np
    import mediapipe as mp
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions
    model, images = sys.argv[1], np.load(sys.argv[2])
    options = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=model), max_results=10)
    out = []
    with vision.ImageClassifier.create_from_options(options) as clf:
        for img in images:
            r = clf.classify(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(img)))
            out.append([(c.index, c.category_name, c.score) for c in r.classifications[0].categories])
    print(json.dumps(out))
""")


def _color_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(COLORS), n)
    imgs = rng.integers(0, 90, (n, 32, 32, 3)).astype(np.float32)
    for i, c in enumerate(labels):
        if c < 3:
            imgs[i, :, :, c] += rng.integers(110, 165)
        else:
            imgs[i] += rng.integers(40, 120)
    return np.clip(imgs, 0, 255).astype(np.uint8), labels


def test_mediapipe_image_classifier_uses_our_metadata(mp_python, keras, tmp_path):
    import liteconvert
    from liteconvert.verify import run_tflite

    keras.utils.set_random_seed(0)
    inp = keras.Input((32, 32, 3), name="image")
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(len(COLORS), activation="softmax", name="probs")(x)
    model = keras.Model(inp, out)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    train_x, train_y = _color_images(600, 0)
    model.fit((train_x - 127.5) / 127.5, train_y, epochs=15, batch_size=32, verbose=0)

    conv = liteconvert.TFLiteConverter.from_keras_model(model)
    conv.metadata = md_api.ImageClassifierMetadata(name="colors", description="Dominant color of a picture.",
                                                   version="1", author="liteconvert", license="Apache-2.0",
                                                   input_norm=(127.5, 127.5), labels=COLORS)
    path = tmp_path / "colors.tflite"
    path.write_bytes(conv.convert())

    test_x, test_y = _color_images(12, 1)
    np.save(tmp_path / "images.npy", test_x)
    r = subprocess.run([mp_python, "-c", CLASSIFY, str(path), str(tmp_path / "images.npy")], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    results = json.loads(r.stdout.strip().splitlines()[-1])

    sig = next(iter(md_api.model_io(path.read_bytes())[0])).name
    worst = 0.0
    correct = 0
    for img, label, cats in zip(test_x, test_y, results, strict=True):
        ref = run_tflite(path.read_bytes(), {sig: ((img[None].astype(np.float32) - 127.5) / 127.5)})
        (scores,) = ref.values()
        scores = scores[0]
        assert len(cats) == len(COLORS)
        for index, name, score in cats:
            assert name == COLORS[index]  # our label names, from our metadata's labels.txt
            worst = max(worst, abs(score - float(scores[index])))
        assert cats[0][1] == COLORS[int(np.argmax(scores))]  # same top-1 as LiteRT
        correct += cats[0][1] == COLORS[label]
    print(f"MediaPipe vs LiteRT: max |score difference| {worst:.2e}; top-1 correct {correct}/{len(test_y)}")
    assert worst < 1e-5
    assert correct >= 10


# -- over 2 GB ---------------------------------------------------------------------------------------------------
def test_model_over_2gb_is_streamed(tmp_path, keras):
    """A >2 GB model (weights after the flatbuffer, in a sparse file) gets metadata with little memory."""
    from ai_edge_litert import schema_py_generated as fb

    import liteconvert

    keras.utils.set_random_seed(0)
    inp = keras.Input((8,), name="x")
    plain = liteconvert.TFLiteConverter.from_keras_model(
        keras.Model(inp, keras.layers.Dense(3, activation="softmax")(inp))).convert()
    small = externalize(plain)
    m = fb.ModelT.InitFromPackedBuf(bytearray(small), 0)
    gap = (2 << 30) + 4096
    big = tmp_path / "big.tflite"
    with open(big, "wb") as f:  # the same model with its weights moved past 2 GB (a sparse file)
        blobs = [(i, small[b.offset:b.offset + b.size]) for i, b in enumerate(m.buffers) if b.offset > 1]
        for i, _ in blobs:
            m.buffers[i].offset += gap
        import flatbuffers

        builder = flatbuffers.Builder(1024)
        builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
        f.write(builder.Output())
        for i, blob in blobs:
            f.seek(m.buffers[i].offset)
            f.write(blob)
    assert os.path.getsize(big) > 2 << 30
    out = tmp_path / "big_md.tflite"
    code = textwrap.dedent(f"""
        from liteconvert import metadata
        metadata.attach_file({str(big)!r}, {str(out)!r},
                             metadata.ModelMetadata(name="big", outputs=[metadata.TensorInfo(labels=list("abc"))]))
        # VmHWM: this process's peak resident memory (ru_maxrss would include the forking pytest's).
        print([line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")][0])
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    peak_mb = int(r.stdout.split()[-1]) / 1024
    print(f"peak RSS while attaching to a {os.path.getsize(big) / 2**30:.2f} GiB model: {peak_mb:.0f} MB")
    assert peak_mb < 400
    got = md_api.read(str(out))
    assert got["metadata"]["name"] == "big" and got["associated_files"] == {"labels.txt": b"a\nb\nc\n"}
    import mmap

    with open(out, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        head_len = struct.unpack_from("<16sQQ", mm, 8)[1]  # our marker: P, where the original model starts
        root = fb.Model.GetRootAs(mm, 0)
        for i, blob in blobs:
            b = root.Buffers(i)
            assert b.Offset() == m.buffers[i].offset + head_len
            assert mm[b.Offset():b.Offset() + b.Size()] == blob
    # Stripping our head gives back the original file, byte for byte (compared by streaming hashes).
    import hashlib

    def digest(path, start=0, end=None):
        h = hashlib.sha256()
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            end = len(mm) if end is None else end
            for pos in range(start, end, 64 << 20):
                h.update(mm[pos:min(end, pos + (64 << 20))])
        return h.hexdigest()

    assert digest(out, head_len, head_len + os.path.getsize(big)) == digest(big)
