"""The framework-neutral graph IR.

Plain Python objects: a :class:`Model` holds :class:`Subgraph` s and :class:`Signature` s; a subgraph holds
:class:`Op` s in execution order; ops read and write :class:`Tensor` s. Frontends build it, passes rewrite it and
the TFLite writer serializes it. Nothing here knows about TensorFlow or flatbuffers.

Shapes are tuples of ints where ``-1`` marks a dimension unknown until run time (TFLite's ``shape_signature``);
``None`` means the rank itself is unknown.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Shape = tuple[int, ...] | None


@dataclass(eq=False)
class QuantParams:
    """Affine quantization parameters of a tensor (per tensor, or per channel along ``axis``)."""

    scale: np.ndarray
    zero_point: np.ndarray
    axis: int = 0
    min: np.ndarray | None = None
    max: np.ndarray | None = None


_ids = itertools.count()


class LazyArray:
    """A constant's value that is not in memory yet: read from where it lives (a checkpoint, a live variable),
    possibly through layout transforms, only when it is needed, and in slices along one axis when the whole
    value need not be in memory at once (the writer streams big weights that way).

    ``key``: equal keys mean equal values (so the writer can share one buffer without reading both); None when
    unknown. Subclasses implement :meth:`read`.
    """

    def __init__(self, shape: tuple[int, ...], dtype: Any, key: Any = None):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.key = key

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    def read(self, axis: int = 0, start: int = 0, stop: int | None = None) -> np.ndarray:
        """The values at ``start:stop`` along ``axis`` (everything by default), as a C-contiguous array."""
        raise NotImplementedError

    def materialize(self) -> np.ndarray:
        return self.read()

    def transposed(self, perm: tuple[int, ...]) -> LazyArray:
        return _Transposed(self, tuple(int(p) for p in perm))

    def scaled(self, vector: np.ndarray, axis: int) -> LazyArray:
        """Times ``vector`` broadcast along ``axis`` (a per-channel scale)."""
        return _Scaled(self, np.asarray(vector), int(axis) % max(len(self.shape), 1))

    def reshaped(self, shape: tuple[int, ...]) -> LazyArray:
        return _Reshaped(self, tuple(int(d) for d in shape))

    def astype(self, dtype: Any) -> LazyArray:
        return self if np.dtype(dtype) == self.dtype else _Cast(self, np.dtype(dtype))


class SourceArray(LazyArray):
    """A value read by ``reader(axis, start, stop)`` (a slice along one axis; ``stop`` None: to the end)."""

    def __init__(self, shape: tuple[int, ...], dtype: Any, reader: Any, key: Any = None):
        super().__init__(shape, dtype, key)
        self._reader = reader

    def read(self, axis: int = 0, start: int = 0, stop: int | None = None) -> np.ndarray:
        arr = np.asarray(self._reader(axis, start, stop))
        if arr.dtype != self.dtype:
            arr = arr.astype(self.dtype)
        return np.ascontiguousarray(arr)


class _Transposed(LazyArray):
    def __init__(self, inner: LazyArray, perm: tuple[int, ...]):
        super().__init__(tuple(inner.shape[p] for p in perm), inner.dtype,
                         None if inner.key is None else ("transpose", inner.key, perm))
        self.inner, self.perm = inner, perm

    def read(self, axis: int = 0, start: int = 0, stop: int | None = None) -> np.ndarray:
        if not self.shape:
            return self.inner.read()
        return np.ascontiguousarray(self.inner.read(self.perm[axis], start, stop).transpose(self.perm))


class _Scaled(LazyArray):
    def __init__(self, inner: LazyArray, vector: np.ndarray, axis: int):
        digest = hash(vector.tobytes()) if vector.size < 1 << 20 else id(vector)
        super().__init__(inner.shape, inner.dtype, None if inner.key is None else ("scale", inner.key, axis, digest))
        self.inner, self.vector, self.axis = inner, vector, axis

    def read(self, axis: int = 0, start: int = 0, stop: int | None = None) -> np.ndarray:
        block = self.inner.read(axis, start, stop)
        vec = self.vector.reshape(-1)
        if vec.size > 1 and axis == self.axis:
            vec = vec[start:stop]
        shape = [1] * block.ndim
        if vec.size > 1:
            shape[self.axis] = vec.size
        return np.ascontiguousarray((block * vec.reshape(shape)).astype(self.dtype))


class _Reshaped(LazyArray):
    def __init__(self, inner: LazyArray, shape: tuple[int, ...]):
        super().__init__(shape, inner.dtype, None if inner.key is None else ("reshape", inner.key, shape))
        self.inner = inner

    def read(self, axis: int = 0, start: int = 0, stop: int | None = None) -> np.ndarray:
        if axis == 0 and self.shape and self.inner.shape and self.shape[0] == self.inner.shape[0]:
            block = self.inner.read(0, start, stop)  # the leading axis is kept: rows map to rows
            return block.reshape((block.shape[0], *self.shape[1:]))
        full = self.inner.read().reshape(self.shape)
        index = [slice(None)] * full.ndim
        if full.ndim:
            index[axis] = slice(start, stop)
        return np.ascontiguousarray(full[tuple(index)])


class _Cast(LazyArray):
    def __init__(self, inner: LazyArray, dtype: np.dtype):
        super().__init__(inner.shape, dtype, None if inner.key is None else ("cast", inner.key, dtype.str))
        self.inner = inner

    def read(self, axis: int = 0, start: int = 0, stop: int | None = None) -> np.ndarray:
        return np.ascontiguousarray(self.inner.read(axis, start, stop).astype(self.dtype))


class Tensor:
    """A value in the graph. A constant holds ``data`` (a numpy array whose dtype is the tensor's) or, until it
    is needed, ``lazy`` (a :class:`LazyArray`): reading ``data`` materializes a lazy value and keeps it."""

    __slots__ = ("_data", "dtype", "is_variable", "lazy", "name", "quant", "range_hint", "shape", "source",
                 "sparsity", "uid")

    def __init__(self, name: str, dtype: str, shape: Shape, data: np.ndarray | None = None,
                 quant: QuantParams | None = None, source: str | None = None, is_variable: bool = False,
                 lazy: LazyArray | None = None, sparsity: Any = None, uid: int | None = None):
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self._data = data
        self.quant = quant
        self.source = source
        self.is_variable = is_variable
        self.lazy = lazy
        self.sparsity = sparsity  # TFLite SparsityParameters (as the schema bindings' object), when stored sparse
        self.range_hint: tuple[float, float] | None = None  # a trained range (quantization-aware training)
        self.uid = next(_ids) if uid is None else uid

    @property
    def data(self) -> np.ndarray | None:
        if self._data is None and self.lazy is not None:
            self._data = self.lazy.materialize()
            self.lazy = None
        return self._data

    @data.setter
    def data(self, value: np.ndarray | None) -> None:
        self._data = value
        self.lazy = None

    @property
    def is_const(self) -> bool:
        return self._data is not None or self.lazy is not None

    @property
    def is_lazy(self) -> bool:
        """A constant whose value has not been read yet."""
        return self._data is None and self.lazy is not None

    @property
    def size(self) -> int:
        """Number of elements (-1 when the shape is not static)."""
        if self.shape is None or any(d < 0 for d in self.shape):
            return -1
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    @property
    def is_static(self) -> bool:
        return self.shape is not None and all(d >= 0 for d in self.shape)

    def __repr__(self) -> str:
        kind = "const " if self.is_const else ""
        return f"Tensor({self.name!r}, {kind}{self.dtype}{list(self.shape) if self.shape is not None else '?'})"


def const(name: str, value: Any, dtype: str | None = None, source: str | None = None) -> Tensor:
    """Make a constant tensor from anything numpy can turn into an array."""
    arr = np.asarray(value, dtype=dtype)
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    return Tensor(name, str(arr.dtype), tuple(int(d) for d in arr.shape), data=arr, source=source)


@dataclass(eq=False)
class Op:
    """One operation. ``kind`` is a TFLite builtin name (``"CONV_2D"``) or ``"CUSTOM"``.

    ``inputs`` may hold ``None`` for an omitted optional input. ``attrs`` are the op's options by their schema
    field names in snake_case (``stride_w``, ``fused_activation_function``, ...); enum values are given by name
    (``padding="SAME"``). ``subgraphs`` are the subgraphs the op runs, by the option field that names them
    (WHILE: ``cond_subgraph_index`` and ``body_subgraph_index``; IF: ``then_subgraph_index`` and
    ``else_subgraph_index``); the writer turns them into indices. ``source`` names the node of the source model
    it came from, for error messages.
    """

    kind: str
    inputs: list[Tensor | None]
    outputs: list[Tensor]
    attrs: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    custom_code: str | None = None
    custom_options: bytes | None = None
    subgraphs: dict[str, Subgraph] = field(default_factory=dict)

    def __repr__(self) -> str:
        ins = ", ".join(t.name if t is not None else "-" for t in self.inputs)
        outs = ", ".join(t.name for t in self.outputs)
        return f"Op({self.kind}: {ins} -> {outs})"


@dataclass(eq=False)
class Subgraph:
    name: str
    inputs: list[Tensor] = field(default_factory=list)
    outputs: list[Tensor] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)

    def tensors(self) -> list[Tensor]:
        """Every tensor of the subgraph once, in a deterministic order (inputs, then by first use)."""
        seen: dict[int, Tensor] = {}
        for t in itertools.chain(self.inputs, *((*op.inputs, *op.outputs) for op in self.ops), self.outputs):
            if t is not None and t.uid not in seen:
                seen[t.uid] = t
        return list(seen.values())

    def producers(self) -> dict[int, Op]:
        return {t.uid: op for op in self.ops for t in op.outputs}

    def consumers(self) -> dict[int, list[Op]]:
        users: dict[int, list[Op]] = {}
        for op in self.ops:
            for t in op.inputs:
                if t is not None:
                    users.setdefault(t.uid, []).append(op)
        return users

    def replace_uses(self, old: Tensor, new: Tensor) -> None:
        """Make every reader of ``old`` (ops and subgraph outputs) read ``new`` instead."""
        self.replace_many({old.uid: new})

    def replace_many(self, mapping: dict[int, Tensor]) -> None:
        """Replace every use of the tensors with uids in ``mapping`` in one sweep (chains are followed)."""
        if not mapping:
            return

        def resolve(t: Tensor | None) -> Tensor | None:
            while t is not None and t.uid in mapping:
                t = mapping[t.uid]
            return t

        for op in self.ops:
            if any(t is not None and t.uid in mapping for t in op.inputs):
                op.inputs = [resolve(t) for t in op.inputs]
        self.outputs = [resolve(t) for t in self.outputs]  # type: ignore[misc]


@dataclass(eq=False)
class Signature:
    """A named entry point: ``inputs``/``outputs`` map the user-facing names to tensors of one subgraph."""

    key: str
    subgraph: Subgraph
    inputs: dict[str, Tensor]
    outputs: dict[str, Tensor]


@dataclass(eq=False)
class Model:
    subgraphs: list[Subgraph] = field(default_factory=list)
    signatures: list[Signature] = field(default_factory=list)
    metadata: dict[str, bytes] = field(default_factory=dict)
    description: str = "liteconvert"

    def all_ops(self) -> Iterator[tuple[Subgraph, Op]]:
        for sg in self.subgraphs:
            for op in sg.ops:
                yield sg, op


class InvariantError(AssertionError):
    pass


def check_invariants(model: Model) -> None:
    """Raise :class:`InvariantError` unless every subgraph is well formed.

    Single producer per tensor, every input defined before use (graph input, constant or earlier output),
    every output produced, signature tensors belong to their subgraph, constants match their declared
    dtype and shape; every subgraph an op runs is in the model, its interface matches the op (WHILE: cond and
    body take the loop values, body returns them, cond returns one bool; IF: a bool condition, branches take the
    other inputs and return the outputs), and no subgraph runs itself.
    """
    members = {id(sg) for sg in model.subgraphs}
    for sg in model.subgraphs:
        defined = {t.uid for t in sg.inputs}
        produced: set[int] = set()
        for op in sg.ops:
            for t in op.inputs:
                if t is None:
                    continue
                if t.is_const:
                    _check_const(t)
                elif t.uid not in defined:
                    raise InvariantError(f"{sg.name}: {op} reads {t} before it is defined")
            for t in op.outputs:
                if t.uid in produced or t.uid in {i.uid for i in sg.inputs}:
                    raise InvariantError(f"{sg.name}: {t} has more than one producer")
                if t.is_const:
                    raise InvariantError(f"{sg.name}: {op} writes constant {t}")
                produced.add(t.uid)
                defined.add(t.uid)
            for key, body in op.subgraphs.items():
                if id(body) not in members:
                    raise InvariantError(f"{sg.name}: {op} runs subgraph {body.name} ({key}), which is not in the "
                                         "model")
            _check_interface(sg, op)
        for t in sg.outputs:
            if t.uid not in defined and not t.is_const:
                raise InvariantError(f"{sg.name}: output {t} is never produced")
    for sig in model.signatures:
        tensors = {t.uid for t in sig.subgraph.tensors()}
        for name, t in itertools.chain(sig.inputs.items(), sig.outputs.items()):
            if t.uid not in tensors:
                raise InvariantError(f"signature {sig.key}: {name} -> {t} is not in its subgraph")
    _check_no_recursion(model)


def _types(ts: Iterable[Tensor | None]) -> list[str | None]:
    return [t.dtype if t is not None else None for t in ts]


def _check_interface(sg: Subgraph, op: Op) -> None:
    where = f"{sg.name}: {op}"
    if op.kind == "WHILE":
        cond, body = op.subgraphs.get("cond_subgraph_index"), op.subgraphs.get("body_subgraph_index")
        if cond is None or body is None:
            raise InvariantError(f"{where} needs a cond and a body subgraph")
        loop = _types(op.inputs)
        if _types(op.outputs) != loop:
            raise InvariantError(f"{where}: outputs {_types(op.outputs)} are not the loop values {loop}")
        for part, types in (("cond inputs", _types(cond.inputs)), ("body inputs", _types(body.inputs)),
                            ("body outputs", _types(body.outputs))):
            if types != loop:
                raise InvariantError(f"{where}: {part} {types} are not the loop values {loop}")
        if _types(cond.outputs) != ["bool"]:
            raise InvariantError(f"{where}: cond returns {_types(cond.outputs)}, not one bool")
    elif op.kind == "IF":
        branches = [op.subgraphs.get("then_subgraph_index"), op.subgraphs.get("else_subgraph_index")]
        if any(b is None for b in branches):
            raise InvariantError(f"{where} needs a then and an else subgraph")
        if not op.inputs or op.inputs[0] is None or op.inputs[0].dtype != "bool":
            raise InvariantError(f"{where}: the first input must be the bool condition")
        for b in branches:
            assert b is not None
            if _types(b.inputs) != _types(op.inputs[1:]) or _types(b.outputs) != _types(op.outputs):
                raise InvariantError(f"{where}: branch {b.name} takes {_types(b.inputs)} and returns "
                                     f"{_types(b.outputs)}; the op passes {_types(op.inputs[1:])} and expects "
                                     f"{_types(op.outputs)}")
    elif op.subgraphs:
        raise InvariantError(f"{where} is not an op that runs subgraphs")


def _check_no_recursion(model: Model) -> None:
    state: dict[int, int] = {}

    def visit(sg: Subgraph) -> None:
        if state.get(id(sg)) == 1:
            raise InvariantError(f"subgraph {sg.name} runs itself (recursion)")
        if state.get(id(sg)) == 2:
            return
        state[id(sg)] = 1
        for op in sg.ops:
            for body in op.subgraphs.values():
                visit(body)
        state[id(sg)] = 2

    for sg in model.subgraphs:
        visit(sg)


def _check_const(t: Tensor) -> None:
    if t.is_lazy:
        assert t.lazy is not None
        dtype, shape = str(t.lazy.dtype), t.lazy.shape
    else:
        assert t.data is not None
        dtype, shape = str(t.data.dtype), tuple(t.data.shape)
    if dtype != t.dtype and not (t.dtype == "string" and dtype == "object"):
        raise InvariantError(f"{t} holds data of dtype {dtype}")
    if t.shape is not None and tuple(shape) != tuple(t.shape) and t.sparsity is None:  # (sparse: the values)
        raise InvariantError(f"{t} holds data of shape {shape}")


def dump(model: Model) -> str:
    """A deterministic, readable text form of the model, for golden tests and debugging."""
    lines: list[str] = []
    for sg in model.subgraphs:
        names = {t.uid: f"%{i}" for i, t in enumerate(sg.tensors())}

        def ref(t: Tensor | None, names: dict[int, str] = names) -> str:
            if t is None:
                return "-"
            s = names[t.uid]
            return f"{s}:const" if t.is_const else s

        lines.append(f"subgraph {sg.name}({', '.join(ref(t) for t in sg.inputs)}) -> "
                     f"({', '.join(ref(t) for t in sg.outputs)})")
        for t in sg.tensors():
            shape = "?" if t.shape is None else "x".join(str(d) for d in t.shape) or "scalar"
            lines.append(f"  {names[t.uid]} {t.dtype}[{shape}] {t.name}")
        for op in sg.ops:
            attrs = " ".join(f"{k}={v}" for k, v in sorted(op.attrs.items()))
            code = f"({op.custom_code})" if op.custom_code else ""
            if op.subgraphs:
                attrs = (attrs + " " + " ".join(f"{k}=@{b.name}" for k, b in sorted(op.subgraphs.items()))).strip()
            lines.append(f"  {', '.join(ref(t) for t in op.outputs)} = {op.kind}{code}"
                         f"({', '.join(ref(t) for t in op.inputs)}) {attrs}".rstrip())
    for sig in model.signatures:
        ins = ", ".join(f"{k}={v.name}" for k, v in sig.inputs.items())
        outs = ", ".join(f"{k}={v.name}" for k, v in sig.outputs.items())
        lines.append(f"signature {sig.key} [{sig.subgraph.name}] ({ins}) -> ({outs})")
    return "\n".join(lines) + "\n"


def unique_name(taken: set[str], base: str) -> str:
    name, n = base, 1
    while name in taken:
        name = f"{base}_{n}"
        n += 1
    taken.add(name)
    return name
