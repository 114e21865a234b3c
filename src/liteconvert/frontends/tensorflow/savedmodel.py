"""Read one signature of a TF2 SavedModel without restoring the model: its graph, and its weights on demand.

``tf.saved_model.load`` restores every object of a SavedModel: each variable (read into memory), each function
(traced into a graph), the optimizer state. A converter needs much less: the functions one signature calls and
the values of the variables they capture. This module reads ``saved_model.pb`` as a protocol buffer and builds,
per signature, a GraphDef with no weights in it:

1. prune the MetaGraph's GraphDef to what the signature's outputs depend on (its input placeholders, its
   ``StatefulPartitionedCall`` and the ``VarHandleOp`` nodes passed to it), with only the functions it calls;
2. map each captured ``VarHandleOp`` to its checkpoint key: the called function's ``bound_inputs`` in the
   SavedObjectGraph name object-graph nodes, whose ids are also the ids of the checkpoint's object graph, whose
   ``VARIABLE_VALUE`` attribute is the key;
3. inline the functions with Grappler's function optimizer;
4. turn each ``ReadVariableOp`` of a mapped variable into a ``Placeholder`` of the checkpoint's dtype and shape,
   and drop the resource plumbing.

The importer reads a variable's value from the checkpoint when it reaches that placeholder (``VariableSource``),
one tensor at a time, and frees it after its last reader. Nothing else of the model is ever materialised.

When a SavedModel does not have this shape (a TF1 SavedModel, captured tables or assets, resource ops other than
reads, control-flow ops left after inlining), :func:`read_signatures` returns None and the caller falls back to
``tf.saved_model.load``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

_CALLS = ("StatefulPartitionedCall", "PartitionedCall")
# Ops that must not remain after inlining for this reader to be used (the full loader handles them).
_UNHANDLED = {"If", "StatelessIf", "While", "StatelessWhile", "Case", "StatelessCase", "StatefulPartitionedCall",
              "PartitionedCall", "HashTableV2", "MutableHashTableV2", "LookupTableFindV2"}


class NotReadable(Exception):
    """The SavedModel is not the TF2 shape this reader handles; the full loader is used instead."""


class VariableSource:
    """Variable values of a SavedModel's checkpoint, read one at a time on request."""

    def __init__(self, prefix: str, keys: dict[str, str]):
        self.prefix = prefix
        self.keys = keys  # placeholder node name -> checkpoint key
        self._reader: Any = None

    def __contains__(self, node_name: str) -> bool:
        return node_name in self.keys

    def read(self, node_name: str) -> np.ndarray:
        if self._reader is None:
            from tensorflow.python.training import py_checkpoint_reader

            self._reader = py_checkpoint_reader.NewCheckpointReader(self.prefix)
        return np.asarray(self._reader.get_tensor(self.keys[node_name]))


def _base(name: str) -> str:
    return name.lstrip("^").split(":")[0]


def _funcs_in(attr: Any, acc: list[str]) -> None:
    if attr.HasField("func"):
        acc.append(attr.func.name)
    if attr.HasField("list"):
        acc.extend(f.name for f in attr.list.func)


def read_saved_model_proto(path: str) -> Any:
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    return proto


def choose_meta_graph(proto: Any, tags: set[str] | None) -> Any:
    """The MetaGraph with exactly ``tags`` (default: the ``serve`` one, or the only one); None if there is none."""
    graphs = list(proto.meta_graphs)
    if tags:
        found = [mg for mg in graphs if set(mg.meta_info_def.tags) == set(tags)]
    else:
        found = [mg for mg in graphs if set(mg.meta_info_def.tags) == {"serve"}] or (graphs if len(graphs) == 1
                                                                                      else [])
    return found[0] if found else None


def signature_keys(meta_graph: Any) -> list[str]:
    return sorted(k for k in meta_graph.signature_def if not k.startswith("__"))


class _Checkpoint:
    """The checkpoint's object graph and variable dtypes and shapes (no values are read)."""

    def __init__(self, prefix: str):
        from tensorflow.core.protobuf import trackable_object_graph_pb2
        from tensorflow.python.training import py_checkpoint_reader

        try:
            reader = py_checkpoint_reader.NewCheckpointReader(prefix)
            raw = reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH")
        except Exception as e:  # no object graph (TF1 checkpoint) or unreadable: the full loader reports it
            raise NotReadable(f"checkpoint: {e}") from None
        self.graph = trackable_object_graph_pb2.TrackableObjectGraph()
        self.graph.ParseFromString(raw)
        self.shapes = reader.get_variable_to_shape_map()
        self.dtypes = reader.get_variable_to_dtype_map()

    def key_of(self, node_id: int) -> str:
        if node_id >= len(self.graph.nodes):
            raise NotReadable(f"object {node_id} is not in the checkpoint")
        keys = [a.checkpoint_key for a in self.graph.nodes[node_id].attributes if a.name == "VARIABLE_VALUE"]
        if len(keys) != 1 or keys[0] not in self.shapes:
            raise NotReadable(f"object {node_id} has no single saved value")
        return keys[0]


def read_signatures(path: str, keys: list[str], meta_graph: Any) -> list[tuple[Any, dict[str, str], dict[str, str],
                                                                             VariableSource]]:
    """Per signature key: (weight-free inlined GraphDef, inputs, outputs, variable source).

    ``inputs``/``outputs`` map the signature's names to graph tensor names. Raises :class:`NotReadable` when
    the SavedModel has a shape this reader does not handle.
    """
    prefix = os.path.join(path, "variables", "variables")
    if not meta_graph.HasField("object_graph_def") or not os.path.exists(prefix + ".index"):
        raise NotReadable("no object graph or no variables index")
    ckpt = _Checkpoint(prefix)
    try:
        return [_read_one(meta_graph, key, ckpt, prefix) for key in keys]
    except (KeyError, IndexError, ValueError) as e:  # references this reader cannot follow
        raise NotReadable(f"{type(e).__name__}: {e}") from None


def _read_one(mg: Any, key: str, ckpt: _Checkpoint, prefix: str) -> tuple[Any, dict[str, str], dict[str, str],
                                                                          VariableSource]:
    from tensorflow.core.framework import graph_pb2

    sig = mg.signature_def[key]
    for info in list(sig.inputs.values()) + list(sig.outputs.values()):
        if info.WhichOneof("encoding") != "name":
            raise NotReadable("a sparse or composite signature tensor")
    inputs = {n: t.name for n, t in sig.inputs.items()}
    outputs = {n: t.name for n, t in sig.outputs.items()}

    # 1. The nodes the outputs depend on, and the functions they call.
    source = mg.graph_def
    nodes = {n.name: n for n in source.node}
    keep: set[str] = set()
    stack = [_base(t) for t in outputs.values()] + [_base(t) for t in inputs.values()]
    while stack:
        name = stack.pop()
        if name in keep:
            continue
        if name not in nodes:
            raise NotReadable(f"node {name} is missing")
        keep.add(name)
        stack.extend(_base(i) for i in nodes[name].input)
    library = {f.signature.name: f for f in source.library.function}
    pending: list[str] = []
    graph = graph_pb2.GraphDef()
    graph.versions.CopyFrom(source.versions)
    for node in source.node:
        if node.name in keep:
            graph.node.add().CopyFrom(node)
            for a in node.attr.values():
                _funcs_in(a, pending)
    needed: set[str] = set()
    while pending:
        name = pending.pop()
        if name in needed or name not in library:
            continue
        needed.add(name)
        for nd in library[name].node_def:
            for a in nd.attr.values():
                _funcs_in(a, pending)
    for f in source.library.function:
        if f.signature.name in needed:
            copy = graph.library.function.add()
            copy.CopyFrom(f)
    for g in source.library.gradient:
        if g.function_name in needed:
            graph.library.gradient.add().CopyFrom(g)

    # 2. Captured variables -> checkpoint keys.
    og = mg.object_graph_def
    var_key: dict[str, str] = {}
    for node in graph.node:
        if node.op not in _CALLS:
            continue
        fname = node.attr["f"].func.name
        cf = og.concrete_functions.get(fname)
        if cf is None:
            raise NotReadable(f"function {fname} is not in the object graph")
        data = [i for i in node.input if not i.startswith("^")]
        captured = data[len(data) - len(cf.bound_inputs):] if cf.bound_inputs else []
        for tensor, oid in zip(captured, cf.bound_inputs, strict=True):
            handle = nodes[_base(tensor)]
            if handle.op == "Const":  # a captured constant: already a node of the graph
                continue
            if handle.op != "VarHandleOp" or og.nodes[oid].WhichOneof("kind") != "variable":
                raise NotReadable(f"captured input {tensor} is a {og.nodes[oid].WhichOneof('kind')}")
            var_key[handle.name] = ckpt.key_of(oid)
    for node in graph.node:
        if node.op in ("VarHandleOp", "VariableV2", "Variable") and node.name not in var_key:
            raise NotReadable(f"variable {node.name} is not captured by a saved function")

    # 3. Inline.
    if graph.library.function:
        graph = inline_calls(graph, [_base(t) for t in outputs.values()])

    # 4. Reads of variables become placeholders; the resource plumbing goes.
    by_name = {n.name: n for n in graph.node}

    def variable_of(name: str) -> str | None:
        seen = 0
        while name in by_name and by_name[name].op == "Identity" and seen < 100:
            name, seen = _base(by_name[name].input[0]), seen + 1
        return name if name in var_key else None

    reads: dict[str, str] = {}  # ReadVariableOp node -> variable
    gathers: dict[str, str] = {}  # ResourceGather node (an embedding lookup) -> variable
    removed: set[str] = set(var_key)
    for node in graph.node:
        if node.op in ("ReadVariableOp", "ResourceGather"):
            var = variable_of(_base(node.input[0]))
            if var is None:
                raise NotReadable(f"{node.name} reads a resource that is not a saved variable")
            (reads if node.op == "ReadVariableOp" else gathers)[node.name] = var
        elif node.op == "Identity" and variable_of(node.name) is not None:
            removed.add(node.name)
        elif node.op in _UNHANDLED:
            raise NotReadable(f"{node.op} node {node.name} after inlining")
    result = graph_pb2.GraphDef()
    result.versions.CopyFrom(graph.versions)
    values: dict[str, str] = {}  # placeholder standing for a variable's value -> checkpoint key

    def placeholder(name: str, var: str, dtype: int) -> None:
        key = var_key[var]
        if ckpt.dtypes[key].as_datatype_enum != dtype:
            raise NotReadable(f"variable {key} is read as another dtype")
        ph = result.node.add()
        ph.name, ph.op = name, "Placeholder"
        ph.attr["dtype"].type = dtype
        ph.attr["shape"].shape.SetInParent()
        for d in ckpt.shapes[key]:
            ph.attr["shape"].shape.dim.add().size = int(d)
        values[name] = key

    for node in graph.node:
        if node.name in removed:
            continue
        if node.name in reads:
            placeholder(node.name, reads[node.name], node.attr["dtype"].type)
            continue
        copy = result.node.add()
        copy.CopyFrom(node)
        del copy.input[:]
        for i in node.input:
            if _base(i) in removed:
                if not i.startswith("^"):
                    if node.name in gathers:  # its params: the variable's value
                        copy.input.append(node.name + "/params")
                        continue
                    raise NotReadable(f"{node.op} node {node.name} uses a variable handle")
                continue
            copy.input.append(i)
        if node.name in gathers:  # ResourceGather(handle, ids) -> GatherV2(value, ids, axis=batch_dims)
            batch_dims = node.attr["batch_dims"].i if "batch_dims" in node.attr else 0
            dtype = node.attr["dtype"].type
            placeholder(node.name + "/params", gathers[node.name], dtype)
            axis = result.node.add()
            axis.name, axis.op = node.name + "/axis", "Const"
            axis.attr["dtype"].type = 3  # DT_INT32
            axis.attr["value"].tensor.dtype = 3
            axis.attr["value"].tensor.tensor_shape.SetInParent()
            axis.attr["value"].tensor.int_val.append(batch_dims)
            copy.op = "GatherV2"
            copy.input.insert(2, node.name + "/axis")
            for k in list(copy.attr):
                if k not in ("Tindices", "batch_dims"):
                    del copy.attr[k]
            copy.attr["Tparams"].type = dtype
            copy.attr["Taxis"].type = 3
            copy.attr["batch_dims"].i = batch_dims
    return result, inputs, outputs, VariableSource(prefix, values)


def inline_calls(graph: Any, fetches: list[str]) -> Any:
    """``graph`` with every function call inlined, by Grappler's function optimizer (one pass, nothing else).

    ``fetches`` are the node names to keep. Keras 3 wraps some ops (grouped and depthwise convolutions) in
    functions marked for XLA, which Grappler will not inline; for a graph we only read, those marks mean nothing
    and are dropped first (``graph`` is changed in place).
    """
    from tensorflow.core.protobuf import config_pb2, meta_graph_pb2
    from tensorflow.python.grappler import tf_optimizer

    for fn in graph.library.function:
        for key in ("_noinline", "_XlaMustCompile"):
            fn.attr.pop(key, None)
        for node in fn.node_def:
            node.attr.pop("_XlaMustCompile", None)
    for node in graph.node:
        node.attr.pop("_XlaMustCompile", None)
    meta = meta_graph_pb2.MetaGraphDef()
    meta.graph_def.CopyFrom(graph)
    fetch = meta.collection_def["train_op"]
    for name in fetches:
        fetch.node_list.value.append(name)
    config = config_pb2.ConfigProto()
    rewrite = config.graph_options.rewrite_options
    rewrite.optimizers.append("function")
    rewrite.meta_optimizer_iterations = 1  # ONE
    rewrite.min_graph_nodes = -1  # by default Grappler leaves graphs of under 4 nodes alone
    return tf_optimizer.OptimizeGraph(config, meta)
