"""Constant folding: evaluate an op with numpy when all its inputs are constants.

One small evaluator per TFLite op kind. Used on emit by frontends (so lowering rules see constants) and as
the ``fold_constants`` pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir import Model, Op

Evaluator = Callable[[Op, list[np.ndarray]], list[np.ndarray]]
EVALUATORS: dict[str, Evaluator] = {}

# Do not materialize big tensors that are cheaper to compute at run time than to store.
_MAX_GROWTH_ELEMENTS = 1 << 16


def evaluator(*kinds: str) -> Callable[[Evaluator], Evaluator]:
    def deco(fn: Evaluator) -> Evaluator:
        for k in kinds:
            EVALUATORS[k] = fn
        return fn

    return deco


def _unary(fn: Callable[[np.ndarray], np.ndarray]) -> Evaluator:
    return lambda op, xs: [fn(xs[0])]


def _binary(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Evaluator:
    return lambda op, xs: [fn(xs[0], xs[1])]


for _k, _f in {
    "ADD": np.add, "SUB": np.subtract, "MUL": np.multiply, "MAXIMUM": np.maximum, "MINIMUM": np.minimum,
    "SQUARED_DIFFERENCE": lambda a, b: (a - b) ** 2, "POW": np.power, "LESS": np.less, "GREATER": np.greater,
    "EQUAL": np.equal, "NOT_EQUAL": np.not_equal, "LESS_EQUAL": np.less_equal,
    "GREATER_EQUAL": np.greater_equal, "LOGICAL_AND": np.logical_and, "LOGICAL_OR": np.logical_or,
    "FLOOR_MOD": np.mod,
}.items():
    EVALUATORS[_k] = _binary(_f)

for _k, _f in {
    "NEG": np.negative, "ABS": np.abs, "SQRT": np.sqrt, "RSQRT": lambda x: 1 / np.sqrt(x), "EXP": np.exp,
    "LOG": np.log, "SQUARE": np.square, "FLOOR": np.floor, "CEIL": np.ceil, "LOGICAL_NOT": np.logical_not,
    "RELU": lambda x: np.maximum(x, 0), "RELU6": lambda x: np.clip(x, 0, 6), "ZEROS_LIKE": np.zeros_like,
    "SIGN": np.sign,
}.items():
    EVALUATORS[_k] = _unary(_f)


@evaluator("DIV")
def _div(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    a, b = xs
    if a.dtype.kind in "iu":
        return [np.floor_divide(a, b)]  # TFLite integer DIV truncates only for positive; folded ints are shapes
    return [a / b]


@evaluator("FLOOR_DIV")
def _floordiv(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.floor_divide(xs[0], xs[1])]


@evaluator("CAST")
def _cast(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    return [xs[0].astype(op.outputs[0].dtype)]


@evaluator("RESHAPE")
def _reshape(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    shape = op.outputs[0].shape
    if len(xs) > 1:
        shape = tuple(int(d) for d in xs[1].reshape(-1))
    return [xs[0].reshape(shape)]


@evaluator("SQUEEZE")
def _squeeze(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    return [xs[0].reshape(op.outputs[0].shape)]


@evaluator("EXPAND_DIMS")
def _expand_dims(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.expand_dims(xs[0], int(xs[1].reshape(-1)[0]))]


@evaluator("TRANSPOSE")
def _transpose(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.transpose(xs[0], [int(p) for p in xs[1]])]


@evaluator("SHAPE")
def _shape(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.asarray(xs[0].shape, dtype=op.outputs[0].dtype)]


@evaluator("PACK")
def _pack(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.stack(xs, axis=op.attrs.get("axis", 0))]


@evaluator("CONCATENATION")
def _concat(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    if op.attrs.get("fused_activation_function", "NONE") != "NONE":
        raise _NoFold
    return [np.concatenate(xs, axis=op.attrs.get("axis", 0))]


@evaluator("GATHER")
def _gather(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    if op.attrs.get("batch_dims", 0):
        raise _NoFold
    return [np.take(xs[0], xs[1], axis=op.attrs.get("axis", 0))]


@evaluator("SLICE")
def _slice(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    x, begin, size = xs
    idx = tuple(slice(int(b), None if int(s) == -1 else int(b) + int(s)) for b, s in zip(begin, size, strict=True))
    return [x[idx]]


@evaluator("STRIDED_SLICE")
def _strided_slice(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    x, begin, end, strides = xs
    a = op.attrs
    if a.get("ellipsis_mask", 0) or a.get("new_axis_mask", 0) or a.get("offset", False):
        raise _NoFold
    idx: list[Any] = []
    shrink = a.get("shrink_axis_mask", 0)
    for i in range(len(begin)):
        b = None if a.get("begin_mask", 0) >> i & 1 else int(begin[i])
        e = None if a.get("end_mask", 0) >> i & 1 else int(end[i])
        s = int(strides[i])
        if shrink >> i & 1:
            idx.append(int(begin[i]))
        else:
            idx.append(slice(b, e, s))
    return [np.asarray(x[tuple(idx)])]


@evaluator("FILL")
def _fill(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.full([int(d) for d in xs[0]], xs[1], dtype=op.outputs[0].dtype)]


@evaluator("RANGE")
def _range(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.arange(xs[0], xs[1], xs[2]).astype(op.outputs[0].dtype)]


@evaluator("TILE")
def _tile(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.tile(xs[0], [int(m) for m in xs[1]])]


@evaluator("BROADCAST_TO")
def _broadcast_to(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.broadcast_to(xs[0], [int(d) for d in xs[1]]).copy()]


def _reducer(fn: Callable[..., np.ndarray]) -> Evaluator:
    def ev(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
        axes = tuple(int(a) for a in np.atleast_1d(xs[1]))
        return [np.asarray(fn(xs[0], axis=axes, keepdims=bool(op.attrs.get("keep_dims", False))))]

    return ev


EVALUATORS["SUM"] = _reducer(np.sum)
EVALUATORS["MEAN"] = _reducer(np.mean)
EVALUATORS["REDUCE_MAX"] = _reducer(np.max)
EVALUATORS["REDUCE_MIN"] = _reducer(np.min)
EVALUATORS["REDUCE_PROD"] = _reducer(np.prod)


class _NoFold(Exception):
    pass


def try_fold(op: Op) -> bool:
    """If every input of ``op`` is constant and we can evaluate it, make its outputs constants; True if so."""
    fn = EVALUATORS.get(op.kind)
    if fn is None or not op.inputs or any(t is None or t.data is None for t in op.inputs):
        return False
    if any(t.dtype == "string" for t in op.inputs):
        return False
    act = op.attrs.get("fused_activation_function", "NONE")
    if act not in ("NONE", None):
        return False
    try:
        with np.errstate(all="ignore"):
            results = fn(op, [t.data for t in op.inputs])  # type: ignore[misc]
    except _NoFold:
        return False
    in_size = sum(t.data.size for t in op.inputs)  # type: ignore[union-attr]
    if any(r.size > max(_MAX_GROWTH_ELEMENTS, 2 * in_size) for r in results):
        return False
    for t, r in zip(op.outputs, results, strict=True):
        r = np.asarray(np.asarray(r).astype(t.dtype, copy=False), order="C")  # (ascontiguousarray makes 0-d 1-d)
        if t.shape is not None and -1 not in t.shape and tuple(r.shape) != tuple(t.shape):
            return False
        t.data = r
        t.shape = tuple(int(d) for d in r.shape)
    return True


def fold_constants(model: Model) -> bool:
    """Evaluate ops whose inputs are all constants, and drop them."""
    changed = False
    for sg in model.subgraphs:
        kept = []
        outs = {t.uid for t in sg.outputs}
        for op in sg.ops:
            if not any(t.uid in outs for t in op.outputs) and try_fold(op):
                changed = True
                continue
            kept.append(op)
        sg.ops = kept
    return changed
