"""Functional control flow: While / StatelessWhile -> WHILE, If / StatelessIf -> IF, with their functions
imported as subgraphs of the model (``LowerCtx.function``).

A constant passed to an If branch becomes that constant inside the branch, and a constant loop variable the
body returns unchanged (TF2's ``maximum_iterations``, a weight captured by the loop) stays inside cond and body
instead of travelling around the loop: the ops that read it see a constant, as they would outside.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ....ir import Op, Tensor
from ..importer import LowerCtx, Node
from ..registry import Unsupported, register


def _function(node: Node, attr: str, ctx: LowerCtx) -> Any:
    name = node.tf_op.get_attr(attr).name
    fdef = ctx.walker.library.get(name) if ctx.walker is not None else None
    if fdef is None:
        raise Unsupported(f"its {attr} function {name} is not in the graph's library")
    return fdef


def _passthrough(fdef: Any) -> set[int]:
    """Indices of the arguments the function returns unchanged at the same position (through Identity)."""
    args = [a.name for a in fdef.signature.input_arg]
    nodes = {n.name: n for n in fdef.node_def}
    same = set()
    for i, out in enumerate(fdef.signature.output_arg):
        ref = fdef.ret.get(out.name, "")
        for _ in range(64):
            name = ref.split(":")[0]
            if name in nodes and nodes[name].op in ("Identity", "IdentityN") and nodes[name].input:
                ref = nodes[name].input[0 if nodes[name].op == "Identity" else int(ref.split(":")[-1] or 0)]
                continue
            break
        if i < len(args) and ref.split(":")[0] == args[i] and ":" not in ref:
            same.add(i)
    return same


def _template(t: Tensor, like: Tensor | None = None) -> Tensor:
    """What a subgraph input is made from: ``t``'s dtype and ``like``'s shape (a loop variable's invariant)."""
    return Tensor(t.name, t.dtype, like.shape if like is not None else t.shape)


@register("While", "StatelessWhile")
def while_loop(ctx: LowerCtx, node: Node) -> None:
    """While / StatelessWhile -> WHILE running a cond and a body subgraph."""
    cond_fn, body_fn = _function(node, "cond", ctx), _function(node, "body", ctx)
    if len(node.inputs) != len(node.outputs):
        raise Unsupported("a While whose outputs are not its loop variables")
    invariant = {i for i in _passthrough(body_fn) if node.inputs[i].is_const}
    args: list[Tensor | None] = [t if i in invariant else _template(t, node.outputs[i])
                                 for i, t in enumerate(node.inputs)]
    kept = [i for i in range(len(node.inputs)) if i not in invariant]
    base = node.name.replace("/", "_")
    cond = ctx.function(cond_fn.signature.name, args, f"{base}_cond")
    body = ctx.function(body_fn.signature.name, args, f"{base}_body", drop_outputs=invariant)
    outputs = [node.outputs[i] for i in kept]
    ctx.subgraph.ops.append(Op("WHILE", [node.inputs[i] for i in kept], outputs, source=ctx.current,
                               subgraphs={"cond_subgraph_index": cond, "body_subgraph_index": body}))
    for i in invariant:
        node.forward(i, node.inputs[i])


@register("If", "StatelessIf")
def if_op(ctx: LowerCtx, node: Node) -> None:
    """If / StatelessIf -> IF running a then and an else subgraph."""
    then_fn, else_fn = _function(node, "then_branch", ctx), _function(node, "else_branch", ctx)
    cond, rest = node.inputs[0], node.inputs[1:]
    if cond.rank not in (0, None) and cond.shape != (1,):
        raise Unsupported("an If condition that is not a scalar")
    if cond.dtype != "bool":  # TF takes any scalar: non-zero is true
        flag = ctx.tensor(node.name + "/cond", "bool", cond.shape)
        ctx.emit("NOT_EQUAL", [cond, ctx.const(np.zeros((), dtype=cond.dtype), node.name + "/zero")], flag)
        cond = flag
    args: list[Tensor | None] = [t if t.is_const else _template(t) for t in rest]
    base = node.name.replace("/", "_")
    then_sg = ctx.function(then_fn.signature.name, args, f"{base}_then")
    else_sg = ctx.function(else_fn.signature.name, args, f"{base}_else")
    ctx.subgraph.ops.append(Op("IF", [cond, *(t for t in rest if not t.is_const)], list(node.outputs),
                               source=ctx.current,
                               subgraphs={"then_subgraph_index": then_sg, "else_subgraph_index": else_sg}))
