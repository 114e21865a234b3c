"""Image ops: bilinear and nearest-neighbour resize."""

from __future__ import annotations

from ..importer import LowerCtx, Node
from ..registry import register
from .common import as_int32


@register("ResizeBilinear", "ResizeNearestNeighbor")
def resize(ctx: LowerCtx, node: Node) -> None:
    """ResizeBilinear / ResizeNearestNeighbor -> RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR."""
    kind = "RESIZE_BILINEAR" if node.type == "ResizeBilinear" else "RESIZE_NEAREST_NEIGHBOR"
    x, size = node.inputs
    ctx.emit(kind, [x, as_int32(ctx, size)], node.out(), align_corners=bool(node.attr("align_corners", False)),
             half_pixel_centers=bool(node.attr("half_pixel_centers", False)))
