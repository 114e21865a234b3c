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


@dataclass(eq=False)
class Tensor:
    """A value in the graph. ``data`` is set for constants (a numpy array whose dtype is the tensor's)."""

    name: str
    dtype: str
    shape: Shape
    data: np.ndarray | None = None
    quant: QuantParams | None = None
    source: str | None = None
    is_variable: bool = False
    uid: int = field(default_factory=lambda: next(_ids))

    @property
    def is_const(self) -> bool:
        return self.data is not None

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
    (``padding="SAME"``). ``source`` names the node of the source model it came from, for error messages.
    """

    kind: str
    inputs: list[Tensor | None]
    outputs: list[Tensor]
    attrs: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    custom_code: str | None = None
    custom_options: bytes | None = None

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
    dtype and shape.
    """
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
        for t in sg.outputs:
            if t.uid not in defined and not t.is_const:
                raise InvariantError(f"{sg.name}: output {t} is never produced")
    for sig in model.signatures:
        members = {t.uid for t in sig.subgraph.tensors()}
        for name, t in itertools.chain(sig.inputs.items(), sig.outputs.items()):
            if t.uid not in members:
                raise InvariantError(f"signature {sig.key}: {name} -> {t} is not in its subgraph")


def _check_const(t: Tensor) -> None:
    assert t.data is not None
    if str(t.data.dtype) != t.dtype and not (t.dtype == "string" and t.data.dtype == object):
        raise InvariantError(f"{t} holds data of dtype {t.data.dtype}")
    if t.shape is not None and tuple(t.data.shape) != tuple(t.shape):
        raise InvariantError(f"{t} holds data of shape {t.data.shape}")


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


def iter_consts(ops: Iterable[Op]) -> Iterator[Tensor]:
    for op in ops:
        for t in op.inputs:
            if t is not None and t.is_const:
                yield t
