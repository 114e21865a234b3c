"""Cleanup passes: dead ops, no-op reshapes, reshape chains, transpose pairs."""

from __future__ import annotations

import numpy as np

from ..ir import Model, Op, Tensor
from . import PassContext, only_reader, register_pass


@register_pass
def remove_dead_ops(model: Model, ctx: PassContext) -> bool:
    """Drop ops none of whose outputs is read (walking back from the subgraph outputs)."""
    changed = False
    for sg in model.subgraphs:
        live = {t.uid for t in sg.outputs}
        kept: list[Op] = []
        for op in reversed(sg.ops):
            if any(t.uid in live for t in op.outputs):
                kept.append(op)
                live.update(t.uid for t in op.inputs if t is not None)
            else:
                changed = True
        kept.reverse()
        sg.ops = kept
    return changed



@register_pass
def simplify_reshapes(model: Model, ctx: PassContext) -> bool:
    """Collapse a reshape of a reshape into one (reshapes that keep the shape: ``drop_identity_reshapes``)."""
    changed = False
    for sg in model.subgraphs:
        users = sg.consumers()
        for op in list(sg.ops):
            if op.kind not in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS"):
                continue
            x, y = op.inputs[0], op.outputs[0]
            assert x is not None
            nxt = only_reader(sg, users, op.outputs[0]) if len(op.outputs) == 1 else None
            if nxt is not None and nxt.kind == "RESHAPE" and nxt.inputs[0] is y and len(nxt.inputs) > 1 \
                    and nxt.inputs[1] is not None and nxt.inputs[1].is_const:
                nxt.inputs[0] = x
                sg.ops.remove(op)
                changed = True
                users = sg.consumers()
    return changed


@register_pass
def cancel_transposes(model: Model, ctx: PassContext) -> bool:
    """Fold TRANSPOSE(TRANSPOSE(x, p), q) into one transpose, or none when the permutations cancel."""
    changed = False
    for sg in model.subgraphs:
        producers = sg.producers()
        outs = {t.uid for t in sg.outputs}
        for op in list(sg.ops):
            if op.kind != "TRANSPOSE" or op.inputs[1] is None or not op.inputs[1].is_const:
                continue
            x = op.inputs[0]
            assert x is not None
            prev = producers.get(x.uid)
            if prev is None or prev.kind != "TRANSPOSE" or prev.inputs[1] is None or not prev.inputs[1].is_const:
                continue
            p = np.asarray(prev.inputs[1].data).reshape(-1)
            q = np.asarray(op.inputs[1].data).reshape(-1)
            combined = p[q]
            src = prev.inputs[0]
            assert src is not None
            if np.array_equal(combined, np.arange(len(combined))) and op.outputs[0].uid not in outs:
                sg.replace_uses(op.outputs[0], src)
                sg.ops.remove(op)
            else:
                from ..ir import const

                op.inputs = [src, const(op.inputs[1].name + "_combined", combined.astype(np.int32))]
            changed = True
            producers = sg.producers()
    return changed


def _is_const_value(t: object, value: float) -> bool:
    data = getattr(t, "data", None)
    if data is None or data.size == 0 or data.reshape(-1)[0] != value:  # cheap rejection first
        return False
    return bool(np.all(data == value))


@register_pass
def remove_identity_arithmetic(model: Model, ctx: PassContext) -> bool:
    """Drop x*1, x/1, x+0 and x-0 when the constant does not broadcast x to a bigger shape."""
    changed = False
    for sg in model.subgraphs:
        outs = {t.uid for t in sg.outputs}
        alias: dict[int, Tensor] = {}
        kept: list[Op] = []
        for op in sg.ops:
            keep = None
            if op.kind in ("MUL", "DIV", "ADD", "SUB") and op.attrs.get("fused_activation_function",
                                                                         "NONE") == "NONE":
                neutral = 1.0 if op.kind in ("MUL", "DIV") else 0.0
                a, b = op.inputs[0], op.inputs[1]
                if _is_const_value(b, neutral):
                    keep = a
                elif op.kind in ("MUL", "ADD") and _is_const_value(a, neutral):
                    keep = b
            y = op.outputs[0]
            if keep is None or keep.shape != y.shape or keep.dtype != y.dtype or y.uid in outs:
                kept.append(op)
                continue
            alias[y.uid] = keep
        if alias:
            sg.ops = kept
            sg.replace_many(alias)
            changed = True
    return changed
