"""The TFLite frontend: any float ``.tflite`` read into the IR and written back gives the same model.

Round trip: ``import_tflite`` -> ``write_model`` (with the extras: TFLITE_METADATA, associated files) -> LiteRT.
Each round trip checks the signatures (names, dtypes, shape signatures, quantization of their tensors), the op
histogram, every tensor's quantization, every constant's bytes, the metadata, and the outputs on the same random
inputs (bit-identical: same kernels, same weights); and that importing the written file writes the same bytes
again. Sources: models our converter writes, the same models from Google's converter (float, dynamic range, full
int8), MediaPipe's Google-made files, a model with its weights after the flatbuffer, and hostile inputs.
"""

from __future__ import annotations

import collections
import glob
import hashlib
import io
import os
import sys

import numpy as np
import pytest
from conftest import ROOT, assert_close, while_cond_module

import liteconvert
from liteconvert import metadata as md_api
from liteconvert.errors import ConversionError, InvalidModelError, UnsupportedOpsError
from liteconvert.frontends.tflite import TFLiteFrontend, import_tflite
from liteconvert.ir import check_invariants
from liteconvert.tflite.reader import read_model
from liteconvert.tflite.writer import serialize, write_model
from liteconvert.verify import make_interpreter, random_inputs, run_tflite, signature_specs

FUZZ = os.path.join(ROOT, "tests", "data", "fuzz")


# -- what a file says, for comparing two files ------------------------------------------------------------------
def _quant(q) -> tuple | None:
    return None if q is None else (tuple(np.float32(q.scale)), tuple(q.zero_point), q.axis)


def _signatures(data) -> dict:
    """{key: (inputs, outputs)}, each {name: (dtype, shape signature, quantization)}; a file without
    SignatureDefs as the importer names it (``serving_default`` over subgraph 0, by tensor names)."""
    m = read_model(data)
    sigs = [(s.key, s.subgraph, s.inputs, s.outputs) for s in m.signatures]
    if not sigs:
        sg = m.subgraphs[0]
        sigs = [("serving_default", 0, {sg.tensors[i].name: i for i in sg.inputs},
                 {sg.tensors[i].name: i for i in sg.outputs})]
    out = {}
    for key, si, ins, outs in sigs:
        ts = m.subgraphs[si].tensors

        def desc(items, ts=ts):
            return {n: (ts[i].dtype, ts[i].shape_signature, _quant(ts[i].quantization)) for n, i in items.items()}

        out[key] = (desc(ins), desc(outs))
    return out


def _tensors(data) -> collections.Counter:
    """Every tensor used by an op or a subgraph interface: (subgraph, name, dtype, shape signature, quantization,
    digest of its constant bytes or None, sparse, variable)."""
    m = read_model(data)
    out: collections.Counter = collections.Counter()
    for sg in m.subgraphs:
        used = set(sg.inputs) | set(sg.outputs) | {i for op in sg.operators for i in (*op.inputs, *op.outputs)}
        for t in sg.tensors:
            if t.index not in used:
                continue
            raw = m.buffer_data(t.buffer) if 0 < t.buffer < len(m.buffers) else b""
            digest = hashlib.blake2b(raw, digest_size=8).hexdigest() if len(raw) else None
            out[(sg.index, t.name, t.dtype, t.shape_signature, _quant(t.quantization), digest, t.sparse,
                 t.is_variable)] += 1
    return out


def _ops(data) -> collections.Counter:
    out: collections.Counter = collections.Counter()
    for (name, _), n in read_model(data).op_histogram().items():
        out[name] += n
    return out


def _versions(data) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for (name, version), _ in read_model(data).op_histogram().items():
        out.setdefault(name, set()).add(version)
    return out


def _other_metadata(data) -> dict[str, bytes]:
    m = read_model(data)
    return {e.name: m.metadata_bytes(e.name) for e in m.metadata
            if e.name not in ("min_runtime_version", "TFLITE_METADATA")}


def _runs(data) -> bool:
    try:
        make_interpreter(data)
    except (RuntimeError, ValueError):
        return False
    return True


def _outputs(data, original, inputs_for):
    """{key: outputs} of ``data`` run by signature, and of ``original`` through the frontend's references (by
    tensor index when it has no SignatureDefs)."""
    frontend = TFLiteFrontend(original)
    loaded = frontend.load()
    got, want = {}, {}
    for key, ref in frontend.references(loaded).items():
        inputs = inputs_for(key)
        want[key] = ref(inputs)
        got[key] = run_tflite(data, inputs, key)
    return got, want


def _metadata(data) -> dict:
    try:
        return md_api.read(data)
    except InvalidModelError:  # damaged metadata (the fuzz corpus): compare the raw buffer
        return {"raw": read_model(data).metadata_bytes("TFLITE_METADATA")}


def roundtrip(original: bytes | str, batch: int = 2, seed: int = 0, exact: bool = True, run: bool = True) -> bytes:
    """Import, write back, and check that the two files say the same (and, with ``run``, compute the same on
    random inputs); returns the written file."""
    orig = original if isinstance(original, bytes) else open(original, "rb").read()
    model, extras = import_tflite(original)
    check_invariants(model)
    buf = io.BytesIO()
    write_model(model, buf, metadata=extras.metadata, files=extras.files)
    data = buf.getvalue()

    assert _signatures(data) == _signatures(orig)
    assert _ops(data) == _ops(orig)
    for name, versions in _versions(orig).items():
        # The writer's version rules, per op, reach the source's (Google's converter gives all ops of a kind the
        # highest version any of them needs; MediaPipe's files predate some rules).
        if not name.startswith("CUSTOM:"):
            assert max(_versions(data)[name]) >= max(versions), (name, versions, _versions(data)[name])
    assert _tensors(data) == _tensors(orig)
    assert _other_metadata(data) == _other_metadata(orig)
    assert _metadata(data) == _metadata(orig)
    assert read_model(data).description == read_model(orig).description

    if run and _runs(orig):
        specs = {key: signature_specs(data, key) for key in _signatures(data)}
        got, want = _outputs(data, original, lambda key: random_inputs(specs[key], batch=batch, seed=seed))
        for key in want:
            assert set(got[key]) == set(want[key]), key
            for name, w in want[key].items():
                if exact:
                    assert got[key][name].dtype == w.dtype and np.array_equal(got[key][name], w), (key, name)
                else:
                    assert_close(got[key][name], w, what=f"{key}/{name}")

    # Reading what we wrote gives the same bytes again.
    again, extras2 = import_tflite(data)
    buf2 = io.BytesIO()
    write_model(again, buf2, metadata=extras2.metadata, files=extras2.files)
    assert buf2.getvalue() == data
    return data


# -- sources: our converter and Google's -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cnn(keras):
    rng = np.random.default_rng(0)
    x = keras.Input((16, 16, 3), name="image")  # dynamic batch
    y = keras.layers.Conv2D(8, 3, padding="same", activation="relu6")(x)
    y = keras.layers.DepthwiseConv2D(3, strides=2, padding="valid", activation="relu")(y)
    y = keras.layers.Conv2D(16, 3, padding="same")(y)  # > 1024 weights: Google's dynamic range quantizes it
    y = keras.layers.MaxPooling2D(2)(y)
    y = keras.layers.AveragePooling2D(2, padding="same")(y)
    y = keras.layers.Flatten()(y)
    y = keras.layers.Dense(40, activation="relu")(y)
    y = keras.layers.Dense(10)(y)
    y = keras.layers.Softmax(name="probs")(y)
    model = keras.Model(x, y)
    for w in model.weights:
        w.assign(rng.standard_normal(w.shape).astype(np.float32) * 0.3)
    return model


@pytest.fixture(scope="module")
def multi_io(keras):
    a = keras.Input((8,), name="a")
    b = keras.Input((4,), name="b")
    h = keras.layers.Dense(6, activation="tanh")(keras.layers.Concatenate()([a, b]))
    out1 = keras.layers.Dense(3, name="score")(h)
    out2 = keras.layers.Dense(2, activation="sigmoid", name="gate")(keras.layers.Multiply()([h, h]))
    return keras.Model([a, b], [out1, out2])


@pytest.fixture(scope="module")
def control_flow(tf):
    """tf.while_loop with a tf.cond inside (WHILE and IF subgraphs)."""
    return while_cond_module(tf)


def _google(tf, make, **attrs) -> bytes:
    from liteconvert._console import silenced

    conv = make(tf.lite.TFLiteConverter)
    for k, v in attrs.items():
        setattr(conv, k, v)
    with silenced():
        return conv.convert()


@pytest.fixture(scope="module")
def converted(tf, cnn, multi_io, control_flow) -> dict:
    """name -> .tflite bytes, converted on first use."""
    cache: dict[str, bytes] = {}

    def rep():
        rng = np.random.default_rng(1)
        for _ in range(8):
            yield [rng.standard_normal((1, 16, 16, 3)).astype(np.float32)]

    fn = control_flow.serve.get_concrete_function()
    makers = {
        "ours_cnn": lambda: liteconvert.TFLiteConverter.from_keras_model(cnn).convert(),
        "ours_multi_io": lambda: liteconvert.TFLiteConverter.from_keras_model(multi_io).convert(),
        "ours_control_flow": lambda: liteconvert.TFLiteConverter.from_concrete_functions(
            [fn], control_flow).convert(),
        "google_cnn": lambda: _google(tf, lambda c: c.from_keras_model(cnn)),
        "google_multi_io": lambda: _google(tf, lambda c: c.from_keras_model(multi_io)),
        "google_control_flow": lambda: _google(tf, lambda c: c.from_concrete_functions([fn], control_flow)),
        "google_dynamic_range": lambda: _google(tf, lambda c: c.from_keras_model(cnn),
                                                optimizations=[tf.lite.Optimize.DEFAULT]),
        "google_int8": lambda: _google(tf, lambda c: c.from_keras_model(cnn), optimizations=[tf.lite.Optimize.DEFAULT],
                                       representative_dataset=rep, inference_input_type=tf.int8,
                                       inference_output_type=tf.int8,
                                       target_spec=_int8_spec(tf)),
    }

    class Lazy(dict):
        def __missing__(self, name):
            self[name] = makers[name]()
            return self[name]

    return Lazy(cache)


def _int8_spec(tf):
    spec = tf.lite.TargetSpec()
    spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return spec


SOURCES = ["ours_cnn", "ours_multi_io", "ours_control_flow", "google_cnn", "google_multi_io", "google_control_flow",
           "google_dynamic_range", "google_int8"]


@pytest.mark.parametrize("name", SOURCES)
def test_converted_models_round_trip(converted, name):
    data = converted[name]
    written = roundtrip(data, batch=3)
    ops = _ops(written)
    if "control_flow" in name:
        assert ops["WHILE"] == 1 and ops["IF"] == 1 and len(read_model(written).subgraphs) >= 4, ops
        x = np.random.default_rng(4).standard_normal((2, 3)).astype(np.float32)
        for n in (0, 3, 9):  # several trip counts, both branches of the inner IF
            want = run_tflite(data, {"x": x, "n": np.int32(n)})
            assert np.array_equal(run_tflite(written, {"x": x, "n": np.int32(n)})["out"], want["out"])
    if name.endswith("cnn"):
        assert {"CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D", "FULLY_CONNECTED",
                "SOFTMAX"} <= set(ops), ops
    if name == "google_dynamic_range":  # int8 weights, per-channel scales, float activations
        q = [t for sg in read_model(written).subgraphs for t in sg.tensors if t.quantization is not None]
        assert q and all(t.dtype == "int8" for t in q) and any(len(t.quantization.scale) > 1 for t in q)
    if name == "google_int8":
        info = read_model(written)
        sig = info.signatures[0]
        ts = info.subgraphs[sig.subgraph].tensors
        assert {ts[i].dtype for i in (*sig.inputs.values(), *sig.outputs.values())} == {"int8"}
        convs = [op for op in info.subgraphs[sig.subgraph].operators if info.opcode(op).name == "CONV_2D"]
        for op in convs:  # the filters, per output channel
            w = ts[op.inputs[1]]
            assert w.quantization.axis == 0 and len(w.quantization.scale) == w.shape[0] > 1


def test_import_reads_what_the_writer_takes(converted):
    """Options come back by name, shapes with -1, per-channel quantization with its axis, signatures by name."""
    model, extras = import_tflite(converted["google_int8"])
    conv = next(op for _, op in model.all_ops() if op.kind == "CONV_2D")
    assert conv.attrs["padding"] == "SAME" and conv.attrs["fused_activation_function"] == "RELU6"
    assert conv.inputs[1].quant.axis == 0 and conv.inputs[1].quant.scale.shape == (conv.inputs[1].shape[0],)
    assert conv.inputs[1].data.dtype == np.int8 and conv.inputs[2].data.dtype == np.int32
    sig = model.signatures[0]
    assert list(sig.inputs) == ["image"] and sig.inputs["image"].shape == (-1, 16, 16, 3)
    assert not extras.synthesized_signature and extras.metadata is None and extras.files == {}

    model, _ = import_tflite(converted["ours_control_flow"])
    loop = next(op for _, op in model.all_ops() if op.kind == "WHILE")
    assert set(loop.subgraphs) == {"cond_subgraph_index", "body_subgraph_index"} and not loop.attrs
    assert all(body in model.subgraphs for body in loop.subgraphs.values())


def test_weights_after_the_flatbuffer_round_trip(converted, tmp_path):
    """The >2 GB layout (Buffer.offset/size): read lazily from the file, written back either way."""
    from liteconvert.frontends.tflite import importer

    model, _ = import_tflite(converted["ours_cnn"])
    appended = serialize(model, weights_after_flatbuffer=True)
    assert any(b.appended for b in read_model(appended).buffers)
    path = tmp_path / "appended.tflite"
    path.write_bytes(appended)
    old = importer.LAZY_BYTES
    importer.LAZY_BYTES = 0  # every constant lazy: read from the memory-mapped file in slices
    try:
        model, _ = import_tflite(str(path))
        assert all(t.is_lazy for sg in model.subgraphs for t in sg.tensors() if t.is_const and t.shape)
        inline = serialize(model)
        model, _ = import_tflite(str(path))
        again = serialize(model, weights_after_flatbuffer=True)
    finally:
        importer.LAZY_BYTES = old
    assert not any(b.appended for b in read_model(inline).buffers)
    assert again == appended
    roundtrip(str(path))
    specs = signature_specs(appended)
    x = random_inputs(specs, batch=2)
    assert np.array_equal(run_tflite(inline, x)["probs"], run_tflite(converted["ours_cnn"], x)["probs"])


def test_metadata_and_files_survive(converted):
    """A model with TFLite metadata attached by liteconvert (a new head before the original bytes) and a file."""
    data = md_api.attach(converted["ours_cnn"], md_api.ModelMetadata(name="cnn", version="3", author="me"),
                         files={"labels.txt": b"cat\ndog\n"})
    _, extras = import_tflite(data)
    assert extras.files == {"labels.txt": b"cat\ndog\n"} and extras.metadata
    written = roundtrip(data)
    assert md_api.read(written)["associated_files"] == {"labels.txt": b"cat\ndog\n"}
    assert md_api.read(written)["metadata"]["name"] == "cnn"


def test_string_constants_round_trip():
    from liteconvert.ir import Model, Op, Signature, Subgraph, Tensor, const

    keys = const("keys", np.array([b"a", b"bb", b""], dtype=object), dtype=object)
    keys.dtype = "string"
    idx = Tensor("idx", "int32", (-1,))
    out = Tensor("out", "string", (-1,))
    sg = Subgraph("main", [idx], [out], [Op("GATHER", [keys, idx], [out], {"axis": 0})])
    data = serialize(Model([sg], [Signature("serving_default", sg, {"idx": idx}, {"out": out})]))
    model, _ = import_tflite(data)
    got = next(t for t in model.subgraphs[0].tensors() if t.name == "keys")
    assert got.dtype == "string" and list(got.data) == [b"a", b"bb", b""]
    written = roundtrip(data, run=False)  # (random indices would be out of range)
    assert list(run_tflite(written, {"idx": np.array([1, 0, 2], np.int32)})["out"]) == [b"bb", b"a", b""]


# -- MediaPipe's files -------------------------------------------------------------------------------------------
def _mediapipe() -> list[str]:
    """The 14 MediaPipe files, fetched and extracted on first use (a fresh machine has none cached)."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "metadata"))
    from metadata_helpers import google_models

    return google_models()


def test_mediapipe_models_round_trip():
    """All 14, the two with sparse weights behind DENSIFY ops included, computing exactly what they computed."""
    passed = []
    for path in _mediapipe():
        data = roundtrip(path)
        if any(n.startswith("CUSTOM:") for n in _ops(data)):
            custom = {n for n in _ops(data) if n.startswith("CUSTOM:")}
            assert custom <= set(_ops(path))
        passed.append(os.path.basename(path))
    assert len(passed) == 14 and {"pose_detection.tflite", "face_detection_full_range_sparse.tflite"} <= set(passed)


def test_mediapipe_custom_op_versions_survive():
    """MediaPipe registers its custom ops as version 2 and looks them up by version: the version survives."""
    path = next(p for p in _mediapipe() if p.endswith("face_landmark_with_attention.tflite"))
    model, _ = import_tflite(path)
    want = {n: v for n, v in _versions(path).items() if n.startswith("CUSTOM:")}
    got = {n: v for n, v in _versions(serialize(model)).items() if n.startswith("CUSTOM:")}
    assert got == want


def test_mediapipe_without_signatures_gets_serving_default():
    path = next(p for p in _mediapipe() if p.endswith("hand_landmark_lite.tflite"))
    model, extras = import_tflite(path)
    assert extras.synthesized_signature and extras.files.keys() == {"handedness.txt"}
    sg = model.subgraphs[0]
    (sig,) = model.signatures
    assert sig.key == "serving_default" and sig.subgraph is sg
    assert list(sig.inputs.values()) == sg.inputs and list(sig.outputs.values()) == sg.outputs
    assert list(sig.outputs) == [t.name for t in sg.outputs]
    assert model.metadata.keys() == {"reduced_precision_support"}


# -- the Frontend protocol, through the driver -------------------------------------------------------------------
def test_frontend_through_the_driver(converted, tmp_path):
    from liteconvert import driver
    from liteconvert.config import ConversionConfig
    from liteconvert.verify import verify_frontend

    path = tmp_path / "google_cnn.tflite"
    path.write_bytes(converted["google_cnn"])
    frontend = TFLiteFrontend(str(path))
    loaded = frontend.load()
    assert frontend.extras is not None and frontend.extras.description
    imported = frontend.import_model(loaded, ConversionConfig())
    assert imported.problems == [] and len(imported.records) == sum(_ops(path.read_bytes()).values())
    assert {r.status for r in imported.records} == {"builtin"} and all(r.node.startswith("0:") for r in
                                                                        imported.records)
    assert [(i.name, i.dtype, i.shape) for i in frontend.inputs(loaded)] == [("image", "float32", (-1, 16, 16, 3))]
    assert frontend.aliases(loaded) == {} and frontend.advice("CONV_2D", "builtin") is None
    # The float pipeline's passes run on the imported model; the result matches the original file.
    _, data = driver.convert(frontend, ConversionConfig(check_invariants=True))
    report = verify_frontend(frontend, data)
    assert report.ok(), report.text()


def test_frontend_reports_refused_and_keeps_custom_ops(tmp_path):
    from liteconvert.config import ConversionConfig
    from liteconvert.tflite.schema import builtin_code, fb
    from liteconvert.tflite.writer import pack_model

    files = {os.path.basename(p): p for p in _mediapipe()}
    # a builtin liteconvert does not declare (RANK) in place of pose_detection's DENSIFY
    m = fb().ModelT.InitFromPackedBuf(open(files["pose_detection.tflite"], "rb").read(), 0)
    for code in m.operatorCodes:
        if code.builtinCode == builtin_code("DENSIFY"):
            code.builtinCode = code.deprecatedBuiltinCode = builtin_code("RANK")
    (tmp_path / "rank.tflite").write_bytes(pack_model(m))
    refused = TFLiteFrontend(str(tmp_path / "rank.tflite"))
    imported = refused.import_model(refused.load(), ConversionConfig())
    assert imported.model is None and {p.op_type for p in imported.problems} == {"RANK"}
    assert {r.status for r in imported.records} == {"builtin", "unsupported"}

    # custom ops the file already runs stay, without --allow-custom-ops (which decides what a conversion may add)
    custom = TFLiteFrontend(files["face_landmark_with_attention.tflite"])
    loaded = custom.load()
    for config in (ConversionConfig(), ConversionConfig(allow_custom_ops=True)):
        imported = custom.import_model(loaded, config)
        assert imported.model is not None and not imported.problems
        assert {r.emitted for r in imported.records} == {"builtin", "custom"}
        assert {r.op_type for r in imported.records if r.emitted == "custom"} == {
            "Landmarks2TransformMatrix", "TransformLandmarks", "TransformTensorBilinear"}


# -- hostile input -----------------------------------------------------------------------------------------------
def test_fuzz_corpus_is_refused_cleanly():
    """Every input a fuzz run found: a clean InvalidModelError/UnsupportedOpsError, or (a valid model whose
    metadata was damaged: carried as opaque bytes) a faithful round trip."""
    outcomes = collections.Counter()
    for path in sorted(glob.glob(os.path.join(FUZZ, "*.tflite"))):
        try:
            import_tflite(path)
        except (InvalidModelError, UnsupportedOpsError):
            outcomes["refused"] += 1
            continue
        roundtrip(path)
        outcomes["round trip"] += 1
    assert outcomes["refused"] >= 12, outcomes


def test_mutated_models_never_raise_anything_else():
    """The fuzzer's mutations of its seed models (benchmarks/fuzz.py), imported and written in process."""
    import sys

    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import fuzz

    seeds = fuzz.seed_models()
    kinds = collections.Counter()
    for it in range(300):
        _, data = fuzz.mutate(seeds, 5, it)
        try:
            model, _ = import_tflite(data)
            serialize(model)
            kinds["imported"] += 1
        except ConversionError as e:
            kinds[type(e).__name__] += 1
    assert kinds["imported"] and kinds["InvalidModelError"], kinds


def test_what_the_writer_cannot_say_is_refused_all_at_once():
    """Options the writer cannot express, a missing table whose defaults are not LiteRT's zeros, intermediates,
    an undeclared builtin: each operator named, none dropped."""
    from ai_edge_litert import schema_py_generated as fb

    from liteconvert.ir import Model, Op, Signature, Subgraph, Tensor, const
    from liteconvert.tflite.schema import builtin_code
    from liteconvert.tflite.writer import pack_model

    x, a, f, y = (Tensor(n, "float32", (1, 4)) for n in ("x", "a", "f", "y"))
    w = const("w", np.eye(4, dtype=np.float32))
    sg = Subgraph("main", [x], [y], [Op("ADD", [x, x], [a], {"fused_activation_function": "NONE"}),
                                     Op("FULLY_CONNECTED", [a, w, None], [f]),
                                     Op("RELU", [f], [y])])
    data = serialize(Model([sg], [Signature("serving_default", sg, {"x": x}, {"y": y})]))
    assert import_tflite(data)  # as written: fine
    m = read_model(data).to_object()
    ops = m.subgraphs[0].operators
    ops[0].builtinOptionsType, ops[0].builtinOptions = 0, None  # ADD without AddOptions
    ops[1].builtinOptions.weightsFormat = fb.FullyConnectedOptionsWeightsFormat.SHUFFLED4x16INT8
    ops[1].intermediates = [0]
    m.operatorCodes[ops[2].opcodeIndex].builtinCode = builtin_code("RELU_N1_TO_1") + 1000  # no such code
    with pytest.raises(UnsupportedOpsError) as e:
        import_tflite(pack_model(m))
    reasons = {p.node: (p.op_type, p.reason) for p in e.value.problems}
    assert set(reasons) == {"0:0", "0:1", "0:2"}, reasons
    assert reasons["0:0"][0] == "ADD" and "pot_scale_int16" in reasons["0:0"][1]
    assert "weights_format" in reasons["0:1"][1] and "intermediate" in reasons["0:1"][1]
    assert "does not know" in reasons["0:2"][1]
