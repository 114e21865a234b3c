"""The lowering registry: one small function per TensorFlow op type.

A rule receives a :class:`~.importer.LowerCtx` (to emit IR ops and make constants) and the :class:`Node`
being lowered, and must define every output of the node: by emitting an op that writes ``node.outputs[i]``, or
by ``node.forward(i, tensor)``. It raises :class:`Unsupported` with a reason when an attribute, dtype or shape
is outside what it can lower; the importer collects every such problem before reporting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .importer import LowerCtx, Node

Rule = Callable[["LowerCtx", "Node"], None]

RULES: dict[str, Rule] = {}


class Unsupported(Exception):
    """Raised by a rule: this node cannot be lowered, for the reason given."""


def register(*op_types: str) -> Callable[[Rule], Rule]:
    def deco(fn: Rule) -> Rule:
        for t in op_types:
            if t in RULES:
                raise ValueError(f"two lowering rules for {t}")
            RULES[t] = fn
        return fn

    return deco


def _load_rules() -> dict[str, Rule]:
    # Importing the family modules fills RULES.
    from .ops import activation, array, control, conv, image, math, nn, quant  # noqa: F401

    return RULES


def rules() -> dict[str, Rule]:
    return _load_rules()


def lookup(op_type: str) -> Rule | None:
    return rules().get(op_type)
