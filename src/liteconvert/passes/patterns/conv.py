"""Dilated convolutions as TensorFlow runs them: SPACE_TO_BATCH_ND, convolution, BATCH_TO_SPACE_ND (with
reshapes around a 1-D convolution) becomes one CONV_2D / DEPTHWISE_CONV_2D with dilation."""

from __future__ import annotations

import numpy as np

from ...ir import Model, Op, Tensor, const
from .. import PassContext, register_pass
from .match import NO_ACT, Rewrite, Site, act, int_const, rewrite, shape_value


def _squeezed_axis(big: Tensor, small: Tensor) -> int | None:
    """The axis of ``big`` that ``small`` lacks (a size-1 axis), if ``big`` is ``small`` with one more."""
    if big.shape is None or small.shape is None or len(big.shape) != len(small.shape) + 1:
        return None
    for a in range(len(big.shape)):
        if big.shape[a] == 1 and big.shape[:a] + big.shape[a + 1:] == small.shape:
            return a
    return None


def _same_padding(total: int) -> tuple[int, int]:
    """LiteRT's SAME padding at stride 1 for an effective filter of ``total + 1``: the odd one goes after."""
    return total // 2, total - total // 2


def _net_padding(pads: Tensor | None, crops: Tensor | None, x: Tensor, rank: int,
                 producers: dict[int, Op]) -> list[tuple[int, int]] | None:
    """Padding minus cropping per blocked axis: what the dilated convolution really pads, when it is the same
    for every input size (checked on sample sizes when the paddings are computed at run time)."""
    if pads is None or crops is None or x.shape is None:
        return None
    if pads.data is not None and crops.data is not None:
        samples = [None]
    else:
        samples = [[d if d >= 0 else n for d in x.shape] for n in (5, 8, 13)]
    nets = []
    for sample in samples:
        p = int_const(pads) if sample is None else shape_value(pads, producers, x, sample)
        c = int_const(crops) if sample is None else shape_value(crops, producers, x, sample)
        if p is None or c is None or p.size != 2 * rank or c.size != 2 * rank:
            return None
        net = p.reshape(-1, 2).astype(np.int64) - c.reshape(-1, 2).astype(np.int64)
        if np.any(net < 0):
            return None
        nets.append(net)
    if any(not np.array_equal(n, nets[0]) for n in nets):
        return None
    return [(int(a), int(b)) for a, b in nets[0]]


def _through_reshape(site: Site, t: Tensor) -> tuple[Op | None, Op | None]:
    """(the RESHAPE producing ``t``, or None; the producer of the tensor before it)."""
    cur = site.producers.get(t.uid)
    if cur is not None and cur.kind == "RESHAPE":
        return cur, site.producers.get(cur.inputs[0].uid)
    return None, cur


def _dilated_match(site: Site, b2s: Op) -> Rewrite | None:
    if b2s.kind != "BATCH_TO_SPACE_ND":
        return None
    squeeze, conv = _through_reshape(site, b2s.inputs[0])
    if conv is None or conv.kind not in ("CONV_2D", "DEPTHWISE_CONV_2D") or act(conv) not in NO_ACT:
        return None
    if conv.attrs.get("padding") != "VALID" or conv.attrs.get("stride_h", 1) != 1 \
            or conv.attrs.get("stride_w", 1) != 1 or conv.attrs.get("dilation_h_factor", 1) != 1 \
            or conv.attrs.get("dilation_w_factor", 1) != 1:
        return None
    expand, s2b = _through_reshape(site, conv.inputs[0])
    if s2b is None or s2b.kind != "SPACE_TO_BATCH_ND" or (expand is None) != (squeeze is None):
        return None
    block, block2 = int_const(s2b.inputs[1]), int_const(b2s.inputs[1])
    if block is None or block2 is None or not np.array_equal(block.reshape(-1), block2.reshape(-1)):
        return None
    block = block.reshape(-1)
    inner = [s2b, expand, conv, squeeze]
    if any(o is not None and site.only_reader(o.outputs[0]) is None for o in inner):
        return None
    x, y = s2b.inputs[0], b2s.outputs[0]
    if x.shape is None or y.shape is None:
        return None
    net = _net_padding(s2b.inputs[2], b2s.inputs[2], x, len(block), site.producers)
    if net is None:
        return None
    rank = len(block)
    kh, kw = conv.inputs[1].shape[1:3]
    if rank == 2 and expand is None:
        spatial = [1, 2]  # the conv's H and W axes that the blocks apply to
    elif rank == 1 and expand is not None:
        a = _squeezed_axis(expand.outputs[0], expand.inputs[0])
        if a is None or a not in (1, 2) or _squeezed_axis(squeeze.inputs[0], squeeze.outputs[0]) != a:
            return None
        spatial = [3 - a]  # the conv axis that is x's axis 1
    else:
        return None
    dil = {1: 1, 2: 1}
    pad_conv = {1: (0, 0), 2: (0, 0)}
    for i, ax in enumerate(spatial):
        dil[ax] = int(block[i])
        pad_conv[ax] = net[i]
    k = {1: kh, 2: kw}
    same = all(pad_conv[ax] == _same_padding((k[ax] - 1) * dil[ax]) for ax in (1, 2))
    valid = all(pad_conv[ax] == (0, 0) for ax in (1, 2))
    new_ops: list[Op] = []
    src = x
    if expand is not None:
        a = 3 - spatial[0]
        shape4 = (*x.shape[:a], 1, *x.shape[a:])
        t = Tensor(x.name + "/expand", x.dtype, shape4, source=conv.source)
        new_ops.append(Op("RESHAPE", [x, const(t.name + "/shape", np.asarray(
            [-1 if d < 0 else d for d in shape4], np.int32))], [t], source=conv.source))
        src = t
    if not same and not valid:
        p = np.zeros((4, 2), np.int32)
        p[1], p[2] = pad_conv[1], pad_conv[2]
        shape = tuple(d if d < 0 or i not in (1, 2) else d + int(p[i].sum())
                      for i, d in enumerate(src.shape))
        t = Tensor(src.name + "/dilation_pad", src.dtype, shape, source=conv.source)
        new_ops.append(Op("PAD", [src, const(t.name + "/paddings", p)], [t], source=conv.source))
        src = t
    out = y
    if squeeze is not None:
        oshape = list(y.shape)
        a = 3 - spatial[0]
        out = Tensor(y.name + "/conv", y.dtype, (*oshape[:a], 1, *oshape[a:]), source=conv.source)
    attrs = dict(conv.attrs, padding="SAME" if same else "VALID", dilation_h_factor=dil[1],
                 dilation_w_factor=dil[2])
    new_ops.append(Op(conv.kind, [src, *conv.inputs[1:]], [out], attrs, source=conv.source))
    if squeeze is not None:
        new_ops.append(Op("RESHAPE", [out, const(y.name + "/shape", np.asarray(
            [-1 if d < 0 else d for d in y.shape], np.int32))], [y], source=conv.source))
    return Rewrite([o for o in (*inner, b2s) if o is not None], new_ops)


@register_pass
def fuse_dilated_conv(model: Model, ctx: PassContext) -> bool:
    """SPACE_TO_BATCH_ND -> [RESHAPE] -> CONV_2D/DEPTHWISE_CONV_2D -> [RESHAPE] -> BATCH_TO_SPACE_ND: a dilated
    convolution with the effective padding (SAME, VALID, or an explicit PAD in front)."""
    return rewrite(model, _dilated_match)
