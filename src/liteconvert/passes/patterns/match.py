"""What every pattern pass shares: the one rewrite loop, single-reader and constant checks, and the algebra that
puts an element-wise region into a canonical form so that every spelling of a function is recognised.

The rewrite loop (:func:`rewrite`) walks a subgraph's ops from the last to the first and asks a matcher about
each; a matcher returns a :class:`Rewrite` (the ops to remove, the root among them, and the ops to insert at the
root's place) or None. The loop refuses a rewrite that would leave a reader without its producer, applies the
others, and keeps the producer and consumer maps current for the matchers that follow.

The algebra (:func:`decompose`) reads the element-wise ops that compute a tensor from one input ``x`` and
constants (ADD, SUB, MUL, DIV by a constant, NEG, SQUARE, POW by an integer constant, SQUARED_DIFFERENCE,
MAXIMUM/MINIMUM with a constant, and the function ops ERF, ERFC, TANH, LOGISTIC, ABS and the RELU family) and
returns a :class:`Poly`: a polynomial over atoms, where an atom is ``x`` or a function op of a polynomial.
Coefficients are floats, or numpy arrays for per-channel constants. Function atoms are put in one canonical form
(:func:`fn`): ``erfc(u) = 1 - erf(u)``, erf and tanh are odd, ``logistic(u) = (1 + tanh(u/2)) / 2``,
``relu6(u) = 6 relu_0_to_1(u/6)``, ``relu(c u) = c relu(u)`` for c > 0, ``relu(-u) = relu(u) - u``,
``max(u, c) = c + relu(u - c)``, ... So ``0.5*x*(1+erf(x/√2))``, ``x*0.5*...``, ``(x*(1+erf(..)))*0.5`` and
``0.5*x*erfc(-x/√2)`` all give the same polynomial, which :func:`close` compares with a template built with the
same algebra, constants within a relative tolerance. Nothing is evaluated on sample points.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ...ir import Model, Op, Subgraph, Tensor
from ...tflite.ops import DECLS
from .. import only_reader

NO_ACT = ("NONE", None)
REL = 1e-5  # relative tolerance on float constants (1/sqrt(2), 0.044715, sqrt(2/pi), 1/6 in float32)
MAX_REGION = 24  # ops in one element-wise region
MAX_TERMS = 64  # monomials in one polynomial
MAX_CONST = 1 << 20  # elements of a constant read by the algebra
MAX_POWER = 4  # POW(u, n): integer n in 1..MAX_POWER

# Element-wise float ops (what a region may hold, and what shape refinement passes through).
ELEMENTWISE = frozenset({
    "ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "POW", "SQUARED_DIFFERENCE", "NEG", "ABS", "SQUARE", "SQRT",
    "RSQRT", "EXP", "LOG", "TANH", "LOGISTIC", "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "ERF", "ERFC"})
# Function ops that become atoms of the algebra (after :func:`fn`'s canonical rewriting).
FUNCTIONS = frozenset({"ERF", "ERFC", "TANH", "LOGISTIC", "ABS", "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1"})
ALGEBRA = frozenset({"ADD", "SUB", "MUL", "DIV", "NEG", "SQUARE", "POW", "SQUARED_DIFFERENCE", "MAXIMUM",
                     "MINIMUM"}) | FUNCTIONS


# -- small op and constant checks -----------------------------------------------------------------------------------

def act(op: Op) -> str | None:
    """The op's fused activation ("NONE" when it has none)."""
    return op.attrs.get("fused_activation_function", "NONE")


def int_const(t: Tensor | None) -> np.ndarray | None:
    """An integer constant's value as int64, or None."""
    if t is None or t.data is None:
        return None
    return np.asarray(t.data).astype(np.int64)


def scalar_const(t: Tensor | None) -> float | None:
    """The value of a one-element float32 constant, or None."""
    if t is None or not t.is_const or t.dtype != "float32" or t.size != 1:
        return None
    return float(np.asarray(t.data).reshape(-1)[0])


def fits(shape: tuple[int, ...] | None, into: tuple[int, ...] | None) -> bool:
    """A constant of ``shape`` broadcasts against a tensor of shape ``into`` without making it bigger."""
    if shape is None or into is None or len(shape) > len(into):
        return False
    return all(c == 1 or (d >= 0 and c == d) for c, d in zip(reversed(shape), reversed(into), strict=False))


def close_coef(a: float | np.ndarray, b: float | np.ndarray, rel: float = REL) -> bool:
    """Equal within ``rel`` of the larger magnitude, element by element (arrays broadcast)."""
    try:
        a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    except ValueError:
        return False
    return bool(np.all(np.abs(a - b) <= rel * np.maximum(np.abs(a), np.abs(b))))


def shape_value(t: Tensor, producers: dict[int, Op], x: Tensor, x_shape: list[int]) -> np.ndarray | None:
    """The value of the integer tensor ``t`` when ``x`` has shape ``x_shape``: folds the shape arithmetic between
    SHAPE(x) and ``t`` through the op declarations' numpy references; None if ``t`` depends on anything else."""
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
    except Exception:  # anything but shape arithmetic of x, or arithmetic the references decline
        return None


# -- the rewrite loop -------------------------------------------------------------------------------------------------

@dataclass
class Site:
    """What a matcher reads: the subgraph and its producer and consumer maps, kept current by :func:`rewrite`."""

    sg: Subgraph
    producers: dict[int, Op]
    users: dict[int, list[Op]]
    outputs: set[int]  # uids of the subgraph's outputs

    def producer(self, t: Tensor | None) -> Op | None:
        return None if t is None else self.producers.get(t.uid)

    def only_reader(self, t: Tensor) -> Op | None:
        """The one op reading ``t``; None if several do or ``t`` is a subgraph output."""
        return only_reader(self.sg, self.users, t)

    def sealed(self, ops: list[Op], keep: Tensor) -> bool:
        """No result of ``ops`` but ``keep`` is read outside them or is a subgraph output."""
        members = {id(o) for o in ops}
        for op in ops:
            for t in op.outputs:
                if t is keep:
                    continue
                if t.uid in self.outputs or any(id(u) not in members for u in self.users.get(t.uid, [])):
                    return False
        return True


@dataclass
class Rewrite:
    """Remove ``remove`` (the root among them) and put ``insert`` where the root was, in this order."""

    remove: list[Op]
    insert: list[Op]


Matcher = Callable[[Site, Op], "Rewrite | None"]


def _safe(site: Site, rw: Rewrite) -> bool:
    """Every reader keeps a producer: a removed op's result is re-made by an inserted op or read only by removed
    ops; inserted ops read nothing removed that they do not make themselves, and make nothing another op makes."""
    gone = {id(o) for o in rw.remove}
    made = {t.uid for op in rw.insert for t in op.outputs}
    for op in rw.remove:
        for t in op.outputs:
            if t.uid not in made and (t.uid in site.outputs
                                      or any(id(u) not in gone for u in site.users.get(t.uid, []))):
                return False
    lost = {t.uid for op in rw.remove for t in op.outputs}
    defined: set[int] = set()
    for op in rw.insert:
        if any(t is not None and t.uid in lost and t.uid not in defined for t in op.inputs):
            return False
        for t in op.outputs:
            p = site.producers.get(t.uid)
            if p is not None and id(p) not in gone:
                return False
            defined.add(t.uid)
    return True


def _apply(site: Site, rw: Rewrite) -> None:
    for op in rw.remove:
        for t in op.outputs:
            if site.producers.get(t.uid) is op:
                del site.producers[t.uid]
        for t in op.inputs:
            if t is not None and t.uid in site.users:
                site.users[t.uid] = [u for u in site.users[t.uid] if u is not op]
    for op in rw.insert:
        for t in op.outputs:
            site.producers[t.uid] = op
        for t in op.inputs:
            if t is not None:
                site.users.setdefault(t.uid, []).append(op)


def rewrite(model: Model, *matchers: Matcher) -> bool:
    """Walk every subgraph's ops from the last to the first (a region before its parts), try ``matchers`` in turn
    on each op not removed yet, and apply the first rewrite found. True if anything changed."""
    changed = False
    for sg in model.subgraphs:
        site = Site(sg, sg.producers(), sg.consumers(), {t.uid for t in sg.outputs})
        replaced: dict[int, list[Op]] = {}
        dropped: set[int] = set()
        for root in reversed(list(sg.ops)):
            if id(root) in dropped or id(root) in replaced:
                continue
            for matcher in matchers:
                rw = matcher(site, root)
                if rw is None:
                    continue
                assert any(o is root for o in rw.remove), f"{matcher.__name__}: a rewrite removes its root"
                if not _safe(site, rw):
                    continue
                _apply(site, rw)
                replaced[id(root)] = rw.insert
                dropped.update(id(o) for o in rw.remove if o is not root)
                changed = True
                break
        if replaced:
            ops: list[Op] = []
            for op in sg.ops:
                if id(op) in replaced:
                    ops.extend(o for o in replaced[id(op)] if id(o) not in dropped)
                elif id(op) not in dropped:
                    ops.append(op)
            sg.ops = ops
    return changed


# -- the algebra ----------------------------------------------------------------------------------------------------

Coef = float | np.ndarray


class NoMatch(Exception):
    """The region is not a polynomial of the input (or too big to be worth one)."""


def _coef(c: object) -> Coef:
    arr = np.asarray(c, dtype=np.float64)
    return float(arr.reshape(-1)[0]) if arr.size == 1 else arr


def _is_zero(c: Coef) -> bool:
    return not np.any(c) if isinstance(c, np.ndarray) else c == 0.0


def _coef_key(c: Coef) -> str:
    if isinstance(c, np.ndarray):
        return f"a{c.shape}:{hashlib.sha1(np.ascontiguousarray(c).tobytes()).hexdigest()[:16]}"
    return repr(c)


class Atom:
    """``x`` (kind "x") or a function op of a polynomial. ``struct`` names it without its coefficients, ``key``
    with them (equal keys: the same atom)."""

    __slots__ = ("arg", "key", "kind", "struct")

    def __init__(self, kind: str, arg: Poly | None = None):
        self.kind, self.arg = kind, arg
        self.struct = kind if arg is None else f"{kind}({arg.struct})"
        self.key = kind if arg is None else f"{kind}({arg.key})"

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Atom) and other.key == self.key

    def __repr__(self) -> str:
        return "x" if self.arg is None else f"{self.kind}({self.arg!r})"


X = Atom("x")
Mono = tuple[tuple[Atom, int], ...]  # atoms with their powers, sorted by key; () is the constant monomial


def _mono_struct(m: Mono) -> str:
    return "*".join(f"{a.struct}^{p}" for a, p in sorted(m, key=lambda ap: (ap[0].struct, ap[0].key))) or "1"


def _mono_key(m: Mono) -> str:
    return "*".join(f"{a.key}^{p}" for a, p in m) or "1"


def _mono_mul(a: Mono, b: Mono) -> Mono:
    powers: dict[Atom, int] = dict(a)
    for atom, p in b:
        powers[atom] = powers.get(atom, 0) + p
    return tuple(sorted(powers.items(), key=lambda ap: ap[0].key))


class Poly:
    """A polynomial over atoms: ``{monomial: coefficient}`` with no zero coefficient. Supports + - * / (by a
    constant) and ** (by a small integer) with numbers, numpy arrays and other polynomials."""

    __slots__ = ("_key", "_struct", "terms")
    __array_ufunc__ = None  # numpy defers to Poly's reflected operators

    def __init__(self, terms: dict[Mono, Coef]):
        self.terms = {m: c for m, c in terms.items() if not _is_zero(c)}
        if len(self.terms) > MAX_TERMS:
            raise NoMatch
        self._key: str | None = None
        self._struct: str | None = None

    @staticmethod
    def var() -> Poly:
        return Poly({((X, 1),): 1.0})

    @staticmethod
    def const(c: object) -> Poly:
        return Poly({(): _coef(c)})

    @staticmethod
    def atom(kind: str, arg: Poly) -> Poly:
        return Poly({((Atom(kind, arg), 1),): 1.0})

    @staticmethod
    def _lift(other: object) -> Poly:
        return other if isinstance(other, Poly) else Poly.const(other)

    @property
    def key(self) -> str:
        if self._key is None:
            self._key = "+".join(sorted(f"{_coef_key(c)}*{_mono_key(m)}" for m, c in self.terms.items()))
        return self._key

    @property
    def struct(self) -> str:
        if self._struct is None:
            self._struct = "+".join(sorted(_mono_struct(m) for m in self.terms))
        return self._struct

    def leading(self) -> float | None:
        """The coefficient of the first non-constant monomial (in an order that ignores coefficients, so ``u``,
        ``-u`` and ``c*u`` agree on it), when it is a scalar."""
        monos = [m for m in self.terms if m]
        if not monos:
            return None
        first = min(monos, key=lambda m: (_mono_struct(m), _mono_key(m)))
        c = self.terms[first]
        return None if isinstance(c, np.ndarray) else c

    def __add__(self, other: object) -> Poly:
        o = Poly._lift(other)
        terms = dict(self.terms)
        for m, c in o.terms.items():
            terms[m] = terms[m] + c if m in terms else c
        return Poly(terms)

    __radd__ = __add__

    def __neg__(self) -> Poly:
        return Poly({m: -c for m, c in self.terms.items()})

    def __sub__(self, other: object) -> Poly:
        return self + -Poly._lift(other)

    def __rsub__(self, other: object) -> Poly:
        return Poly._lift(other) + -self

    def __mul__(self, other: object) -> Poly:
        o = Poly._lift(other)
        terms: dict[Mono, Coef] = {}
        for m1, c1 in self.terms.items():
            for m2, c2 in o.terms.items():
                m, c = _mono_mul(m1, m2), c1 * c2
                terms[m] = terms[m] + c if m in terms else c
        return Poly(terms)

    __rmul__ = __mul__

    def __truediv__(self, other: object) -> Poly:
        if isinstance(other, Poly):
            raise NoMatch
        d = _coef(other)
        if np.any(np.asarray(d) == 0):
            raise NoMatch
        return self * (1.0 / d)

    def __pow__(self, n: int) -> Poly:
        out = Poly.const(1.0)
        for _ in range(n):
            out = out * self
        return out

    def __repr__(self) -> str:
        parts = [f"{c if not isinstance(c, np.ndarray) else 'arr' + str(c.shape)}*{_mono_key(m)}"
                 for m, c in self.terms.items()]
        return " + ".join(parts) or "0"


def fn(kind: str, u: Poly) -> Poly:
    """The function op ``kind`` of ``u``, in canonical form."""
    if kind == "ERFC":
        return 1.0 - fn("ERF", u)
    if kind == "LOGISTIC":
        return 0.5 + 0.5 * fn("TANH", u * 0.5)
    if kind == "RELU6":
        return 6.0 * fn("RELU_0_TO_1", u / 6.0)
    if kind == "RELU_N1_TO_1":
        return 2.0 * fn("RELU_0_TO_1", (u + 1.0) * 0.5) - 1.0
    if kind == "ABS":
        return 2.0 * fn("RELU", u) - u
    lead = u.leading()
    if lead is not None and lead < 0:
        if kind in ("ERF", "TANH"):  # odd
            return -Poly.atom(kind, -u)
        if kind == "RELU":
            return u + fn("RELU", -u)
        if kind == "RELU_0_TO_1":
            return 1.0 - Poly.atom(kind, 1.0 - u)
    if kind == "RELU" and lead is not None and lead != 1.0:
        return lead * Poly.atom(kind, u / lead)  # positively homogeneous
    return Poly.atom(kind, u)


def _atoms_close(a: Atom, b: Atom, rel: float) -> bool:
    if a.kind != b.kind:
        return False
    return a.arg is None or (b.arg is not None and close(a.arg, b.arg, rel))


def _monos_close(a: Mono, b: Mono, rel: float) -> bool:
    order = lambda ap: (ap[0].struct, ap[0].key)  # noqa: E731
    return len(a) == len(b) and all(pa == pb and _atoms_close(xa, xb, rel) for (xa, pa), (xb, pb)
                                    in zip(sorted(a, key=order), sorted(b, key=order), strict=True))


def close(p: Poly, q: Poly, rel: float = REL) -> bool:
    """The same polynomial, every coefficient (atoms' arguments included) within ``rel``."""
    if len(p.terms) != len(q.terms) or p.struct != q.struct:
        return False
    left = list(q.terms.items())
    for m, c in p.terms.items():
        s = _mono_struct(m)
        for i, (m2, c2) in enumerate(left):
            if _mono_struct(m2) == s and _monos_close(m, m2, rel) and close_coef(c, c2, rel):
                del left[i]
                break
        else:
            return False
    return True


def monomial(p: Poly, *atoms: Atom) -> Coef | None:
    """The coefficient of the monomial made of ``atoms`` (each to the power 1) in ``p``; None if absent."""
    want: Mono = tuple(sorted(((a, 1) for a in atoms), key=lambda ap: ap[0].key))
    return p.terms.get(want)


# -- regions -------------------------------------------------------------------------------------------------------

def algebraic(op: Op | None) -> bool:
    """An op the algebra reads: one float32 result, no fused activation."""
    return op is not None and op.kind in ALGEBRA and len(op.outputs) == 1 and act(op) in NO_ACT \
        and op.outputs[0].dtype == "float32"


def region_inputs(site: Site, root: Op, limit: int = MAX_REGION) -> tuple[list[Tensor], set[str]]:
    """The non-constant tensors read in the algebraic region ending at ``root``, nearest first (the candidates
    for its input), and the op kinds seen in it."""
    seen: set[int] = set()
    kinds: set[str] = set()
    found: dict[int, Tensor] = {}
    queue = [root]
    while queue and len(seen) < limit:
        op = queue.pop(0)
        if id(op) in seen:
            continue
        seen.add(id(op))
        kinds.add(op.kind)
        for t in op.inputs:
            if t is None or t.is_const:
                continue
            found.setdefault(t.uid, t)
            p = site.producer(t)
            if algebraic(p):
                queue.append(p)
    return list(found.values()), kinds


def _const_value(t: Tensor, x: Tensor) -> Coef:
    if t.dtype != "float32" or not 0 <= t.size <= MAX_CONST or not fits(t.shape, x.shape):
        raise NoMatch
    return _coef(t.data)


def _expand(op: Op, of: Callable[[Tensor | None], Poly], x: Tensor) -> Poly:
    k, ins = op.kind, op.inputs
    if k in FUNCTIONS:
        return fn(k, of(ins[0]))
    if k == "NEG":
        return -of(ins[0])
    if k == "SQUARE":
        return of(ins[0]) ** 2
    if len(ins) != 2 or ins[0] is None or ins[1] is None:
        raise NoMatch
    a, b = ins
    if k == "ADD":
        return of(a) + of(b)
    if k == "SUB":
        return of(a) - of(b)
    if k == "MUL":
        return of(a) * of(b)
    if k == "SQUARED_DIFFERENCE":
        return (of(a) - of(b)) ** 2
    if k == "DIV":
        if not b.is_const:
            raise NoMatch
        return of(a) / _const_value(b, x)
    if k == "POW":
        n = scalar_const(b)
        if n is None or n != int(n) or not 1 <= n <= MAX_POWER:
            raise NoMatch
        return of(a) ** int(n)
    if k in ("MAXIMUM", "MINIMUM"):
        if a.is_const == b.is_const:
            raise NoMatch  # max(u, v) of two non-constants is no polynomial (see the leaky-ReLU matcher)
        u, c = (of(b), _const_value(a, x)) if a.is_const else (of(a), _const_value(b, x))
        return c + fn("RELU", u - c) if k == "MAXIMUM" else c - fn("RELU", c - u)
    raise NoMatch


def decompose(site: Site, t: Tensor, x: Tensor, limit: int = MAX_REGION) -> tuple[Poly, list[Op]] | None:
    """``t`` as a polynomial of ``x`` (and constants that fit x's shape), and the ops computing it from ``x``;
    None if ``t`` depends on anything else, or through an op the algebra does not read."""
    if x.shape is None:
        return None
    memo: dict[int, Poly] = {}
    ops: dict[int, Op] = {}

    def of(u: Tensor | None) -> Poly:
        if u is None:
            raise NoMatch
        if u is x:
            return Poly.var()
        if u.is_const:
            return Poly.const(_const_value(u, x))
        if u.uid not in memo:
            p = site.producer(u)
            if not algebraic(p):
                raise NoMatch
            assert p is not None
            ops[id(p)] = p
            if len(ops) > limit:
                raise NoMatch
            memo[u.uid] = _expand(p, of, x)
        return memo[u.uid]

    try:
        poly = of(t)
    except (NoMatch, FloatingPointError, ValueError):  # ValueError: constants that do not broadcast together
        return None
    return poly, list(ops.values())


__all__ = ["ALGEBRA", "ELEMENTWISE", "FUNCTIONS", "MAX_REGION", "NO_ACT", "REL", "Atom", "Coef", "Matcher",
           "NoMatch", "Poly", "Rewrite", "Site", "X", "act", "algebraic", "close", "close_coef", "decompose", "fits",
           "fn", "int_const", "monomial", "region_inputs", "rewrite", "scalar_const", "shape_value"]
