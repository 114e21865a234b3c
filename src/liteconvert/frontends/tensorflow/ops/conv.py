"""Convolutions and matrix products: Conv2D, DepthwiseConv2dNative, Conv2DBackpropInput, MatMul, BiasAdd."""

from __future__ import annotations

import numpy as np

from ..importer import LowerCtx, Node
from ..registry import Unsupported, register
from .common import hw_pair, int32_const, require_nhwc


def _padding(ctx: LowerCtx, node: Node, x):
    """TF padding to TFLite padding; EXPLICIT padding becomes a PAD op in front and VALID."""
    pad = node.attr("padding")
    if pad in ("SAME", "VALID"):
        return x, pad
    if pad == "EXPLICIT":
        pads = np.asarray(node.attr("explicit_paddings"), dtype=np.int32).reshape(-1, 2)
        shape = None
        if x.shape is not None:
            shape = tuple(d if d < 0 else d + int(p.sum()) for d, p in zip(x.shape, pads, strict=True))
        padded = ctx.tensor(node.name + "/pad", x.dtype, shape)
        ctx.emit("PAD", [x, int32_const(ctx, pads, node.name + "/paddings")], padded)
        return padded, "VALID"
    raise Unsupported(f"padding {pad}")


@register("Conv2D")
def conv2d(ctx: LowerCtx, node: Node) -> None:
    """Conv2D -> CONV_2D (filter HWIO -> OHWI); grouped convolutions split into one CONV_2D per group."""
    require_nhwc(node)
    x, wt = node.inputs[0], node.const_tensor(1, "filter")
    sh, sw = hw_pair(node.attr("strides"), "strides")
    dh, dw = hw_pair(node.attr("dilations", [1, 1, 1, 1]), "dilations")
    x, padding = _padding(ctx, node, x)
    _, _, cin, cout = wt.shape
    channels = x.shape[-1] if x.shape else -1
    attrs = dict(padding=padding, stride_h=sh, stride_w=sw, dilation_h_factor=dh, dilation_w_factor=dw)
    groups = channels // cin if channels > 0 else 1
    if groups == 1:
        filt = ctx.transformed(wt, node.name + "/filter", perm=(3, 0, 1, 2))
        bias = ctx.const(np.zeros(cout, dtype=wt.dtype), node.name + "/bias")
        ctx.emit("CONV_2D", [x, filt, bias], node.out(), **attrs)
        return
    w = wt.data  # grouped: the groups are slices of the filter
    per = cout // groups
    if cin == 1:  # one input channel per group is a depthwise convolution (ConvNeXt's Conv2D(groups=C))
        filt = ctx.const(np.ascontiguousarray(w.reshape(1, *w.shape[:2], cout)), node.name + "/filter")
        bias = ctx.const(np.zeros(cout, dtype=w.dtype), node.name + "/bias")
        ctx.emit("DEPTHWISE_CONV_2D", [x, filt, bias], node.out(), depth_multiplier=per, **attrs)
        return
    # Grouped: SPLIT the input channels, one CONV_2D per group, CONCATENATION of the results.
    parts = [ctx.tensor(f"{node.name}/group{g}/in", x.dtype, (*x.shape[:-1], cin)) for g in range(groups)]
    ctx.emit("SPLIT", [int32_const(ctx, 3, node.name + "/axis"), x], parts, num_splits=groups)
    outs = []
    oshape = node.out().shape
    for g in range(groups):
        wg = w[..., g * per:(g + 1) * per]
        filt = ctx.const(np.ascontiguousarray(wg.transpose(3, 0, 1, 2)), f"{node.name}/group{g}/filter")
        bias = ctx.const(np.zeros(per, dtype=w.dtype), f"{node.name}/group{g}/bias")
        og = ctx.tensor(f"{node.name}/group{g}", x.dtype, (*oshape[:-1], per) if oshape else None)
        ctx.emit("CONV_2D", [parts[g], filt, bias], og, **attrs)
        outs.append(og)
    ctx.emit("CONCATENATION", outs, node.out(), axis=3)


@register("DepthwiseConv2dNative")
def depthwise(ctx: LowerCtx, node: Node) -> None:
    """DepthwiseConv2dNative -> DEPTHWISE_CONV_2D (filter HWCM -> 1,H,W,C*M)."""
    require_nhwc(node)
    x, w = node.inputs[0], node.const_tensor(1, "filter")
    sh, sw = hw_pair(node.attr("strides"), "strides")
    dh, dw = hw_pair(node.attr("dilations", [1, 1, 1, 1]), "dilations")
    x, padding = _padding(ctx, node, x)
    kh, kw, c, m = w.shape
    filt = ctx.transformed(w, node.name + "/filter", shape=(1, kh, kw, c * m))
    bias = ctx.const(np.zeros(c * m, dtype=w.dtype), node.name + "/bias")
    ctx.emit("DEPTHWISE_CONV_2D", [x, filt, bias], node.out(), padding=padding, stride_h=sh, stride_w=sw,
             depth_multiplier=m, dilation_h_factor=dh, dilation_w_factor=dw)


@register("Conv2DBackpropInput")
def conv2d_transpose(ctx: LowerCtx, node: Node) -> None:
    """Conv2DBackpropInput -> TRANSPOSE_CONV (filter H,W,O,I -> O,H,W,I)."""
    require_nhwc(node)
    sizes, wt, x = node.inputs[0], node.const_tensor(1, "filter"), node.inputs[2]
    sh, sw = hw_pair(node.attr("strides"), "strides")
    dh, dw = hw_pair(node.attr("dilations", [1, 1, 1, 1]), "dilations")
    w = wt
    if (dh, dw) != (1, 1):  # TRANSPOSE_CONV has no dilation: the same filter with zeros between its taps
        w = wt.data
        kh, kw = w.shape[:2]
        dilated = np.zeros(((kh - 1) * dh + 1, (kw - 1) * dw + 1, *w.shape[2:]), dtype=w.dtype)
        dilated[::dh, ::dw] = w
        w = ctx.const(dilated, node.name + "/dilated")
    pad = node.attr("padding")
    if pad not in ("SAME", "VALID"):
        raise Unsupported(f"padding {pad}")
    from .common import as_int32

    filt = ctx.transformed(w, node.name + "/filter", perm=(2, 0, 1, 3))
    bias = ctx.const(np.zeros(w.shape[2], dtype=w.dtype), node.name + "/bias")
    ctx.emit("TRANSPOSE_CONV", [as_int32(ctx, sizes), filt, x, bias], node.out(), padding=pad,
             stride_h=sh, stride_w=sw)


def _fully_connected(ctx: LowerCtx, node: Node, x, y, transpose: bool, keep_num_dims: bool) -> None:
    """``y`` is the constant right operand: [in, out], or [out, in] with ``transpose`` False."""
    w = ctx.transformed(y, node.name + "/weights", perm=(1, 0) if transpose else None)
    bias = ctx.const(np.zeros(w.shape[0], dtype=y.dtype), node.name + "/bias")
    ctx.emit("FULLY_CONNECTED", [x, w, bias], node.out(), keep_num_dims=keep_num_dims)


@register("MatMul")
def matmul(ctx: LowerCtx, node: Node) -> None:
    """MatMul with constant weights -> FULLY_CONNECTED; with two variable operands -> BATCH_MATMUL."""
    x, y = node.inputs
    ta, tb = bool(node.attr("transpose_a", False)), bool(node.attr("transpose_b", False))
    if y.is_const and not ta and x.dtype == "float32":
        _fully_connected(ctx, node, x, y, transpose=not tb, keep_num_dims=False)
        return
    ctx.emit("BATCH_MATMUL", [x, y], node.out(), adj_x=ta, adj_y=tb)


@register("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")
def batch_matmul(ctx: LowerCtx, node: Node) -> None:
    """BatchMatMul; a constant 2-D right operand becomes FULLY_CONNECTED with keep_num_dims."""
    x, y = node.inputs[0], node.inputs[1]
    ta, tb = bool(node.attr("adj_x", False)), bool(node.attr("adj_y", False))
    if y.is_const and y.rank == 2 and not ta and x.dtype == "float32" and x.rank and x.rank >= 2:
        _fully_connected(ctx, node, x, y, transpose=not tb, keep_num_dims=True)
        return
    ctx.emit("BATCH_MATMUL", [x, y], node.out(), adj_x=ta, adj_y=tb)


@register("BiasAdd", "BiasAddV1")
def bias_add(ctx: LowerCtx, node: Node) -> None:
    """BiasAdd -> ADD of a per-channel constant (fused into the producing op by ``fuse_bias``)."""
    require_nhwc(node)
    ctx.emit("ADD", [node.inputs[0], node.inputs[1]], node.out())
