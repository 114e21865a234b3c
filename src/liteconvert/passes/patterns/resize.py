"""UpSampling2D(nearest) as Keras 3 spells it: ``repeat`` on H then on W (each RESHAPE, TILE, RESHAPE) becomes one
RESIZE_NEAREST_NEIGHBOR; two integer-scale nearest resizes in a row become one."""

from __future__ import annotations

import numpy as np

from ...ir import Model, Op, Tensor, const
from .. import PassContext, register_pass
from .match import Rewrite, Site, int_const, rewrite, shape_value


def _repeat(producers: dict[int, Op], op: Op) -> tuple[Tensor, int, int, list[Op]] | None:
    """``op`` = RESHAPE(TILE(RESHAPE(x))) that repeats each element of ``x`` r times along one axis:
    (x, axis, r, [ops]). A result shape not known statically is checked by evaluating its computation."""
    if op.kind != "RESHAPE":
        return None
    tile = producers.get(op.inputs[0].uid) if op.inputs[0] is not None else None
    if tile is None or tile.kind != "TILE":
        return None
    mult = int_const(tile.inputs[1])
    expand = producers.get(tile.inputs[0].uid) if tile.inputs[0] is not None else None
    if mult is None or expand is None or expand.kind not in ("RESHAPE", "EXPAND_DIMS"):
        return None
    x, u, y = expand.inputs[0], tile.inputs[0], op.outputs[0]
    if x is None or x.shape is None or u.shape is None or y.shape is None:
        return None
    axes = [i for i, m in enumerate(mult.reshape(-1)) if m != 1]
    if len(axes) != 1 or len(u.shape) != len(x.shape) + 1 or len(y.shape) != len(x.shape):
        return None
    k = axes[0]
    r = int(mult.reshape(-1)[k])
    axis = k - 1  # the new size-1 axis follows the repeated one
    if axis < 0 or u.shape != (*x.shape[:k], 1, *x.shape[k:]):
        return None
    if expand.kind == "RESHAPE" and int_const(expand.inputs[1]) is None:
        return None  # a run-time expand shape: not worth proving
    static = sum(d < 0 for d in x.shape) <= 1 and x.shape[axis] >= 0
    if static:
        if y.shape != (*x.shape[:axis], x.shape[axis] * r, *x.shape[axis + 1:]):
            return None
    else:
        for sample in ([2, 3, 5, 7, 11, 13], [3, 7, 2, 5, 4, 6]):
            xs = [d if d >= 0 else sample[i % len(sample)] for i, d in enumerate(x.shape)]
            want = [d * r if i == axis else d for i, d in enumerate(xs)]
            got = shape_value(op.inputs[1], producers, x, xs) if len(op.inputs) > 1 else None
            if got is None or got.reshape(-1).tolist() != want:
                return None
    return x, axis, r, [expand, tile, op]


def _resize_size(x: Tensor, scale: tuple[int, int], base: str, source: str | None) -> tuple[Tensor, list[Op]]:
    """The RESIZE size for scaling ``x``'s H and W by ``scale``: a constant, or computed from SHAPE(x)."""
    if x.shape is not None and x.shape[1] >= 0 and x.shape[2] >= 0:
        return const(base + "/size", np.asarray([x.shape[1] * scale[0], x.shape[2] * scale[1]], np.int32)), []
    shape = Tensor(base + "/input_shape", "int32", (4,), source=source)
    hw = Tensor(base + "/input_hw", "int32", (2,), source=source)
    size = Tensor(base + "/size", "int32", (2,), source=source)

    def i32(name: str, v: list[int]) -> Tensor:
        return const(f"{base}/{name}", np.asarray(v, np.int32))

    ops = [Op("SHAPE", [x], [shape], {"out_type": "INT32"}, source=source),
           Op("STRIDED_SLICE", [shape, i32("begin", [1]), i32("end", [3]), i32("strides", [1])], [hw],
              {"begin_mask": 0, "end_mask": 0, "ellipsis_mask": 0, "new_axis_mask": 0, "shrink_axis_mask": 0},
              source=source),
           Op("MUL", [hw, i32("scale", list(scale))], [size], source=source)]
    return size, ops


def _repeat_match(site: Site, op: Op) -> Rewrite | None:
    found = _repeat(site.producers, op)
    if found is None:
        return None
    x, axis, r, chain = found
    if len(x.shape) != 4 or axis not in (1, 2) or x.dtype != "float32":
        return None
    if any(site.only_reader(c.outputs[0]) is None for c in chain[:2]):
        return None
    scale = (r, 1) if axis == 1 else (1, r)
    size, size_ops = _resize_size(x, scale, op.outputs[0].name, op.source)
    new = Op("RESIZE_NEAREST_NEIGHBOR", [x, size], [op.outputs[0]],
             {"align_corners": False, "half_pixel_centers": False, "_scale": scale}, source=op.source)
    return Rewrite(chain, [*size_ops, new])


@register_pass
def fuse_repeat_to_resize(model: Model, ctx: PassContext) -> bool:
    """Repeating every row (axis 1) or column (axis 2) of an NHWC tensor: RESIZE_NEAREST_NEIGHBOR."""
    return rewrite(model, _repeat_match)


def _integer_nearest(op: Op | None) -> tuple[int, int] | None:
    """The integer (h, w) scale of a plain RESIZE_NEAREST_NEIGHBOR, or None."""
    if op is None or op.kind != "RESIZE_NEAREST_NEIGHBOR" or op.attrs.get("align_corners") \
            or op.attrs.get("half_pixel_centers"):
        return None
    if "_scale" in op.attrs:
        return op.attrs["_scale"]
    x, y = op.inputs[0], op.outputs[0]
    if x is None or x.shape is None or y.shape is None or len(x.shape) != 4 or int_const(op.inputs[1]) is None:
        return None
    (h, w), (oh, ow) = x.shape[1:3], y.shape[1:3]
    if min(h, w, oh, ow) <= 0 or oh % h or ow % w:
        return None
    return oh // h, ow // w


def _merge_match(site: Site, op: Op) -> Rewrite | None:
    second = _integer_nearest(op)
    prev = site.producer(op.inputs[0]) if second is not None else None
    first = _integer_nearest(prev)
    if first is None or second is None or prev is None:
        return None
    scale = (first[0] * second[0], first[1] * second[1])
    size, size_ops = _resize_size(prev.inputs[0], scale, op.outputs[0].name, op.source)
    new = Op(op.kind, [prev.inputs[0], size], list(op.outputs), dict(op.attrs, _scale=scale), source=op.source)
    return Rewrite([op], [*size_ops, new])


@register_pass
def merge_nearest_resizes(model: Model, ctx: PassContext) -> bool:
    """Two integer-scale nearest resizes in a row are one (floor(floor(i/a)/b) = floor(i/(a*b))). The first
    stays for any other reader (``remove_dead_ops`` drops it otherwise)."""
    return rewrite(model, _merge_match)
