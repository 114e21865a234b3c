"""Import frozen TensorFlow graphs into the IR, node by node, through the lowering registry."""

from __future__ import annotations

import re
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


_CALL_SCOPES = re.compile(r"^(?:(?:Stateful)?PartitionedCall(?:_\d+)?/)+")


def tensor_name(taken: set[str], base: str) -> str:
    """A new tensor name from a TF node name, unique in ``taken``, without the call scopes function inlining
    puts in front (``StatefulPartitionedCall_1/StatefulPartitionedCall/model/conv/Relu`` -> ``model/conv/Relu``):
    they say nothing about the model and cost bytes in every tensor of a SavedModel's graph."""
    short = _CALL_SCOPES.sub("", base)
    return unique_name(taken, short or base)


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
        """Input ``i``'s value (read now, if it is a weight not in memory yet)."""
        return self.const_tensor(i, what).data  # type: ignore[return-value]

    def const_tensor(self, i: int, what: str = "") -> Tensor:
        """Input ``i``, which must be a constant; its value is not read (see ``LowerCtx.transformed``)."""
        t = self.inputs[i]
        if not t.is_const:
            raise Unsupported(f"input {i}{' (' + what + ')' if what else ''} must be a constant")
        return t

    def forward(self, i: int, tensor: Tensor) -> None:
        """Output ``i`` is ``tensor`` itself (no op is emitted)."""
        self.forwarded[i] = tensor

    def out(self, i: int = 0) -> Tensor:
        return self.outputs[i]


class LowerCtx:
    """What a lowering rule uses to build the IR."""

    def __init__(self, subgraph: Subgraph, names: set[str], walker: _Walker | None = None, signature: str = ""):
        self.subgraph = subgraph
        self.names = names
        self.current: str | None = None
        self.walker = walker
        self.signature = signature or subgraph.name  # the signature whose graph this is (bodies: their caller's)

    def emit(self, kind: str, inputs: list[Tensor | None], outputs: list[Tensor] | Tensor, **attrs: Any) -> Op:
        if isinstance(outputs, Tensor):
            outputs = [outputs]
        op = Op(kind, list(inputs), list(outputs), attrs, source=self.current)
        if not fold(op):
            self.subgraph.ops.append(op)
        return op

    def tensor(self, base: str, dtype: str, shape: tuple[int, ...] | None) -> Tensor:
        """A new intermediate tensor."""
        return Tensor(tensor_name(self.names, base), dtype, shape, source=self.current)

    def const(self, value: Any, base: str, dtype: str | None = None) -> Tensor:
        t = const(tensor_name(self.names, base), value, dtype, source=self.current)
        return t

    def transformed(self, t: Tensor, base: str, perm: tuple[int, ...] | None = None,
                    shape: tuple[int, ...] | None = None) -> Tensor:
        """A constant from constant ``t`` transposed by ``perm`` and/or reshaped to ``shape``, without reading a
        weight that is not in memory yet (the writer streams it through the same transform)."""
        name = tensor_name(self.names, base)
        if t.is_lazy:
            assert t.lazy is not None
            lazy = t.lazy.transposed(perm) if perm is not None else t.lazy
            lazy = lazy.reshaped(shape) if shape is not None else lazy
            return Tensor(name, t.dtype, lazy.shape, lazy=lazy, source=self.current)
        arr = t.data
        assert arr is not None
        arr = arr.transpose(perm) if perm is not None else arr
        arr = arr.reshape(shape) if shape is not None else arr
        return const(name, np.ascontiguousarray(arr), source=self.current)

    def function(self, name: str, args: list[Tensor | None], label: str, drop_outputs: set[int] | None = None,
                 ) -> Subgraph:
        """The TF function ``name`` (a While body, an If branch) imported as a subgraph of the model. ``args``:
        what the caller passes; a constant becomes that constant inside the function (not an input), anything
        else a subgraph input of its dtype and shape. ``drop_outputs``: results left out of the subgraph's
        outputs (loop invariants)."""
        if self.walker is None:
            raise Unsupported("functions cannot be imported here")
        return self.walker.function(name, args, label, self.signature, drop_outputs or set())


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
    """Import each loaded signature as one subgraph (plus one per function a control-flow op runs); collect every
    unsupported op before failing.

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
            walker = _Walker(model, policy, g)
            sg, sig = walker.signature()
            problems.extend(walker.problems)
            model.subgraphs.append(sg)
        imported[g.key] = sig
        model.signatures.append(sig)
    _order_subgraphs(model)
    if problems:
        raise UnsupportedOpsError(problems)
    return model


def _order_subgraphs(model: Model) -> None:
    """Signature subgraphs first (in signature order, the first one is what runtimes without signatures run),
    then the subgraphs control-flow ops run, in the order they were made."""
    main: list[Subgraph] = []
    for sig in model.signatures:
        if sig.subgraph not in main:
            main.append(sig.subgraph)
    model.subgraphs = main + [sg for sg in model.subgraphs if all(sg is not m for m in main)]


_FUNCTIONAL = {"While", "StatelessWhile", "If", "StatelessIf"}


class _Walker:
    """Imports one loaded signature: its graph node by node, and the functions its control-flow ops run."""

    def __init__(self, model: Model, policy: LoweringPolicy, loaded: LoadedGraph):
        self.model = model
        self.policy = policy
        self.loaded = loaded
        self.problems: list[OpProblem] = []
        self.names: set[str] = set()
        self.library = {f.signature.name: f for f in loaded.graph_def.library.function}
        self.depth = 0

    def signature(self) -> tuple[Subgraph, Signature]:
        import tensorflow as tf

        from ..._console import silenced

        loaded = self.loaded
        graph = tf.Graph()
        with graph.as_default(), silenced():
            tf.graph_util.import_graph_def(loaded.graph_def, name="")
        self.graph = graph
        sg = Subgraph(loaded.key)
        feeds = {tname: None for _, tname in loaded.inputs}
        values = self.walk(graph, sg, loaded.key, feeds, [t for _, t in loaded.outputs], loaded.variables)
        ctx = LowerCtx(sg, self.names, self, loaded.key)
        # Graph inputs in signature order, outputs as the signature names them.
        sig_inputs = {}
        for uname, tname in loaded.inputs:
            t = values.get(tname)
            if t is None:  # an input nothing reads: still part of the signature
                tf_t = graph.get_tensor_by_name(tname)
                t = Tensor(tensor_name(self.names, uname), tf_dtype_name(tf_t.dtype), tf_shape(tf_t.shape))
            sig_inputs[uname] = t
        sg.inputs = list(sig_inputs.values())
        for t in sg.inputs:
            if t.dtype in ("resource", "variant"):
                raise InvalidModelError(f"signature '{loaded.key}' takes a {t.dtype} input; it cannot run on LiteRT")
        outs = [values[tname] for _, tname in loaded.outputs]
        sg.outputs = _distinct_outputs(sg, outs, ctx)
        sig_outputs = dict(zip([u for u, _ in loaded.outputs], sg.outputs, strict=True))
        return sg, Signature(loaded.key, sg, sig_inputs, sig_outputs)

    def walk(self, graph: Any, sg: Subgraph, signature: str, feeds: dict[str, Tensor | None], fetches: list[str],
             variables: Any = None) -> dict[str, Tensor]:
        """Lower the ops ``fetches`` depend on into ``sg``. ``feeds``: TF tensor names that are inputs (mapped to
        an IR tensor, or None to make a subgraph input of it). Returns the values of the fetches (and feeds)."""
        import tensorflow as tf

        ctx = LowerCtx(sg, self.names, self, signature)
        values: dict[str, Tensor] = {}
        fetch_ops = [graph.get_tensor_by_name(t).op for t in fetches]
        order = _topo_order(graph, fetch_ops)
        # Readers left per TF tensor: a value nobody will read again is dropped at once, so the source layout
        # of a weight (HWIO, say) is freed as soon as its lowered copy exists instead of living to the end.
        readers_left = Counter(t.name for op in order for t in op.inputs)
        pinned = set(fetches) | set(feeds)
        for op in order:
            outputs = [
                Tensor(tensor_name(self.names, op.name if i == 0 else f"{op.name}:{i}"), tf_dtype_name(t.dtype),
                       tf_shape(t.shape), source=op.name)
                for i, t in enumerate(op.outputs)
            ]
            first = op.outputs[0].name if op.outputs else None
            if variables is not None and op.type == "Placeholder" and op.name in variables:
                # A weight, left where it lives (a SavedModel's checkpoint, a live variable) until it is needed:
                # a constant whose value is read in slices when the writer streams it.
                values[first] = variables.constant(outputs[0], op.name)
                continue
            if first in feeds:
                t = feeds[first] or outputs[0]
                values[first] = t
                if feeds[first] is None:
                    sg.inputs.append(t)
                continue
            if op.type == "Placeholder":
                values[first] = outputs[0]
                sg.inputs.append(outputs[0])
                continue
            if op.type == "Const":
                arr = tf.make_ndarray(op.get_attr("value"))
                if arr.dtype == object:
                    values[first] = Tensor(outputs[0].name, "string", tuple(arr.shape), data=arr, source=op.name)
                else:
                    values[first] = const(outputs[0].name, arr, source=op.name)
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
                problem = self.policy.lower(ctx, node, lookup(op.type), _layer_of(self.loaded, op.name))
                if problem is not None:
                    self.problems.append(problem)
            for i, t in enumerate(op.outputs):
                values[t.name] = node.forwarded.get(i, outputs[i])
            for t in op.inputs:
                readers_left[t.name] -= 1
                if readers_left[t.name] == 0 and t.name not in pinned:
                    del values[t.name]
        return values

    def function(self, name: str, args: list[Tensor | None], label: str, signature: str,
                 drop_outputs: set[int]) -> Subgraph:
        """Import TF function ``name`` as a new subgraph of the model. ``args[i]``: None for an argument that
        becomes a subgraph input; a constant for one that is that constant inside the function."""
        import tensorflow as tf
        from tensorflow.python.framework.function_def_to_graph import function_def_to_graph

        from ..._console import silenced

        fdef = self.library.get(name)
        if fdef is None:
            raise Unsupported(f"function {name} is not in the graph's library")
        if self.depth > 32:
            raise Unsupported("control flow nested more than 32 deep")
        shapes = [None if a is None or a.shape is None else tf.TensorShape([None if d < 0 else d for d in a.shape])
                  for a in args]
        with self.graph.as_default(), silenced():
            fg = function_def_to_graph(fdef, input_shapes=shapes)
        sg = Subgraph(unique_name({s.name for s in self.model.subgraphs}, label))
        feeds: dict[str, Tensor | None] = {}
        if len(fg.inputs) != len(args):
            raise Unsupported(f"function {name} takes {len(fg.inputs)} arguments, the op passes {len(args)}")
        for placeholder, arg in zip(fg.inputs, args, strict=True):
            if arg is not None and arg.is_const:
                feeds[placeholder.name] = arg
            else:
                shape = arg.shape if arg is not None else tf_shape(placeholder.shape)
                t = Tensor(tensor_name(self.names, placeholder.op.name), tf_dtype_name(placeholder.dtype), shape,
                           source=placeholder.op.name)
                feeds[placeholder.name] = t
                sg.inputs.append(t)
        self.depth += 1
        try:
            values = self.walk(fg, sg, signature, feeds, [t.name for t in fg.outputs])
        finally:
            self.depth -= 1
        outs = [values[t.name] for i, t in enumerate(fg.outputs) if i not in drop_outputs]
        sg.outputs = _distinct_outputs(sg, outs, LowerCtx(sg, self.names, self, signature))
        self.model.subgraphs.append(sg)
        return sg


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
