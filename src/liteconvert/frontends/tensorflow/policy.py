"""What the importer does with each TF node: lower it to builtins, or fall back to a Flex op, a custom op, or
a recorded problem. ``convert`` and ``check`` share this one decision (and the importer's one graph walk).

For every node the policy keeps a :class:`~liteconvert.frontends.base.NodeRecord` (statuses are explained
there). A ``limited`` node falls back like ``select`` when its op type is in the Flex allowlist, else like ``custom``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ...errors import OpProblem
from ...ir import Op
from ...tflite.ops import kernel_limitation
from ..base import BUILTIN, CUSTOM, LIMITED, SELECT, UNSUPPORTED, NodeRecord
from . import flex
from .registry import Rule, Unsupported

if TYPE_CHECKING:
    from .importer import LowerCtx, Node

def fallback_of(op_type: str, status: str) -> str | None:
    """The op set that could carry a node when builtins cannot: ``select``, ``custom`` or None."""
    if status in (BUILTIN, UNSUPPORTED):
        return None
    return SELECT if flex.is_flex_allowed(op_type) else CUSTOM


def classify_limitation(reason: str) -> str:
    """Sort a rule's ``Unsupported`` reason into the kind of limitation it describes."""
    r = reason.lower()
    if "dtype" in r or "int64" in r or "float64" in r or " type " in f" {r} ":
        return "dtype"
    if "dynamic" in r or "unknown dim" in r or "static" in r or "unknown shape" in r:
        return "dynamic dimension"
    if "rank" in r:
        return "rank"
    if "must be a constant" in r or "constant input" in r or "non-constant" in r:
        return "non-constant input"
    return "attribute value"


@dataclass
class LoweringPolicy:
    """Decides the fate of each node; ``allow_select_tf_ops`` / ``allow_custom_ops`` mirror the converter's
    flags. ``records`` lists every computing node of every imported graph, in import order."""

    allow_select_tf_ops: bool = False
    allow_custom_ops: bool = False
    records: list[NodeRecord] = field(default_factory=list)

    def lower(self, ctx: LowerCtx, node: Node, rule: Rule | None, layer: str | None) -> OpProblem | None:
        """Lower ``node`` (with ``rule``, which may be None); return the problem when it cannot be carried."""
        rec = NodeRecord(node.type, node.name, layer, BUILTIN, signature=ctx.subgraph.name)
        self.records.append(rec)
        never = flex.NEVER_CONVERTIBLE.get(node.type)
        odd = [t.dtype for t in (*node.inputs, *node.outputs) if t.dtype in ("resource", "variant")]
        if never or (odd and not flex.is_flex_allowed(node.type)):
            rec.status = UNSUPPORTED
            rec.reason = never or f"it reads or writes a {odd[0]} value, which LiteRT cannot hold"
            return self._problem(rec)
        if rule is None:
            rec.status = SELECT if flex.is_flex_allowed(node.type) else CUSTOM
            rec.reason = "no lowering to LiteRT builtin ops"
            return self._fallback(ctx, node, rec)
        sg_ops = ctx.subgraph.ops
        start = len(sg_ops)
        try:
            rule(ctx, node)
        except Unsupported as e:
            del sg_ops[start:]
            node.forwarded.clear()
            rec.status, rec.reason = LIMITED, str(e)
            rec.limitation = getattr(e, "kind", None) or classify_limitation(rec.reason)
            return self._fallback(ctx, node, rec)
        emitted = sg_ops[start:]
        rec.litert = tuple(dict.fromkeys(op.kind for op in emitted))
        for op in emitted:
            why = kernel_limitation(op)
            if why:
                del sg_ops[start:]
                node.forwarded.clear()
                rec.status, rec.reason, rec.limitation = LIMITED, why, "dtype"
                return self._fallback(ctx, node, rec)
        rec.emitted = "builtin"
        return None

    def _fallback(self, ctx: LowerCtx, node: Node, rec: NodeRecord) -> OpProblem | None:
        rec.fallback = fallback_of(rec.op_type, rec.status)
        if rec.fallback == SELECT and self.allow_select_tf_ops:
            rec.emitted = "flex"
            self._emit(ctx, node, flex.FLEX_PREFIX + node.type,
                       flex.flex_custom_options(node.tf_op.node_def))
            return None
        if self.allow_custom_ops:
            rec.emitted = "custom"
            self._emit(ctx, node, node.type, flex.custom_op_options(node.tf_op.node_def))
            return None
        return self._problem(rec)

    @staticmethod
    def _emit(ctx: LowerCtx, node: Node, code: str, options: bytes) -> None:
        # Straight into the subgraph: a Flex or custom op is never constant-folded.
        ctx.subgraph.ops.append(Op("CUSTOM", list(node.inputs), list(node.outputs), source=node.name,
                                   custom_code=code, custom_options=options))

    @staticmethod
    def _problem(rec: NodeRecord) -> OpProblem:
        rec.fallback = fallback_of(rec.op_type, rec.status)
        return rec.problem()
