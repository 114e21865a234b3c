"""Shape and data movement: Reshape, Squeeze, ExpandDims, Shape, StridedSlice, Pack, Concat, Pad, Transpose..."""

from __future__ import annotations

import numpy as np

from ..importer import LowerCtx, Node
from ..registry import Unsupported, register
from .common import as_int32, axis_value, int32_const


@register("Reshape")
def reshape(ctx: LowerCtx, node: Node) -> None:
    """Reshape -> RESHAPE (the target shape as an int32 input tensor)."""
    x, shape = node.inputs
    out = node.out()
    if shape.data is None and out.shape is not None and sum(d < 0 for d in out.shape) <= 1:
        shape = int32_const(ctx, out.shape, node.name + "/shape")  # static result: no run-time shape math
    ctx.emit("RESHAPE", [x, as_int32(ctx, shape)], out)


def _static_reshape(ctx: LowerCtx, node: Node) -> bool:
    out = node.out()
    if out.shape is None or sum(d < 0 for d in out.shape) > 1:
        return False
    ctx.emit("RESHAPE", [node.inputs[0], int32_const(ctx, out.shape, node.name + "/shape")], out)
    return True


@register("Squeeze")
def squeeze(ctx: LowerCtx, node: Node) -> None:
    """Squeeze -> RESHAPE when the result shape is known, else SQUEEZE."""
    if not _static_reshape(ctx, node):
        ctx.emit("SQUEEZE", [node.inputs[0]], node.out(), squeeze_dims=list(node.attr("squeeze_dims", [])))


@register("ExpandDims")
def expand_dims(ctx: LowerCtx, node: Node) -> None:
    """ExpandDims -> RESHAPE when the result shape is known, else EXPAND_DIMS."""
    if not _static_reshape(ctx, node):
        ctx.emit("EXPAND_DIMS", [node.inputs[0], as_int32(ctx, node.inputs[1])], node.out())


@register("Shape")
def shape(ctx: LowerCtx, node: Node) -> None:
    """Shape -> SHAPE (a constant when the input's shape is static)."""
    x = node.inputs[0]
    dtype = node.out().dtype
    if x.is_static:
        node.forward(0, ctx.const(np.asarray(x.shape, dtype=dtype), node.name))
        return
    ctx.emit("SHAPE", [x], node.out(), out_type=dtype.upper())


@register("Size")
def size(ctx: LowerCtx, node: Node) -> None:
    """Size of a static tensor -> a constant."""
    x = node.inputs[0]
    if not x.is_static:
        raise Unsupported("Size of a tensor with a dynamic dimension")
    node.forward(0, ctx.const(np.asarray(int(np.prod(x.shape)), dtype=node.out().dtype), node.name))


@register("Rank")
def rank(ctx: LowerCtx, node: Node) -> None:
    """Rank of a ranked tensor -> a constant."""
    x = node.inputs[0]
    if x.rank is None:
        raise Unsupported("Rank of a tensor of unknown rank")
    node.forward(0, ctx.const(np.asarray(x.rank, dtype=np.int32), node.name))


@register("StridedSlice")
def strided_slice(ctx: LowerCtx, node: Node) -> None:
    """StridedSlice -> STRIDED_SLICE with the same masks."""
    x, b, e, s = node.inputs
    ctx.emit("STRIDED_SLICE", [x, as_int32(ctx, b), as_int32(ctx, e), as_int32(ctx, s)], node.out(),
             begin_mask=node.attr("begin_mask", 0), end_mask=node.attr("end_mask", 0),
             ellipsis_mask=node.attr("ellipsis_mask", 0), new_axis_mask=node.attr("new_axis_mask", 0),
             shrink_axis_mask=node.attr("shrink_axis_mask", 0))


@register("Slice")
def slice_(ctx: LowerCtx, node: Node) -> None:
    """Slice -> SLICE."""
    x, b, sz = node.inputs
    ctx.emit("SLICE", [x, as_int32(ctx, b), as_int32(ctx, sz)], node.out())


@register("Pack")
def pack(ctx: LowerCtx, node: Node) -> None:
    """Pack -> PACK."""
    axis = int(node.attr("axis", 0))
    if axis < 0:
        axis += node.out().rank or 0
    ctx.emit("PACK", list(node.inputs), node.out(), values_count=len(node.inputs), axis=axis)


@register("Unpack")
def unpack(ctx: LowerCtx, node: Node) -> None:
    """Unpack -> UNPACK."""
    x = node.inputs[0]
    axis = int(node.attr("axis", 0))
    if axis < 0:
        axis += x.rank or 0
    ctx.emit("UNPACK", [x], node.outputs, num=int(node.attr("num")), axis=axis)


@register("ConcatV2")
def concat(ctx: LowerCtx, node: Node) -> None:
    """ConcatV2 -> CONCATENATION (the axis is the last input)."""
    values = node.inputs[:-1]
    axis = axis_value(node, len(node.inputs) - 1, node.out().rank)
    if len(values) == 1:
        node.forward(0, values[0])
        return
    ctx.emit("CONCATENATION", list(values), node.out(), axis=axis)


@register("Pad", "PadV2", "MirrorPad")
def pad(ctx: LowerCtx, node: Node) -> None:
    """Pad -> PAD, PadV2 -> PADV2 (PAD when the value is 0), MirrorPad -> MIRROR_PAD."""
    x, paddings = node.inputs[0], as_int32(ctx, node.inputs[1])
    if node.type == "MirrorPad":
        ctx.emit("MIRROR_PAD", [x, paddings], node.out(), mode=node.attr("mode", "REFLECT"))
        return
    if node.type == "PadV2":
        value = node.inputs[2]
        if value.data is None or float(np.asarray(value.data).reshape(-1)[0]) != 0.0:
            ctx.emit("PADV2", [x, paddings, value], node.out())
            return
    ctx.emit("PAD", [x, paddings], node.out())


@register("Transpose")
def transpose(ctx: LowerCtx, node: Node) -> None:
    """Transpose -> TRANSPOSE (dropped when the permutation is the identity)."""
    x, perm = node.inputs
    if perm.data is not None and np.array_equal(perm.data.reshape(-1), np.arange(perm.data.size)):
        node.forward(0, x)
        return
    ctx.emit("TRANSPOSE", [x, as_int32(ctx, perm)], node.out())


@register("Fill")
def fill(ctx: LowerCtx, node: Node) -> None:
    """Fill -> FILL."""
    ctx.emit("FILL", [as_int32(ctx, node.inputs[0]), node.inputs[1]], node.out())


@register("Tile")
def tile(ctx: LowerCtx, node: Node) -> None:
    """Tile -> TILE."""
    ctx.emit("TILE", [node.inputs[0], as_int32(ctx, node.inputs[1])], node.out())


@register("BroadcastTo")
def broadcast_to(ctx: LowerCtx, node: Node) -> None:
    """BroadcastTo -> BROADCAST_TO."""
    ctx.emit("BROADCAST_TO", [node.inputs[0], as_int32(ctx, node.inputs[1])], node.out())


@register("GatherV2", "Gather")
def gather(ctx: LowerCtx, node: Node) -> None:
    """GatherV2 -> GATHER."""
    params, indices = node.inputs[0], node.inputs[1]
    axis = axis_value(node, 2, params.rank) if node.type == "GatherV2" else 0
    batch_dims = int(node.attr("batch_dims", 0))
    ctx.emit("GATHER", [params, as_int32(ctx, indices)], node.out(), axis=axis, batch_dims=batch_dims)


@register("Split")
def split(ctx: LowerCtx, node: Node) -> None:
    """Split -> SPLIT."""
    axis, x = node.inputs
    ctx.emit("SPLIT", [as_int32(ctx, axis), x], node.outputs, num_splits=int(node.attr("num_split")))


@register("SplitV")
def split_v(ctx: LowerCtx, node: Node) -> None:
    """SplitV -> SPLIT_V."""
    x, sizes, axis = node.inputs
    ctx.emit("SPLIT_V", [x, as_int32(ctx, sizes), as_int32(ctx, axis)], node.outputs,
             num_splits=int(node.attr("num_split")))


@register("Range")
def range_(ctx: LowerCtx, node: Node) -> None:
    """Range -> RANGE."""
    ctx.emit("RANGE", list(node.inputs), node.out())


@register("DepthToSpace", "SpaceToDepth")
def depth_space(ctx: LowerCtx, node: Node) -> None:
    """DepthToSpace / SpaceToDepth -> DEPTH_TO_SPACE / SPACE_TO_DEPTH."""
    kind = "DEPTH_TO_SPACE" if node.type == "DepthToSpace" else "SPACE_TO_DEPTH"
    ctx.emit(kind, [node.inputs[0]], node.out(), block_size=int(node.attr("block_size")))


@register("SpaceToBatchND", "BatchToSpaceND")
def space_batch(ctx: LowerCtx, node: Node) -> None:
    """SpaceToBatchND / BatchToSpaceND -> SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND."""
    kind = "SPACE_TO_BATCH_ND" if node.type == "SpaceToBatchND" else "BATCH_TO_SPACE_ND"
    x, block, pads = node.inputs
    ctx.emit(kind, [x, as_int32(ctx, block), as_int32(ctx, pads)], node.out())
