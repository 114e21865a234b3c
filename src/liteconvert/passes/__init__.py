"""Passes: named rewrites of the IR, run by named pipelines that are plain lists a user can print and edit.

A pass is a function ``(model, ctx) -> bool`` (True when it changed something), registered by name with
:func:`register_pass`; ``ctx`` is the :class:`PassContext` (the conversion config, calibration statistics,
per-layer choices, and a log where a pass says what it did). A pipeline is a list of phases, each a list of
pass names; each phase runs to a fixed point, at most :data:`MAX_ITERATIONS` rounds, and says so in the log when
it does not get there::

    >>> from liteconvert import passes
    >>> passes.pipeline("float")          # a copy: edit it and pass it as ConversionConfig(pipeline=...)
    [['fold_constants', 'remove_dead_ops', ...], [...], ...]
    >>> passes.describe("fuse_bias")
    'CONV/DEPTHWISE/FC/TRANSPOSE_CONV followed by adding (or subtracting) a per-channel constant: a bias.'

Passes visit every subgraph, loop bodies and branches included, and never change a subgraph's interface (its
inputs and outputs), which the ops that run it rely on. Where a pass lives: ``cleanup.py`` (dead ops, identity
arithmetic, reshape chains, transposes, common subexpressions), ``fold.py`` (constants), ``fuse.py``
(biases, scales and activations into their producers), ``simplify.py`` (padding, reductions, reshapes before
FULLY_CONNECTED), ``patterns/`` (what TensorFlow spells as several ops and LiteRT has as one builtin, a family
per file).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config import ConversionConfig
from ..errors import InvalidOptionError
from ..ir import Model, Op, Subgraph, Tensor, check_invariants


@dataclass
class PassContext:
    """What a pass may read besides the model, and where it reports.

    ``stats``: per-tensor statistics (calibration ranges, by tensor name) for the quantization passes;
    ``keep_float``: source layer or op names to leave in float; ``log``: one line per thing done (or not
    reached); ``check``: run the IR invariant checker after every pass that changed something (tests do).
    """

    config: ConversionConfig = field(default_factory=ConversionConfig)
    stats: dict[str, Any] = field(default_factory=dict)
    keep_float: set[str] = field(default_factory=set)
    log: list[str] = field(default_factory=list)
    check: bool = False

    def note(self, message: str) -> None:
        self.log.append(message)


Pass = Callable[[Model, PassContext], bool]


@dataclass(frozen=True)
class PassInfo:
    name: str
    fn: Pass
    module: str

    @property
    def doc(self) -> str:
        text = (self.fn.__doc__ or "").strip()
        return " ".join(text.split("\n\n")[0].split())


PASSES: dict[str, PassInfo] = {}


def register_pass(fn: Pass | None = None, *, name: str | None = None) -> Any:
    """Register ``fn`` under its function name (or ``name``); a name registered twice is an error."""

    def deco(f: Pass) -> Pass:
        key = name or f.__name__
        if key in PASSES:
            raise ValueError(f"pass {key!r} is registered twice ({PASSES[key].module} and {f.__module__})")
        PASSES[key] = PassInfo(key, f, f.__module__)
        return f

    return deco(fn) if fn is not None else deco


def only_reader(sg: Subgraph, users: dict[int, list[Op]], t: Tensor) -> Op | None:
    """The one op that reads ``t`` (``users`` from ``sg.consumers()``); None if several do, or if ``t`` is a
    subgraph output (whose value must survive a fusion)."""
    if any(o is t for o in sg.outputs):
        return None
    readers = users.get(t.uid, [])
    return readers[0] if len(readers) == 1 else None


# Phases: each inner list runs to a fixed point before the next starts.
PIPELINES: dict[str, list[list[str]]] = {
    "float": [
        # fuse_repeat_to_resize reads the reshapes of a repeat before simplify_reshapes merges them.
        ["fold_constants", "remove_dead_ops", "remove_identity_arithmetic", "fuse_repeat_to_resize",
         "merge_nearest_resizes", "simplify_reshapes", "cancel_transposes", "fuse_clips", "fuse_activation_functions",
         "fuse_dilated_conv", "fuse_tensordot", "fold_pad_into_conv", "drop_trivial_reductions",
         "keep_dims_into_reduction", "drop_identity_reshapes", "drop_reshape_before_fully_connected",
         "eliminate_common_subexpressions"],
        ["hoist_through_reshape", "distribute_over_concat", "fold_mul_into_weights", "fuse_bias", "fuse_activation",
         "remove_dead_ops"],
        ["drop_zero_fully_connected_bias", "remove_dead_ops", "share_constants"],
    ],
}

MAX_ITERATIONS = 20


def _load() -> None:
    from . import cleanup, fold, fuse, patterns, simplify  # noqa: F401  (registering)


def pipeline(name: str = "float") -> list[list[str]]:
    """A copy of the named pipeline, to print or edit."""
    if name not in PIPELINES:
        raise InvalidOptionError(f"no pipeline named {name!r}. Fix: use one of {', '.join(sorted(PIPELINES))}, or "
                                 "pass a list of phases of pass names")
    return copy.deepcopy(PIPELINES[name])


def passes() -> dict[str, PassInfo]:
    """Every registered pass, by name."""
    _load()
    return dict(PASSES)


def describe(name: str) -> str:
    return passes()[name].doc


def resolve(spec: str | Sequence[Sequence[str]] | None) -> list[list[str]]:
    """A pipeline from its name or its phases, with every pass name checked before anything runs."""
    if spec is None:
        spec = "float"
    if isinstance(spec, str):
        phases = pipeline(spec)
    else:
        if any(isinstance(p, str) for p in spec):
            raise InvalidOptionError("a pipeline is a list of phases, each a list of pass names. Fix: wrap the "
                                     "names in a list: [['fold_constants', ...]]")
        phases = [list(p) for p in spec]
    known = passes()
    unknown = sorted({n for phase in phases for n in phase if n not in known})
    if unknown:
        raise InvalidOptionError(f"unknown pass(es) {unknown} in the pipeline. Fix: use names from "
                                 "liteconvert.passes.passes() (see liteconvert.passes.pipeline('float'))")
    return phases


def run_pipeline(model: Model, spec: str | Sequence[Sequence[str]] | None = None,
                 ctx: PassContext | None = None) -> PassContext:
    """Run a pipeline (a name or a list of phases) on ``model``; returns the context with its log."""
    ctx = ctx if ctx is not None else PassContext()
    phases = resolve(spec)
    table = passes()
    for number, phase in enumerate(phases, 1):
        for _ in range(MAX_ITERATIONS):
            changed = False
            for name in phase:
                if table[name].fn(model, ctx):
                    changed = True
                    if ctx.check:
                        check_invariants(model)
            if not changed:
                break
        else:
            ctx.note(f"phase {number} ({', '.join(phase)}) did not reach a fixed point in {MAX_ITERATIONS} rounds; "
                     "its last round still changed the model")
    return ctx


__all__ = ["MAX_ITERATIONS", "PASSES", "PIPELINES", "PassContext", "PassInfo", "describe", "only_reader", "passes",
           "pipeline", "register_pass", "resolve", "run_pipeline"]
