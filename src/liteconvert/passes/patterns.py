"""Pattern passes: what TensorFlow spells as several small ops, rewritten into the one LiteRT builtin.

- ``fuse_elementwise_functions``: a region of element-wise ops computing one known function of one tensor
  (GELU in its erf, erfc and tanh forms, HARD_SWISH, PRELU, LEAKY_RELU, clips to [0, 6], [-1, 1], [0, 1])
  becomes that op. The region is found structurally and identified by evaluating it, so every spelling of
  the same function is recognised.
- ``fuse_repeat_to_resize`` and ``merge_nearest_resizes``: Keras 3 UpSampling2D(nearest) is ``repeat`` on H
  then on W (reshape, tile, reshape): one RESIZE_NEAREST_NEIGHBOR.
- ``fuse_dilated_conv``: TensorFlow runs dilated convolutions as SPACE_TO_BATCH_ND, convolution,
  BATCH_TO_SPACE_ND (with reshapes around a 1-D convolution): one CONV_2D / DEPTHWISE_CONV_2D with dilation.
- ``fuse_tensordot``: Dense on a rank>2 input is a tensordot (reshape, matmul, reshape with run-time shapes):
  one FULLY_CONNECTED with ``keep_num_dims``.
- ``hoist_through_reshape`` and ``distribute_over_concat``: a per-channel bias, scale or activation after the
  reshape of a 1-D convolution, or after the concatenation of a grouped convolution, moves up to the
  convolutions, where ``fuse_bias`` / ``fold_mul_into_weights`` / ``fuse_activation`` take it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..ir import Model, Op, Tensor, const
from . import PassContext, only_reader, register_pass

_WEIGHTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")
_ACTS = ("RELU", "RELU6", "RELU_N1_TO_1")
_NO_ACT = ("NONE", None)


def _act(op: Op) -> str | None:
    return op.attrs.get("fused_activation_function", "NONE")



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
    if c is None or c.data is None or c.dtype != "float32":
        return False
    d = c.data
    return d.size == 1 or (d.size == channels and d.shape[-1] == channels)


def _int_const(t: Tensor | None) -> np.ndarray | None:
    if t is None or t.data is None:
        return None
    return np.asarray(t.data).astype(np.int64)


# -- element-wise functions --------------------------------------------------------------------------------------

_erf = np.frompyfunc(math.erf, 1, 1)
_erfc = np.frompyfunc(math.erfc, 1, 1)

_EVAL: dict[str, Callable[..., np.ndarray]] = {
    "ADD": np.add, "SUB": np.subtract, "MUL": np.multiply, "DIV": np.divide, "MAXIMUM": np.maximum,
    "MINIMUM": np.minimum, "POW": np.power, "SQUARED_DIFFERENCE": lambda a, b: (a - b) ** 2,
    "NEG": np.negative, "ABS": np.abs, "SQUARE": np.square, "SQRT": np.sqrt, "RSQRT": lambda x: 1 / np.sqrt(x),
    "EXP": np.exp, "LOG": np.log, "TANH": np.tanh, "LOGISTIC": lambda x: 1 / (1 + np.exp(-x)),
    "RELU": lambda x: np.maximum(x, 0), "RELU6": lambda x: np.clip(x, 0, 6),
    "RELU_N1_TO_1": lambda x: np.clip(x, -1, 1), "RELU_0_TO_1": lambda x: np.clip(x, 0, 1),
    "ERF": lambda x: _erf(x).astype(np.float64), "ERFC": lambda x: _erfc(x).astype(np.float64),
}
_MAX_REGION = 24


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)).astype(np.float64))


def _gelu_tanh(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def _hard_swish(x: np.ndarray) -> np.ndarray:
    return x * np.clip(x + 3, 0, 6) / 6


# Functions of one tensor with scalar constants: (kind, attrs, reference).
_SCALAR_FUNCTIONS: list[tuple[str, dict, Callable[[np.ndarray], np.ndarray]]] = [
    ("GELU", {"approximate": False}, _gelu),
    ("GELU", {"approximate": True}, _gelu_tanh),
    ("HARD_SWISH", {}, _hard_swish),
    ("RELU", {}, lambda x: np.maximum(x, 0)),
    ("RELU6", {}, lambda x: np.clip(x, 0, 6)),
    ("RELU_N1_TO_1", {}, lambda x: np.clip(x, -1, 1)),
    ("RELU_0_TO_1", {}, lambda x: np.clip(x, 0, 1)),
]
# A region reading its input once is only worth a look when it clips (tf.clip_by_value, min(max(x, 0), 6)).
_CLIPS = ("MINIMUM", "MAXIMUM", "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1")


def _elementwise(op: Op | None) -> bool:
    return op is not None and op.kind in _EVAL and len(op.outputs) == 1 and _act(op) in _NO_ACT \
        and op.outputs[0].dtype == "float32"


def _region_tensors(root: Op, producers: dict[int, Op]) -> list[Tensor]:
    """Non-constant tensors read inside the element-wise region that ends at ``root`` (nearest first)."""
    seen_ops: set[int] = set()
    found: dict[int, Tensor] = {}
    queue = [root]
    while queue and len(seen_ops) < _MAX_REGION:
        op = queue.pop(0)
        if id(op) in seen_ops:
            continue
        seen_ops.add(id(op))
        for t in op.inputs:
            if t is None or t.is_const:
                continue
            found.setdefault(t.uid, t)
            p = producers.get(t.uid)
            if _elementwise(p):
                queue.append(p)
    return list(found.values())


# Every function recognised has one of these (a polynomial or rational region, such as a normalization, has
# none): a cheap filter before the search.
_KINKS = ("ERF", "ERFC", "TANH", "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "MAXIMUM", "MINIMUM", "ABS")


def _has_kink(root: Op, producers: dict[int, Op]) -> bool:
    seen: set[int] = set()
    queue = [root]
    while queue and len(seen) < _MAX_REGION:
        op = queue.pop()
        if id(op) in seen:
            continue
        seen.add(id(op))
        if op.kind in _KINKS:
            return True
        queue.extend(p for t in op.inputs if t is not None and not t.is_const
                     for p in [producers.get(t.uid)] if _elementwise(p))
    return False


def _cone(root: Op, x: Tensor, producers: dict[int, Op]) -> list[Op] | None:
    """The element-wise ops computing ``root``'s output from ``x`` and constants only, or None."""
    ops: dict[int, Op] = {}
    stack = [root]
    while stack:
        op = stack.pop()
        if id(op) in ops:
            continue
        ops[id(op)] = op
        if len(ops) > _MAX_REGION:
            return None
        for t in op.inputs:
            if t is None:
                return None
            if t is x or t.is_const:
                continue
            p = producers.get(t.uid)
            if not _elementwise(p):
                return None
            stack.append(p)
    return list(ops.values())


def _evaluate(cone: list[Op], order: dict[int, int], x: Tensor, xval: np.ndarray, scalar: bool) -> np.ndarray:
    values = {x.uid: xval}
    out = xval
    for op in sorted(cone, key=lambda o: order[id(o)]):
        args = []
        for t in op.inputs:
            assert t is not None
            if t.is_const:
                d = np.asarray(t.data, dtype=np.float64)
                args.append(d.reshape(()) if scalar else d)
            else:
                args.append(values[t.uid])
        with np.errstate(all="ignore"):
            out = np.asarray(_EVAL[op.kind](*args), dtype=np.float64)
        values[op.outputs[0].uid] = out
    return out


# Where regions are compared with the functions: densely around 0 and out to 1e12 (a region that only differs
# from one of them beyond that, such as max(x, -1e13), is taken for it).
_SCALES = np.logspace(-3, 12, 31)
_SAMPLES = np.concatenate([np.linspace(-8.0, 8.0, 161), [-3.0001, -2.9999, 2.9999, 3.0001], _SCALES, -_SCALES])


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= 2e-6 * np.maximum(1.0, np.abs(b))))


def _identify(cone: list[Op], order: dict[int, int], x: Tensor) -> tuple[str, dict, list[Tensor]] | None:
    """What the cone computes of ``x``, as (kind, attrs, extra constant inputs), or None."""
    consts = [t for op in cone for t in op.inputs if t is not None and t.is_const]
    if any(t.dtype != "float32" for t in consts):
        return None
    if all(t.data.size == 1 for t in consts):
        xs = _SAMPLES
        y = _evaluate(cone, order, x, xs, scalar=True)
        for kind, attrs, ref in _SCALAR_FUNCTIONS:
            if _close(y, ref(xs)):
                return kind, dict(attrs), []
        alpha = -_evaluate(cone, order, x, np.asarray([-1.0]), scalar=True)[0]
        if _close(y, np.where(xs > 0, xs, alpha * xs)) and np.isfinite(alpha):
            return "LEAKY_RELU", {"alpha": float(alpha)}, []
        return None
    # Non-scalar constants: a per-element negative slope (Keras PReLU is relu(x) - alpha * relu(-x)).
    if x.shape is None or len(x.shape) < 2 or any(d == 0 for d in x.shape):
        return None
    shape = tuple(2 if d < 0 else d for d in x.shape)
    if int(np.prod(shape)) > 1 << 22:
        return None
    ones = np.ones(shape)
    try:
        alpha = -_evaluate(cone, order, x, -ones, scalar=False)
        if alpha.shape != shape or not np.all(np.isfinite(alpha)) or not np.all(alpha == alpha[:1]):
            return None
        for scale in _SCALES:  # linear with slope 1 above 0 and slope alpha below, over the whole sampled range
            if not (_close(_evaluate(cone, order, x, scale * ones, scalar=False), scale * ones)
                    and _close(_evaluate(cone, order, x, -scale * ones, scalar=False), -scale * alpha)):
                return None
        r = np.random.default_rng(0).standard_normal(shape) * 3
        if not _close(_evaluate(cone, order, x, r, scalar=False), np.where(r > 0, r, alpha * r)):
            return None
    except ValueError:  # constants that do not broadcast with x
        return None
    a = alpha[0]
    for axis in range(a.ndim):  # shared axes become size 1, as LiteRT broadcasts alpha
        if np.all(a == a.take([0], axis=axis)):
            a = a.take([0], axis=axis)
    return "PRELU", {}, [const(f"{x.name}/prelu_alpha", a.astype(np.float32))]


@register_pass(name="fuse_activation_functions")
def fuse_elementwise_functions(model: Model, ctx: PassContext) -> bool:
    """A region of element-wise ops that computes GELU, HARD_SWISH, PRELU, LEAKY_RELU or a clip (RELU, RELU6,
    RELU_N1_TO_1, RELU_0_TO_1) of one tensor.

    The region (at least two ops, reading its input at least twice unless it only clips, none of its
    intermediate results read elsewhere) is evaluated on sample inputs and compared with each function;
    constants are checked, never assumed. An ERF or ERFC outside such a region stays and is reported by
    ``legalize``.
    """
    changed = False
    for sg in model.subgraphs:
        producers, users = sg.producers(), sg.consumers()
        order = {id(op): i for i, op in enumerate(sg.ops)}
        outs = {t.uid for t in sg.outputs}
        removed: set[int] = set()
        for root in reversed(list(sg.ops)):  # the last op first: the largest region before its parts
            if id(root) in removed or not _elementwise(root):
                continue
            match = _match_function(root, producers, users, order, outs)
            if match is None:
                continue
            x, cone, (kind, attrs, extra) = match
            new = Op(kind, [x, *extra], [root.outputs[0]], attrs, source=root.source)
            sg.ops[sg.ops.index(root)] = new
            order[id(new)] = order[id(root)]
            members = {id(op) for op in cone}
            sg.ops = [op for op in sg.ops if id(op) not in members or op is new]
            removed.update(members)
            for op in cone:  # keep the maps current without rebuilding them
                producers.pop(op.outputs[0].uid, None)
                for t in op.inputs:
                    if t is not None and t.uid in users:
                        users[t.uid] = [u for u in users[t.uid] if id(u) not in members]
            producers[new.outputs[0].uid] = new
            users.setdefault(x.uid, []).append(new)
            changed = True
    return changed


def _match_function(root: Op, producers: dict[int, Op], users: dict[int, list[Op]], order: dict[int, int],
                    outs: set[int]) -> tuple[Tensor, list[Op], tuple[str, dict, list[Tensor]]] | None:
    """The input, the ops and the identified function of the element-wise region ending at ``root``."""
    if not _has_kink(root, producers):
        return None
    for x in _region_tensors(root, producers):
        if x.dtype != "float32":
            continue
        cone = _cone(root, x, producers)
        if cone is None or len(cone) < 2 or root.outputs[0].shape != x.shape:
            continue
        if sum(t is x for op in cone for t in op.inputs) < 2 and any(op.kind not in _CLIPS for op in cone):
            continue
        inner = {op.outputs[0].uid for op in cone if op is not root}
        members = {id(op) for op in cone}
        if inner & outs or any(id(u) not in members for uid in inner for u in users.get(uid, [])):
            continue
        found = _identify(cone, order, x)
        if found is not None:
            return x, cone, found
    return None


# -- UpSampling2D: repeat along H and W -> RESIZE_NEAREST_NEIGHBOR ----------------------------------------------

def _shape_value(t: Tensor, producers: dict[int, Op], x: Tensor, x_shape: list[int]) -> np.ndarray | None:
    """The value of the integer tensor ``t`` when ``x`` has shape ``x_shape``: evaluates the shape arithmetic
    between SHAPE(x) and ``t``; None if ``t`` depends on anything else."""
    from ..tflite.ops import DECLS

    memo: dict[int, np.ndarray] = {}

    def value(u: Tensor | None, depth: int) -> np.ndarray:
        if u is None or depth > 32:
            raise LookupError
        if u.data is not None:
            return u.data
        if u.uid not in memo:
            p = producers.get(u.uid)
            if p is None or len(p.outputs) != 1:
                raise LookupError
            if p.kind == "SHAPE" and p.inputs[0] is x:
                memo[u.uid] = np.asarray(x_shape, dtype=u.dtype)
            elif p.kind in DECLS and DECLS[p.kind].reference is not None:
                memo[u.uid] = np.asarray(DECLS[p.kind].reference(p, [value(i, depth + 1) for i in p.inputs])[0])
            else:
                raise LookupError
        return memo[u.uid]

    try:
        return value(t, 0)
    except Exception:  # anything but shape arithmetic of x, or arithmetic the evaluators decline
        return None


def _repeat(producers: dict[int, Op], op: Op) -> tuple[Tensor, int, int, list[Op]] | None:
    """``op`` = RESHAPE(TILE(RESHAPE(x))) that repeats each element of ``x`` r times along one axis:
    (x, axis, r, [ops]). A result shape not known statically is checked by evaluating its computation."""
    if op.kind != "RESHAPE":
        return None
    tile = producers.get(op.inputs[0].uid) if op.inputs[0] is not None else None
    if tile is None or tile.kind != "TILE":
        return None
    mult = _int_const(tile.inputs[1])
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
    if expand.kind == "RESHAPE" and _int_const(expand.inputs[1]) is None:
        return None  # a run-time expand shape: not worth proving
    static = sum(d < 0 for d in x.shape) <= 1 and x.shape[axis] >= 0
    if static:
        if y.shape != (*x.shape[:axis], x.shape[axis] * r, *x.shape[axis + 1:]):
            return None
    else:
        for sample in ([2, 3, 5, 7, 11, 13], [3, 7, 2, 5, 4, 6]):
            xs = [d if d >= 0 else sample[i % len(sample)] for i, d in enumerate(x.shape)]
            want = [d * r if i == axis else d for i, d in enumerate(xs)]
            got = _shape_value(op.inputs[1], producers, x, xs) if len(op.inputs) > 1 else None
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


@register_pass
def fuse_repeat_to_resize(model: Model, ctx: PassContext) -> bool:
    """Repeating every row (axis 1) or column (axis 2) of an NHWC tensor: RESIZE_NEAREST_NEIGHBOR."""
    changed = False
    for sg in model.subgraphs:
        producers = sg.producers()
        users = sg.consumers()
        for op in list(sg.ops):
            found = _repeat(producers, op)
            if found is None:
                continue
            x, axis, r, chain = found
            if len(x.shape) != 4 or axis not in (1, 2) or x.dtype != "float32":
                continue
            if any(only_reader(sg, users, c.outputs[0]) is None for c in chain[:2]):
                continue
            scale = (r, 1) if axis == 1 else (1, r)
            size, size_ops = _resize_size(x, scale, op.outputs[0].name, op.source)
            new = Op("RESIZE_NEAREST_NEIGHBOR", [x, size], [op.outputs[0]],
                     {"align_corners": False, "half_pixel_centers": False, "_scale": scale}, source=op.source)
            index = sg.ops.index(op)
            sg.ops[index:index + 1] = [*size_ops, new]
            sg.ops.remove(chain[0])
            sg.ops.remove(chain[1])
            producers = sg.producers()
            users = sg.consumers()
            changed = True
    return changed


def _integer_nearest(op: Op) -> tuple[int, int] | None:
    """The integer (h, w) scale of a plain RESIZE_NEAREST_NEIGHBOR, or None."""
    if op.kind != "RESIZE_NEAREST_NEIGHBOR" or op.attrs.get("align_corners") or op.attrs.get("half_pixel_centers"):
        return None
    if "_scale" in op.attrs:
        return op.attrs["_scale"]
    x, y = op.inputs[0], op.outputs[0]
    if x is None or x.shape is None or y.shape is None or len(x.shape) != 4 or _int_const(op.inputs[1]) is None:
        return None
    (h, w), (oh, ow) = x.shape[1:3], y.shape[1:3]
    if min(h, w, oh, ow) <= 0 or oh % h or ow % w:
        return None
    return oh // h, ow // w


@register_pass
def merge_nearest_resizes(model: Model, ctx: PassContext) -> bool:
    """Two integer-scale nearest resizes in a row are one (floor(floor(i/a)/b) = floor(i/(a*b))). The first
    stays for any other reader (``remove_dead_ops`` drops it otherwise)."""
    changed = False
    for sg in model.subgraphs:
        producers = sg.producers()
        for op in list(sg.ops):
            second = _integer_nearest(op)
            prev = producers.get(op.inputs[0].uid) if second is not None else None
            first = _integer_nearest(prev) if prev is not None else None
            if first is None or second is None:
                continue
            scale = (first[0] * second[0], first[1] * second[1])
            size, size_ops = _resize_size(prev.inputs[0], scale, op.outputs[0].name, op.source)
            op.inputs = [prev.inputs[0], size]
            op.attrs["_scale"] = scale
            index = sg.ops.index(op)
            sg.ops[index:index] = size_ops
            producers = sg.producers()
            changed = True
    return changed


# -- dilated convolutions --------------------------------------------------------------------------------------

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
        p = _int_const(pads) if sample is None else _shape_value(pads, producers, x, sample)
        c = _int_const(crops) if sample is None else _shape_value(crops, producers, x, sample)
        if p is None or c is None or p.size != 2 * rank or c.size != 2 * rank:
            return None
        net = p.reshape(-1, 2).astype(np.int64) - c.reshape(-1, 2).astype(np.int64)
        if np.any(net < 0):
            return None
        nets.append(net)
    if any(not np.array_equal(n, nets[0]) for n in nets):
        return None
    return [(int(a), int(b)) for a, b in nets[0]]


@register_pass
def fuse_dilated_conv(model: Model, ctx: PassContext) -> bool:
    """SPACE_TO_BATCH_ND -> [RESHAPE] -> CONV_2D/DEPTHWISE_CONV_2D -> [RESHAPE] -> BATCH_TO_SPACE_ND: a dilated
    convolution with the effective padding (SAME, VALID, or an explicit PAD in front)."""
    changed = False
    for sg in model.subgraphs:
        producers = sg.producers()
        users = sg.consumers()
        for b2s in list(sg.ops):
            if b2s.kind != "BATCH_TO_SPACE_ND":
                continue
            cur = producers.get(b2s.inputs[0].uid)
            squeeze = None
            if cur is not None and cur.kind == "RESHAPE":
                squeeze, cur = cur, producers.get(cur.inputs[0].uid)
            conv = cur
            if conv is None or conv.kind not in ("CONV_2D", "DEPTHWISE_CONV_2D") or _act(conv) not in _NO_ACT:
                continue
            if conv.attrs.get("padding") != "VALID" or conv.attrs.get("stride_h", 1) != 1 \
                    or conv.attrs.get("stride_w", 1) != 1 or conv.attrs.get("dilation_h_factor", 1) != 1 \
                    or conv.attrs.get("dilation_w_factor", 1) != 1:
                continue
            cur = producers.get(conv.inputs[0].uid)
            expand = None
            if cur is not None and cur.kind == "RESHAPE":
                expand, cur = cur, producers.get(cur.inputs[0].uid)
            s2b = cur
            if s2b is None or s2b.kind != "SPACE_TO_BATCH_ND" or (expand is None) != (squeeze is None):
                continue
            block, block2 = _int_const(s2b.inputs[1]), _int_const(b2s.inputs[1])
            if block is None or block2 is None or not np.array_equal(block.reshape(-1), block2.reshape(-1)):
                continue
            block = block.reshape(-1)
            inner = [s2b, expand, conv, squeeze]
            if any(o is not None and only_reader(sg, users, o.outputs[0]) is None for o in inner):
                continue
            x, y = s2b.inputs[0], b2s.outputs[0]
            if x.shape is None or y.shape is None:
                continue
            net = _net_padding(s2b.inputs[2], b2s.inputs[2], x, len(block), producers)
            if net is None:
                continue
            rank = len(block)
            kh, kw = conv.inputs[1].shape[1:3]
            if rank == 2 and expand is None:
                spatial = [1, 2]  # the conv's H and W axes that the blocks apply to
            elif rank == 1 and expand is not None:
                a = _squeezed_axis(expand.outputs[0], expand.inputs[0])
                if a is None or a not in (1, 2) or _squeezed_axis(squeeze.inputs[0], squeeze.outputs[0]) != a:
                    continue
                spatial = [3 - a]  # the conv axis that is x's axis 1
            else:
                continue
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
            index = sg.ops.index(b2s)
            sg.ops[index:index + 1] = new_ops
            for o in inner:
                if o is not None:
                    sg.ops.remove(o)
            producers = sg.producers()
            users = sg.consumers()
            changed = True
    return changed


# -- Dense on rank > 2: tensordot ------------------------------------------------------------------------------

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
    idx = _int_const(gather.inputs[1])
    shp = producers.get(gather.inputs[0].uid) if gather.inputs[0] is not None else None
    return idx is not None and idx.reshape(-1).tolist() == list(range(len(x.shape) - 1)) \
        and shp is not None and shp.kind == "SHAPE" and shp.inputs[0] is x


def _refine_shapes(t: Tensor, users: dict[int, list[Op]]) -> None:
    """``t``'s shape became better known: pass it on through element-wise ops with constant operands."""
    stack = [t]
    while stack:
        cur = stack.pop()
        for op in users.get(cur.uid, []):
            if op.kind not in _EVAL or len(op.outputs) != 1:
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


@register_pass
def fuse_tensordot(model: Model, ctx: PassContext) -> bool:
    """RESHAPE(x) -> FULLY_CONNECTED -> RESHAPE back to x's leading dims: FULLY_CONNECTED(x, keep_num_dims)."""
    changed = False
    for sg in model.subgraphs:
        producers = sg.producers()
        users = sg.consumers()
        for fc in list(sg.ops):
            if fc.kind != "FULLY_CONNECTED" or fc.attrs.get("keep_num_dims") or fc.outputs[0].dtype != "float32":
                continue
            flat = producers.get(fc.inputs[0].uid)
            after = only_reader(sg, users, fc.outputs[0])
            if flat is None or flat.kind != "RESHAPE" or after is None or after.kind != "RESHAPE" \
                    or after.inputs[0] is not fc.outputs[0]:
                continue
            x, y, w = flat.inputs[0], after.outputs[0], fc.inputs[1]
            if x.shape is None or y.shape is None or w is None or w.shape is None or len(x.shape) < 3:
                continue
            n, c = w.shape
            want = (*x.shape[:-1], n)
            if x.shape[-1] != c or len(y.shape) != len(want):
                continue
            # The result must be x's leading dims then n: known statically, or computed so from x's shape.
            if not (y.shape == want and sum(d < 0 for d in want) <= 1) \
                    and not (_leading_dims_then(after.inputs[1], x, n, producers)
                             and all(d < 0 or w_ < 0 or d == w_ for d, w_ in zip(y.shape, want, strict=True))):
                continue
            refined = tuple(w_ if w_ >= 0 else d for d, w_ in zip(y.shape, want, strict=True))
            if refined != y.shape:
                y.shape = refined
                _refine_shapes(y, users)
            fc.inputs[0] = x
            fc.outputs = [y]
            fc.attrs["keep_num_dims"] = True
            sg.ops.remove(after)
            producers[y.uid] = fc  # (the maps stay current for what later matches read)
            users.setdefault(x.uid, []).append(fc)
            changed = True
    return changed


# -- moving per-channel ops up to the convolution ------------------------------------------------------------------

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


@register_pass
def hoist_through_reshape(model: Model, ctx: PassContext) -> bool:
    """CONV/FC (or a channel concatenation) -> RESHAPE keeping the last axis -> per-channel op: do the
    per-channel op before the reshape."""
    changed = False
    for sg in model.subgraphs:
        producers = sg.producers()
        users = sg.consumers()
        for rs in list(sg.ops):
            if rs.kind != "RESHAPE":
                continue
            src, y = rs.inputs[0], rs.outputs[0]
            p = producers.get(src.uid) if src is not None else None
            if p is None or only_reader(sg, users, src) is not rs:
                continue
            if p.kind not in _WEIGHTED and not (p.kind == "CONCATENATION" and src.shape is not None
                                                and p.attrs.get("axis") in (-1, len(src.shape) - 1)):
                continue
            if src.shape is None or y.shape is None or not src.shape or not y.shape \
                    or src.shape[-1] != y.shape[-1] or src.shape[-1] < 0:
                continue
            nxt = only_reader(sg, users, y)
            if nxt is None or _per_channel(nxt, y, y.shape[-1]) is None:
                continue
            if nxt.outputs[0].shape != y.shape:
                continue
            z = nxt.outputs[0]
            t = Tensor(z.name + "/before_reshape", z.dtype, src.shape, source=nxt.source)
            nxt.inputs = [src if i is y else _flat_channel_const(i, y.shape[-1]) for i in nxt.inputs]
            nxt.outputs = [t]
            rs.inputs[0] = t
            rs.outputs = [z]
            sg.ops.remove(nxt)
            sg.ops.insert(sg.ops.index(rs), nxt)
            producers = sg.producers()
            users = sg.consumers()
            changed = True
    return changed


@register_pass
def distribute_over_concat(model: Model, ctx: PassContext) -> bool:
    """Per-channel op after a channel CONCATENATION of convolutions (a grouped convolution): one per part."""
    changed = False
    for sg in model.subgraphs:
        producers = sg.producers()
        users = sg.consumers()
        for cat in list(sg.ops):
            if cat.kind != "CONCATENATION" or _act(cat) not in _NO_ACT:
                continue
            y = cat.outputs[0]
            if y.shape is None or y.shape[-1] < 0 or cat.attrs.get("axis") not in (len(y.shape) - 1, -1):
                continue
            parts = list(cat.inputs)
            if any(t is None or t.shape is None or t.shape[-1] < 0 or producers.get(t.uid) is None
                   or producers[t.uid].kind not in _WEIGHTED or only_reader(sg, users, t) is not cat
                   for t in parts):
                continue
            nxt = only_reader(sg, users, y)
            if nxt is None or nxt.outputs[0].shape != y.shape:
                continue
            c = _per_channel(nxt, y, y.shape[-1])
            if c is None:
                continue
            new_parts = []
            start = 0
            for t in parts:
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
                sg.ops.insert(sg.ops.index(cat), Op(nxt.kind, inputs, [out], dict(nxt.attrs), source=nxt.source))
                new_parts.append(out)
            cat.inputs = new_parts
            cat.outputs = [nxt.outputs[0]]
            sg.ops.remove(nxt)
            producers = sg.producers()
            users = sg.consumers()
            changed = True
    return changed


@register_pass
def fuse_clips(model: Model, ctx: PassContext) -> bool:
    """(placeholder while the structural rewrite lands: clips are matched by fuse_activation_functions)"""
    return False
