"""Dense on a rank > 2 input as TensorFlow spells it, a tensordot (reshape to 2-D, matmul, reshape back with
shapes computed at run time): one FULLY_CONNECTED with ``keep_num_dims``."""

from __future__ import annotations

import dataclasses

import numpy as np

from ...ir import Model, Op, Tensor
from .. import PassContext, register_pass
from .match import ELEMENTWISE, Rewrite, Site, int_const, rewrite


def _leading_dims_then(shape: Tensor | None, x: Tensor, n: int, producers: dict[int, Op]) -> bool:
    """``shape`` is computed as CONCATENATION(GATHER(SHAPE(x), [0 .. rank-2]), [n]): x's leading dims, then n."""
    cat = producers.get(shape.uid) if shape is not None else None
    if cat is None or cat.kind != "CONCATENATION" or len(cat.inputs) != 2 or cat.attrs.get("axis", 0) != 0:
        return False
    head, tail = cat.inputs
    if tail is None or tail.data is None or tail.data.reshape(-1).tolist() != [n]:
        return False
    gather = producers.get(head.uid) if head is not None else None
    if gather is None or gather.kind != "GATHER" or gather.attrs.get("axis", 0) != 0:
        return False
    idx = int_const(gather.inputs[1])
    shp = producers.get(gather.inputs[0].uid) if gather.inputs[0] is not None else None
    return idx is not None and idx.reshape(-1).tolist() == list(range(len(x.shape) - 1)) \
        and shp is not None and shp.kind == "SHAPE" and shp.inputs[0] is x


def _refine_shapes(t: Tensor, users: dict[int, list[Op]]) -> None:
    """``t``'s shape became better known: pass it on through element-wise ops with constant operands."""
    stack = [t]
    while stack:
        cur = stack.pop()
        for op in users.get(cur.uid, []):
            if op.kind not in ELEMENTWISE or len(op.outputs) != 1:
                continue
            out = op.outputs[0]
            others = [i for i in op.inputs if i is not cur]
            if any(i is None or not i.is_const for i in others) or out.shape is None or cur.shape is None:
                continue
            try:
                full = np.broadcast_shapes(tuple(max(d, 1) for d in cur.shape), *(i.data.shape for i in others))
            except ValueError:
                continue
            if len(full) != len(cur.shape) or len(out.shape) != len(cur.shape) \
                    or any(c >= 0 and f != c for c, f in zip(cur.shape, full, strict=True)):
                continue
            refined = tuple(c if c >= 0 and o < 0 else o for c, o in zip(cur.shape, out.shape, strict=True))
            if refined != out.shape and all(o < 0 or o == c for o, c in zip(out.shape, cur.shape, strict=True)):
                out.shape = refined
                stack.append(out)


def _tensordot_match(site: Site, fc: Op) -> Rewrite | None:
    if fc.kind != "FULLY_CONNECTED" or fc.attrs.get("keep_num_dims") or fc.outputs[0].dtype != "float32":
        return None
    flat = site.producer(fc.inputs[0])
    after = site.only_reader(fc.outputs[0])
    if flat is None or flat.kind != "RESHAPE" or after is None or after.kind != "RESHAPE" \
            or after.inputs[0] is not fc.outputs[0]:
        return None
    x, y, w = flat.inputs[0], after.outputs[0], fc.inputs[1]
    if x.shape is None or y.shape is None or w is None or w.shape is None or len(x.shape) < 3:
        return None
    n, c = w.shape
    want = (*x.shape[:-1], n)
    if x.shape[-1] != c or len(y.shape) != len(want):
        return None
    # The result must be x's leading dims then n: known statically, or computed so from x's shape.
    if not (y.shape == want and sum(d < 0 for d in want) <= 1) \
            and not (_leading_dims_then(after.inputs[1], x, n, site.producers)
                     and all(d < 0 or w_ < 0 or d == w_ for d, w_ in zip(y.shape, want, strict=True))):
        return None
    refined = tuple(w_ if w_ >= 0 else d for d, w_ in zip(y.shape, want, strict=True))
    if refined != y.shape:
        y.shape = refined
        _refine_shapes(y, site.users)
    new = dataclasses.replace(fc, inputs=[x, *fc.inputs[1:]], outputs=[y], attrs=dict(fc.attrs, keep_num_dims=True))
    return Rewrite([fc, after], [new])


@register_pass
def fuse_tensordot(model: Model, ctx: PassContext) -> bool:
    """RESHAPE(x) -> FULLY_CONNECTED -> RESHAPE back to x's leading dims: FULLY_CONNECTED(x, keep_num_dims)."""
    return rewrite(model, _tensordot_match)
