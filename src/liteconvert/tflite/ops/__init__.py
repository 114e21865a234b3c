"""One declaration per TFLite builtin op we emit, holding everything we know about it.

A declaration (:class:`OpDecl`) names the op's options table and input slots (optional ones end with ``?``),
its version rule (``versions.py``), which input dtypes LiteRT's kernel accepts, whether the kernel applies a
fused activation, whether the op is pure, which option fields name subgraphs (WHILE, IF), its quantization
constraints (:class:`QuantSpec`) and a numpy reference that constant folding evaluates. The writer, folding,
fusion, the importer's kernel checks and quantization all read it; nothing keeps a second copy.

The declarations live by family: ``elementwise.py``, ``nn.py``, ``activation.py``, ``array.py``,
``reduce.py``, ``image.py``, ``quant.py``, ``control.py``. To add an op: declare it in its family with
:func:`declare` (``tests/tflite/test_decls.py`` checks it is a real builtin with real options).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from ...ir import Op
from .versions import VersionRule

Evaluator = Callable[[Op, list[np.ndarray]], list[np.ndarray]]

# The dtypes the kernel tables judge (others, quantized types included, are not judged).
JUDGED_DTYPES = frozenset({"float32", "int32", "int64", "float64"})
F = frozenset({"float32"})
FI = frozenset({"float32", "int32"})
FIL = frozenset({"float32", "int32", "int64"})
ANY = frozenset({"float32", "int32", "int64", "float64"})


@dataclass(frozen=True)
class QuantSpec:
    """How an op may be quantized, as LiteRT's integer kernels require.

    ``int8``/``int16``: the op has int8 / int16 (16x8) kernels. ``fixed_output``: the output parameters the
    kernel insists on, per dtype (``{"int8": (1/256, -128)}`` for SOFTMAX). ``same_scale``: the output keeps
    the scale and zero point of its data inputs (a reshape or a max pool moves values, it does not rescale).
    ``weights``/``weight_axis``: the input holding weights, quantized per channel along that axis. ``bias``:
    the input holding the bias (int32 with scale input x weight for int8, int64 for 16x8).
    """

    int8: bool = True
    int16: bool = False
    fixed_output: Mapping[str, tuple[float, int]] = field(default_factory=lambda: MappingProxyType({}))
    same_scale: bool = False
    weights: int | None = None
    weight_axis: int = 0
    bias: int | None = None


@dataclass(frozen=True)
class OpDecl:
    name: str
    options: str | None = None  # the options table in the BuiltinOptions union
    inputs: tuple[str, ...] = ()
    version: VersionRule = field(default=lambda op: 1)
    fused_activation: bool = False  # the kernel applies its fused_activation_function option
    pure: bool = True  # no effect beyond its outputs: may be folded, merged or dropped when unused
    kernel_dtypes: frozenset[str] | None = None  # judged dtypes of the data input the kernel takes
    data_input: int = 0  # the input whose dtype the kernel is chosen by
    reference: Evaluator | None = None  # numpy evaluation (constant folding)
    quant: QuantSpec | None = None  # None: no integer kernel
    subgraphs: tuple[str, ...] = ()  # option fields holding subgraph indices (Op.subgraphs keys)

    def kernel_limitation(self, op: Op) -> str | None:
        """Why LiteRT's kernel would reject ``op``'s dtype (None when fine or not judged)."""
        if self.kernel_dtypes is None:
            return None
        t = op.inputs[self.data_input] if self.data_input < len(op.inputs) else None
        if t is None or t.dtype not in JUDGED_DTYPES or t.dtype in self.kernel_dtypes:
            return None
        return (f"dtype {t.dtype}: LiteRT's {op.kind} kernel takes "
                f"{', '.join(sorted(self.kernel_dtypes & JUDGED_DTYPES))}, not {t.dtype}")


DECLS: dict[str, OpDecl] = {}


def declare(name: str, options: str | None = None, inputs: tuple[str, ...] = (), version: VersionRule | None = None,
            **facts: object) -> OpDecl:
    """Declare builtin ``name`` (once); ``facts`` are the other :class:`OpDecl` fields."""
    if name in DECLS:
        raise ValueError(f"TFLite op {name} is declared twice")
    d = OpDecl(name, options, inputs, version or (lambda op: 1), **facts)  # type: ignore[arg-type]
    DECLS[name] = d
    return d


def decl(kind: str) -> OpDecl:
    try:
        return DECLS[kind]
    except KeyError:
        raise KeyError(f"no TFLite declaration for op {kind}") from None


def kernel_limitation(op: Op) -> str | None:
    d = DECLS.get(op.kind)
    return d.kernel_limitation(op) if d is not None else None


# -- constant folding ---------------------------------------------------------------------------------------------

class NoFold(Exception):
    """Raised by a reference evaluator: this instance cannot be evaluated here (an unusual attribute)."""


# Do not materialize big tensors that are cheaper to compute at run time than to store.
MAX_FOLD_GROWTH = 1 << 16


def fold(op: Op) -> bool:
    """If every input of ``op`` is a constant and its declaration has a reference, make its outputs constants
    (True); the caller drops the op."""
    d = DECLS.get(op.kind)
    if d is None or d.reference is None or not d.pure or not op.inputs or op.subgraphs:
        return False
    if any(t is None or not t.is_const or t.dtype == "string" for t in op.inputs):
        return False
    if op.attrs.get("fused_activation_function", "NONE") not in ("NONE", None):
        return False
    if any(t.quant is not None for t in (*op.inputs, *op.outputs) if t is not None):
        return False
    try:
        with np.errstate(all="ignore"):
            results = d.reference(op, [t.data for t in op.inputs])  # type: ignore[misc, union-attr]
    except NoFold:
        return False
    in_size = sum(int(np.prod(t.shape or ())) for t in op.inputs)  # type: ignore[union-attr]
    if any(np.size(r) > max(MAX_FOLD_GROWTH, 2 * in_size) for r in results):
        return False
    arrays = []
    for t, r in zip(op.outputs, results, strict=True):
        r = np.asarray(np.asarray(r).astype(t.dtype, copy=False), order="C")  # (ascontiguousarray makes 0-d 1-d)
        if t.shape is not None and -1 not in t.shape and tuple(r.shape) != tuple(t.shape):
            return False
        arrays.append(r)
    for t, r in zip(op.outputs, arrays, strict=True):
        t.data = r
        t.shape = tuple(int(d) for d in r.shape)
    return True


# Importing the families fills DECLS.
from . import activation, array, control, elementwise, image, nn, quant, reduce  # noqa: E402, F401

__all__ = ["DECLS", "JUDGED_DTYPES", "MAX_FOLD_GROWTH", "NoFold", "OpDecl", "QuantSpec", "decl", "declare", "fold",
           "kernel_limitation"]
