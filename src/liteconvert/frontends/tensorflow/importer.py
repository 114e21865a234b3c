"""Import frozen TensorFlow graphs into the IR, node by node, through the lowering registry."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from ...errors import InvalidModelError, OpProblem, UnsupportedOpsError
from ...ir import Model, Op, Signature, Subgraph, Tensor, const, unique_name
from ...tflite.ops import fold
from .loader import LoadedGraph
from .policy import LoweringPolicy
from .registry import Unsupported, lookup

# Nodes that carry no computation in an inference graph.
_PASSTHROUGH = {"Identity", "StopGradient", "PreventGradient", "Snapshot", "EnsureShape", "CheckNumerics",
                "PlaceholderWithDefault"}


def tf_dtype_name(dtype: Any) -> str:
    name = dtype.name
    if name.endswith("_ref"):
        name = name[:-4]
    return {"string": "string", "resource": "resource", "variant": "variant"}.get(name, name)


def tf_shape(shape: Any) -> tuple[int, ...] | None:
    if shape.rank is None:
        return None
    return tuple(-1 if d is None else int(d) for d in shape.as_list())


class Node:
    """A TensorFlow node as a lowering rule sees it."""

    def __init__(self, tf_op: Any, inputs: list[Tensor], outputs: list[Tensor]):
        self.tf_op = tf_op
        self.name: str = tf_op.name
        self.type: str = tf_op.type
        self.inputs = inputs
        self.outputs = outputs
        self.forwarded: dict[int, Tensor] = {}

    def attr(self, key: str, default: Any = None) -> Any:
        try:
            value = self.tf_op.get_attr(key)
        except ValueError:
            return default
        if isinstance(value, bytes):
            return value.decode()
        if isinstance(value, list):
            return [v.decode() if isinstance(v, bytes) else v for v in value]
        if hasattr(value, "as_numpy_dtype"):
            return tf_dtype_name(value)
        return value

    def const_input(self, i: int, what: str = "") -> np.ndarray:
        t = self.inputs[i]
        if t.data is None:
            raise Unsupported(f"input {i}{' (' + what + ')' if what else ''} must be a constant")
        return t.data

    def forward(self, i: int, tensor: Tensor) -> None:
        """Output ``i`` is ``tensor`` itself (no op is emitted)."""
        self.forwarded[i] = tensor

    def out(self, i: int = 0) -> Tensor:
        return self.outputs[i]


class LowerCtx:
    """What a lowering rule uses to build the IR."""

    def __init__(self, subgraph: Subgraph, names: set[str]):
        self.subgraph = subgraph
        self.names = names
        self.current: str | None = None

    def emit(self, kind: str, inputs: list[Tensor | None], outputs: list[Tensor] | Tensor, **attrs: Any) -> Op:
        if isinstance(outputs, Tensor):
            outputs = [outputs]
        op = Op(kind, list(inputs), list(outputs), attrs, source=self.current)
        if not fold(op):
            self.subgraph.ops.append(op)
        return op

    def tensor(self, base: str, dtype: str, shape: tuple[int, ...] | None) -> Tensor:
        """A new intermediate tensor."""
        return Tensor(unique_name(self.names, base), dtype, shape, source=self.current)

    def const(self, value: Any, base: str, dtype: str | None = None) -> Tensor:
        t = const(unique_name(self.names, base), value, dtype, source=self.current)
        return t


def _topo_order(graph: Any, fetch_ops: list[Any]) -> list[Any]:
    """The ops that the fetches depend on (data inputs only), inputs before users."""
    order: list[Any] = []
    state: dict[str, int] = {}
    for root in fetch_ops:
        stack = [(root, False)]
        while stack:
            op, done = stack.pop()
            if done:
                if state.get(op.name) != 2:
                    state[op.name] = 2
                    order.append(op)
                continue
            if state.get(op.name):
                continue
            state[op.name] = 1
            stack.append((op, True))
            for t in reversed(list(op.inputs)):
                if not state.get(t.op.name):
                    stack.append((t.op, False))
    return order


def import_graphs(graphs: list[LoadedGraph], policy: LoweringPolicy | None = None) -> Model:
    """Import each loaded signature as one subgraph; collect every unsupported op before failing.

    ``policy`` decides what happens to a node that has no builtin lowering (Flex op, custom op or problem) and
    records every node's status (what ``check`` reports); the default allows builtins only.
    """
    model = Model()
    problems: list[OpProblem] = []
    policy = policy if policy is not None else LoweringPolicy()
    imported: dict[str, Signature] = {}
    for g in graphs:
        first = imported.get(g.alias_of) if g.alias_of else None
        if first is not None:  # the same computation as an earlier signature: one subgraph, two signatures
            sig = Signature(g.key, first.subgraph, dict(first.inputs), dict(first.outputs))
        else:
            sg, sig, probs = _import_one(g, policy)
            problems.extend(probs)
            model.subgraphs.append(sg)
        imported[g.key] = sig
        model.signatures.append(sig)
    if problems:
        raise UnsupportedOpsError(problems)
    return model


def _import_one(loaded: LoadedGraph, policy: LoweringPolicy) -> tuple[Subgraph, Signature, list[OpProblem]]:
    import tensorflow as tf

    from ..._console import silenced

    graph = tf.Graph()
    with graph.as_default(), silenced():
        tf.graph_util.import_graph_def(loaded.graph_def, name="")
    sg = Subgraph(loaded.key)
    names: set[str] = set()
    ctx = LowerCtx(sg, names)
    values: dict[str, Tensor] = {}
    problems: list[OpProblem] = []

    input_tensor_names = {tname: uname for uname, tname in loaded.inputs}
    variables = loaded.variables
    fetch_ops = [graph.get_tensor_by_name(t).op for _, t in loaded.outputs]
    order = _topo_order(graph, fetch_ops)
    # Readers left per TF tensor: a value nobody will read again is dropped at once, so the source layout of
    # a weight (HWIO, say) is freed as soon as its lowered copy exists instead of living to the end.
    readers_left = Counter(t.name for op in order for t in op.inputs)
    pinned = {t for _, t in loaded.outputs} | set(input_tensor_names)
    for op in order:
        outputs = [
            Tensor(unique_name(names, op.name if i == 0 else f"{op.name}:{i}"), tf_dtype_name(t.dtype),
                   tf_shape(t.shape), source=op.name)
            for i, t in enumerate(op.outputs)
        ]
        if variables is not None and op.type == "Placeholder" and op.name in variables:
            # A weight, read now from where it lives (a SavedModel's checkpoint, a live variable): a constant.
            values[op.outputs[0].name] = const(outputs[0].name, variables.read(op.name), source=op.name)
            continue
        if op.type == "Placeholder" or (op.outputs and op.outputs[0].name in input_tensor_names):
            t = outputs[0]
            values[op.outputs[0].name] = t
            sg.inputs.append(t)
            continue
        if op.type == "Const":
            arr = tf.make_ndarray(op.get_attr("value"))
            if arr.dtype == object:
                values[op.outputs[0].name] = Tensor(outputs[0].name, "string", tuple(arr.shape), data=arr,
                                                    source=op.name)
            else:
                values[op.outputs[0].name] = const(outputs[0].name, arr, source=op.name)
            continue
        inputs = [values[t.name] for t in op.inputs]
        node = Node(op, inputs, outputs)
        if op.type in _PASSTHROUGH:
            node.forward(0, inputs[0])
        elif op.type == "IdentityN":
            for i, t in enumerate(inputs):
                node.forward(i, t)
        else:
            ctx.current = op.name
            problem = policy.lower(ctx, node, lookup(op.type), _layer_of(loaded, op.name))
            if problem is not None:
                problems.append(problem)
        for i, t in enumerate(op.outputs):
            values[t.name] = node.forwarded.get(i, outputs[i])
        for t in op.inputs:
            readers_left[t.name] -= 1
            if readers_left[t.name] == 0 and t.name not in pinned:
                del values[t.name]

    # Graph inputs in signature order, outputs as the signature names them.
    by_user = {uname: tname for uname, tname in loaded.inputs}
    sig_inputs = {}
    for uname in by_user:
        t = values.get(by_user[uname])
        if t is None:  # an input nothing reads: still part of the signature
            tf_t = graph.get_tensor_by_name(by_user[uname])
            t = Tensor(unique_name(names, uname), tf_dtype_name(tf_t.dtype), tf_shape(tf_t.shape))
        sig_inputs[uname] = t
    sg.inputs = list(sig_inputs.values())
    for t in sg.inputs:
        if t.dtype in ("resource", "variant"):
            raise InvalidModelError(f"signature '{loaded.key}' takes a {t.dtype} input; it cannot run on LiteRT")
    sig_outputs = {}
    for uname, tname in loaded.outputs:
        sig_outputs[uname] = values[tname]
    sg.outputs = _distinct_outputs(sg, list(sig_outputs.values()), ctx)
    sig_outputs = dict(zip(sig_outputs, sg.outputs, strict=True))
    return sg, Signature(loaded.key, sg, sig_inputs, sig_outputs), problems


def _distinct_outputs(sg: Subgraph, outs: list[Tensor], ctx: LowerCtx) -> list[Tensor]:
    """TFLite wants each output produced by an op in the subgraph: copy inputs, constants and repeats."""
    seen: set[int] = set()
    result = []
    inputs = {t.uid for t in sg.inputs}
    for t in outs:
        if t.uid in seen or t.uid in inputs or t.is_const:
            # A copy: RESHAPE to its own shape (taken at run time when more than one dim is dynamic).
            src = t
            t = ctx.tensor(f"{t.name}_out", t.dtype, t.shape)
            if src.shape is not None and sum(d < 0 for d in src.shape) <= 1:
                shape = ctx.const(np.asarray(src.shape, dtype=np.int32), f"{t.name}/shape")
            else:
                shape = ctx.tensor(f"{t.name}/shape", "int32", (src.rank,) if src.rank is not None else None)
                sg.ops.append(Op("SHAPE", [src], [shape], {"out_type": "INT32"}))
            sg.ops.append(Op("RESHAPE", [src, shape], [t]))
        seen.add(t.uid)
        result.append(t)
    return result


def _layer_of(loaded: LoadedGraph, node_name: str) -> str | None:
    parts = node_name.split("/")
    for p in parts:
        if p in loaded.layer_of:
            return loaded.layer_of[p]
    for p in parts:  # Keras 3 suffixes traced layer scopes with _1
        base = p.rsplit("_", 1)[0]
        if base in loaded.layer_of:
            return loaded.layer_of[base]
    return None
