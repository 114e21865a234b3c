"""Read any ``.tflite`` file: ours, the reference converter's, MediaPipe's (metadata, custom ops, sparse tensors),
and models that keep their weights after the flatbuffer (``Buffer.offset``/``Buffer.size``, the >2 GB layout).

The reader walks the flatbuffer with the schema bindings' accessor API (``Model.GetRootAs``), which reads fields
in place: it never copies buffer contents. A file is memory-mapped, so opening a multi-gigabyte model costs
only the pages that are touched. Buffer contents are materialized on request (:meth:`TFLiteModel.buffer_data`,
:meth:`TFLiteModel.tensor_data`), as zero-copy views when possible.

Public API (stable; other modules rely on it)::

    read_model(path_or_bytes) -> TFLiteModel          # raises SourceNotFoundError / InvalidModelError
    is_tflite(data) -> bool                           # the b"TFL3" file identifier is present
    TFLiteModel.subgraphs / signatures / buffers / operator_codes / metadata
    TFLiteModel.buffer_data(i) -> memoryview          # inline or appended data of buffer i
    TFLiteModel.metadata_bytes(name) -> bytes | None
    TFLiteModel.tensor_data(subgraph, tensor) -> np.ndarray | None
    TFLiteModel.op_histogram() -> {(op name, version): count}
    TFLiteModel.weights_bytes() -> int                # bytes of buffers that hold tensor constants
    TFLiteModel.associated_files() -> list[str]       # names in a zip appended after the model (metadata)
    TFLiteModel.to_object() -> ModelT                 # the whole model as mutable objects (loads everything)
"""

from __future__ import annotations

import io
import mmap
import os
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidModelError
from ..files import open_input
from .schema import builtin_names, dtype_of, fb

FILE_IDENTIFIER = b"TFL3"


@dataclass(frozen=True)
class Quantization:
    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int = 0


@dataclass(frozen=True)
class TensorInfo:
    index: int
    name: str
    dtype: str
    shape: tuple[int, ...]  # () for a scalar
    shape_signature: tuple[int, ...]  # -1 marks a dynamic dim; equals shape when the file has none
    buffer: int
    is_variable: bool = False
    quantization: Quantization | None = None
    sparse: bool = False
    external_buffer: int = 0  # index into the model's external buffers (weights kept in another file)


@dataclass(frozen=True)
class OperatorCode:
    index: int
    name: str  # builtin name ("CONV_2D"), or "CUSTOM"
    builtin_code: int
    deprecated_builtin_code: int
    version: int
    custom_code: str | None = None

    @property
    def display_name(self) -> str:
        """``CONV_2D``, or ``CUSTOM:<code>`` for a custom op."""
        return f"CUSTOM:{self.custom_code}" if self.name == "CUSTOM" else self.name


@dataclass(frozen=True)
class OperatorInfo:
    index: int
    opcode_index: int
    inputs: tuple[int, ...]  # -1 marks an omitted optional input
    outputs: tuple[int, ...]
    builtin_options_type: int = 0
    custom_options_size: int = 0


@dataclass
class SubgraphInfo:
    index: int
    name: str
    tensors: list[TensorInfo] = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    operators: list[OperatorInfo] = field(default_factory=list)


@dataclass(frozen=True)
class SignatureInfo:
    key: str
    subgraph: int
    inputs: dict[str, int]  # user-facing name -> tensor index in the subgraph
    outputs: dict[str, int]


@dataclass(frozen=True)
class BufferInfo:
    index: int
    size: int  # bytes of data (0 for an empty buffer)
    file_offset: int  # where the data starts in the file (0 when empty)
    appended: bool = False  # data lives after the flatbuffer (Buffer.offset/size)


@dataclass(frozen=True)
class MetadataEntry:
    name: str
    buffer: int
    size: int


@dataclass(frozen=True)
class ExternalBufferInfo:
    index: int
    group: str  # the external file
    offset: int
    length: int


def is_tflite(data: bytes | memoryview | mmap.mmap) -> bool:
    """True when ``data`` starts like a TFLite flatbuffer (root offset, then the ``TFL3`` identifier)."""
    return len(data) >= 8 and bytes(data[4:8]) == FILE_IDENTIFIER


def _str(value: bytes | None) -> str:
    return value.decode("utf-8", "replace") if value is not None else ""


class TFLiteModel:
    """A parsed ``.tflite`` model. Cheap to build: fields are read in place, buffer data only on request.

    Use as a context manager (or call :meth:`close`) to release the memory map of a file.
    """

    def __init__(self, data: bytes | bytearray | memoryview | mmap.mmap, path: str | None = None,
                 _closer: Any = None):
        self.path = path
        self._data = data
        self._closer = _closer
        self.file_size = len(data)
        try:
            self._parse()
        except InvalidModelError:
            raise
        except Exception as e:  # a truncated or corrupt flatbuffer fails in struct/index errors
            raise InvalidModelError(f"{self._label()} is not a valid .tflite model ({type(e).__name__}: {e}). "
                                    "Fix: check that the file is complete and is a LiteRT/TFLite model.") from e

    @property
    def data(self) -> bytes | bytearray | memoryview | mmap.mmap:
        """The model's bytes: what it was given, or the file's read-only memory map (open until :meth:`close`)."""
        return self._data

    # -- lifecycle --------------------------------------------------------------------------------------------
    def close(self) -> None:
        self._root = None
        if self._closer is not None:
            try:
                self._closer.close()
            except BufferError:  # numpy views still point into the map; the GC closes it later
                pass
            self._closer = None

    def __enter__(self) -> TFLiteModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _label(self) -> str:
        return self.path or "the model bytes"

    # -- parsing ----------------------------------------------------------------------------------------------
    def _parse(self) -> None:
        from ..flatbuf import VerifyError
        from .schema import verify_model

        data = self._data
        if not is_tflite(data):
            raise InvalidModelError(f"{self._label()} is not a .tflite model (no TFL3 file identifier). "
                                    "Fix: pass a LiteRT/TFLite flatbuffer file.")
        try:  # every offset and length the accessors below follow, checked first
            verify_model(data)
        except VerifyError as e:
            raise InvalidModelError(f"{self._label()} is not a valid .tflite model: {e}. Fix: the file is damaged "
                                    "or truncated; get a fresh copy (LiteRT would refuse to load it).") from None
        s = fb()
        root = s.Model.GetRootAs(data, 0)
        self._root = root
        self.schema_version: int = root.Version()
        self.description: str = _str(root.Description())
        names = builtin_names()

        self.operator_codes: list[OperatorCode] = []
        for i in range(root.OperatorCodesLength()):
            oc = root.OperatorCodes(i)
            deprecated, builtin = oc.DeprecatedBuiltinCode(), oc.BuiltinCode()
            code = max(builtin, deprecated)  # files written before the 127+ extension only set the old field
            custom = oc.CustomCode()
            self.operator_codes.append(OperatorCode(
                i, names.get(code, f"BUILTIN_{code}"), builtin, deprecated, oc.Version(),
                _str(custom) if custom is not None else None))

        self.buffers: list[BufferInfo] = []
        for i in range(root.BuffersLength()):
            b = root.Buffers(i)
            offset, size = b.Offset(), b.Size()
            if offset > 1:  # 0/1 mean "not used" (1 is the writer's placeholder)
                if offset + size > self.file_size:
                    raise InvalidModelError(f"{self._label()}: buffer {i} points past the end of the file "
                                            f"(offset {offset}, size {size}, file {self.file_size} bytes). "
                                            "Fix: the file is truncated; copy it again.")
                self.buffers.append(BufferInfo(i, size, offset, appended=True))
            else:
                n = b.DataLength()
                start = b._tab.Vector(b._tab.Offset(4)) if n else 0  # position of the data in the file
                self.buffers.append(BufferInfo(i, n, start))

        self.external_buffers: list[ExternalBufferInfo] = []
        groups = [_str(root.ExternalBufferGroups(i).Name()) for i in range(root.ExternalBufferGroupsLength())]
        for i in range(root.ExternalBuffersLength()):
            eb = root.ExternalBuffers(i)
            g = eb.Group()
            self.external_buffers.append(ExternalBufferInfo(
                eb.Id(), groups[g] if 0 <= g < len(groups) else f"group {g}", eb.Offset(), eb.Length()))

        self.subgraphs: list[SubgraphInfo] = [self._subgraph(i, root.Subgraphs(i))
                                              for i in range(root.SubgraphsLength())]

        self.signatures: list[SignatureInfo] = []
        for i in range(root.SignatureDefsLength()):
            sd = root.SignatureDefs(i)
            ins = {_str(sd.Inputs(j).Name()): sd.Inputs(j).TensorIndex() for j in range(sd.InputsLength())}
            outs = {_str(sd.Outputs(j).Name()): sd.Outputs(j).TensorIndex() for j in range(sd.OutputsLength())}
            self.signatures.append(SignatureInfo(_str(sd.SignatureKey()), sd.SubgraphIndex(), ins, outs))

        self.metadata: list[MetadataEntry] = []
        for i in range(root.MetadataLength()):
            m = root.Metadata(i)
            bi = m.Buffer()
            size = self.buffers[bi].size if 0 <= bi < len(self.buffers) else 0
            self.metadata.append(MetadataEntry(_str(m.Name()), bi, size))
        problem = self._index_problem()
        if problem:
            raise InvalidModelError(f"{self._label()} is not a valid .tflite model: {problem}. Fix: the file is "
                                    "damaged, or was written by a broken tool; LiteRT would refuse to load it.")

    def _index_problem(self) -> str | None:
        """The first index that points outside the vector it indexes (what the runtime checks when it builds
        the interpreter), or None."""
        n_codes, n_buffers, n_sg = len(self.operator_codes), len(self.buffers), len(self.subgraphs)
        for sg in self.subgraphs:
            n = len(sg.tensors)
            where = f"subgraph {sg.index}"
            for t in sg.tensors:
                if t.buffer >= max(n_buffers, 1):
                    return f"tensor {t.index} of {where} uses buffer {t.buffer}, but the model has {n_buffers}"
                if any(d < 0 for d in t.shape):
                    return f"tensor {t.index} of {where} has a negative dimension in its shape {list(t.shape)}"
                if t.shape_signature != t.shape and len(t.shape_signature) != len(t.shape):
                    return f"tensor {t.index} of {where} has a shape signature of another rank than its shape"
            for kind, items in (("input", sg.inputs), ("output", sg.outputs)):
                bad = [i for i in items if not 0 <= i < n]
                if bad:
                    return f"{where} {kind} {bad[0]} is not one of its {n} tensors"
            for op in sg.operators:
                if not 0 <= op.opcode_index < n_codes:
                    return (f"operator {op.index} of {where} uses operator code {op.opcode_index}, but the model "
                            f"has {n_codes}")
                bad = [i for i in op.inputs if not -1 <= i < n] + [i for i in op.outputs if not 0 <= i < n]
                if bad:
                    return f"operator {op.index} of {where} refers to tensor {bad[0]}, but the subgraph has {n}"
        for sig in self.signatures:
            if not 0 <= sig.subgraph < n_sg:
                return f"signature '{sig.key}' uses subgraph {sig.subgraph}, but the model has {n_sg}"
            n = len(self.subgraphs[sig.subgraph].tensors)
            for name, i in (*sig.inputs.items(), *sig.outputs.items()):
                if not 0 <= i < n:
                    return f"signature '{sig.key}' maps '{name}' to tensor {i}, but its subgraph has {n}"
        for m in self.metadata:
            if not 0 <= m.buffer < n_buffers:
                return f"metadata '{m.name}' uses buffer {m.buffer}, but the model has {n_buffers}"
        return None

    def _subgraph(self, index: int, sg: Any) -> SubgraphInfo:
        info = SubgraphInfo(index, _str(sg.Name()))
        for i in range(sg.TensorsLength()):
            info.tensors.append(_tensor(i, sg.Tensors(i)))
        info.inputs = [int(v) for v in (sg.InputsAsNumpy() if sg.InputsLength() else ())]
        info.outputs = [int(v) for v in (sg.OutputsAsNumpy() if sg.OutputsLength() else ())]
        for i in range(sg.OperatorsLength()):
            op = sg.Operators(i)
            info.operators.append(OperatorInfo(
                i, op.OpcodeIndex(),
                tuple(int(v) for v in (op.InputsAsNumpy() if op.InputsLength() else ())),
                tuple(int(v) for v in (op.OutputsAsNumpy() if op.OutputsLength() else ())),
                op.BuiltinOptionsType(),
                op.CustomOptionsLength() or op.LargeCustomOptionsSize()))
        return info

    # -- data access ------------------------------------------------------------------------------------------
    def buffer_data(self, index: int) -> memoryview:
        """The bytes of buffer ``index`` (a zero-copy view into the file), wherever they are stored."""
        b = self.buffers[index]
        return memoryview(self._data)[b.file_offset:b.file_offset + b.size] if b.size else memoryview(b"")

    def metadata_bytes(self, name: str) -> bytes | None:
        """The contents of metadata entry ``name`` (``min_runtime_version``, ``TFLITE_METADATA``, ...)."""
        for m in self.metadata:
            if m.name == name:
                return bytes(self.buffer_data(m.buffer)) if 0 <= m.buffer < len(self.buffers) else b""
        return None

    @property
    def min_runtime_version(self) -> str | None:
        """The ``min_runtime_version`` metadata as a string (NUL padding removed), or None if absent."""
        raw = self.metadata_bytes("min_runtime_version")
        return None if raw is None else raw.split(b"\0", 1)[0].decode("ascii", "replace")

    def tensor_data(self, subgraph: int, tensor: int) -> np.ndarray | None:
        """A constant tensor's value as a read-only numpy array (None for non-constants, strings and sparse or
        externally stored tensors, whose bytes need decoding)."""
        t = self.subgraphs[subgraph].tensors[tensor]
        if t.buffer <= 0 or t.buffer >= len(self.buffers) or t.sparse:
            return None
        raw = self.buffer_data(t.buffer)
        if not raw.nbytes:
            return None
        try:
            dtype = np.dtype(t.dtype).newbyteorder("<")
        except TypeError:
            return None
        count = int(np.prod(t.shape)) if t.shape else 1
        if count * dtype.itemsize != raw.nbytes:
            return None
        return np.frombuffer(raw, dtype=dtype, count=count).reshape(t.shape)

    def opcode(self, op: OperatorInfo) -> OperatorCode:
        return self.operator_codes[op.opcode_index]

    def op_histogram(self) -> dict[tuple[str, int], int]:
        """``{(op display name, version): count}`` over every subgraph, in first-use order."""
        hist: dict[tuple[str, int], int] = {}
        for sg in self.subgraphs:
            for op in sg.operators:
                oc = self.operator_codes[op.opcode_index]
                key = (oc.display_name, oc.version)
                hist[key] = hist.get(key, 0) + 1
        return hist

    def constant_buffers(self) -> set[int]:
        """Indices of the non-empty buffers that hold tensor data (weights), across all subgraphs."""
        used = {t.buffer for sg in self.subgraphs for t in sg.tensors}
        return {i for i in used if 0 < i < len(self.buffers) and self.buffers[i].size > 0}

    def weights_bytes(self) -> int:
        """Bytes of the file taken by constant tensor data (each shared buffer counted once)."""
        return sum(self.buffers[i].size for i in self.constant_buffers())

    def external_weights_bytes(self) -> int:
        """Bytes of weights kept in other files (``ExternalBuffer``), not part of this file's size."""
        return sum(e.length for e in self.external_buffers)

    def tensor_count(self) -> int:
        return sum(len(sg.tensors) for sg in self.subgraphs)

    def associated_files(self) -> list[str]:
        """Names of the files in a zip archive appended to the model (TFLite metadata's associated files)."""
        tail = self._data[max(0, self.file_size - (1 << 16) - 22):]
        if b"PK\x05\x06" not in bytes(tail):
            return []
        try:
            # ZipFile reads only the central directory: from a path, nothing else of the model is loaded.
            src = self.path if self.path else io.BytesIO(bytes(self._data))
            with zipfile.ZipFile(src) as z:
                return z.namelist()
        except (zipfile.BadZipFile, OSError):
            return []

    def to_object(self) -> Any:
        """The whole model as the bindings' mutable object tree (``ModelT``). Loads every buffer: use it for
        rewriting a model, not for looking at one."""
        return fb().ModelT.InitFromPackedBuf(bytes(self._data), 0)


def _tensor(index: int, t: Any) -> TensorInfo:
    # No shape vector means a scalar, as the runtime reads it.
    shape = tuple(int(v) for v in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    signature = tuple(int(v) for v in t.ShapeSignatureAsNumpy()) if t.ShapeSignatureLength() else shape
    q = t.Quantization()
    quant = None
    if q is not None and q.ScaleLength():
        quant = Quantization(tuple(float(v) for v in q.ScaleAsNumpy()),
                             tuple(int(v) for v in q.ZeroPointAsNumpy()) if q.ZeroPointLength() else (),
                             q.QuantizedDimension())
    return TensorInfo(index, _str(t.Name()), dtype_of(t.Type()), shape, signature, t.Buffer(), t.IsVariable(),
                      quant, t.Sparsity() is not None, t.ExternalBuffer())


def read_model(source: str | os.PathLike[str] | bytes | bytearray | memoryview) -> TFLiteModel:
    """Parse a ``.tflite`` file (path) or flatbuffer bytes.

    Raises :class:`~liteconvert.errors.SourceNotFoundError` for a missing path and
    :class:`~liteconvert.errors.InvalidModelError` for anything that is not a readable TFLite model.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return TFLiteModel(source)
    path = os.fspath(source)
    with open_input(path, "model") as f:
        size = os.fstat(f.fileno()).st_size
        if size < 8:
            raise InvalidModelError(f"{path} is not a .tflite model ({size} bytes). Fix: pass a LiteRT/TFLite "
                                    "flatbuffer file.")
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        return TFLiteModel(mapped, path, _closer=mapped)
    except BaseException:
        mapped.close()
        raise
