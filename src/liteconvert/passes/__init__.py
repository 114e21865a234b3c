"""Passes: named functions ``Model -> bool`` (True when they changed something), run by a plain-list pipeline.

A user can edit the pipeline: ``liteconvert.passes.DEFAULT_PIPELINE`` is a list of pass names; each phase runs
to a fixed point (with a cap).
"""

from __future__ import annotations

from collections.abc import Callable

from ..ir import Model, Op, Subgraph, Tensor, check_invariants

Pass = Callable[[Model], bool]
PASSES: dict[str, Pass] = {}


def only_reader(sg: Subgraph, users: dict[int, list[Op]], t: Tensor) -> Op | None:
    """The one op that reads ``t`` (``users`` from ``sg.consumers()``); None if several do, or if ``t`` is a
    subgraph output (whose value must survive a fusion)."""
    if any(o is t for o in sg.outputs):
        return None
    readers = users.get(t.uid, [])
    return readers[0] if len(readers) == 1 else None


def register_pass(fn: Pass) -> Pass:
    PASSES[fn.__name__] = fn
    return fn


def _load() -> None:
    from . import cleanup, fold, fuse, patterns, simplify  # noqa: F401

    PASSES.setdefault("fold_constants", fold.fold_constants)


# Phases: each inner list runs to a fixed point before the next starts.
DEFAULT_PIPELINE: list[list[str]] = [
    # fuse_repeat_to_resize reads the reshapes of a repeat before simplify_reshapes merges them.
    ["fold_constants", "remove_dead_ops", "remove_identity_arithmetic", "fuse_repeat_to_resize",
     "merge_nearest_resizes", "simplify_reshapes", "cancel_transposes", "fuse_elementwise_functions",
     "fuse_dilated_conv", "fuse_tensordot", "fold_pad_into_conv", "drop_trivial_reductions",
     "keep_dims_into_reduction", "drop_identity_reshapes",
     "drop_reshape_before_fully_connected", "eliminate_common_subexpressions"],
    ["hoist_through_reshape", "distribute_over_concat", "fold_mul_into_weights", "fuse_bias", "fuse_activation",
     "remove_dead_ops"],
    ["drop_zero_fully_connected_bias", "remove_dead_ops"],
]

MAX_ITERATIONS = 20


def run_pipeline(model: Model, pipeline: list[list[str]] | None = None, check: bool = False) -> Model:
    _load()
    for phase in pipeline or DEFAULT_PIPELINE:
        for _ in range(MAX_ITERATIONS):
            changed = False
            for name in phase:
                if PASSES[name](model):
                    changed = True
                    if check:
                        check_invariants(model)
            if not changed:
                break
    return model
