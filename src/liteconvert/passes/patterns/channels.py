"""Per-channel ops moved up to the convolution that makes the channels, where ``fuse_bias``,
``fold_mul_into_weights`` and ``fuse_activation`` take them: through the reshape after a 1-D convolution
(``hoist_through_reshape``) and into every part of the channel concatenation of a grouped convolution
(``distribute_over_concat``)."""

from __future__ import annotations

import dataclasses

from ...ir import Model, Op, Tensor, const
from .. import PassContext, register_pass
from .match import NO_ACT, Rewrite, Site, act, rewrite

_WEIGHTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")
_ACTS = ("RELU", "RELU6", "RELU_N1_TO_1")


def _const_operand(op: Op, x: Tensor) -> Tensor | None:
    """The constant other operand of a binary op reading ``x``."""
    if len(op.inputs) != 2:
        return None
    a, b = op.inputs
    if a is x and b is not None and b.is_const:
        return b
    if b is x and a is not None and a.is_const and op.kind in ("ADD", "MUL"):
        return a
    return None


def _channel_const(c: Tensor | None, channels: int) -> bool:
    """A float constant that broadcasts as a scalar or as a vector over the last (channel) axis."""
    if c is None or c.dtype != "float32" or c.size not in (1, channels) or c.data is None:
        return False
    d = c.data
    return d.size == 1 or (d.size == channels and d.shape[-1] == channels)


def _per_channel(op: Op, x: Tensor, channels: int) -> Tensor | bool | None:
    """For an op reading ``x``: True for an activation, its constant for a per-channel ADD/SUB/MUL/DIV (whose
    fused activation, if any, is element-wise too and moves with it)."""
    if op.kind in _ACTS:
        return True
    if op.kind in ("ADD", "SUB", "MUL", "DIV"):
        c = _const_operand(op, x)
        if c is not None and _channel_const(c, channels):
            return c
    return None


def _flat_channel_const(t: Tensor | None, channels: int) -> Tensor | None:
    """A per-channel constant as a vector (or a scalar), so that it broadcasts the same at any rank."""
    if t is None or t.data is None or t.data.ndim <= 1:
        return t
    return const(t.name + "_flat", t.data.reshape(-1) if t.data.size == channels else t.data.reshape(()))


def _hoist_match(site: Site, nxt: Op) -> Rewrite | None:
    """CONV/FC (or a channel concatenation) -> RESHAPE keeping the last axis -> ``nxt``, a per-channel op."""
    for y in nxt.inputs:
        rs = site.producer(y) if y is not None and not y.is_const else None
        if rs is None or rs.kind != "RESHAPE" or rs.outputs[0] is not y:
            continue
        src = rs.inputs[0]
        p = site.producer(src)
        if p is None or site.only_reader(src) is not rs:
            continue
        if p.kind not in _WEIGHTED and not (p.kind == "CONCATENATION" and src.shape is not None
                                            and p.attrs.get("axis") in (-1, len(src.shape) - 1)):
            continue
        if src.shape is None or y.shape is None or not src.shape or not y.shape \
                or src.shape[-1] != y.shape[-1] or src.shape[-1] < 0:
            continue
        if site.only_reader(y) is not nxt or _per_channel(nxt, y, y.shape[-1]) is None:
            continue
        if nxt.outputs[0].shape != y.shape:
            continue
        z = nxt.outputs[0]
        t = Tensor(z.name + "/before_reshape", z.dtype, src.shape, source=nxt.source)
        moved = dataclasses.replace(nxt, inputs=[src if i is y else _flat_channel_const(i, y.shape[-1])
                                                 for i in nxt.inputs], outputs=[t], attrs=dict(nxt.attrs))
        reshape = dataclasses.replace(rs, inputs=[t, *rs.inputs[1:]], outputs=[z], attrs=dict(rs.attrs))
        return Rewrite([rs, nxt], [moved, reshape])
    return None


@register_pass
def hoist_through_reshape(model: Model, ctx: PassContext) -> bool:
    """CONV/FC (or a channel concatenation) -> RESHAPE keeping the last axis -> per-channel op: do the
    per-channel op before the reshape."""
    return rewrite(model, _hoist_match)


def _distribute_match(site: Site, nxt: Op) -> Rewrite | None:
    """CONCATENATION of CONV/FC results on the channel axis -> ``nxt``, a per-channel op."""
    for y in nxt.inputs:
        cat = site.producer(y) if y is not None and not y.is_const else None
        if cat is None or cat.kind != "CONCATENATION" or act(cat) not in NO_ACT or cat.outputs[0] is not y:
            continue
        if y.shape is None or y.shape[-1] < 0 or cat.attrs.get("axis") not in (len(y.shape) - 1, -1):
            continue
        parts = list(cat.inputs)
        if any(t is None or t.shape is None or t.shape[-1] < 0 or site.producer(t) is None
               or site.producers[t.uid].kind not in _WEIGHTED or site.only_reader(t) is not cat for t in parts):
            continue
        if site.only_reader(y) is not nxt or nxt.outputs[0].shape != y.shape:
            continue
        c = _per_channel(nxt, y, y.shape[-1])
        if c is None:
            continue
        new_ops: list[Op] = []
        new_parts: list[Tensor | None] = []
        start = 0
        for t in parts:
            assert t is not None and t.shape is not None
            width = t.shape[-1]
            out = Tensor(f"{t.name}/{nxt.kind.lower()}", t.dtype, t.shape, source=nxt.source)
            inputs: list[Tensor | None] = []
            for i in nxt.inputs:
                if i is y:
                    inputs.append(t)
                elif isinstance(c, Tensor) and i is c and c.data.size > 1:
                    inputs.append(const(f"{c.name}/part{start}", c.data.reshape(-1)[start:start + width]))
                else:
                    inputs.append(i)
            start += width
            new_ops.append(Op(nxt.kind, inputs, [out], dict(nxt.attrs), source=nxt.source))
            new_parts.append(out)
        merged = dataclasses.replace(cat, inputs=new_parts, outputs=[nxt.outputs[0]], attrs=dict(cat.attrs))
        return Rewrite([cat, nxt], [*new_ops, merged])
    return None


@register_pass
def distribute_over_concat(model: Model, ctx: PassContext) -> bool:
    """Per-channel op after a channel CONCATENATION of convolutions (a grouped convolution): one per part."""
    return rewrite(model, _distribute_match)
