"""Element-wise arithmetic and comparisons, and reductions."""

from __future__ import annotations

import numpy as np

from ..importer import LowerCtx, Node
from ..registry import Unsupported, register
from .common import as_int32

_BINARY = {
    "Add": "ADD", "AddV2": "ADD", "Sub": "SUB", "Mul": "MUL", "RealDiv": "DIV", "Div": "DIV",
    "Maximum": "MAXIMUM", "Minimum": "MINIMUM", "Pow": "POW", "SquaredDifference": "SQUARED_DIFFERENCE",
    "FloorDiv": "FLOOR_DIV", "FloorMod": "FLOOR_MOD", "Less": "LESS", "Greater": "GREATER", "Equal": "EQUAL",
    "NotEqual": "NOT_EQUAL", "LessEqual": "LESS_EQUAL", "GreaterEqual": "GREATER_EQUAL",
    "LogicalAnd": "LOGICAL_AND", "LogicalOr": "LOGICAL_OR",
}

_UNARY = {
    "Neg": "NEG", "Abs": "ABS", "Sqrt": "SQRT", "Rsqrt": "RSQRT", "Exp": "EXP", "Log": "LOG", "Square": "SQUARE",
    "Floor": "FLOOR", "Ceil": "CEIL", "Round": "ROUND", "Sin": "SIN", "Cos": "COS", "Sign": "SIGN",
    "LogicalNot": "LOGICAL_NOT", "ZerosLike": "ZEROS_LIKE",
}


@register(*_BINARY)
def binary(ctx: LowerCtx, node: Node) -> None:
    """Element-wise binary op with numpy broadcasting -> the TFLite op of the same meaning."""
    kind = _BINARY[node.type]
    x, y = node.inputs
    if node.type == "Div" and x.dtype.startswith("int"):
        kind = "FLOOR_DIV"  # TF's integer Div floors
    if kind == "DIV" and y.data is not None and x.dtype == "float32" and y.dtype == "float32":
        # Multiplying by the reciprocal is faster and folds into weights.
        recip = ctx.const((1.0 / y.data).astype(np.float32), node.name + "/reciprocal")
        ctx.emit("MUL", [x, recip], node.out())
        return
    ctx.emit(kind, [x, y], node.out())


@register(*_UNARY)
def unary(ctx: LowerCtx, node: Node) -> None:
    """Element-wise unary op -> the TFLite op of the same meaning."""
    ctx.emit(_UNARY[node.type], [node.inputs[0]], node.out())


@register("Reciprocal", "Inv")
def reciprocal(ctx: LowerCtx, node: Node) -> None:
    """1/x -> DIV(1, x)."""
    x = node.inputs[0]
    one = ctx.const(np.ones((), dtype=x.dtype), node.name + "/one")
    ctx.emit("DIV", [one, x], node.out())


@register("AddN")
def add_n(ctx: LowerCtx, node: Node) -> None:
    """AddN -> a chain of ADD."""
    acc = node.inputs[0]
    for i, t in enumerate(node.inputs[1:]):
        last = i == len(node.inputs) - 2
        out = node.out() if last else ctx.tensor(f"{node.name}/acc{i}", acc.dtype, node.out().shape)
        ctx.emit("ADD", [acc, t], out)
        acc = out


@register("Cast")
def cast(ctx: LowerCtx, node: Node) -> None:
    """Cast -> CAST (a cast to the same type is dropped)."""
    x = node.inputs[0]
    if x.dtype == node.out().dtype:
        node.forward(0, x)
        return
    ctx.emit("CAST", [x], node.out(), in_data_type=x.dtype.upper(), out_data_type=node.out().dtype.upper())


_REDUCERS = {"Mean": "MEAN", "Sum": "SUM", "Max": "REDUCE_MAX", "Min": "REDUCE_MIN", "Prod": "REDUCE_PROD",
             "Any": "REDUCE_ANY", "All": "REDUCE_ALL"}


@register("Mean", "Sum", "Max", "Min", "Prod")
def reduce(ctx: LowerCtx, node: Node) -> None:
    """Reductions over constant axes -> MEAN / SUM / REDUCE_MAX / REDUCE_MIN / REDUCE_PROD."""
    x = node.inputs[0]
    axes = np.asarray(node.const_input(1, "axes")).reshape(-1).astype(np.int32)
    if x.rank is not None:
        axes = np.asarray(sorted({int(a) % x.rank for a in axes}), dtype=np.int32)
    ctx.emit(_REDUCERS[node.type], [x, ctx.const(axes, node.name + "/axes")], node.out(),
             keep_dims=bool(node.attr("keep_dims", False)))


@register("ArgMax", "ArgMin")
def argmax(ctx: LowerCtx, node: Node) -> None:
    """ArgMax / ArgMin -> ARG_MAX / ARG_MIN."""
    kind = "ARG_MAX" if node.type == "ArgMax" else "ARG_MIN"
    ctx.emit(kind, [node.inputs[0], as_int32(ctx, node.inputs[1])], node.out(),
             output_type=node.out().dtype.upper())


@register("Select", "SelectV2")
def select(ctx: LowerCtx, node: Node) -> None:
    """Select / SelectV2 -> SELECT_V2 (broadcasting)."""
    c, x, y = node.inputs
    if node.type == "Select" and c.rank == 1 and x.rank and x.rank > 1:
        raise Unsupported("Select with a vector condition over a higher-rank tensor")
    ctx.emit("SELECT_V2", [c, x, y], node.out())


@register("Cumsum")
def cumsum(ctx: LowerCtx, node: Node) -> None:
    """Cumsum -> CUMSUM."""
    ctx.emit("CUMSUM", [node.inputs[0], as_int32(ctx, node.inputs[1])], node.out(),
             exclusive=bool(node.attr("exclusive", False)), reverse=bool(node.attr("reverse", False)))
