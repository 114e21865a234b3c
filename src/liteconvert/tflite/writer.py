"""Serialize an IR :class:`~liteconvert.ir.Model` into TFLite flatbuffer bytes.

The writer only serializes: op semantics, layouts and versions are decided before (ops declarations and
passes). It guarantees: buffer 0 is the empty sentinel, constant data is 16-byte aligned, identical constants
share one buffer, operator codes are listed once each, and the output is deterministic.
"""

from __future__ import annotations

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
}


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


class _AlignedBuffer:
    """A Buffer table whose data vector starts on a 16-byte boundary (the generated BufferT does not align)."""

    def __init__(self, data: bytes):
        self.data = data

    def Pack(self, builder: Any) -> int:
        s = fb()
        vec = None
        if self.data:
            n = len(self.data)
            builder.StartVector(1, n, BUFFER_ALIGNMENT)
            builder.head = builder.head - n
            builder.Bytes[builder.head:builder.head + n] = self.data
            builder.vectorNumElems = n
            vec = builder.EndVector()
        s.BufferStart(builder)
        if vec is not None:
            s.BufferAddData(builder, vec)
        return s.BufferEnd(builder)


def tensor_bytes(t: Tensor) -> bytes:
    """The raw buffer contents of a constant tensor, in TFLite's layout."""
    assert t.data is not None
    if t.dtype == "string":
        return _string_tensor_bytes([s if isinstance(s, bytes) else str(s).encode() for s in t.data.reshape(-1)])
    return np.ascontiguousarray(t.data, dtype=np.dtype(t.dtype).newbyteorder("<")).tobytes()


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
            value = getattr(enum, value.upper() if key != "in_data_type" else value)
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


def serialize(model: Model) -> bytes:
    """Write ``model`` as TFLite flatbuffer bytes."""
    s = fb()
    buffers: list[Any] = [_AlignedBuffer(b"")]
    buffer_index: dict[bytes, int] = {}

    def buffer_for(data: bytes) -> int:
        # Identical constants share one buffer (the bytes themselves are the key).
        if data not in buffer_index:
            buffers.append(_AlignedBuffer(data))
            buffer_index[data] = len(buffers) - 1
        return buffer_index[data]

    op_codes: list[Any] = []
    op_code_index: dict[tuple[int, str | None, int], int] = {}
    versions: list[tuple[str, int]] = []

    subgraphs = []
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
            opt.builtinOptionsType, opt.builtinOptions = build_options(op, decl)
            if op.custom_options is not None:
                opt.customOptions = list(op.custom_options)
            sgt.operators.append(opt)
        subgraphs.append(sgt)

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
        buffers.append(_AlignedBuffer(data))
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

    import flatbuffers

    builder = flatbuffers.Builder(1024 + sum(len(b.data) for b in buffers))
    builder.Finish(mt.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


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

