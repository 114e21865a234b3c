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

The importer reads a variable's value from the checkpoint when it reaches that placeholder
(``weights.CheckpointWeights``), one tensor at a time, and frees it after its last reader. Nothing else of the
model is ever materialised.

When a SavedModel does not have this shape (a TF1 SavedModel, captured tables or assets, resource ops other than
reads, control-flow ops left after inlining), :func:`read_signatures` raises :class:`NotReadable` and the caller
falls back to ``tf.saved_model.load``.
"""

from __future__ import annotations

import os
from typing import Any

from .weights import CALLS as _CALLS
from .weights import CheckpointWeights, NotReadable, inline_calls, reads_to_placeholders
from .weights import base_name as _base

__all__ = ["MetaGraphIndex", "NotReadable", "choose_meta_graph", "is_keras_export", "read_saved_model_proto",
           "read_signatures", "signature_fingerprint", "signature_keys"]


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


def is_keras_export(meta_graph: Any) -> bool:
    """A Keras ``model.export()`` artifact: its root object has a ``serve`` endpoint and no
    ``_default_save_signature`` (which ``model.save`` / ``tf.saved_model.save`` of a Keras model write)."""
    if not meta_graph.HasField("object_graph_def") or not meta_graph.object_graph_def.nodes:
        return False
    names = {c.local_name for c in meta_graph.object_graph_def.nodes[0].children}
    return "serve" in names and "_default_save_signature" not in names


class MetaGraphIndex:
    """A MetaGraph with its graph's nodes and functions by name, built once for every signature read from it."""

    def __init__(self, meta_graph: Any):
        self.meta_graph = meta_graph
        self.nodes = {n.name: n for n in meta_graph.graph_def.node}
        self.library = {f.signature.name: f for f in meta_graph.graph_def.library.function}


def signature_fingerprint(index: MetaGraphIndex, key: str) -> bytes | None:
    """What signature ``key`` computes, as bytes: two keys with equal fingerprints are the same computation.

    Keras 3's ``export()`` writes ``serve`` and its alias ``serving_default``: two wrapper functions that differ
    only in their names and in cosmetic argument attributes, calling one inner function on the same variables.
    The fingerprint is that wrapper (name and argument attributes cleared), the objects it captures, and where
    each signature input enters and each output leaves it. None when the signature is not one call of a saved
    function.
    """
    mg = index.meta_graph
    sig = mg.signature_def[key]
    calls = {_base(t.name) for t in sig.outputs.values()}
    if len(calls) != 1:
        return None
    call = index.nodes.get(calls.pop())
    if call is None or call.op not in _CALLS:
        return None
    fname = call.attr["f"].func.name
    body = index.library.get(fname)
    cf = mg.object_graph_def.concrete_functions.get(fname)
    if body is None or cf is None:
        return None
    wrapper = type(body)()
    wrapper.CopyFrom(body)
    wrapper.signature.name = ""
    wrapper.ClearField("arg_attr")
    data = [_base(i) for i in call.input if not i.startswith("^")]
    where = []
    for name, info in sorted(sig.inputs.items()):
        if _base(info.name) not in data:
            return None
        where.append(f"in {name} {data.index(_base(info.name))} {info.dtype} {info.tensor_shape}")
    for name, info in sorted(sig.outputs.items()):
        where.append(f"out {name} {info.name.partition(':')[2] or '0'} {info.dtype} {info.tensor_shape}")
    where.append("bound " + " ".join(str(i) for i in cf.bound_inputs))
    return wrapper.SerializeToString(deterministic=True) + "\n".join(where).encode()


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
        self.reader = reader  # reused to read the values
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


def read_signatures(path: str, keys: list[str], index: MetaGraphIndex,
                    ) -> list[tuple[Any, dict[str, str], dict[str, str], CheckpointWeights]]:
    """Per signature key: (weight-free inlined GraphDef, inputs, outputs, variable source).

    ``inputs``/``outputs`` map the signature's names to graph tensor names. Raises :class:`NotReadable` when
    the SavedModel has a shape this reader does not handle.
    """
    prefix = os.path.join(path, "variables", "variables")
    if not index.meta_graph.HasField("object_graph_def") or not os.path.exists(prefix + ".index"):
        raise NotReadable("no object graph or no variables index")
    ckpt = _Checkpoint(prefix)
    try:
        return [_read_one(index, key, ckpt, prefix) for key in keys]
    except (KeyError, IndexError, ValueError) as e:  # references this reader cannot follow
        raise NotReadable(f"{type(e).__name__}: {e}") from None


def _read_one(index: MetaGraphIndex, key: str, ckpt: _Checkpoint, prefix: str,
              ) -> tuple[Any, dict[str, str], dict[str, str], CheckpointWeights]:
    from tensorflow.core.framework import graph_pb2

    mg, nodes, library = index.meta_graph, index.nodes, index.library
    sig = mg.signature_def[key]
    for info in list(sig.inputs.values()) + list(sig.outputs.values()):
        if info.WhichOneof("encoding") != "name":
            raise NotReadable("a sparse or composite signature tensor")
    inputs = {n: t.name for n, t in sig.inputs.items()}
    outputs = {n: t.name for n, t in sig.outputs.items()}

    # 1. The nodes the outputs depend on, and the functions they call.
    source = mg.graph_def
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
            key = ckpt.key_of(oid)
            # The handle's own dtype and shape must be the checkpoint value's: a safety net for the mapping.
            shape = handle.attr["shape"].shape
            if (handle.attr["dtype"].type != ckpt.dtypes[key].as_datatype_enum
                    or (not shape.unknown_rank and any(d.size >= 0 for d in shape.dim)
                        and [d.size for d in shape.dim] != list(ckpt.shapes[key]))):
                raise NotReadable(f"variable {handle.name} does not match checkpoint value {key}")
            var_key[handle.name] = key
    # 3. Inline.
    if graph.library.function:
        graph = inline_calls(graph, [_base(t) for t in outputs.values()])

    # 4. Reads of variables become placeholders; the resource plumbing goes.
    specs = {}
    for handle, key in var_key.items():
        specs[handle] = (key, ckpt.dtypes[key].as_datatype_enum, [int(d) for d in ckpt.shapes[key]])
    graph, values = reads_to_placeholders(graph, specs)
    return graph, inputs, outputs, CheckpointWeights(prefix, values, ckpt.reader)
