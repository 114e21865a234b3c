"""Neural-network layers: pooling, batch normalization, L2 normalization."""

from __future__ import annotations

import numpy as np

from ..importer import LowerCtx, Node
from ..registry import Unsupported, register
from .common import hw_pair, require_nhwc


@register("MaxPool", "AvgPool")
def pool(ctx: LowerCtx, node: Node) -> None:
    """MaxPool / AvgPool (2-D, NHWC) -> MAX_POOL_2D / AVERAGE_POOL_2D."""
    require_nhwc(node)
    kh, kw = hw_pair(node.attr("ksize"), "ksize")
    sh, sw = hw_pair(node.attr("strides"), "strides")
    pad = node.attr("padding")
    if pad not in ("SAME", "VALID"):
        raise Unsupported(f"padding {pad}")
    kind = "MAX_POOL_2D" if node.type == "MaxPool" else "AVERAGE_POOL_2D"
    ctx.emit(kind, [node.inputs[0]], node.out(), padding=pad, stride_h=sh, stride_w=sw, filter_height=kh,
             filter_width=kw)


@register("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")
def fused_batch_norm(ctx: LowerCtx, node: Node) -> None:
    """Inference FusedBatchNorm -> x * scale + offset with constant per-channel vectors (one MUL and one ADD,
    which the fusion passes fold into a preceding convolution)."""
    require_nhwc(node)
    if node.attr("is_training", False):
        raise Unsupported("FusedBatchNorm in training mode (export the model with training=False)")
    x = node.inputs[0]
    gamma = node.const_input(1, "scale").astype(np.float64)
    beta = node.const_input(2, "offset").astype(np.float64)
    mean = node.const_input(3, "mean").astype(np.float64)
    var = node.const_input(4, "variance").astype(np.float64)
    eps = float(node.attr("epsilon", 1e-3))
    scale = gamma / np.sqrt(var + eps)
    offset = beta - mean * scale
    scaled = ctx.tensor(node.name + "/scaled", x.dtype, x.shape)
    ctx.emit("MUL", [x, ctx.const(scale.astype(x.dtype), node.name + "/scale")], scaled)
    ctx.emit("ADD", [scaled, ctx.const(offset.astype(x.dtype), node.name + "/offset")], node.out())


@register("L2Normalize")
def l2_normalize(ctx: LowerCtx, node: Node) -> None:
    """L2Normalize -> L2_NORMALIZATION."""
    ctx.emit("L2_NORMALIZATION", [node.inputs[0]], node.out())
