"""The TFLite writer and the op version rules, checked by reading our bytes back with LiteRT's schema bindings.

Most tests build IR by hand (no TensorFlow); the last ones convert Keras models and compare with the reference
converter. Version facts are from the reference's op version table (op_version.cc) and runtime table
(runtime_version.cc).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from liteconvert import ir
from liteconvert.ir import Model, Op, QuantParams, Signature, Subgraph, Tensor
from liteconvert.tflite import ops as opdecls
from liteconvert.tflite.runtime_version import RELEASES, min_runtime_version, release_for
from liteconvert.tflite.schema import builtin_code, builtin_names, fb
from liteconvert.tflite.writer import BUFFER_ALIGNMENT, SMALL_BUFFER, buffer_alignment, pack_model, serialize

# -- a hand-built model --------------------------------------------------------------------------------------


def _two_signature_model() -> Model:
    """serving_default: x[-1,4] -> FC/ADD/GELU/RESHAPE -> out; double: y[2] -> MUL by 2 -> twice."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 4)).astype(np.float32)
    x = Tensor("x", "float32", (-1, 4))
    wt = ir.const("w", w)
    w_dup = ir.const("w_dup", w.copy())  # same bytes: must share wt's buffer
    b = ir.const("b", np.array([0.5, -0.25, 1.0], np.float32))
    h1, h2, h3 = (Tensor(f"h{i}", "float32", (-1, 3)) for i in (1, 2, 3))
    s1, s2, g = Tensor("s1", "float32", (-1, 3)), Tensor("s2", "float32", (-1, 3)), Tensor("g", "float32", (-1, 3))
    out = Tensor("out", "float32", (-1, 3))
    main = Subgraph("main", [x], [out], [
        Op("FULLY_CONNECTED", [x, wt, b], [h1]),
        Op("FULLY_CONNECTED", [x, w_dup], [h2]),  # literally two inputs: version 6
        Op("FULLY_CONNECTED", [x, w_dup, None], [h3]),  # omitted bias: version 1, like the reference
        Op("ADD", [h1, h2], [s1], {"fused_activation_function": "RELU"}),
        Op("ADD", [s1, h3], [s2]),
        Op("GELU", [s2], [g]),  # builtin code 150 > 127
        Op("RESHAPE", [g, ir.const("shape", np.array([-1, 3], np.int32))], [out]),
    ])
    y = Tensor("y", "float32", (2,))
    twice = Tensor("twice", "float32", (2,))
    second = Subgraph("double", [y], [twice], [Op("MUL", [y, ir.const("two", np.float32(2.0))], [twice])])
    return Model([main, second], [
        Signature("serving_default", main, {"x": x}, {"out": out}),
        Signature("double", second, {"y": y}, {"twice": twice}),
    ])


def _reference_outputs(model: Model, xv: np.ndarray) -> np.ndarray:
    main = model.subgraphs[0]
    w = main.ops[0].inputs[1].data
    b = main.ops[0].inputs[2].data
    h = xv @ w.T
    s2 = np.maximum(h + b + h, 0) + h
    erf = np.vectorize(math.erf)
    return (0.5 * s2 * (1 + erf(s2 / math.sqrt(2)))).astype(np.float32)


@pytest.fixture(scope="module")
def built() -> tuple[Model, bytes]:
    model = _two_signature_model()
    ir.check_invariants(model)
    return model, serialize(model)


def _buffer_start(data: bytes, index: int) -> int | None:
    """Where buffer ``index``'s data starts in the file (None if it has no data), via the accessor API."""
    b = fb().Model.GetRootAs(data, 0).Buffers(index)
    if b.DataLength() == 0:
        return None
    return b._tab.Vector(b._tab.Offset(4))


def _aligned(data: bytes, index: int) -> bool:
    """Buffer ``index`` starts where :func:`buffer_alignment` says (16 bytes from 1 KiB, 8 below)."""
    start = _buffer_start(data, index)
    if start is None:
        return True
    size = fb().Model.GetRootAs(data, 0).Buffers(index).DataLength()
    return start % buffer_alignment(size) == 0


# -- the file format ---------------------------------------------------------------------------------------------


def test_file_identifier_and_schema_version(built):
    _, data = built
    assert data[4:8] == b"TFL3"
    assert fb().Model.GetRootAs(data, 0).Version() == 3


def test_buffer_zero_is_the_empty_sentinel(built):
    _, data = built
    m = fb().ModelT.InitFromPackedBuf(data, 0)
    assert m.buffers[0].data is None or len(m.buffers[0].data) == 0
    consts = {b"w", b"w_dup", b"b", b"shape", b"two"}
    for sg in m.subgraphs:
        for t in sg.tensors:
            assert (t.buffer != 0) == (t.name in consts), t.name


def test_constant_buffers_are_aligned(built):
    _, data = built
    m = fb().Model.GetRootAs(data, 0)
    starts = [_buffer_start(data, i) for i in range(m.BuffersLength())]
    with_data = [s for s in starts if s is not None]
    assert len(with_data) >= 5  # w, b, shape, two, min_runtime_version
    assert all(_aligned(data, i) for i in range(m.BuffersLength())), starts
    assert all(s % 8 == 0 for s in with_data), starts


def test_constants_from_one_kib_are_16_byte_aligned_and_small_ones_8():
    # Sizes around the threshold, in an order that leaves every 16-byte phase after the one before.
    sizes = [3, SMALL_BUFFER // 4, 5, SMALL_BUFFER // 4 - 1, 1, 7 * SMALL_BUFFER // 4 + 1, 2]
    x = Tensor("x", "float32", (1, 1))
    sg = Subgraph("main", [x], [], [])
    cur = x
    for i, n in enumerate(sizes):
        c = ir.const(f"c{i}", np.arange(n, dtype=np.float32).reshape(1, n) + i)
        out = Tensor(f"y{i}", "float32", (1, n))
        sg.ops.append(Op("ADD", [cur, c], [out]))
        cur = out
        nxt = Tensor(f"s{i}", "float32", (1, 1))
        sg.ops.append(Op("SUM", [cur, ir.const(f"axes{i}", np.asarray([1], np.int32))], [nxt], {"keep_dims": True}))
        cur = nxt
    sg.outputs = [cur]
    data = serialize(Model([sg]))
    m = fb().Model.GetRootAs(data, 0)
    seen = set()
    for i in range(m.BuffersLength()):
        start, size = _buffer_start(data, i), m.Buffers(i).DataLength()
        if start is None:
            continue
        seen.add(size >= SMALL_BUFFER)
        assert start % (BUFFER_ALIGNMENT if size >= SMALL_BUFFER else 8) == 0, (i, size, start)
    assert seen == {True, False}


def test_identical_constants_share_one_buffer(built):
    model, data = built
    m = fb().ModelT.InitFromPackedBuf(data, 0)
    by_name = {t.name.decode(): t for t in m.subgraphs[0].tensors}
    assert by_name["w"].buffer == by_name["w_dup"].buffer != 0
    # Every constant buffer holds distinct bytes.
    const_buffers = {t.buffer for sg in m.subgraphs for t in sg.tensors if t.buffer}
    contents = [bytes(m.buffers[i].data) for i in const_buffers]
    assert len(contents) == len(set(contents))
    np.testing.assert_array_equal(np.frombuffer(bytes(m.buffers[by_name["w"].buffer].data), "<f4").reshape(3, 4),
                                  model.subgraphs[0].ops[0].inputs[1].data)


def test_operator_codes_unique_with_deprecated_code_and_versions(built):
    model, data = built
    m = fb().ModelT.InitFromPackedBuf(data, 0)
    keys = [(c.builtinCode, c.customCode, c.version) for c in m.operatorCodes]
    assert len(keys) == len(set(keys))
    for c in m.operatorCodes:
        assert c.deprecatedBuiltinCode == min(c.builtinCode, 127)
    names = builtin_names()
    assert any(c.builtinCode > 127 for c in m.operatorCodes)  # GELU
    # Each operator's code carries the version its declaration's rule gives.
    for sg_ir, sg_fb in zip(model.subgraphs, m.subgraphs, strict=True):
        for op_ir, op_fb in zip(sg_ir.ops, sg_fb.operators, strict=True):
            code = m.operatorCodes[op_fb.opcodeIndex]
            assert names[code.builtinCode] == op_ir.kind
            assert code.version == opdecls.decl(op_ir.kind).version(op_ir)
    versions = sorted((names[c.builtinCode], c.version) for c in m.operatorCodes)
    assert versions == [("ADD", 1), ("FULLY_CONNECTED", 1), ("FULLY_CONNECTED", 6), ("GELU", 1), ("MUL", 1),
                        ("RESHAPE", 1)]


def test_omitted_optional_input_is_minus_one(built):
    _, data = built
    m = fb().ModelT.InitFromPackedBuf(data, 0)
    fcs = [op for op in m.subgraphs[0].operators][:3]
    assert len(fcs[0].inputs) == 3 and -1 not in list(fcs[0].inputs)
    assert len(fcs[1].inputs) == 2
    assert list(fcs[2].inputs)[2] == -1


def test_min_runtime_version_metadata(built):
    _, data = built
    m = fb().ModelT.InitFromPackedBuf(data, 0)
    entries = {md.name.decode(): bytes(m.buffers[md.buffer].data) for md in m.metadata}
    raw = entries["min_runtime_version"]
    assert len(raw) == 16 and raw.endswith(b"\0")
    # GELU v1 (2.9.0) is the newest of ADD v1, FULLY_CONNECTED v1/v6 (2.1.0), MUL v1, RESHAPE v1.
    assert raw.rstrip(b"\0") == b"2.9.0"
    names = builtin_names()
    assert raw.rstrip(b"\0").decode() == min_runtime_version(
        (names[c.builtinCode], c.version) for c in m.operatorCodes)


def test_user_metadata_is_kept_and_cannot_replace_min_runtime_version():
    model = _two_signature_model()
    model.metadata = {"my_labels": b"cat\ndog\n", "min_runtime_version": b"0.0.1"}
    data = serialize(model)
    m = fb().ModelT.InitFromPackedBuf(data, 0)
    entries = {md.name.decode(): bytes(m.buffers[md.buffer].data) for md in m.metadata}
    assert entries["my_labels"] == b"cat\ndog\n"
    assert entries["min_runtime_version"].rstrip(b"\0") == b"2.9.0"
    for md in m.metadata:
        assert _aligned(data, md.buffer)


def test_signatures_keys_names_and_tensor_indices(built):
    _, data = built
    m = fb().ModelT.InitFromPackedBuf(data, 0)
    sigs = {s.signatureKey.decode(): s for s in m.signatureDefs}
    assert list(sigs) == ["serving_default", "double"]
    for key, sg_index, ins, outs in (("serving_default", 0, ["x"], ["out"]), ("double", 1, ["y"], ["twice"])):
        s = sigs[key]
        assert s.subgraphIndex == sg_index
        sg = m.subgraphs[sg_index]
        assert [t.name.decode() for t in s.inputs] == ins
        assert [t.name.decode() for t in s.outputs] == outs
        # The names here equal the IR tensor names, so each map must point at the tensor of that name.
        for tm in (*s.inputs, *s.outputs):
            assert sg.tensors[tm.tensorIndex].name == tm.name
        assert [sg.tensors[i].name.decode() for i in sg.inputs] == ins
        assert [sg.tensors[i].name.decode() for i in sg.outputs] == outs


def test_dynamic_dims_in_shape_signature(built):
    _, data = built
    m = fb().ModelT.InitFromPackedBuf(data, 0)
    x = next(t for t in m.subgraphs[0].tensors if t.name == b"x")
    assert list(x.shape) == [1, 4] and list(x.shapeSignature) == [-1, 4]
    y = next(t for t in m.subgraphs[1].tensors if t.name == b"y")
    assert y.shapeSignature is None or list(y.shapeSignature) == [2]


def test_serializing_the_same_ir_twice_gives_identical_bytes(built):
    model, data = built
    assert serialize(model) == data
    assert serialize(_two_signature_model()) == data  # a fresh, equal IR too


def test_consuming_serialize_gives_the_same_bytes_and_releases_the_constants(built):
    _, data = built
    model = _two_signature_model()
    consts = [t for sg in model.subgraphs for t in sg.tensors() if t.is_const]
    assert serialize(model, consume=True) == data
    assert consts and all(t.data is None for t in consts)


def test_runs_in_litert_with_both_signatures(built):
    from liteconvert.verify import run_tflite

    model, data = built
    xv = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    got = run_tflite(data, {"x": xv}, signature="serving_default")
    np.testing.assert_allclose(got["out"], _reference_outputs(model, xv), rtol=1e-5, atol=1e-5)
    got = run_tflite(data, {"y": np.array([1.5, -2.0], np.float32)}, signature="double")
    np.testing.assert_array_equal(got["twice"], [3.0, -4.0])


def test_weights_after_the_flatbuffer(built):
    """The >2 GB layout, forced on a small model: constants after the flatbuffer at Buffer.offset/size."""
    from liteconvert.verify import run_tflite

    model, inline = built
    data = serialize(model, weights_after_flatbuffer=True)
    assert serialize(model, weights_after_flatbuffer=True) == data  # deterministic too
    m = fb().ModelT.InitFromPackedBuf(data, 0)
    const_buffers = {t.buffer for sg in m.subgraphs for t in sg.tensors if t.buffer}
    inline_m = fb().ModelT.InitFromPackedBuf(inline, 0)
    for i in const_buffers:
        b = m.buffers[i]
        assert b.offset > 1 and b.offset % BUFFER_ALIGNMENT == 0 and (b.data is None or len(b.data) == 0)
        assert data[b.offset:b.offset + b.size] == bytes(inline_m.buffers[i].data)
    md = {x.name.decode(): m.buffers[x.buffer] for x in m.metadata}
    assert bytes(md["min_runtime_version"].data).rstrip(b"\0") == b"2.9.0"  # metadata stays inline
    xv = np.random.default_rng(3).standard_normal((2, 4)).astype(np.float32)
    got = run_tflite(data, {"x": xv}, signature="serving_default")
    np.testing.assert_allclose(got["out"], _reference_outputs(model, xv), rtol=1e-5, atol=1e-5)


def test_pack_model_round_trip_keeps_alignment(built):
    _, data = built
    mt = fb().ModelT.InitFromPackedBuf(data, 0)
    again = pack_model(mt)
    m = fb().Model.GetRootAs(again, 0)
    for i in range(m.BuffersLength()):
        assert _aligned(again, i)
    assert again[4:8] == b"TFL3"


# -- version rules -----------------------------------------------------------------------------------------------


def _t(dtype: str, shape: tuple[int, ...] = (1, 4, 4, 8), q: int = 0) -> Tensor:
    t = Tensor("t", dtype, shape)
    if q:
        t.quant = QuantParams(np.full(q, 0.5, np.float32), np.zeros(q, np.int64))
    return t


def _op(kind: str, ins: list, out: Tensor | None = None, **attrs) -> Op:
    return Op(kind, ins, [out if out is not None else _t(ins[0].dtype if ins[0] is not None else "float32")],
              attrs)


f32, i8, i16 = (lambda *s: _t("float32", s or (1, 4, 4, 8))), (lambda *s: _t("int8", s or (1, 4, 4, 8), 1)), \
    (lambda *s: _t("int16", s or (1, 4, 4, 8), 1))

# (op, expected version, why) -- the expectations are the reference table's answers.
VERSION_CASES = [
    (_op("ADD", [f32(), f32()]), 1, "float"),
    (_op("ADD", [i8(), i8()]), 2, "int8"),
    (_op("ADD", [_t("int64"), _t("int64")]), 4, "int64"),
    (_op("ADD", [_t("int16"), _t("int16")]), 5, "int16 without quantization"),
    (_op("ADD", [i16(), i16()], i16(), pot_scale_int16=False), 3, "int16 quantized, general scale"),
    (_op("SUB", [f32(1, 2, 3, 4, 5), f32(5)]), 3, "5-D broadcast"),
    (_op("SUB", [i16(), i16()], i16(), pot_scale_int16=False), 5, "int16 quantized, general scale"),
    (_op("SUB", [_t("int64"), _t("int64")]), 4, "int64"),
    (_op("MUL", [i16(), i16()], i16()), 4, "int16 quantized"),
    (_op("MUL", [_t("int16"), _t("int16")]), 7, "int16 raw"),
    (_op("MUL", [_t("int64"), _t("int64")]), 5, "int64"),
    (_op("DIV", [_t("int32"), _t("int32")]), 1, "int32 needs no new version"),
    (_op("DIV", [f32(1, 2, 3, 4, 5), f32(5)]), 2, "5-D broadcast"),
    (_op("MAXIMUM", [f32(1, 2, 3, 4, 5), f32(5)]), 3, "5-D broadcast"),
    (_op("FLOOR_DIV", [i8(), i8()]), 3, "int8"),
    (_op("FLOOR_MOD", [i8(), i8()]), 2, "int8"),
    (_op("CONV_2D", [f32(), _t("int8", (4, 3, 3, 8), 4)], f32(), padding="SAME"), 5, "hybrid per-channel"),
    (_op("CONV_2D", [f32(), _t("int8", (4, 3, 3, 8), 1)], f32()), 2, "hybrid per-tensor"),
    (_op("CONV_2D", [i8(), _t("int8", (4, 3, 3, 8), 4)], i8()), 3, "int8"),
    (_op("CONV_2D", [f32(1, 8, 8, 8), f32(4, 3, 3, 4)]), 6, "grouped (filter has half the input channels)"),
    (_op("DEPTHWISE_CONV_2D", [f32(), f32(1, 3, 3, 8)], dilation_w_factor=2), 2, "dilation"),
    (_op("DEPTHWISE_CONV_2D", [i8(), _t("int8", (1, 3, 3, 8), 8)], i8()), 3, "int8"),
    (_op("FULLY_CONNECTED", [f32(2, 4), f32(3, 4), None]), 1, "omitted bias"),
    (_op("FULLY_CONNECTED", [f32(2, 4), f32(3, 4)]), 6, "two inputs"),
    (_op("FULLY_CONNECTED", [f32(2, 4), f32(3, 4), f32(3)], keep_num_dims=True), 5, "keep_num_dims"),
    (_op("FULLY_CONNECTED", [i8(2, 4), i8(3, 4), _t("int32", (3,))], i8()), 4, "int8"),
    (_op("FULLY_CONNECTED", [f32(2, 4), _t("int8", (3, 4), 1), f32(3)], f32()), 3, "hybrid"),
    (_op("FULLY_CONNECTED", [f32(2, 4), _t("int8", (3, 4), 3), f32(3)], f32()), 12, "hybrid per-channel"),
    (_op("TRANSPOSE_CONV", [_t("int32", (4,)), f32(), f32(), f32(8)]), 3, "bias"),
    (_op("TRANSPOSE_CONV", [_t("int32", (4,)), f32(), f32(), None], fused_activation_function="RELU"), 4, "act"),
    (_op("RESHAPE", [_t("int16"), _t("int32", (2,))]), 1, "RESHAPE has one version"),
    (_op("SQUEEZE", [_t("string", (1, 2))]), 2, "string"),
    (_op("TRANSPOSE", [f32(1, 2, 3, 4, 5, 6), _t("int32", (6,))]), 6, "6-D"),
    (_op("TRANSPOSE", [f32(1, 2, 3, 4, 5), _t("int32", (5,))]), 4, "5-D"),
    (_op("PAD", [_t("bool"), _t("int32", (4, 2))]), 5, "bool"),
    (_op("SUM", [i16(), _t("int32", (1,))]), 1, "int16 SUM has no own version"),
    (_op("SUM", [i8(), _t("int32", (1,))]), 2, "int8"),
    (_op("MEAN", [i16(), _t("int32", (1,))]), 3, "int16"),
    (_op("LEAKY_RELU", [i8()]), 1, "int8 LEAKY_RELU is version 1"),
    (_op("LEAKY_RELU", [i16()]), 2, "int16"),
    (_op("NEG", [i8()]), 1, "NEG has one version"),
    (_op("RELU", [_t("uint8")]), 2, "uint8"),
    (_op("LOG", [i8()]), 2, "int8"),
    (_op("SQRT", [i16()]), 2, "int16"),
    (_op("ABS", [_t("int32")]), 5, "int32"),
    (_op("ABS", [_t("int16")]), 4, "int16 raw"),
    (_op("ABS", [i16()]), 3, "int16 quantized"),
    (_op("CAST", [f32()], _t("float16")), 5, "float16"),
    (_op("CAST", [f32()], _t("int8")), 3, "int8"),
    (_op("CAST", [f32()], _t("int32")), 1, "float32 -> int32"),
    (_op("STRIDED_SLICE", [f32()] + [_t("int32", (4,))] * 3, offset=True), 8, "offset"),
    (_op("STRIDED_SLICE", [f32()] + [_t("int32", (4,))] * 3, new_axis_mask=2), 6, "new_axis_mask"),
    (_op("STRIDED_SLICE", [f32(1, 2, 3, 4, 5)] + [_t("int32", (5,))] * 3), 4, "5-D"),
    (_op("SLICE", [f32(1, 2, 3, 4, 5), _t("int32", (5,)), _t("int32", (5,))]), 5, "5-D"),
    (_op("GATHER", [f32(), _t("int32", (2,))], batch_dims=1), 5, "batch_dims"),
    (_op("GATHER", [_t("bool"), _t("int32", (2,))]), 3, "bool"),
    (_op("SPLIT", [_t("int32", ()), _t("int16")]), 4, "int16"),
    (_op("PACK", [_t("uint32"), _t("uint32")]), 4, "uint32"),
    (_op("UNPACK", [_t("bool")]), 3, "bool"),
    (_op("TILE", [i8(), _t("int32", (4,))]), 3, "int8"),
    (_op("BROADCAST_TO", [f32(), _t("int32", (4,))]), 2, "BROADCAST_TO starts at 2"),
    (_op("BROADCAST_TO", [i8(), _t("int32", (4,))]), 3, "int8"),
    (_op("FILL", [_t("int32", (2,)), _t("bool", ())]), 2, "bool value"),
    (_op("RESIZE_BILINEAR", [i16(), _t("int32", (2,))], half_pixel_centers=True), 4, "int16 wins"),
    (_op("RESIZE_BILINEAR", [f32(), _t("int32", (2,))], half_pixel_centers=True), 3, "half_pixel_centers"),
    (_op("RESIZE_NEAREST_NEIGHBOR", [f32(), _t("int32", (2,))], align_corners=True), 3, "align_corners"),
    (_op("SPACE_TO_BATCH_ND", [f32(1, 4, 8), _t("int32", (1,)), _t("int32", (1, 2))]), 3, "3-D"),
    (_op("ARG_MAX", [_t("bool"), _t("int32", ())]), 3, "bool"),
    (_op("LESS", [i16(), i16()], _t("bool")), 3, "int16"),
    (_op("GREATER", [i8(), i8()], _t("bool")), 2, "int8"),
    (_op("EQUAL", [_t("string", (2,)), _t("string", (2,))], _t("bool")), 3, "string"),
    (_op("NOT_EQUAL", [_t("int16"), _t("int16")], _t("bool")), 4, "int16"),
    (_op("DEQUANTIZE", [_t("float16")], f32()), 3, "float16"),
    (_op("DEQUANTIZE", [_t("int8", (4, 3), 4)], f32()), 5, "per-channel int8"),
    (_op("QUANTIZE", [f32()], i16()), 2, "to int16"),
    (_op("RANGE", [_t("int64", ())] * 3), 2, "int64"),
    (_op("GELU", [i8()]), 2, "int8"),
    (_op("L2_NORMALIZATION", [i8()], i8()), 2, "int8 output"),
]


@pytest.mark.parametrize("op,expected,why", VERSION_CASES,
                         ids=[f"{c[0].kind}-{c[2]}" for c in VERSION_CASES])
def test_version_rule(op, expected, why):
    assert opdecls.decl(op.kind).version(op) == expected, why


def test_every_declared_op_is_a_real_builtin_with_real_options():
    s = fb()
    for name, d in opdecls.DECLS.items():
        builtin_code(name)  # raises AttributeError for a misspelled op
        if d.options is not None:
            assert hasattr(s.BuiltinOptions, d.options), name
            assert hasattr(s, d.options + "T"), name


def test_runtime_table_covers_every_declared_op_and_every_version_a_rule_returns():
    for name in opdecls.DECLS:
        if name == "CUSTOM":
            continue
        assert name in RELEASES, f"{name} has no runtime release table"
        assert release_for(name, 2 if name == "BROADCAST_TO" else 1) is not None
    for op, expected, _ in VERSION_CASES:
        assert release_for(op.kind, expected) is not None, (op.kind, expected)


def test_min_runtime_version_semantics():
    assert min_runtime_version([]) == ""
    assert min_runtime_version([("CUSTOM", 1), ("RESHAPE", 2)]) == ""  # unlisted pairs are skipped
    assert min_runtime_version([("CONV_2D", 1), ("TANH", 1)]) == "1.14.0"
    assert min_runtime_version([("SOFTMAX", 1), ("LOGISTIC", 1)]) == "1.14.0"
    assert min_runtime_version([("ELU", 1)]) == "1.14.0"
    assert min_runtime_version([("TRANSPOSE", 7), ("TRANSPOSE", 2)]) == "2.14.4"
    assert min_runtime_version([("ADD", 1), ("FULLY_CONNECTED", 6), ("TILE", 1)]) == "2.1.0"
    assert min_runtime_version([("TILE", 1), ("SHAPE", 1)]) == "1.10.1"  # 1.10.1 > 1.10.0


# -- Keras models: determinism, and agreement with the reference converter -------------------------------------


@pytest.fixture(scope="module")
def keras_cnn(keras):
    inp = keras.Input((12, 12, 3), name="image")
    y = keras.layers.Conv2D(6, 3, activation="relu")(inp)
    y = keras.layers.DepthwiseConv2D(3, padding="same")(y)
    y = keras.layers.AveragePooling2D(2)(y)
    y = keras.layers.Flatten()(y)
    y = keras.layers.Dense(8, activation="tanh")(y)
    y = keras.layers.Dense(3, use_bias=False, name="logits")(y)
    return keras.Model(inp, y)


def test_converting_the_same_keras_model_twice_gives_identical_bytes(keras_cnn):
    import liteconvert

    a = liteconvert.TFLiteConverter.from_keras_model(keras_cnn).convert()
    b = liteconvert.TFLiteConverter.from_keras_model(keras_cnn).convert()
    assert a == b


def test_keras_output_has_writer_guarantees_and_reference_versions(tf, keras_cnn):
    import liteconvert

    data = liteconvert.TFLiteConverter.from_keras_model(keras_cnn).convert()
    ref = tf.lite.TFLiteConverter.from_keras_model(keras_cnn).convert()
    names = builtin_names()

    def versions(blob: bytes) -> dict[str, int]:
        m = fb().ModelT.InitFromPackedBuf(blob, 0)
        return {names[c.builtinCode]: c.version for c in m.operatorCodes}

    ours, theirs = versions(data), versions(ref)
    common = set(ours) & set(theirs)
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"} <= common
    assert {k: ours[k] for k in common} == {k: theirs[k] for k in common}

    m = fb().ModelT.InitFromPackedBuf(data, 0)
    assert m.buffers[0].data is None or len(m.buffers[0].data) == 0
    for i in range(len(m.buffers)):
        assert _aligned(data, i)
    for c in m.operatorCodes:
        assert c.deprecatedBuiltinCode == min(c.builtinCode, 127)
    md = {x.name.decode(): bytes(m.buffers[x.buffer].data) for x in m.metadata}
    assert md["min_runtime_version"].rstrip(b"\0").decode() == min_runtime_version(ours.items())
    sig = m.signatureDefs[0]
    assert sig.signatureKey == b"serving_default"
    assert [t.name.decode() for t in sig.inputs] == ["image"]
    assert [t.name.decode() for t in sig.outputs] == ["logits"]
    sg = m.subgraphs[sig.subgraphIndex]
    assert list(sg.tensors[sig.inputs[0].tensorIndex].shapeSignature) == [-1, 12, 12, 3]


# -- cross-check: our rules give the versions the reference converter wrote, op by op ----------------------------


def _ops_with_versions(data: bytes) -> list[tuple[Op, int, int]]:
    """Every operator of a .tflite model as an IR op (dtypes, static shapes, quantization, options by name),
    with its operator code index and the version that code carries."""
    import re

    from liteconvert.tflite.schema import dtype_of
    from liteconvert.tflite.writer import _ENUM_FIELDS

    s = fb()
    enum_names = {f: {v: k for k, v in vars(getattr(s, e)).items() if not k.startswith("_")}
                  for f, e in _ENUM_FIELDS.items()}
    m = s.ModelT.InitFromPackedBuf(data, 0)
    names = builtin_names()
    result = []
    for sg in m.subgraphs:
        tensors = []
        for t in sg.tensors:
            shape = tuple(int(d) for d in t.shape) if t.shape is not None else ()
            it = Tensor(t.name.decode(), dtype_of(t.type), shape)
            q = t.quantization
            if q is not None and q.scale is not None and len(q.scale):
                it.quant = QuantParams(np.asarray(q.scale), np.asarray(q.zeroPoint), q.quantizedDimension)
            tensors.append(it)
        for op in sg.operators:
            code = m.operatorCodes[op.opcodeIndex]
            attrs = {}
            for k, v in (vars(op.builtinOptions) if op.builtinOptions is not None else {}).items():
                key = re.sub(r"([A-Z])", r"_\1", k).lower()
                attrs[key] = enum_names[key].get(v, v) if key in enum_names else v
            ins = [tensors[i] if i >= 0 else None for i in op.inputs]
            result.append((Op(names[max(code.builtinCode, code.deprecatedBuiltinCode)], ins,
                              [tensors[i] for i in op.outputs], attrs), op.opcodeIndex, code.version))
    return result


@pytest.fixture(scope="module")
def keras_zoo(keras):
    """One Keras model touching many builtins: float and int8 conversions exercise many version branches."""
    L = keras.layers
    a = keras.Input((8, 8, 4), name="a")
    y = L.Conv2D(8, 3, padding="same", activation="relu")(a)
    y = L.DepthwiseConv2D(3, padding="same", dilation_rate=2)(y)
    y = L.BatchNormalization()(y)
    y = L.ReLU(6.0)(y)
    t = L.Conv2DTranspose(4, 3, strides=2, padding="same")(y)
    t = L.MaxPooling2D()(t)
    y = L.Concatenate()([L.AveragePooling2D(1)(y), t])
    y = L.ZeroPadding2D(1)(y)
    y = L.Cropping2D(1)(y)
    up = L.UpSampling2D(interpolation="bilinear")(y)
    up = L.UpSampling2D(interpolation="nearest")(L.MaxPooling2D(4)(up))
    y = L.Add()([y, L.LeakyReLU(0.1)(up)])
    y = L.Multiply()([y, L.Activation("sigmoid")(y)])
    y = L.Subtract()([y, L.Activation("tanh")(y)])
    g = L.GlobalAveragePooling2D()(y)
    f = L.Dense(6, use_bias=False)(L.Flatten()(L.Permute((2, 1, 3))(y)))
    out = L.Dense(3, activation="softmax", name="out")(L.Concatenate()([g, f]))
    return keras.Model(a, out)


def _assert_versions_agree(data: bytes) -> set[str]:
    """The reference writes one operator code per builtin, at the highest version its ops need (we write one
    per version). So per operator code: the highest of our rules' versions over its ops == the code's version."""
    groups: dict[int, tuple[str, int, list[Op]]] = {}
    for op, index, version in _ops_with_versions(data):
        groups.setdefault(index, (op.kind, version, []))[2].append(op)
    mismatches = []
    for kind, version, ops in groups.values():
        if kind in opdecls.DECLS:
            ours = max(opdecls.decl(kind).version(op) for op in ops)
            if ours != version:
                dtypes = sorted({str([t.dtype if t is not None else "-" for t in op.inputs]) for op in ops})
                mismatches.append(f"{kind} reference v{version}, ours v{ours} (inputs {dtypes})")
    assert not mismatches, mismatches
    return {kind for kind, _, _ in groups.values()}


def test_versions_agree_with_reference_on_float_model(tf, keras_zoo):
    kinds = _assert_versions_agree(tf.lite.TFLiteConverter.from_keras_model(keras_zoo).convert())
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "FULLY_CONNECTED", "RESIZE_BILINEAR"} <= kinds


@pytest.mark.filterwarnings("ignore:Statistics for quantized inputs")
def test_versions_agree_with_reference_on_int8_model(tf, keras_zoo):
    rng = np.random.default_rng(0)

    def samples():
        for _ in range(4):
            yield [rng.standard_normal((1, 8, 8, 4)).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(keras_zoo)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = samples
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    kinds = _assert_versions_agree(conv.convert())
    assert {"CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "SOFTMAX"} <= kinds


def test_versions_agree_with_reference_on_hybrid_model(tf, keras_zoo):
    conv = tf.lite.TFLiteConverter.from_keras_model(keras_zoo)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]  # dynamic-range: int8 weights, float activations
    kinds = _assert_versions_agree(conv.convert())
    assert "CONV_2D" in kinds
