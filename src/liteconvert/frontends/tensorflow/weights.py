"""Weight-free graphs: variables stay where they live and are read only when the importer needs them.

Freezing a TensorFlow function (``convert_variables_to_constants``) copies every weight into the GraphDef, and
each later step (Grappler, ``import_graph_def``, reading the constants back) holds another copy. Instead, the
graph is inlined with no weights in it, and every read of a variable becomes a ``Placeholder`` of the variable's
dtype and shape. A :class:`WeightSource` maps those placeholders to where the value is: a SavedModel checkpoint
(:class:`CheckpointWeights`) or a live ``tf.Variable`` / captured eager tensor (:class:`LiveWeights`). The
importer turns such a placeholder into a constant when it reaches it, one tensor at a time.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ...ir import SourceArray, Tensor

CALLS = ("StatefulPartitionedCall", "PartitionedCall")
# Ops that must not remain after inlining (the freezing loaders handle them).
_UNHANDLED = {"If", "StatelessIf", "While", "StatelessWhile", "Case", "StatelessCase", *CALLS,
              "HashTableV2", "MutableHashTableV2", "LookupTableFindV2", "VariableV2", "Variable", "VarHandleOp"}
_DT_INT32 = 3


class NotReadable(Exception):
    """The graph has a shape the weight-free path does not handle; the caller falls back to freezing."""


class WeightSource:
    """Values for placeholders that stand for weights: ``keys`` maps a placeholder's node name to a key."""

    def __init__(self, keys: dict[str, Any]):
        self.keys = keys

    def __contains__(self, node_name: str) -> bool:
        return node_name in self.keys

    def read(self, node_name: str) -> np.ndarray:
        return self.read_slice(node_name, 0, 0, None)

    def read_slice(self, node_name: str, axis: int, start: int, stop: int | None) -> np.ndarray:
        """The value's ``start:stop`` along ``axis`` (``start=0, stop=None``: all of it)."""
        raise NotImplementedError

    def source_key(self, node_name: str) -> Any:
        """Equal keys: the same value (for the writer to share one buffer without reading either)."""
        return None

    def constant(self, template: Tensor, node_name: str) -> Tensor:
        """A constant tensor (``template``'s name, dtype and shape) whose value stays in this source until it
        is needed; then it is read whole, or in slices when the writer streams it."""
        shape = tuple(template.shape or ())
        lazy = SourceArray(shape, template.dtype, lambda axis, start, stop: self.read_slice(node_name, axis, start,
                                                                                             stop),
                           key=self.source_key(node_name))
        return Tensor(template.name, template.dtype, shape, lazy=lazy, source=node_name)


def _index(axis: int, start: int, stop: int | None, rank: int) -> tuple[slice, ...]:
    index = [slice(None)] * rank
    if rank:
        index[axis] = slice(start, stop)
    return tuple(index)


class CheckpointWeights(WeightSource):
    """Variables of a SavedModel's checkpoint (``keys``: checkpoint keys), read one at a time."""

    # Tensors at least this big are read from the files directly, in slices (``bundle``); smaller ones whole,
    # through TensorFlow's reader.
    DIRECT_BYTES = 16 << 20

    def __init__(self, prefix: str, keys: dict[str, str], reader: Any = None):
        super().__init__(keys)
        self.prefix = prefix
        self._reader = reader  # a CheckpointReader already open on ``prefix``, or None to open one when needed
        self._bundle: Any = False  # not opened yet

    def source_key(self, node_name: str) -> Any:
        return ("checkpoint", os.path.abspath(self.prefix), self.keys[node_name])

    def read_slice(self, node_name: str, axis: int, start: int, stop: int | None) -> np.ndarray:
        from ...errors import InvalidModelError

        key = self.keys[node_name]
        try:
            if self._reader is None:
                from tensorflow.python.training import py_checkpoint_reader

                self._reader = py_checkpoint_reader.NewCheckpointReader(self.prefix)
            bundle = self._direct(key)
            if bundle is not None:
                return bundle.read(key, axis, start, stop)
            value = np.asarray(self._reader.get_tensor(key))
            if value.ndim and (start or (stop is not None and stop < value.shape[axis])):
                value = np.ascontiguousarray(value[_index(axis, start, stop, value.ndim)])
            return value
        except Exception as e:  # a damaged or incomplete variables/ directory
            lines = str(e).strip().splitlines() or [type(e).__name__]
            raise InvalidModelError(f"cannot read variable {key.split('/.ATTRIBUTES')[0]} from "
                                    f"{os.path.dirname(self.prefix)}: {lines[0][:300]}. Fix: re-export the model, "
                                    "or copy its variables/ directory again (it is damaged or incomplete).") from None

    def _direct(self, key: str) -> Any:
        """The bundle reader, for a tensor big enough to be worth reading in slices (else None)."""
        if self._bundle is False:
            from .bundle import open_bundle

            self._bundle = open_bundle(self.prefix)
        if self._bundle is None:
            return None
        entry = self._bundle.entries.get(key)
        return self._bundle if entry is not None and entry.size >= self.DIRECT_BYTES and not len(entry.slices) \
            else None


class LiveWeights(WeightSource):
    """Values held by the running program (``keys``: a ``tf.Variable`` or an eager tensor), sliced in TensorFlow
    so that a block of a big weight is copied, not the whole weight."""

    def __init__(self, keys: dict[str, Any]):
        super().__init__(keys)

    def source_key(self, node_name: str) -> Any:
        return ("live", id(self.keys[node_name]))

    def read_slice(self, node_name: str, axis: int, start: int, stop: int | None) -> np.ndarray:
        from ...errors import InvalidModelError

        obj = self.keys[node_name]
        try:
            rank = len(obj.shape)
            if rank == 0 or (start == 0 and (stop is None or stop >= int(obj.shape[axis]))):
                return np.asarray(obj.numpy())
            return np.asarray(obj[_index(axis, start, stop, rank)].numpy())
        except Exception as e:  # an uninitialised variable, typically
            lines = str(e).strip().splitlines() or [type(e).__name__]
            raise InvalidModelError(f"cannot read the value behind {node_name}: {lines[0][:300]}. Fix: make sure "
                                    "the model's variables are initialised (call the model once).") from None


def base_name(name: str) -> str:
    """The node name of a tensor or control input name (``^a``, ``a:1`` -> ``a``)."""
    return name.lstrip("^").split(":")[0]


def reads_to_placeholders(graph: Any, handles: dict[str, tuple[Any, int, list[int]]]) -> tuple[Any, dict[str, Any]]:
    """Replace the reads of resource ``handles`` in an inlined ``graph`` by placeholders.

    ``handles`` maps each handle node (a ``VarHandleOp``, or a resource ``Placeholder`` of a traced function) to
    (key, dtype enum, shape) of its variable. Each ``ReadVariableOp`` becomes a ``Placeholder`` of that dtype
    and shape, under the same name; each ``ResourceGather`` (an embedding lookup) becomes a ``GatherV2`` on
    such a placeholder. The handles, and the ``Identity`` nodes that forward them, go; control inputs on them
    are dropped. Returns the new GraphDef and {placeholder name: key}. Raises :class:`NotReadable` if a handle
    has any other use, or if ops that need the full loader remain.
    """
    from tensorflow.core.framework import graph_pb2

    by_name = {n.name: n for n in graph.node}

    def handle_of(name: str) -> str | None:
        seen = 0
        while name in by_name and by_name[name].op == "Identity" and seen < 100:
            name, seen = base_name(by_name[name].input[0]), seen + 1
        return name if name in handles else None

    reads: dict[str, str] = {}  # ReadVariableOp node -> handle
    gathers: dict[str, str] = {}  # ResourceGather node -> handle
    removed: set[str] = set(handles)
    for node in graph.node:
        if node.op in ("ReadVariableOp", "ResourceGather"):
            handle = handle_of(base_name(node.input[0]))
            if handle is None:
                raise NotReadable(f"{node.name} reads a resource that is not a known variable")
            (reads if node.op == "ReadVariableOp" else gathers)[node.name] = handle
        elif node.op == "Identity" and handle_of(node.name) is not None:
            removed.add(node.name)
        elif node.op in _UNHANDLED and node.name not in handles:
            raise NotReadable(f"{node.op} node {node.name} after inlining")
    result = graph_pb2.GraphDef()
    result.versions.CopyFrom(graph.versions)
    values: dict[str, Any] = {}

    def placeholder(name: str, handle: str, dtype: int) -> None:
        key, var_dtype, shape = handles[handle]
        if var_dtype != dtype:
            raise NotReadable(f"variable {key} is read as another dtype")
        ph = result.node.add()
        ph.name, ph.op = name, "Placeholder"
        ph.attr["dtype"].type = dtype
        ph.attr["shape"].shape.SetInParent()
        for d in shape:
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
            if base_name(i) in removed:
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
            axis.attr["dtype"].type = _DT_INT32
            axis.attr["value"].tensor.dtype = _DT_INT32
            axis.attr["value"].tensor.tensor_shape.SetInParent()
            axis.attr["value"].tensor.int_val.append(batch_dims)
            copy.op = "GatherV2"
            copy.input.insert(2, node.name + "/axis")
            for k in list(copy.attr):
                if k not in ("Tindices", "batch_dims"):
                    del copy.attr[k]
            copy.attr["Tparams"].type = dtype
            copy.attr["Taxis"].type = _DT_INT32
            copy.attr["batch_dims"].i = batch_dims
    return result, values


_FUNCTIONAL_CONTROL_FLOW = ("If", "StatelessIf", "While", "StatelessWhile")


def _keep_functional(node: Any) -> None:
    """Drop ``node``'s XLA mark; a functional If / While is marked to stay one (Grappler would otherwise lower it
    to v1 Switch / Merge / NextIteration ops, which have no LiteRT form; kept, it becomes IF / WHILE)."""
    node.attr.pop("_XlaMustCompile", None)
    if node.op in _FUNCTIONAL_CONTROL_FLOW:
        node.attr["_lower_using_switch_merge"].b = False


def inline_calls(graph: Any, fetches: list[str]) -> Any:
    """``graph`` with every function call inlined, by Grappler's function optimizer (one pass, nothing else).

    ``fetches`` are the node names to keep. Keras 3 wraps some ops (grouped and depthwise convolutions) in
    functions marked for XLA, which Grappler will not inline; for a graph we only read, those marks mean nothing
    and are dropped first. Functional control flow is marked to stay functional (``graph`` is changed in place).
    """
    from tensorflow.core.protobuf import config_pb2, meta_graph_pb2
    from tensorflow.python.grappler import tf_optimizer

    for fn in graph.library.function:
        for key in ("_noinline", "_XlaMustCompile"):
            fn.attr.pop(key, None)
        for node in fn.node_def:
            _keep_functional(node)
    for node in graph.node:
        _keep_functional(node)
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
