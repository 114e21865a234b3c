"""Small helpers shared by the lowering rules."""

from __future__ import annotations

import numpy as np

from ....ir import Tensor
from ..importer import LowerCtx, Node
from ..registry import Unsupported


def require_nhwc(node: Node) -> None:
    fmt = node.attr("data_format", "NHWC")
    if fmt not in ("NHWC", "NWC", "NDHWC"):
        raise Unsupported(f"data_format {fmt} (only channels-last is supported)")


def hw_pair(values: list[int], what: str) -> tuple[int, int]:
    """The (h, w) pair of a 4-element NHWC attribute such as strides, checking batch and channel are 1."""
    if len(values) != 4 or values[0] != 1 or values[3] != 1:
        raise Unsupported(f"{what} {values} (only spatial {what} are supported)")
    return int(values[1]), int(values[2])


def axis_value(node: Node, i: int, rank: int | None) -> int:
    a = int(np.asarray(node.const_input(i, "axis")).reshape(-1)[0])
    if a < 0:
        if rank is None:
            raise Unsupported("a negative axis on a tensor of unknown rank")
        a += rank
    return a


def int32_const(ctx: LowerCtx, values: object, base: str) -> Tensor:
    return ctx.const(np.asarray(values, dtype=np.int32), base)


def as_int32(ctx: LowerCtx, t: Tensor) -> Tensor:
    """Constants become int32; a dynamic int64 tensor gets a CAST."""
    if t.dtype == "int32":
        return t
    if t.data is not None:
        return ctx.const(t.data.astype(np.int32), t.name + "_i32")
    out = ctx.tensor(t.name + "_i32", "int32", t.shape)
    ctx.emit("CAST", [t], out)
    return out
