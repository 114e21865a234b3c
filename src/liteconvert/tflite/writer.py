"""Serialize an IR :class:`~liteconvert.ir.Model` into TFLite flatbuffer bytes.

The writer only serializes: op semantics, layouts and versions are decided before (ops declarations and
passes). It guarantees: buffer 0 is the empty sentinel, constant data is 16-byte aligned, identical constants
share one buffer, operator codes are listed once each, and the output is deterministic.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from ..ir import Model, Op, Tensor
from . import ops as opdecls
from .runtime_version import min_runtime_version
from .schema import builtin_code, fb, tensor_type

FILE_IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3
BUFFER_ALIGNMENT = 16

# Option fields whose values are enums given by name in Op.attrs.
_ENUM_FIELDS = {
    "padding": "Padding",
    "fused_activation_function": "ActivationFunctionType",
    "weights_format": "FullyConnectedOptionsWeightsFormat",
    "mode": "MirrorPadMode",
    "in_data_type": "TensorType",
    "out_data_type": "TensorType",
    "quantized_bias_type": "TensorType",
    "output_type": "TensorType",
    "idx_out_type": "TensorType",
    "out_type": "TensorType",
}


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


class AlignedBuffer:
    """A Buffer table whose data vector starts on a 16-byte boundary (the generated BufferT does not align).

    Public helper (stable name): put it in ``ModelT.buffers`` in place of a ``BufferT`` and ``ModelT.Pack`` will
    write ``data`` aligned to :data:`BUFFER_ALIGNMENT` bytes in the output file. Used by the writer for every
    buffer and by anything that rebuilds a model (e.g. adding metadata to a ``ModelT`` from the reader).

    With a non-zero ``offset`` the data is not put in the flatbuffer: the table records ``offset``/``size`` and
    the bytes are expected at that file offset, after the flatbuffer (see ``serialize(weights_after_flatbuffer=)``;
    offset 1 is the placeholder used while the final offsets are not known yet).
    """

    def __init__(self, data: bytes | np.ndarray, offset: int = 0):
        self.data = data  # bytes, or a 1-D uint8 array viewing a constant's memory (no copy)
        self.offset = offset
        self.release_after_pack = False  # drop ``data`` once it is copied into the builder

    @property
    def inline(self) -> bool:
        return self.offset == 0

    def Pack(self, builder: Any) -> int:
        s = fb()
        if not self.inline:
            s.BufferStart(builder)
            s.BufferAddOffset(builder, self.offset)
            s.BufferAddSize(builder, len(self.data))
            return s.BufferEnd(builder)
        vec = None
        if len(self.data):
            n = len(self.data)
            builder.StartVector(1, n, BUFFER_ALIGNMENT)
            builder.head = builder.head - n
            builder.Bytes[builder.head:builder.head + n] = memoryview(self.data)
            builder.vectorNumElems = n
            vec = builder.EndVector()
            if self.release_after_pack:
                self.data = b""
        s.BufferStart(builder)
        if vec is not None:
            s.BufferAddData(builder, vec)
        return s.BufferEnd(builder)


_AlignedBuffer = AlignedBuffer  # old private name


def tensor_bytes(t: Tensor) -> bytes | np.ndarray:
    """The raw buffer contents of a constant tensor, in TFLite's layout: bytes, or a flat uint8 view of the
    tensor's own memory when no conversion is needed (so big weights are not copied before packing)."""
    assert t.data is not None
    if t.dtype == "string":
        return _string_tensor_bytes([s if isinstance(s, bytes) else str(s).encode() for s in t.data.reshape(-1)])
    arr = np.ascontiguousarray(t.data, dtype=np.dtype(t.dtype).newbyteorder("<"))
    return arr.reshape(-1).view(np.uint8)


def _string_tensor_bytes(items: list[bytes]) -> bytes:
    # int32 count, count+1 int32 offsets from the buffer start, then the bytes.
    n = len(items)
    header = 4 * (n + 2)
    offsets = [header]
    for s in items:
        offsets.append(offsets[-1] + len(s))
    return np.asarray([n, *offsets], dtype="<i4").tobytes() + b"".join(items)


def build_options(op: Op, decl: opdecls.OpDecl) -> tuple[int, Any]:
    """The (union type, options object) pair of an op, from its declaration and attrs."""
    s = fb()
    if decl.options is None:
        public = {k: v for k, v in op.attrs.items() if not k.startswith("_")}
        if public:
            raise ValueError(f"{op.kind} takes no options, got {sorted(public)}")
        return 0, None
    opts = getattr(s, decl.options + "T")()
    for key, value in op.attrs.items():
        if key.startswith("_"):
            continue  # private analysis hints, never serialized
        attr = _camel(key)
        if not hasattr(opts, attr):
            raise ValueError(f"{op.kind}: {decl.options} has no field {key}")
        if isinstance(value, str) and key in _ENUM_FIELDS:
            enum = getattr(s, _ENUM_FIELDS[key])
            value = getattr(enum, value.upper())
        elif isinstance(value, (list, tuple, np.ndarray)):
            value = [int(v) for v in value]
        elif isinstance(value, (np.integer, np.floating, np.bool_)):
            value = value.item()
        setattr(opts, attr, value)
    return getattr(s.BuiltinOptions, decl.options), opts


def _runtime_version_bytes(version: str) -> bytes:
    # The reference converter stores the version as a NUL-padded 16-byte string.
    raw = version.encode()
    return raw + b"\0" * (16 - len(raw)) if len(raw) < 16 else raw


# Past this many bytes of constants the flatbuffer (2 GB at most) cannot hold them: they go after it.
APPEND_THRESHOLD = 2**31 - 2**26


def serialize(model: Model, weights_after_flatbuffer: bool | None = None, consume: bool = False) -> bytes:
    """Write ``model`` as TFLite flatbuffer bytes.

    ``weights_after_flatbuffer``: store constant tensor data after the flatbuffer, addressed by
    ``Buffer.offset``/``size`` (the layout LiteRT reads for models over 2 GB). ``None`` (default) does so only
    when the constants would not fit in a flatbuffer (more than :data:`APPEND_THRESHOLD` bytes).

    ``consume``: the caller gives ``model`` up. Each constant's memory is released as soon as its bytes are in
    the output, so the weights are not held twice; the model's constants are gone afterwards.
    """
    s = fb()
    buffers: list[Any] = [AlignedBuffer(b"")]
    buffer_index: dict[tuple[int, bytes], int] = {}

    def buffer_for(data: bytes | np.ndarray) -> int:
        # Identical constants share one buffer, keyed by size and a 128-bit digest of the bytes.
        key = (len(data), hashlib.blake2b(memoryview(data), digest_size=16).digest())
        if key not in buffer_index:
            buffers.append(AlignedBuffer(data))
            buffer_index[key] = len(buffers) - 1
        return buffer_index[key]

    op_codes: list[Any] = []
    op_code_index: dict[tuple[int, str | None, int], int] = {}
    versions: list[tuple[str, int]] = []

    subgraphs = []
    sg_tensor_index: list[dict[int, int]] = []
    listed: list[Tensor] = []
    for sg in model.subgraphs:
        tensors = sg.tensors()
        listed.extend(tensors)
        index = {t.uid: i for i, t in enumerate(tensors)}
        sg_tensor_index.append(index)
        sgt = s.SubGraphT()
        sgt.name = sg.name
        sgt.tensors = [_tensor_t(t, buffer_for) for t in tensors]
        sgt.inputs = [index[t.uid] for t in sg.inputs]
        sgt.outputs = [index[t.uid] for t in sg.outputs]
        sgt.operators = []
        for op in sg.ops:
            decl = opdecls.decl(op.kind)
            version = decl.version(op)
            code = builtin_code(op.kind)
            key = (code, op.custom_code, version)
            if key not in op_code_index:
                oc = s.OperatorCodeT()
                oc.builtinCode = code
                oc.deprecatedBuiltinCode = min(code, 127)
                oc.version = version
                oc.customCode = op.custom_code
                op_codes.append(oc)
                op_code_index[key] = len(op_codes) - 1
                versions.append((op.kind, version))
            opt = s.OperatorT()
            opt.opcodeIndex = op_code_index[key]
            opt.inputs = [index[t.uid] if t is not None else -1 for t in op.inputs]
            opt.outputs = [index[t.uid] for t in op.outputs]
            opt.builtinOptionsType, opt.builtinOptions = build_options(op, decl)
            if op.custom_options is not None:
                opt.customOptions = list(op.custom_options)
            sgt.operators.append(opt)
        subgraphs.append(sgt)
    if consume:  # the buffers now hold the only references to the constants' memory
        for t in listed:
            t.data = None

    sigs = []
    for sig in model.signatures:
        sgi = model.subgraphs.index(sig.subgraph)
        index = sg_tensor_index[sgi]
        sd = s.SignatureDefT()
        sd.signatureKey = sig.key
        sd.subgraphIndex = sgi
        sd.inputs = [_tensor_map(name, index[t.uid]) for name, t in sig.inputs.items()]
        sd.outputs = [_tensor_map(name, index[t.uid]) for name, t in sig.outputs.items()]
        sigs.append(sd)

    metadata = []
    entries = {"min_runtime_version": _runtime_version_bytes(min_runtime_version(versions))}
    entries.update((k, v) for k, v in model.metadata.items() if k != "min_runtime_version")
    for name, data in entries.items():
        m = s.MetadataT()
        m.name = name
        buffers.append(AlignedBuffer(data))
        m.buffer = len(buffers) - 1
        metadata.append(m)

    mt = s.ModelT()
    mt.version = SCHEMA_VERSION
    mt.description = model.description
    mt.operatorCodes = op_codes
    mt.subgraphs = subgraphs
    mt.buffers = buffers
    mt.signatureDefs = sigs
    mt.metadata = metadata

    const_buffers = buffers[1:len(buffer_index) + 1]  # the tensor constants, before the metadata buffers
    if weights_after_flatbuffer is None:
        weights_after_flatbuffer = sum(len(b.data) for b in const_buffers) > APPEND_THRESHOLD
    if weights_after_flatbuffer:
        return _pack_with_appended(mt, [b for b in const_buffers if len(b.data)])
    if consume:
        for b in const_buffers:
            b.release_after_pack = True
    return pack_model(mt)


def _pack_with_appended(mt: Any, appended: list[AlignedBuffer]) -> bytes:
    """Pack with ``appended`` buffers' bytes after the flatbuffer, each 16-byte aligned in the file."""
    for b in appended:
        b.offset = 1  # placeholder: makes the field present, so the second packing has the same size
    head = pack_model(mt)
    pos = _align(len(head))
    for b in appended:
        b.offset = pos
        pos = _align(pos + len(b.data))
    head2 = pack_model(mt)
    if len(head2) != len(head):
        raise AssertionError("flatbuffer size changed between packings")
    out = bytearray(head2)
    for b in appended:
        out += b"\0" * (b.offset - len(out))
        out += memoryview(b.data)
    return bytes(out)


def _align(n: int) -> int:
    return (n + BUFFER_ALIGNMENT - 1) // BUFFER_ALIGNMENT * BUFFER_ALIGNMENT


def pack_model(model_t: Any) -> bytes:
    """Pack a ``ModelT`` (ours, or one from ``TFLiteModel.to_object()``) into ``.tflite`` bytes.

    Every buffer is written 16-byte aligned (plain ``BufferT`` entries are wrapped in :class:`AlignedBuffer`)
    and the ``TFL3`` file identifier is set. Public helper with a stable name. Buffers stored after the
    flatbuffer (``Buffer.offset``/``size``) cannot be repacked this way: their bytes are not in the object tree.
    """
    import flatbuffers

    buffers = []
    for i, b in enumerate(model_t.buffers or []):
        if not isinstance(b, AlignedBuffer):
            if (getattr(b, "offset", 0) or 0) > 1:
                raise ValueError(f"buffer {i} is stored after the flatbuffer (offset/size); pack_model cannot "
                                 "carry its bytes")
            data = b.data
            b = AlignedBuffer(bytes(data) if data is not None and len(data) else b"")
        buffers.append(b)
    model_t.buffers = buffers
    # Size the builder once: growing it doubles and copies the whole model.
    items = sum(len(sg.tensors or []) + len(sg.operators or []) for sg in model_t.subgraphs or [])
    data = sum(len(b.data) + BUFFER_ALIGNMENT for b in buffers if b.inline)
    builder = flatbuffers.Builder(4096 + data + 256 * items)
    builder.Finish(model_t.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(memoryview(builder.Bytes)[builder.Head():])  # one copy (Output() would make two)


def _tensor_map(name: str, index: int) -> Any:
    tm = fb().TensorMapT()
    tm.name = name
    tm.tensorIndex = index
    return tm


def _tensor_t(t: Tensor, buffer_for: Any) -> Any:
    s = fb()
    tt = s.TensorT()
    tt.name = t.name
    tt.type = tensor_type(t.dtype)
    if t.shape is not None:
        tt.shape = [max(d, 1) if d < 0 else d for d in t.shape]
        tt.hasRank = True
        if any(d < 0 for d in t.shape):
            tt.shapeSignature = list(t.shape)
    tt.buffer = buffer_for(tensor_bytes(t)) if t.is_const else 0
    tt.isVariable = t.is_variable
    if t.quant is not None:
        q = s.QuantizationParametersT()
        q.scale = [float(v) for v in np.atleast_1d(t.quant.scale)]
        q.zeroPoint = [int(v) for v in np.atleast_1d(t.quant.zero_point)]
        q.quantizedDimension = t.quant.axis
        if t.quant.min is not None:
            q.min = [float(v) for v in np.atleast_1d(t.quant.min)]
        if t.quant.max is not None:
            q.max = [float(v) for v in np.atleast_1d(t.quant.max)]
        tt.quantization = q
    return tt

