"""Activations spelled as several element-wise ops: clips (RELU, RELU6, RELU_N1_TO_1, RELU_0_TO_1), GELU,
HARD_SWISH, PRELU and LEAKY_RELU.

``fuse_clips`` reads chains of MAXIMUM/MINIMUM with scalar constants and RELU-family ops, whose composition is
always a clamp to some [lo, hi]; the bounds are compared exactly. ``fuse_activation_functions`` puts the region
ending at an op into the canonical polynomial form of :mod:`.match` and compares it with templates written in the
same algebra::

    GELU (approximate=False)   0.5 * x * (1 + erf(x / sqrt(2)))          erf and erfc spellings
    GELU (approximate=True)    0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))   tanh or logistic
    HARD_SWISH                 x * relu_0_to_1(x / 6 + 0.5)             = x * relu6(x + 3) / 6
    LEAKY_RELU / PRELU         alpha * x + (1 - alpha) * relu(x)         = relu(x) - alpha * relu(-x),
                                                                          max(x, 0) + alpha * min(x, 0), ...
    LEAKY_RELU / PRELU         max(x, alpha * x), 0 <= alpha < 1;  min(x, alpha * x), alpha > 1

A scalar alpha gives LEAKY_RELU (0 gives RELU); a per-channel one PRELU, its alpha shaped so that LiteRT
broadcasts it (the batch axis dropped, shared axes of size 1).
"""

from __future__ import annotations

import math

import numpy as np

from ...ir import Model, Op, Tensor, const
from .. import PassContext, register_pass
from .match import (
    FUNCTIONS,
    NO_ACT,
    Coef,
    Poly,
    Rewrite,
    Site,
    X,
    act,
    algebraic,
    close,
    close_coef,
    decompose,
    fn,
    monomial,
    region_inputs,
    rewrite,
    scalar_const,
)

# -- clips ----------------------------------------------------------------------------------------------------------

_INF = math.inf
_CLAMPS = {"RELU": (0.0, _INF), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0), "RELU_0_TO_1": (0.0, 1.0)}
_CLIP_OF = {bounds: kind for kind, bounds in _CLAMPS.items()}
_MAX_CHAIN = 8


def _clamp_step(op: Op | None) -> tuple[Tensor, float, float] | None:
    """``op`` as clamp(u, lo, hi) of its one non-constant input u: (u, lo, hi), or None."""
    if op is None or len(op.outputs) != 1 or act(op) not in NO_ACT or op.outputs[0].dtype != "float32":
        return None
    if op.kind in _CLAMPS:
        u = op.inputs[0] if op.inputs else None
        lo, hi = _CLAMPS[op.kind]
    elif op.kind in ("MAXIMUM", "MINIMUM") and len(op.inputs) == 2 and None not in op.inputs:
        a, b = op.inputs
        c, u = (scalar_const(a), b) if a.is_const else (scalar_const(b), a)
        if c is None or u.is_const or math.isnan(c):
            return None
        lo, hi = (c, _INF) if op.kind == "MAXIMUM" else (-_INF, c)
    else:
        return None
    if u is None or u.dtype != "float32" or u.shape is None or u.shape != op.outputs[0].shape:
        return None  # (a constant that broadcasts the result to a bigger shape)
    return u, lo, hi


def _clip_match(site: Site, root: Op) -> Rewrite | None:
    """The longest chain of clamps ending at ``root`` (each intermediate read only by the next) whose composition
    is a LiteRT clip."""
    step = _clamp_step(root)
    if step is None:
        return None
    chain = [(root, *step)]
    while len(chain) < _MAX_CHAIN:
        op, u = chain[-1][0], chain[-1][1]
        inner = site.producer(u)
        s = _clamp_step(inner)
        if s is None or site.only_reader(u) is not op:
            break
        chain.append((inner, *s))
    for k in range(len(chain), 0, -1):
        lo, hi = -_INF, _INF
        for _, _, low, high in reversed(chain[:k]):  # innermost first: clamp(clamp(x, lo, hi), low, high)
            lo, hi = min(max(lo, low), high), min(max(hi, low), high)
        kind = _CLIP_OF.get((lo, hi))
        if kind is None or (k == 1 and root.kind == kind):
            continue
        x = chain[k - 1][1]
        return Rewrite([c[0] for c in chain[:k]], [Op(kind, [x], [root.outputs[0]], source=root.source)])
    return None


@register_pass
def fuse_clips(model: Model, ctx: PassContext) -> bool:
    """MAXIMUM/MINIMUM with scalar constants and RELU-family ops in a chain that clamps to [0, inf), [0, 6],
    [-1, 1] or [0, 1]: RELU, RELU6, RELU_N1_TO_1 or RELU_0_TO_1 (bounds compared exactly).

    ``min(max(x, 0), 6)``, ``max(min(x, 6), 0)`` (tf.clip_by_value), ``min(relu(x), 1)``, ``max(x, 0)``, ...
    """
    return rewrite(model, _clip_match)


# -- functions of one tensor ----------------------------------------------------------------------------------------

_x = Poly.var()
_TEMPLATES: list[tuple[str, dict, Poly]] = [
    ("GELU", {"approximate": False}, 0.5 * _x * (1.0 + fn("ERF", _x * (1.0 / math.sqrt(2.0))))),
    ("GELU", {"approximate": True},
     0.5 * _x * (1.0 + fn("TANH", math.sqrt(2.0 / math.pi) * (_x + 0.044715 * _x ** 3)))),
    ("HARD_SWISH", {}, _x * fn("RELU_0_TO_1", _x / 6.0 + 0.5)),
]
(_RELU_MONO,) = fn("RELU", _x).terms  # the monomial relu(x)
_ROOTS = ("ADD", "SUB", "MUL", "DIV", "NEG", "MAXIMUM", "MINIMUM")
_KINKS = FUNCTIONS | {"MAXIMUM", "MINIMUM"}


def prelu_alpha(alpha: np.ndarray, x: Tensor) -> np.ndarray | None:
    """A per-element negative slope (broadcasting against ``x``) as PRELU's alpha: without the batch axis (it must
    not vary along it), and size 1 along every axis it does not vary along, as LiteRT broadcasts it."""
    shape = x.shape
    if shape is None or len(shape) < 2 or any(d == 0 for d in shape) or alpha.ndim > len(shape):
        return None
    a = alpha.reshape((1,) * (len(shape) - alpha.ndim) + alpha.shape)
    if not np.all(np.isfinite(a)) or not np.all(a == a[:1]):
        return None
    try:
        a = np.broadcast_to(a[0], tuple(d if d >= 0 else 1 for d in shape[1:]))
    except ValueError:
        return None
    if a.size > 1 << 22:
        return None
    for axis in range(a.ndim):  # shared axes become size 1
        if np.all(a == a.take([0], axis=axis)):
            a = a.take([0], axis=axis)
    return np.ascontiguousarray(a, dtype=np.float32)


def _slope_op(x: Tensor, alpha: Coef, y: Tensor, source: str | None) -> Op | None:
    """x where x > 0, alpha * x elsewhere: RELU, LEAKY_RELU (scalar alpha) or PRELU (per-element alpha)."""
    if not isinstance(alpha, np.ndarray):
        if not math.isfinite(alpha):
            return None
        if alpha == 0.0:
            return Op("RELU", [x], [y], source=source)
        return Op("LEAKY_RELU", [x], [y], {"alpha": float(alpha)}, source=source)
    a = prelu_alpha(alpha, x)
    if a is None:
        return None
    return Op("PRELU", [x, const(f"{x.name}/prelu_alpha", a)], [y], source=source)


def _negative_slope(p: Poly) -> Coef | None:
    """alpha if ``p`` is alpha * x + (1 - alpha) * relu(x) (every spelling of a leaky or parametric ReLU)."""
    if not p.terms or len(p.terms) > 2:
        return None
    a = monomial(p, X)
    b = p.terms.get(_RELU_MONO)
    if b is None or len(p.terms) != 1 + (a is not None):
        return None
    a = 0.0 if a is None else a
    return a if close_coef(a + b, 1.0) else None


def _identify(p: Poly, x: Tensor, y: Tensor, source: str | None) -> Op | None:
    for kind, attrs, template in _TEMPLATES:
        if close(p, template):
            return Op(kind, [x], [y], dict(attrs), source=source)
    alpha = _negative_slope(p)
    return None if alpha is None else _slope_op(x, alpha, y, source)


def _function_match(site: Site, root: Op) -> Rewrite | None:
    """The region of algebraic ops ending at ``root`` that computes a template of one tensor x."""
    if root.kind not in _ROOTS or not algebraic(root):
        return None
    y = root.outputs[0]
    inputs, kinds = region_inputs(site, root)
    if not kinds & _KINKS:
        return None  # every template has a function op (a normalization, say, has none)
    for x in inputs:
        if x.dtype != "float32" or x.shape != y.shape:
            continue
        found = decompose(site, y, x)
        if found is None:
            continue
        p, ops = found
        if len(ops) < 2 or not site.sealed(ops, y):
            continue
        new = _identify(p, x, y, root.source)
        if new is not None:
            return Rewrite(ops, [new])
    return None


def _is_x(p: Poly) -> bool:
    return len(p.terms) == 1 and monomial(p, X) == 1.0


def _max_slope_match(site: Site, root: Op) -> Rewrite | None:
    """max(x, alpha * x) with 0 <= alpha < 1, or min(x, alpha * x) with alpha > 1: a leaky or parametric ReLU."""
    if root.kind not in ("MAXIMUM", "MINIMUM") or not algebraic(root) or len(root.inputs) != 2:
        return None
    a, b = root.inputs
    if a is None or b is None or a.is_const or b.is_const:
        return None
    y = root.outputs[0]
    for x in region_inputs(site, root)[0]:
        if x.dtype != "float32" or x.shape != y.shape:
            continue
        da, db = decompose(site, a, x), decompose(site, b, x)
        if da is None or db is None:
            continue
        (pa, ops_a), (pb, ops_b) = da, db
        if _is_x(pb):
            pa, pb = pb, pa
        if not _is_x(pa) or len(pb.terms) != 1:
            continue
        alpha = monomial(pb, X)
        if alpha is None:
            continue
        arr = np.asarray(alpha)
        if not (np.all((arr >= 0) & (arr < 1)) if root.kind == "MAXIMUM" else np.all(arr > 1)):
            continue
        ops = list({id(o): o for o in (root, *ops_a, *ops_b)}.values())
        if not site.sealed(ops, y):
            continue
        new = _slope_op(x, alpha, y, root.source)
        if new is not None:
            return Rewrite(ops, [new])
    return None


@register_pass
def fuse_activation_functions(model: Model, ctx: PassContext) -> bool:
    """Element-wise ops computing GELU (erf, erfc or tanh form), HARD_SWISH, PRELU or LEAKY_RELU of one tensor:
    that op.

    The region (at least two ops, none of its intermediate results read elsewhere, no constant that broadcasts it
    to a bigger shape) is put in canonical polynomial form and compared with each function's template, constants
    within a relative 1e-5. An ERF or ERFC outside such a region stays and is reported by ``legalize``.
    """
    return rewrite(model, _max_slope_match, _function_match)


__all__ = ["fuse_activation_functions", "fuse_clips", "prelu_alpha"]
