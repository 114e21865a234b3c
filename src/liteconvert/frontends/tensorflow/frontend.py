"""The TensorFlow frontend: SavedModels, Keras models and files, concrete functions (``Frontend`` protocol)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...config import ConversionConfig
from ...errors import UnsupportedOpsError
from ..base import Imported, ModelInput, Reference
from .loader import LoadedGraph


class TensorFlowFrontend:
    """``load`` is a function returning the source's signatures as :class:`LoadedGraph` s (the loaders in
    ``loader.py``), so that nothing is loaded until the driver asks."""

    def __init__(self, load: Callable[[], list[LoadedGraph]], label: str):
        self._load = load
        self.label = label

    def load(self) -> list[LoadedGraph]:
        return self._load()

    def import_model(self, loaded: list[LoadedGraph], config: ConversionConfig, keep_going: bool = False) -> Imported:
        from .importer import import_graphs
        from .policy import LoweringPolicy

        policy = LoweringPolicy(allow_select_tf_ops=config.allow_select_tf_ops or keep_going,
                                allow_custom_ops=config.allow_custom_ops or keep_going)
        try:
            model = import_graphs(loaded, policy)
        except UnsupportedOpsError as e:
            return Imported(None, policy.records, list(e.problems))
        return Imported(model, policy.records, [])

    def references(self, loaded: list[LoadedGraph]) -> dict[str, Reference]:
        return {g.key: g.reference for g in loaded if g.reference is not None}

    def inputs(self, loaded: list[LoadedGraph]) -> list[ModelInput]:
        """Signature inputs (dtype, shape) read from the graphs' placeholder NodeDefs."""
        from tensorflow.python.framework import dtypes

        result = []
        for g in loaded:
            nodes = {n.name: n for n in g.graph_def.node}
            for uname, tname in g.inputs:
                nd = nodes.get(tname.split(":")[0])
                if nd is None:
                    continue
                dtype, shape = "?", None
                if "dtype" in nd.attr:
                    dtype = dtypes.as_dtype(nd.attr["dtype"].type).name
                if "shape" in nd.attr and not nd.attr["shape"].shape.unknown_rank:
                    shape = tuple(int(d.size) for d in nd.attr["shape"].shape.dim)
                result.append(ModelInput(g.key, uname, dtype, shape))
        return result

    def aliases(self, loaded: list[LoadedGraph]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for g in loaded:
            if g.alias_of:
                out.setdefault(g.alias_of, []).append(g.key)
        return out

    def advice(self, op_type: str, status: str) -> str | None:
        from .advice import advice

        return advice(op_type, status)


def keras_model(model: Any) -> TensorFlowFrontend:
    def load() -> list[LoadedGraph]:
        from .loader import load_keras_model

        return load_keras_model(model)

    return TensorFlowFrontend(load, getattr(model, "name", "keras model"))


def keras_file(path: str) -> TensorFlowFrontend:
    def load() -> list[LoadedGraph]:
        from .loader import load_keras_file

        return load_keras_file(path)

    return TensorFlowFrontend(load, path)


def saved_model(path: str, signature_keys: list[str] | None = None, tags: set[str] | None = None,
                ) -> TensorFlowFrontend:
    def load() -> list[LoadedGraph]:
        from .loader import load_saved_model

        return load_saved_model(path, signature_keys, tags)

    return TensorFlowFrontend(load, path)


def concrete_functions(funcs: list[Any], trackable_obj: Any = None) -> TensorFlowFrontend:
    def load() -> list[LoadedGraph]:
        from .loader import load_concrete_functions

        return load_concrete_functions(funcs, trackable_obj)

    return TensorFlowFrontend(load, "concrete functions")
