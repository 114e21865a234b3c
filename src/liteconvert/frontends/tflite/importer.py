"""Read a ``.tflite`` file (ours, Google's converter's, MediaPipe's) into the IR, faithfully.

Everything the file says that the writer can say again is carried: every subgraph (WHILE/IF bodies too), every
tensor (name, dtype, shape with -1 for dynamic dims from ``shape_signature``, quantization parameters per tensor
or per channel, sparsity, ``is_variable``), the constants (big ones as :class:`LazyArray` s reading the file in
slices, wherever the buffer lies: in the flatbuffer or after it), every operator with its options decoded into
``Op.attrs`` exactly as the writer takes them (``options.py``), custom ops with their code and options, the
signatures and the metadata entries. ``TFLITE_METADATA``, the associated files and the description come back in
:class:`TFLiteExtras`, for the caller to attach again.

What the writer could not say again is refused, never dropped: operators liteconvert has no declaration for, or
whose options, intermediates or second options table it cannot write, raise
:class:`~liteconvert.errors.UnsupportedOpsError` listing all of them; tensor features it cannot hold (external
buffers, custom quantization, constants of a dtype numpy has no name for) raise
:class:`~liteconvert.errors.FeatureNotImplementedError`; damaged files raise
:class:`~liteconvert.errors.InvalidModelError`.

Public API::

    import_tflite(path_or_bytes) -> (Model, TFLiteExtras)
    open_tflite(path_or_bytes) -> TFLiteSource        # verified, not yet imported (the frontend's ``load``)
    TFLiteSource.build() -> (Model | None, [ImportedOp])
    TFLiteSource.extras() -> TFLiteExtras
"""

from __future__ import annotations

import itertools
import math
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import FeatureNotImplementedError, InvalidModelError, OpProblem, UnsupportedOpsError
from ...ir import Model, Op, QuantParams, Signature, SourceArray, Subgraph, Tensor, unique_name
from ...tflite.ops import DECLS
from ...tflite.reader import TFLiteModel, read_model
from ...tflite.schema import fb, tensor_type
from .options import decode_options

# Constants at least this big stay in the file until they are needed (read in slices, never the whole model).
LAZY_BYTES = 1 << 16

DEFAULT_SIGNATURE = "serving_default"
METADATA_NAME = "TFLITE_METADATA"
RUNTIME_VERSION_NAME = "min_runtime_version"


@dataclass
class TFLiteExtras:
    """What a ``.tflite`` file carries besides the model: the ``TFLITE_METADATA`` buffer (None when absent),
    the associated files (``{name: bytes}``, the zip appended to the file), the model's description and
    ``min_runtime_version``; ``synthesized_signature``: the file had no SignatureDefs, so the model got a
    ``serving_default`` one over subgraph 0 named by tensor names."""

    metadata: bytes | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    description: str = ""
    min_runtime_version: str | None = None
    synthesized_signature: bool = False


@dataclass
class ImportedOp:
    """One operator of the file: where it is (``node``: ``"<subgraph index>:<op index>"``), what it is, and why
    it cannot be carried (``problem``; None when it can)."""

    node: str
    kind: str  # builtin name, "CUSTOM", or BUILTIN_<code> for a code this schema does not know
    custom_code: str | None
    layer: str | None  # the name of its first output (the converter's layer path)
    problem: str | None = None

    @property
    def op_type(self) -> str:
        return self.custom_code if self.kind == "CUSTOM" and self.custom_code else self.kind


@dataclass(frozen=True)
class SignatureSpec:
    """A signature as the file (or the synthesized default) gives it: names -> tensor indices of a subgraph."""

    key: str
    subgraph: int
    inputs: dict[str, int]
    outputs: dict[str, int]
    synthesized: bool = False


class TFLiteSource:
    """A verified ``.tflite`` file, opened (memory-mapped for a path) and ready to import."""

    def __init__(self, buf: Any, model: TFLiteModel, path: str | None):
        self.buf = buf  # bytes, or the file's read-only memory map (lazy constants read it)
        self.model = model
        self.path = path
        self.label = path or "the model bytes"
        self.signatures = self._signatures()

    # -- signatures -----------------------------------------------------------------------------------------
    def _signatures(self) -> list[SignatureSpec]:
        m = self.model
        if not m.subgraphs:
            raise InvalidModelError(f"{self.label} has no subgraph. Fix: pass a complete LiteRT/TFLite model.")
        if m.signatures:
            return [SignatureSpec(s.key, s.subgraph, dict(s.inputs), dict(s.outputs)) for s in m.signatures]
        sg = m.subgraphs[0]

        def names(indices: list[int], kind: str) -> dict[str, int]:
            taken: set[str] = set()
            return {unique_name(taken, sg.tensors[i].name or f"{kind}_{k}"): i for k, i in enumerate(indices)}

        return [SignatureSpec(DEFAULT_SIGNATURE, 0, names(sg.inputs, "input"), names(sg.outputs, "output"),
                              synthesized=True)]

    # -- extras ---------------------------------------------------------------------------------------------
    def extras(self) -> TFLiteExtras:
        from ...metadata.container import read_zip

        m = self.model
        ex = TFLiteExtras(description=m.description, min_runtime_version=m.min_runtime_version,
                          synthesized_signature=any(s.synthesized for s in self.signatures))
        for entry in m.metadata:
            if entry.name == METADATA_NAME and ex.metadata is None:
                ex.metadata = bytes(m.buffer_data(entry.buffer))
        ex.files = read_zip(self.buf)
        return ex

    # -- the model ------------------------------------------------------------------------------------------
    def build(self) -> tuple[Model, list[ImportedOp]]:
        """The IR model and a record of every operator (those with a ``problem`` are in the model as read, but
        the writer could not write them). Raises InvalidModelError / FeatureNotImplementedError for what is not
        about one operator."""
        s = fb()
        m = self.model
        if m.external_buffers:
            raise FeatureNotImplementedError(
                f"{self.label} keeps {len(m.external_buffers)} weight buffer(s) in other files (ExternalBuffer), "
                "which liteconvert cannot read yet. Fix: convert the model with its weights inside the file.")
        root = s.Model.GetRootAs(self.buf, 0)
        model = Model(description=m.description)
        model.subgraphs = [Subgraph(info.name) for info in m.subgraphs]
        ops: list[ImportedOp] = []
        tensors_of: list[list[Tensor]] = []
        for si, info in enumerate(m.subgraphs):
            sgt = s.SubGraphT.InitFromObj(root.Subgraphs(si))
            sg = model.subgraphs[si]
            produced = {k for opt in sgt.operators or [] for k in _ints(opt.outputs)}
            inputs = set(info.inputs)
            tensors = [self._tensor(si, i, t, produced, inputs) for i, t in enumerate(sgt.tensors or [])]
            tensors_of.append(tensors)
            sg.inputs = [tensors[i] for i in info.inputs]
            sg.outputs = [tensors[i] for i in info.outputs]
            for j, opt in enumerate(sgt.operators or []):
                op, rec = self._op(si, j, opt, tensors, model.subgraphs)
                sg.ops.append(op)
                ops.append(rec)
        for spec in self.signatures:
            tensors = tensors_of[spec.subgraph]
            sig = Signature(spec.key, model.subgraphs[spec.subgraph],
                            {n: tensors[i] for n, i in spec.inputs.items()},
                            {n: tensors[i] for n, i in spec.outputs.items()})
            used = {t.uid for t in sig.subgraph.tensors()}
            for name, t in (*sig.inputs.items(), *sig.outputs.items()):
                if t.uid not in used:
                    raise InvalidModelError(f"{self.label}: signature '{spec.key}' maps '{name}' to tensor "
                                            f"'{t.name}', which nothing in its subgraph uses. Fix: the file is "
                                            "damaged, or was written by a broken tool.")
            model.signatures.append(sig)
        for entry in m.metadata:
            if entry.name not in (METADATA_NAME, RUNTIME_VERSION_NAME):
                model.metadata[entry.name] = bytes(m.buffer_data(entry.buffer))
        return model, ops

    def _tensor(self, si: int, i: int, t: Any, produced: set[int], inputs: set[int]) -> Tensor:
        m = self.model
        info = m.subgraphs[si].tensors[i]
        where = f"{self.label}: tensor {i} ('{info.name}') of subgraph {si}"
        dtype = info.dtype
        try:
            tensor_type(dtype)
        except ValueError:
            raise FeatureNotImplementedError(f"{where} has tensor type {dtype}, which liteconvert does not know. "
                                             "Fix: a newer liteconvert may read it.") from None
        if t.variantTensors:
            raise FeatureNotImplementedError(f"{where} is a variant with subtypes, which liteconvert cannot "
                                             "carry yet.")
        if info.external_buffer:
            raise FeatureNotImplementedError(f"{where} keeps its data in another file (ExternalBuffer), which "
                                             "liteconvert cannot read yet.")
        shape: tuple[int, ...] | None = info.shape_signature
        if not info.shape and not t.hasRank:
            shape = None  # the schema's "rank unknown" (shape must then be []); for a constant, a scalar
        tensor = Tensor(info.name, dtype, shape, quant=_quant(t.quantization, where), source=info.name,
                        is_variable=bool(t.isVariable), sparsity=t.sparsity)
        b = info.buffer
        nbytes = m.buffers[b].size if 0 < b < len(m.buffers) else 0
        static = tuple(info.shape)
        empty = 0 in static and 0 < b and i not in produced and i not in inputs  # a constant with no elements
        if nbytes or empty:
            tensor.shape = static  # a constant's shape is its data's
            value = self._constant(where, b, dtype, static, info.sparse)
            if isinstance(value, np.ndarray):
                tensor.data = value
            else:
                tensor.lazy = value
        return tensor

    def _constant(self, where: str, b: int, dtype: str, shape: tuple[int, ...], sparse: bool,
                  ) -> np.ndarray | SourceArray:
        m = self.model
        buf_info = m.buffers[b]
        offset, size = buf_info.file_offset, buf_info.size
        if dtype == "string":
            if sparse:
                raise FeatureNotImplementedError(f"{where} is a sparse string tensor, which liteconvert cannot "
                                                 "carry.")
            return _strings(bytes(m.buffer_data(b)), shape, where)
        try:
            le = np.dtype(dtype).newbyteorder("<")
        except TypeError:
            raise FeatureNotImplementedError(f"{where} is a {dtype} constant, which liteconvert cannot hold yet. "
                                             "Fix: keep the model's weights in a numpy dtype (float32, int8, ...)."
                                             ) from None
        native = np.dtype(dtype)
        if sparse:  # the stored values only (Tensor.sparsity says where they go)
            if size % le.itemsize:
                raise InvalidModelError(f"{where}: its sparse values take {size} bytes, not a whole number of "
                                        f"{dtype}s. Fix: the file is damaged; get a fresh copy.")
            shape = (size // le.itemsize,)
        count = math.prod(shape)  # Python ints: a hostile shape cannot overflow
        if count * le.itemsize != size:
            raise InvalidModelError(f"{where}: its buffer holds {size} bytes, but {dtype}{list(shape)} takes "
                                    f"{count * le.itemsize}. Fix: the file is damaged, or was written by a broken "
                                    "tool; LiteRT would refuse it.")
        buf = self.buf
        if size < LAZY_BYTES or not shape:
            return np.frombuffer(buf, le, count, offset).reshape(shape).astype(native, copy=True)

        def read(axis: int, start: int, stop: int | None) -> np.ndarray:
            full = np.frombuffer(buf, le, count, offset).reshape(shape)
            index = [slice(None)] * len(shape)
            index[axis] = slice(start, stop)
            return np.array(full[tuple(index)], dtype=native)  # a copy: the file's map is not pinned

        return SourceArray(shape, native, read, key=("tflite", id(buf), b, native.str, shape))

    def _op(self, si: int, j: int, opt: Any, tensors: list[Tensor], subgraphs: list[Subgraph],
            ) -> tuple[Op, ImportedOp]:
        m = self.model
        code = m.operator_codes[opt.opcodeIndex]
        kind = code.name
        node = f"{si}:{j}"
        outputs = [tensors[k] for k in _ints(opt.outputs)]
        rec = ImportedOp(node, kind, code.custom_code if kind == "CUSTOM" else None,
                         outputs[0].name if outputs else None)
        problems: list[str] = []
        decl = DECLS.get(kind)
        if decl is None:
            problems.append(f"an operator code this LiteRT schema does not know ({code.builtin_code})"
                            if kind.startswith("BUILTIN_") else f"liteconvert has no declaration of {kind}")
        attrs: dict[str, Any] = {}
        runs: dict[str, Subgraph] = {}
        if decl is not None:
            attrs, runs, why = decode_options(kind, decl, opt.builtinOptionsType, opt.builtinOptions, subgraphs)
            problems += why
        if opt.builtinOptions2Type:
            problems.append("it has a second options table (builtin_options_2), which the writer cannot write")
        if opt.intermediates is not None and len(opt.intermediates):
            problems.append("it has intermediate tensors (quantized LSTM statistics), which the writer cannot write")
        if opt.customOptionsFormat:
            problems.append(f"its custom options are in format {opt.customOptionsFormat}, not flexbuffers")
        custom = None
        if opt.largeCustomOptionsSize:
            start, n = int(opt.largeCustomOptionsOffset), int(opt.largeCustomOptionsSize)
            if start <= 1 or start + n > len(self.buf):
                raise InvalidModelError(f"{self.label}: operator {node} keeps its custom options at {start} "
                                        f"(+{n} bytes), outside the file. Fix: the file is truncated or damaged.")
            custom = bytes(self.buf[start:start + n])
        elif opt.customOptions is not None:
            custom = bytes(np.asarray(opt.customOptions, dtype=np.uint8))
        if kind == "CUSTOM":
            # A custom op's version is its kernel's business (MediaPipe registers some as version 2); the writer
            # cannot derive it, so it is kept as a private hint for the CUSTOM declaration's version rule.
            attrs["_custom_version"] = code.version
        op = Op(kind, [tensors[k] if k >= 0 else None for k in _ints(opt.inputs)], outputs, attrs, source=node,
                custom_code=code.custom_code if kind == "CUSTOM" else None, custom_options=custom, subgraphs=runs)
        rec.problem = "; ".join(problems) or None
        return op, rec


def _ints(v: Any) -> list[int]:
    return [] if v is None else [int(x) for x in v]


def _quant(q: Any, where: str) -> QuantParams | None:
    if q is None:
        return None
    if q.detailsType:
        raise FeatureNotImplementedError(f"{where} has custom quantization details (type {q.detailsType}), which "
                                         "liteconvert cannot carry yet.")
    has = [x is not None and len(x) for x in (q.scale, q.zeroPoint, q.min, q.max)]
    if not any(has):
        return None  # an empty table: not quantized (Google's converter writes one for every float tensor)
    return QuantParams(np.asarray(q.scale if q.scale is not None else [], np.float32),
                       np.asarray(q.zeroPoint if q.zeroPoint is not None else [], np.int64),
                       int(q.quantizedDimension),
                       None if q.min is None else np.asarray(q.min, np.float32),
                       None if q.max is None else np.asarray(q.max, np.float32))


def _strings(raw: bytes, shape: tuple[int, ...], where: str) -> np.ndarray:
    """A string tensor's buffer (int32 count, count+1 int32 offsets, the bytes) as an object array."""
    bad = InvalidModelError(f"{where}: its string buffer is malformed. Fix: the file is damaged; get a fresh copy.")
    if len(raw) < 4:
        raise bad
    (n,) = struct.unpack_from("<i", raw, 0)
    if n < 0 or 4 * (n + 2) > len(raw) or n != math.prod(shape):
        raise bad
    offsets = struct.unpack_from(f"<{n + 1}i", raw, 4)
    if any(not 0 <= a <= b <= len(raw) for a, b in itertools.pairwise(offsets)):
        raise bad
    out = np.empty(n, dtype=object)
    for k in range(n):
        out[k] = raw[offsets[k]:offsets[k + 1]]
    return out.reshape(shape)


def open_tflite(source: str | os.PathLike[str] | bytes | bytearray | memoryview) -> TFLiteSource:
    """Verify a ``.tflite`` file (path) or its bytes and open it for import; raises SourceNotFoundError,
    InputError or InvalidModelError."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = bytes(source)
    model = read_model(source)
    try:
        return TFLiteSource(model.data, model, model.path)
    except BaseException:
        model.close()
        raise


def unsupported(ops: list[ImportedOp]) -> list[OpProblem]:
    return [OpProblem(r.op_type, r.node, r.problem, r.layer) for r in ops if r.problem]


def import_tflite(source: str | os.PathLike[str] | bytes | bytearray | memoryview,
                  ) -> tuple[Model, TFLiteExtras]:
    """Read a ``.tflite`` file (path) or its bytes into an IR model and the extras to attach again.

    Raises :class:`~liteconvert.errors.UnsupportedOpsError` listing every operator the writer could not write
    back, InvalidModelError for a damaged file, FeatureNotImplementedError for a tensor feature liteconvert
    cannot carry yet.
    """
    src = open_tflite(source)
    model, ops = src.build()
    problems = unsupported(ops)
    if problems:
        raise UnsupportedOpsError(problems)
    return model, src.extras()
