"""Graph simplifications that make our graphs smaller than Google's converter's on the zoo.

* ``fold_pad_into_conv``: an explicit zero PAD in front of a VALID convolution whose amounts are exactly what
  SAME padding would add (Keras's ZeroPadding2D + Conv2D(strides=2, padding="valid") in MobileNet, ResNet...)
  becomes one SAME convolution.
* ``drop_trivial_reductions``: a MEAN/SUM/max/min over axes that all have size 1 (global pooling of a 1x1 map)
  is a reshape, or nothing when it keeps the dims.
* ``keep_dims_into_reduction``: a reduction without keep_dims followed only by a RESHAPE that puts the reduced
  axes back as 1s (squeeze-and-excite blocks) becomes one reduction with keep_dims.
"""

from __future__ import annotations

import numpy as np

from ..ir import Model, Op, Tensor, const
from . import PassContext, only_reader, register_pass

_REDUCTIONS = ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD")



def _same_pads(size: int, k: int, stride: int, dilation: int) -> tuple[int, int]:
    """TFLite's SAME padding (before, after) along one spatial axis."""
    out = -(-size // stride)
    eff = (k - 1) * dilation + 1
    total = max((out - 1) * stride + eff - size, 0)
    return total // 2, total - total // 2


def _kernel_hw(op: Op) -> tuple[int, int] | None:
    w = op.inputs[1]
    if w is None or w.shape is None or len(w.shape) != 4:
        return None
    return int(w.shape[1]), int(w.shape[2])  # CONV_2D OHWI, DEPTHWISE 1HWC


@register_pass
def fold_pad_into_conv(model: Model, ctx: PassContext) -> bool:
    """PAD(x) -> CONV_2D/DEPTHWISE_CONV_2D(padding=VALID) with SAME's amounts: CONV(x, padding=SAME)."""
    changed = False
    for sg in model.subgraphs:
        users = sg.consumers()
        for pad in list(sg.ops):
            if pad.kind != "PAD" or len(pad.inputs) < 2 or pad.inputs[1] is None or not pad.inputs[1].is_const:
                continue
            x = pad.inputs[0]
            if x is None or x.shape is None or len(x.shape) != 4 or x.dtype != "float32" or x.quant is not None:
                continue
            amounts = np.asarray(pad.inputs[1].data).reshape(-1, 2)
            if amounts.shape != (4, 2) or amounts[0].any() or amounts[3].any():
                continue
            conv = only_reader(sg, users, pad.outputs[0])
            if conv is None or conv.kind not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
                continue
            if conv.inputs[0] is not pad.outputs[0]:
                continue
            if conv.attrs.get("padding") != "VALID":
                continue
            khw = _kernel_hw(conv)
            if khw is None:
                continue
            ok = True
            for axis, k, s, d in ((1, khw[0], conv.attrs.get("stride_h", 1), conv.attrs.get("dilation_h_factor", 1)),
                                  (2, khw[1], conv.attrs.get("stride_w", 1), conv.attrs.get("dilation_w_factor", 1))):
                size = x.shape[axis]
                if size < 0 or tuple(int(a) for a in amounts[axis]) != _same_pads(size, k, s, d):
                    ok = False
            if not ok:
                continue
            conv.inputs[0] = x
            conv.attrs["padding"] = "SAME"
            sg.ops.remove(pad)
            users = sg.consumers()
            changed = True
    return changed


def _axes(op: Op, rank: int) -> list[int] | None:
    a = op.inputs[1] if len(op.inputs) > 1 else None
    if a is None or not a.is_const:
        return None
    return sorted({int(v) % rank for v in np.asarray(a.data).reshape(-1)})


@register_pass
def drop_trivial_reductions(model: Model, ctx: PassContext) -> bool:
    """A reduction over axes of size 1 changes no value: drop it (keep_dims) or make it a RESHAPE."""
    changed = False
    for sg in model.subgraphs:
        outs = {t.uid for t in sg.outputs}
        for op in list(sg.ops):
            if op.kind not in _REDUCTIONS:
                continue
            x, y = op.inputs[0], op.outputs[0]
            if x is None or x.shape is None or y.shape is None or x.dtype != y.dtype or x.quant or y.quant:
                continue
            axes = _axes(op, len(x.shape))
            if axes is None or any(x.shape[a] != 1 for a in axes):
                continue
            if x.shape == y.shape and y.uid not in outs:
                sg.replace_uses(y, x)
                sg.ops.remove(op)
                changed = True
                continue
            if sum(d < 0 for d in y.shape) > 1:
                continue
            shape = const(y.name + "/shape", np.asarray(y.shape, dtype=np.int32))
            op.kind, op.inputs, op.attrs = "RESHAPE", [x, shape], {}
            changed = True
    return changed


@register_pass
def keep_dims_into_reduction(model: Model, ctx: PassContext) -> bool:
    """REDUCE(x, axes, keep_dims=False) -> RESHAPE back to the keep_dims shape: one REDUCE with keep_dims."""
    changed = False
    for sg in model.subgraphs:
        users = sg.consumers()
        for op in list(sg.ops):
            if op.kind not in _REDUCTIONS or op.attrs.get("keep_dims", False):
                continue
            x = op.inputs[0]
            if x is None or x.shape is None:
                continue
            axes = _axes(op, len(x.shape))
            nxt = only_reader(sg, users, op.outputs[0])
            if axes is None or nxt is None or nxt.kind != "RESHAPE" or nxt.outputs[0].shape is None:
                continue
            kept = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
            target = nxt.outputs[0].shape
            if len(target) != len(kept) or any(t != k and not (t < 0 and k < 0) for t, k in zip(target, kept,
                                                                                               strict=True)):
                continue
            if sum(d < 0 for d in kept) > 1:
                continue
            op.attrs["keep_dims"] = True
            op.outputs = [nxt.outputs[0]]
            sg.ops.remove(nxt)
            users = sg.consumers()
            changed = True
    return changed


@register_pass
def drop_identity_reshapes(model: Model, ctx: PassContext) -> bool:
    """A RESHAPE whose result has its input's shape, with at most one unknown dim (a dynamic batch), is a no-op:
    with one -1 on both sides the element counts force that dim to be equal too."""
    changed = False
    for sg in model.subgraphs:
        outs = {t.uid for t in sg.outputs}
        for op in list(sg.ops):
            if op.kind not in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS"):
                continue
            x, y = op.inputs[0], op.outputs[0]
            if x is None or x.shape is None or y.shape is None or y.uid in outs or x.shape != y.shape:
                continue
            if sum(d < 0 for d in x.shape) > 1 or x.dtype != y.dtype or x.quant is not y.quant:
                continue
            sg.replace_uses(y, x)
            sg.ops.remove(op)
            changed = True
    return changed


@register_pass
def drop_reshape_before_fully_connected(model: Model, ctx: PassContext) -> bool:
    """RESHAPE(x, [-1, K]) read only by a FULLY_CONNECTED without keep_num_dims: the FC flattens x itself.

    LiteRT's FULLY_CONNECTED takes any input whose element count is a multiple of its input size K and treats it
    as [elements / K, K], so the Flatten in front of a Dense layer costs nothing.
    """
    changed = False
    for sg in model.subgraphs:
        users = sg.consumers()
        for op in list(sg.ops):
            if op.kind != "RESHAPE":
                continue
            x, y = op.inputs[0], op.outputs[0]
            if x is None or x.shape is None or y.shape is None or len(y.shape) != 2 or x.dtype != "float32":
                continue
            fc = only_reader(sg, users, y)
            if fc is None or fc.kind != "FULLY_CONNECTED" or fc.inputs[0] is not y or fc.attrs.get("keep_num_dims"):
                continue
            w = fc.inputs[1]
            if w is None or w.shape is None or len(w.shape) != 2 or y.shape[1] != w.shape[1] or y.quant or x.quant:
                continue
            if x.rank == 0 or (x.shape[0] >= 0 and y.shape[0] >= 0 and x.shape[0] != y.shape[0] and x.is_static
                               and int(np.prod(x.shape)) != y.shape[0] * y.shape[1]):
                continue
            fc.inputs[0] = x
            sg.ops.remove(op)
            users = sg.consumers()
            changed = True
    return changed


@register_pass
def drop_zero_fully_connected_bias(model: Model, ctx: PassContext) -> bool:
    """A FULLY_CONNECTED bias that is all zeros is left out (the input is optional): a smaller file."""
    changed = False
    for sg in model.subgraphs:
        for op in sg.ops:
            if op.kind != "FULLY_CONNECTED" or len(op.inputs) < 3:
                continue
            b = op.inputs[2]
            if b is None or b.data is None or b.dtype != "float32" or b.quant is not None or b.data.any():
                continue
            op.inputs[2] = None
            changed = True
    return changed


# Ops with effects or state, or that run subgraphs: never merged.
_IMPURE = ("VARIABLE", "RANDOM", "MULTINOMIAL", "CUSTOM", "CALL_ONCE", "WHILE", "IF", "CALL", "FLEX", "HASHTABLE")
_HASH_LIMIT = 4096  # constants up to this many elements are compared by value; bigger ones by identity


def _input_key(t: Tensor | None) -> object:
    if t is None:
        return None
    if t.is_const and 0 <= t.size <= _HASH_LIMIT and t.dtype != "string":  # (a big lazy weight is not read)
        return ("const", t.dtype, tuple(t.data.shape), t.data.tobytes())
    return t.uid


def _attr_key(value: object) -> object:
    if isinstance(value, (list, tuple)):
        return tuple(_attr_key(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _attr_key(v)) for k, v in value.items()))
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, value.tobytes())
    return value


@register_pass
def eliminate_common_subexpressions(model: Model, ctx: PassContext) -> bool:
    """Two pure ops of the same kind, attributes and inputs compute the same values: keep the first.

    NASNet applies the same ReLU and the same pooling to one input in several branches; Google's converter
    merges them (MLIR's CSE), and so do we.
    """
    changed = False
    for sg in model.subgraphs:
        outs = {t.uid for t in sg.outputs}
        seen: dict[object, Op] = {}
        kept: list[Op] = []
        for op in sg.ops:
            if any(word in op.kind for word in _IMPURE) or not op.outputs:
                kept.append(op)
                continue
            try:
                key = (op.kind, op.custom_code, tuple(_input_key(t) for t in op.inputs),
                       _attr_key(op.attrs), tuple((t.dtype, t.shape) for t in op.outputs))
                hash(key)
            except TypeError:
                kept.append(op)
                continue
            first = seen.get(key)
            if first is None or any(t.uid in outs for t in op.outputs):
                seen.setdefault(key, op)
                kept.append(op)
                continue
            for old, new in zip(op.outputs, first.outputs, strict=True):
                sg.replace_uses(old, new)
            changed = True
        sg.ops = kept
    return changed


def _constant_kind(t: Tensor) -> object | None:
    """What two interchangeable constants share besides their value: dtype, shape and quantization. None for a
    tensor that is not a plain constant."""
    if not t.is_const or t.is_variable or t.sparsity is not None or t.dtype == "string" or t.shape is None:
        return None
    if t.is_lazy and (t.lazy is None or t.lazy.key is None):
        return None
    q = t.quant
    quant = None if q is None else (
        *(None if a is None else np.asarray(a).tobytes() for a in (q.scale, q.zero_point, q.min, q.max)), q.axis)
    return t.dtype, tuple(t.shape), quant, t.range_hint


def _value_key(t: Tensor) -> object:
    import hashlib

    if t.is_lazy:
        return "lazy", t.lazy.key  # type: ignore[union-attr]
    data = np.ascontiguousarray(t.data).reshape(-1).view(np.uint8)
    return len(data), hashlib.blake2b(memoryview(data), digest_size=16).digest()


@register_pass
def share_constants(model: Model, ctx: PassContext) -> bool:
    """Constants with the same dtype, shape, value and quantization become one tensor (the zero biases our
    lowering gives every depthwise convolution of a separable one; Google's converter shares them the same way).

    The writer already stores identical values once; this also drops the duplicate tensor entries. Values are
    hashed only where two constants of one dtype, shape and quantization meet.
    """
    changed = False
    for sg in model.subgraphs:
        outs = {t.uid for t in sg.outputs}
        groups: dict[object, dict[int, Tensor]] = {}
        for op in sg.ops:
            for t in op.inputs:
                if t is not None and t.uid not in outs:
                    kind = _constant_kind(t)
                    if kind is not None:
                        groups.setdefault(kind, {})[t.uid] = t
        mapping: dict[int, Tensor] = {}
        for members in groups.values():
            if len(members) < 2:
                continue
            first: dict[object, Tensor] = {}
            for t in members.values():
                kept = first.setdefault(_value_key(t), t)
                if kept is not t:
                    mapping[t.uid] = kept
        if mapping:
            sg.replace_many(mapping)
            changed = True
    return changed
