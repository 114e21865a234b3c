"""Serialize an IR :class:`~liteconvert.ir.Model` into a ``.tflite`` file, streamed to any binary stream.

The writer only serializes: op semantics, layouts and versions are decided before (ops declarations and
passes). It guarantees: buffer 0 is the empty sentinel, constant data is 16-byte aligned (8-byte under 1 KiB:
every element type's natural alignment; Google's converter aligns to 4), identical constants
share one buffer, operator codes are listed once each, the output is deterministic, and the model is never
held in memory twice: the tables are packed as a small head, the constants streamed after it (see
:func:`write_model`).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..ir import Model, Op, Tensor
from . import ops as opdecls
from .runtime_version import min_runtime_version
from .schema import builtin_code, fb, tensor_type

FILE_IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3
BUFFER_ALIGNMENT = 16
# Constants smaller than this are aligned to SMALL_BUFFER_ALIGNMENT only: with a 4-byte length in front of every
# vector, 16-byte alignment costs 12 bytes per bias-sized buffer, for no kernel (the largest element, int64 /
# float64 / a complex's parts, needs 8).
SMALL_BUFFER = 1024
SMALL_BUFFER_ALIGNMENT = 8


def buffer_alignment(size: int) -> int:
    """The alignment of a constant's data of ``size`` bytes in the file."""
    return BUFFER_ALIGNMENT if size >= SMALL_BUFFER else SMALL_BUFFER_ALIGNMENT

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


def option_field(key: str) -> tuple[str, str | None]:
    """How :func:`build_options` writes the option ``key`` (snake_case): the bindings' attribute name, and the
    schema enum whose value names it takes (None: the value is written as given). Public helper: the TFLite
    frontend reads options back with it."""
    return _camel(key), _ENUM_FIELDS.get(key)


class AlignedBuffer:
    """A Buffer table whose data vector starts aligned (:func:`buffer_alignment`; the generated BufferT does
    not align).

    Public helper (stable name): put it in ``ModelT.buffers`` in place of a ``BufferT`` and ``ModelT.Pack`` will
    write ``data`` aligned as :func:`buffer_alignment` says in the output file. Used by the writer for every
    buffer and by anything that rebuilds a model (e.g. adding metadata to a ``ModelT`` from the reader).

    With a non-zero ``offset`` the data is not put in the flatbuffer: the table records ``offset``/``size`` and
    the bytes are expected at that file offset, after the flatbuffer (see ``serialize(weights_after_flatbuffer=)``;
    offset 1 is the placeholder used while the final offsets are not known yet).
    """

    def __init__(self, data: bytes | np.ndarray, offset: int = 0):
        self.data = data  # bytes, or a 1-D uint8 array viewing a constant's memory (no copy)
        self.offset = offset

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
            builder.StartVector(1, n, buffer_alignment(n))
            builder.head = builder.head - n
            builder.Bytes[builder.head:builder.head + n] = memoryview(self.data)
            builder.vectorNumElems = n
            vec = builder.EndVector()
        s.BufferStart(builder)
        if vec is not None:
            s.BufferAddData(builder, vec)
        return s.BufferEnd(builder)




def tensor_bytes(t: Tensor) -> bytes | np.ndarray:
    """The raw buffer contents of a constant tensor, in TFLite's layout: bytes, or a flat uint8 view of the
    tensor's own memory when no conversion is needed (so big weights are not copied before packing)."""
    assert t.is_const
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


def build_options(op: Op, decl: opdecls.OpDecl, subgraph_index: dict[int, int] | None = None) -> tuple[int, Any]:
    """The (union type, options object) pair of an op, from its declaration and attrs; the subgraphs it runs
    become indices (``subgraph_index``: id of an IR subgraph -> its index in the model)."""
    s = fb()
    attrs = dict(op.attrs)
    for key, body in op.subgraphs.items():
        if key not in decl.subgraphs:
            raise ValueError(f"{op.kind} has no subgraph field {key}")
        if subgraph_index is None or id(body) not in subgraph_index:
            raise ValueError(f"{op.kind} runs subgraph {body.name}, which is not in the model")
        attrs[key] = subgraph_index[id(body)]
    if decl.options is None:
        public = {k: v for k, v in attrs.items() if not k.startswith("_")}
        if public:
            raise ValueError(f"{op.kind} takes no options, got {sorted(public)}")
        return 0, None
    opts = getattr(s, decl.options + "T")()
    for key, value in attrs.items():
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

# Big constants are written in blocks of about this many bytes, so that no weight needs a second full copy.
BLOCK_BYTES = 64 << 20


class _Planned:
    """One buffer to write: eager bytes (a view of a constant's memory, or metadata bytes), or a lazy constant
    streamed in blocks. ``pos``: where its data goes, from the start of the tail (the bytes after the head)."""

    __slots__ = ("appended", "lazy", "pos", "raw", "size", "tensors")

    def __init__(self, raw: bytes | np.ndarray | None, lazy: Any, size: int):
        self.raw = raw
        self.lazy = lazy
        self.size = size
        self.pos = 0
        self.appended = False
        self.tensors: list[Tensor] = []

    def Pack(self, builder: Any) -> int:  # the Buffer table, pointing at where the data will be
        s = fb()
        if self.appended:
            s.BufferStart(builder)
            s.BufferAddOffset(builder, self.pos)  # (the final pass sets pos to the absolute file offset)
            s.BufferAddSize(builder, self.size)
            return s.BufferEnd(builder)
        s.BufferStart(builder)
        if self.size:
            # A uoffset to the data vector, which follows the head: from this slot's distance to the end of the
            # head (builder.Offset()) and the vector's position in the tail.
            builder.Prep(4, 0)
            builder.PlaceUOffsetT(builder.Offset() + 4 + self.pos)
            builder.Slot(0)
        return s.BufferEnd(builder)


def _le(arr: np.ndarray, dtype: str) -> np.ndarray:
    return np.ascontiguousarray(arr, dtype=np.dtype(dtype).newbyteorder("<"))


def write_model(model: Model, out: Any, metadata: bytes | None = None, files: Mapping[str, bytes] | None = None,
                weights_after_flatbuffer: bool | None = None, consume: bool = False) -> int:
    """Write ``model`` as a ``.tflite`` file to the binary stream ``out``; returns the bytes written.

    The model is never built as one ``bytes``: a small head (every table) is packed first, its Buffer tables
    pointing forward at where each constant will be, then the constants are streamed after it, each 16-byte
    aligned, big lazy ones (``Tensor.lazy``) in blocks read from their source as they are written. Identical
    eager constants share a buffer (by a digest), lazy ones by their key.

    ``metadata``: a ``TFLITE_METADATA`` buffer; ``files``: associated files, written as an uncompressed zip at
    the end (as ``liteconvert.metadata`` reads them). ``weights_after_flatbuffer``: address constants by
    ``Buffer.offset``/``size`` instead of flatbuffer vectors (the layout for models over 2 GB; default: only
    when they would not fit). ``consume``: the caller gives ``model`` up: each constant is released once it is
    written.
    """
    s = fb()
    buffers: list[_Planned] = [_Planned(b"", None, 0)]
    by_digest: dict[tuple[int, bytes], int] = {}
    by_key: dict[Any, int] = {}

    def buffer_for(t: Tensor) -> int:
        if t.is_lazy and t.dtype != "string":
            lazy = t.lazy.astype(t.dtype)  # type: ignore[union-attr]
            if lazy.key is not None and lazy.key in by_key:
                index = by_key[lazy.key]
            else:
                buffers.append(_Planned(None, lazy, lazy.nbytes))
                index = len(buffers) - 1
                if lazy.key is not None:
                    by_key[lazy.key] = index
        else:
            data = tensor_bytes(t)
            key = (len(data), hashlib.blake2b(memoryview(data), digest_size=16).digest())
            if key not in by_digest:
                buffers.append(_Planned(data, None, len(data)))
                by_digest[key] = len(buffers) - 1
            index = by_digest[key]
        buffers[index].tensors.append(t)
        return index

    op_codes: list[Any] = []
    op_code_index: dict[tuple[int, str | None, int], int] = {}
    versions: list[tuple[str, int]] = []
    subgraphs = []
    sg_index = {id(sg): i for i, sg in enumerate(model.subgraphs)}
    sg_tensor_index: list[dict[int, int]] = []
    for sg in model.subgraphs:
        tensors = sg.tensors()
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
            opt.builtinOptionsType, opt.builtinOptions = build_options(op, decl, sg_index)
            if op.custom_options is not None:
                opt.customOptions = list(op.custom_options)
            sgt.operators.append(opt)
        subgraphs.append(sgt)
    n_consts = len(buffers) - 1

    sigs = []
    for sig in model.signatures:
        sgi = sg_index[id(sig.subgraph)]
        index = sg_tensor_index[sgi]
        sd = s.SignatureDefT()
        sd.signatureKey = sig.key
        sd.subgraphIndex = sgi
        sd.inputs = [_tensor_map(name, index[t.uid]) for name, t in sig.inputs.items()]
        sd.outputs = [_tensor_map(name, index[t.uid]) for name, t in sig.outputs.items()]
        sigs.append(sd)

    entries = {"min_runtime_version": _runtime_version_bytes(min_runtime_version(versions))}
    entries.update((k, v) for k, v in model.metadata.items() if k != "min_runtime_version")
    if metadata is not None:
        entries["TFLITE_METADATA"] = bytes(metadata)
    metadata_t = []
    for name, data in entries.items():
        m = s.MetadataT()
        m.name = name
        buffers.append(_Planned(data, None, len(data)))
        m.buffer = len(buffers) - 1
        metadata_t.append(m)

    mt = s.ModelT()
    mt.version = SCHEMA_VERSION
    mt.description = model.description
    mt.operatorCodes = op_codes
    mt.subgraphs = subgraphs
    mt.buffers = buffers
    mt.signatureDefs = sigs
    mt.metadata = metadata_t

    # The tail: inline buffers as flatbuffer vectors first (length, then 16-aligned data), then, in the >2 GB
    # layout, the constants addressed by offset/size.
    consts = buffers[1:n_consts + 1]
    if weights_after_flatbuffer is None:
        weights_after_flatbuffer = sum(b.size for b in consts) > APPEND_THRESHOLD
    for b in consts:
        b.appended = bool(weights_after_flatbuffer and b.size)
    pos = 0
    for b in buffers:
        if b.size and not b.appended:
            pos += (-(pos + 4)) % buffer_alignment(b.size)
            b.pos = pos  # the vector's length field
            pos += 4 + b.size
    appended = [b for b in buffers if b.appended]
    if appended:
        for b in appended:
            b.pos = 1  # a placeholder: the field is present, so the head keeps its size in the final pass
        head_len = len(_pack_head(mt))
        p = head_len + pos
        for b in appended:
            p = _align(p)
            b.pos = p
            p += b.size
    head = _pack_head(mt)
    if appended and len(head) != head_len:
        raise AssertionError("the head changed size between its two packings")
    out.write(head)
    written = len(head)
    tail = 0

    def emit(chunk: Any) -> None:
        nonlocal written, tail
        out.write(chunk)
        n = len(memoryview(chunk).cast("B"))
        written += n
        tail += n

    def stream(b: _Planned) -> None:
        if b.lazy is None:
            emit(memoryview(b.raw).cast("B") if isinstance(b.raw, np.ndarray) else b.raw)
        else:
            lazy = b.lazy
            row = max(1, b.size // max(1, lazy.shape[0])) if lazy.shape else b.size
            rows = max(1, BLOCK_BYTES // max(1, row))
            total = 0
            for start in range(0, lazy.shape[0] if lazy.shape else 1, rows):
                block = lazy.read(0, start, start + rows) if lazy.shape else lazy.read()
                data = _le(block, str(lazy.dtype)).reshape(-1).view(np.uint8)
                total += data.nbytes
                emit(memoryview(data))
                del block, data
            if total != b.size:
                raise AssertionError(f"a lazy constant gave {total} bytes, not {b.size}")
        if consume:
            b.raw = None
            b.lazy = None
            for t in b.tensors:
                t.data = None

    for b in buffers:
        if b.size and not b.appended:
            emit(bytes((-(tail + 4)) % buffer_alignment(b.size)) + struct.pack("<I", b.size))
            stream(b)
    for b in appended:
        emit(bytes(b.pos - written))
        stream(b)
    if files:
        from ..metadata.container import build_zip

        emit(build_zip(files, written))
    return written


def _pack_head(mt: Any) -> bytes:
    """The model's tables as one flatbuffer whose length is a multiple of 16 (the data that follows it stays
    aligned)."""
    import flatbuffers

    items = sum(len(sg.tensors or []) + len(sg.operators or []) for sg in mt.subgraphs or [])
    builder = flatbuffers.Builder(4096 + 256 * items)
    root = mt.Pack(builder)
    builder.minalign = max(builder.minalign, BUFFER_ALIGNMENT)
    builder.Finish(root, file_identifier=FILE_IDENTIFIER)
    return bytes(memoryview(builder.Bytes)[builder.Head():])


def serialize(model: Model, weights_after_flatbuffer: bool | None = None, consume: bool = False) -> bytes:
    """``model`` as ``.tflite`` bytes (see :func:`write_model`, which writes to a stream instead)."""
    import io

    buf = io.BytesIO()
    write_model(model, buf, weights_after_flatbuffer=weights_after_flatbuffer, consume=consume)
    return buf.getvalue()


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
        # A shape vector already tells the rank; has_rank only tells a scalar from an unranked tensor (4 bytes
        # a tensor saved where it says nothing).
        tt.hasRank = not t.shape
        if any(d < 0 for d in t.shape):
            tt.shapeSignature = list(t.shape)
    tt.buffer = buffer_for(t) if t.is_const else 0
    tt.isVariable = t.is_variable
    if t.sparsity is not None:
        tt.sparsity = t.sparsity
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

