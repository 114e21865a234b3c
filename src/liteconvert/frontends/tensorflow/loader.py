"""Load TensorFlow sources (SavedModel, Keras model or file, concrete functions) into GraphDefs for the importer.

Each signature becomes one inlined GraphDef whose weights are placeholders, filled by the importer from where
the values live (``weights``: the live variables of a traced function, or a SavedModel's checkpoint read by
``savedmodel`` without restoring the model). Functions of a shape that path does not handle (control flow,
tables) are frozen instead: variables copied into the GraphDef as constants. Tracing, freezing and Grappler's
inlining are TensorFlow's own graph tooling; everything after it is ours.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import InvalidModelError, SignatureKeyError, SourceNotFoundError
from .quiet import import_tensorflow, silenced


@dataclass
class LoadedGraph:
    """One signature's graph (inlined; weights as ``variables`` placeholders, or frozen into constants):
    user-facing input/output names mapped to graph tensor names."""

    key: str
    graph_def: Any  # tf.compat.v1.GraphDef
    inputs: list[tuple[str, str]]
    outputs: list[tuple[str, str]]
    source: str = ""
    layer_of: dict[str, str] = field(default_factory=dict)  # node-name prefix -> Keras layer name
    # Runs the source model: {input name: array} -> {output name: array}; used to verify the conversion.
    reference: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]] | None = None
    # Placeholders that stand for weights, and where their values are read (a ``weights.WeightSource``).
    variables: Any = None
    # The key of an earlier signature that computes the same thing: this one shares its subgraph.
    alias_of: str | None = None


def _trace_graph(func: Any, key: str, input_names: list[str], output_names: list[str], source: str) -> LoadedGraph:
    """``func``'s graph for the importer: weight-free when possible (see ``weights``), else frozen."""
    from .weights import NotReadable

    try:
        return _weight_free(func, key, input_names, output_names, source)
    except (NotReadable, AttributeError, KeyError, TypeError, ValueError) as e:  # a function of another shape
        logging.getLogger("liteconvert").debug("signature %s: freezing its variables (%s)", key, e)
        return _freeze(func, key, input_names, output_names, source)


def _weight_free(func: Any, key: str, input_names: list[str], output_names: list[str], source: str) -> LoadedGraph:
    """``func``'s graph, inlined, with each variable read replaced by a placeholder that the importer fills from
    the live variable (and each captured eager tensor read from that tensor) when it reaches it."""
    from .weights import LiveWeights, NotReadable, base_name, inline_calls, reads_to_placeholders

    graph = func.graph
    captures = list(graph.captures)
    n_user = len(func.inputs) - len(captures)
    inputs, outputs = list(func.inputs[:n_user]), list(func.outputs)
    if len(inputs) != len(input_names) or len(outputs) != len(output_names) or n_user < 0:
        raise NotReadable("inputs or outputs do not match the signature")
    variables = {id(v.handle): v for v in graph.variables}
    handles: dict[str, tuple[Any, int, list[int]]] = {}
    live: dict[str, Any] = {}
    for external, internal in captures:
        name = internal.op.name
        if external.dtype.name == "resource":
            v = variables.get(id(external))
            if v is None or not v.shape.is_fully_defined():
                raise NotReadable(f"captured resource {name} is not a variable of known shape")
            handles[name] = (v, v.dtype.as_datatype_enum, [int(d) for d in v.shape])
        elif hasattr(external, "numpy"):
            live[name] = external
        else:
            raise NotReadable(f"capture {name} has no value")
    graph_def = graph.as_graph_def()
    if graph_def.library.function:
        graph_def = inline_calls(graph_def, [base_name(t.name) for t in inputs + outputs])
    graph_def, reads = reads_to_placeholders(graph_def, handles)
    for placeholder, v in reads.items():
        live[placeholder] = v
    return _named(key, graph_def, input_names, inputs, output_names, outputs, source, LiveWeights(live))


def _named(key: str, graph_def: Any, input_names: list[str], inputs: list[Any], output_names: list[str],
           outputs: list[Any], source: str, variables: Any = None) -> LoadedGraph:
    """A LoadedGraph whose user-facing names map to the graph tensors ``inputs``/``outputs``, in order."""
    return LoadedGraph(key=key, graph_def=graph_def, source=source, variables=variables,
                       inputs=list(zip(input_names, [t.name for t in inputs], strict=True)),
                       outputs=list(zip(output_names, [t.name for t in outputs], strict=True)))


def _freeze(func: Any, key: str, input_names: list[str], output_names: list[str], source: str) -> LoadedGraph:
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    try:
        fast = _freeze_graph_def(func)
        if fast is not None:
            frozen, graph_def = fast
        else:
            frozen = convert_variables_to_constants_v2(func)
            graph_def = frozen.graph.as_graph_def()
    except Exception as e:
        raise InvalidModelError(f"cannot freeze the variables of signature '{key}': {_first_line(e)}. "
                                "Fix: make sure the model's variables are initialised (call the model once).") from None
    inputs = [t for t in frozen.inputs if t.dtype.name != "resource"]
    if len(inputs) != len(input_names):
        raise InvalidModelError(f"signature '{key}' has {len(inputs)} graph inputs but {len(input_names)} names")
    outputs = list(frozen.outputs)
    if len(outputs) != len(output_names):
        raise InvalidModelError(f"signature '{key}' has {len(outputs)} graph outputs but {len(output_names)} names")
    if graph_def.library.function:
        from .weights import inline_calls

        graph_def = inline_calls(graph_def, [t.name.split(":")[0] for t in inputs + outputs])
    return _named(key, graph_def, input_names, inputs, output_names, outputs, source)


class _FrozenView:
    """What ``_freeze`` reads of a frozen function: its inputs and outputs (the source function's)."""

    def __init__(self, func: Any, converted: set[int]):
        from tensorflow.python.util import object_identity

        captures = func.graph.internal_captures
        gone = object_identity.ObjectIdentitySet([captures[i] for i in converted])
        self.inputs = [t for t in func.inputs if t not in gone]
        self.outputs = list(func.outputs)


def _freeze_graph_def(func: Any) -> tuple[Any, Any] | None:
    """Freeze ``func``'s variables into constants and return the GraphDef without building a new function.

    ``convert_variables_to_constants_v2`` re-imports the frozen GraphDef into a new concrete function, which
    costs seconds on large models and which we never run; the GraphDef keeps the source node names. Returns
    None when TensorFlow's internals differ from what this expects (then the public path is used).
    """
    try:
        from tensorflow.python.framework import convert_to_constants as c2c

        data = c2c._FunctionConverterDataInEager(func=func, lower_control_flow=False, aggressive_inlining=False)
        graph_def, converted = c2c._replace_variables_by_constants(converter_data=data)
    except (ImportError, AttributeError, TypeError):
        return None
    return _FrozenView(func, set(converted)), graph_def


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:300] if text else type(e).__name__


def load_saved_model(path: str, signature_keys: list[str] | None = None, tags: set[str] | list[str] | None = None,
                     ) -> list[LoadedGraph]:
    """Load the chosen signatures (all by default, ``serving_default`` first) of a SavedModel directory."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise SourceNotFoundError(f"SavedModel directory not found: {path}. Fix: check the path.")
    if not os.path.isdir(path):
        raise InvalidModelError(f"{path} is a file, not a SavedModel directory. Fix: pass the directory that "
                                "holds saved_model.pb, or a .keras/.h5 file.")
    if not any(os.path.exists(os.path.join(path, f)) for f in ("saved_model.pb", "saved_model.pbtxt")):
        raise InvalidModelError(f"{path} is not a SavedModel: it has no saved_model.pb. Fix: pass the directory "
                                "written by tf.saved_model.save() or model.export().")
    tf = import_tensorflow()
    lean = _load_saved_model_lean(path, signature_keys, tags)
    if lean is not None:
        return lean
    loaded = _restore_saved_model(tf, path, tags)
    export = hasattr(loaded, "serve") and not hasattr(loaded, "_default_save_signature")
    keys = _choose_keys(list(loaded.signatures.keys()), signature_keys, path, export)
    graphs = []
    for key in keys:
        func = loaded.signatures[key]
        _, kwargs = func.structured_input_signature
        in_names = sorted(kwargs)  # tf.nest flattens dicts by sorted key, as func.inputs is ordered
        out = func.structured_outputs
        out_names = sorted(out) if isinstance(out, dict) else [f"output_{i}" for i in range(len(tf.nest.flatten(out)))]
        with silenced():
            graph = _trace_graph(func, key, in_names, out_names, path)
        graph.reference = _signature_reference(func, out_names)
        graphs.append(graph)
    return graphs


def _choose_keys(available: list[str], signature_keys: list[str] | None, path: str, export: bool = False,
                 ) -> list[str]:
    """The signatures to convert: the requested ones (checked), else all with ``serving_default`` first.

    ``export``: the SavedModel is a Keras ``model.export()`` artifact (a ``serve`` endpoint, no
    ``_default_save_signature``). By default Google's converter gives such a model its ``serving_default``
    signature only (``serve`` is that endpoint under another name), so scripts that call
    ``get_signature_runner()`` without a key work; we do the same. Keys given explicitly are always honoured.
    """
    if not available:
        raise InvalidModelError(f"SavedModel {path} has no signatures. Fix: save it with "
                                "signatures={'serving_default': fn.get_concrete_function(...)}.")
    available = sorted(available, key=lambda k: (k != "serving_default", k))
    if signature_keys:
        missing = [k for k in signature_keys if k not in available]
        if missing:
            raise SignatureKeyError(f"signature key {', '.join(repr(k) for k in missing)} not in {path}; "
                                    f"available: {', '.join(available)}. Fix: pass one of those.")
        return list(signature_keys)
    if export and len(available) > 1 and "serving_default" in available:
        return ["serving_default"]
    return available


def _load_saved_model_lean(path: str, signature_keys: list[str] | None, tags: set[str] | list[str] | None,
                           ) -> list[LoadedGraph] | None:
    """The chosen signatures read straight from ``saved_model.pb`` and the checkpoint (see ``savedmodel``):
    no object is restored and no weight is read until the importer needs it. None when the SavedModel has a
    shape that reader does not handle; then the whole model is restored with ``tf.saved_model.load``."""
    from . import savedmodel

    if not os.path.exists(os.path.join(path, "saved_model.pb")):
        return None
    try:
        proto = savedmodel.read_saved_model_proto(path)
    except Exception:  # a corrupt file: the full loader gives the error
        return None
    meta_graph = savedmodel.choose_meta_graph(proto, set(tags) if tags else None)
    del proto
    if meta_graph is None:
        return None
    keys = _choose_keys(savedmodel.signature_keys(meta_graph), signature_keys, path,
                        savedmodel.is_keras_export(meta_graph))
    index = savedmodel.MetaGraphIndex(meta_graph)
    # Signatures that compute the same thing (Keras 3's "serve" and "serving_default") are converted once.
    alias_of: dict[str, str] = {}
    first_with: dict[bytes, str] = {}
    for key in keys:
        fp = savedmodel.signature_fingerprint(index, key)
        if fp is not None:
            alias_of[key] = first_with.setdefault(fp, key)
    primary = [k for k in keys if alias_of.get(k, k) == k]
    try:
        with silenced():
            read = dict(zip(primary, savedmodel.read_signatures(path, primary, index), strict=True))
    except savedmodel.NotReadable as e:
        logging.getLogger("liteconvert").debug("SavedModel %s: restoring it in full (%s)", path, e)
        return None
    restored: dict[str, Any] = {}  # the full model, restored only if a reference run is asked for

    def restore() -> Any:
        if "model" not in restored:
            restored["model"] = _restore_saved_model(import_tensorflow(), path, tags)
        return restored["model"]

    graphs = []
    for key in keys:
        first = alias_of.get(key, key)
        graph_def, inputs, outputs, variables = read[first]
        in_names, out_names = sorted(inputs), sorted(outputs)
        graph = LoadedGraph(key=key, graph_def=graph_def, inputs=[(n, inputs[n]) for n in in_names],
                            outputs=[(n, outputs[n]) for n in out_names], source=path, variables=variables,
                            alias_of=first if first != key else None)
        graph.reference = _lazy_reference(restore, key, out_names)
        graphs.append(graph)
    return graphs


def _restore_saved_model(tf: Any, path: str, tags: set[str] | list[str] | None) -> Any:
    """``tf.saved_model.load``, with a fallback for Keras 2 SavedModels that hold optimizer slots."""
    try:
        with silenced():
            return tf.saved_model.load(path, tags=list(tags) if tags else None)
    except Exception as e:
        msg = _first_line(e)
        hint = "Fix: re-export the model, or check that the directory is complete."
        if "add_slot" in msg:  # Keras 2 optimizer slots: load without them (see legacy_savedmodel)
            from .legacy_savedmodel import load_without_optimizer_slots

            try:
                with silenced():
                    return load_without_optimizer_slots(tf, path, list(tags) if tags else None)
            except Exception as e2:
                msg = f"{msg}; loading without the optimizer state failed too: {_first_line(e2)}"
                hint = ("Fix: this SavedModel holds Keras 2 optimizer state; pip install tf-keras, or re-export "
                        "the model without its optimizer.")
        raise InvalidModelError(f"cannot load SavedModel {path}: {msg}. {hint}") from None


def _lazy_reference(restore: Callable[[], Any], key: str, out_names: list[str],
                    ) -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]:
    def run(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return _signature_reference(restore().signatures[key], out_names)(inputs)

    return run


def _signature_reference(func: Any, out_names: list[str]) -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]:
    import tensorflow as tf

    def run(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = func(**{k: tf.constant(v) for k, v in inputs.items()})
        flat = [out[k] for k in sorted(out)] if isinstance(out, dict) else tf.nest.flatten(out)
        return {n: np.asarray(v) for n, v in zip(out_names, flat, strict=True)}

    return run


def load_keras_model(model: Any, key: str = "serving_default") -> list[LoadedGraph]:
    """Trace a Keras model (Keras 3 or tf.keras) into one ``serving_default`` signature."""
    tf = import_tensorflow()
    specs, in_names = _keras_input_specs(model, tf)
    single = len(specs) == 1

    @tf.function(input_signature=specs, autograph=False)
    def serving(*args: Any) -> Any:
        return model(args[0] if single else list(args), training=False)

    try:
        with silenced():
            func = serving.get_concrete_function()
    except Exception as e:
        raise InvalidModelError(f"cannot trace the Keras model: {_first_line(e)}. "
                                "Fix: check that the model runs on inputs of its declared shapes.") from None
    outputs = tf.nest.flatten(func.structured_outputs)
    out_names = _keras_output_names(model, len(outputs))
    with silenced():
        graph = _trace_graph(func, key, in_names, out_names, getattr(model, "name", "keras model"))
    graph.layer_of = _keras_layer_names(model)

    def reference(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        args = [inputs[n] for n in in_names]
        flat = tf.nest.flatten(model(args[0] if single else args, training=False))
        return {n: np.asarray(v) for n, v in zip(out_names, flat, strict=True)}

    graph.reference = reference
    return [graph]


def _keras_input_specs(model: Any, tf: Any) -> tuple[list[Any], list[str]]:
    inputs = None
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        pass
    if inputs:
        names = [_clean(getattr(t, "name", None) or f"input_{i}") for i, t in enumerate(inputs)]
        names = _dedupe(names)
        specs = [tf.TensorSpec(tuple(t.shape), t.dtype, name=n) for t, n in zip(inputs, names, strict=True)]
        return specs, names
    shapes = getattr(model, "_build_shapes_dict", None)
    if shapes and len(shapes) == 1:
        shape = next(iter(shapes.values()))
        if isinstance(shape, (tuple, list)) and all(d is None or isinstance(d, int) for d in shape):
            shape = (None, *tuple(shape)[1:])
            return [tf.TensorSpec(shape, tf.float32, name="input_0")], ["input_0"]
    shape = _build_default_shape(model)
    if shape is not None:  # built by a custom build() whose input_shape has a default (mtcnn's PNet)
        return [tf.TensorSpec((None, *shape[1:]), tf.float32, name="input_0")], ["input_0"]
    raise InvalidModelError("the Keras model has no known input shape (a subclassed model that was never "
                            "built). Fix: call it once on an example input, or build it with model.build(shape).")


def _build_default_shape(model: Any) -> tuple[int | None, ...] | None:
    """The default ``input_shape`` of a built model's own ``build(self, input_shape=(...))``, if it has one."""
    import inspect

    if not getattr(model, "built", False):
        return None
    try:
        params = list(inspect.signature(model.build).parameters.values())
    except (TypeError, ValueError):
        return None
    if len(params) != 1:
        return None
    shape = params[0].default
    if isinstance(shape, (tuple, list)) and len(shape) >= 1 and all(d is None or isinstance(d, int) for d in shape):
        return tuple(shape)
    return None


def _keras_output_names(model: Any, n: int) -> list[str]:
    names = None
    try:
        names = list(model.output_names)
    except (AttributeError, TypeError, ValueError):
        pass
    if not names or len(names) != n:
        names = [f"output_{i}" for i in range(n)]
    return _dedupe([_clean(x) for x in names])


def _keras_layer_names(model: Any) -> dict[str, str]:
    layers = getattr(model, "layers", None) or []
    return {layer.name: layer.name for layer in layers}


def _clean(name: str) -> str:
    return name.split(":")[0]


def _dedupe(names: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for n in names:
        base, k = n, 1
        while n in seen:
            n = f"{base}_{k}"
            k += 1
        seen.add(n)
        out.append(n)
    return out


def load_keras_file(path: str) -> list[LoadedGraph]:
    """Load a ``.keras`` or legacy ``.h5`` file and trace it.

    Keras loads in safe mode, whatever the process's Keras config says: a model file's Python bytecode (a
    ``Lambda`` layer holding a Python lambda) or arbitrary imports are refused, never run.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise SourceNotFoundError(f"Keras model file not found: {path}. Fix: check the path.")
    if os.path.isdir(path):
        raise InvalidModelError(f"{path} is a directory (a SavedModel?), not a Keras model file. Fix: convert it "
                                "as a SavedModel (from_saved_model / --saved_model_dir).")
    import_tensorflow()
    with silenced():
        import keras
    try:
        with silenced():
            model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as e:
        msg = _first_line(e)
        if "safe_mode" in msg or "arbitrary code" in msg:
            raise InvalidModelError(
                f"{path} holds Python code (a Lambda layer with a Python function, or a custom object); "
                "liteconvert never runs code from a model file. Fix: build the model in Python (with the Lambda "
                "defined in your code) and convert the Keras object, or export it with model.export() and convert "
                "the SavedModel.") from None
        raise InvalidModelError(f"cannot load Keras model {path}: {msg}. Fix: pass a .keras file "
                                "saved by model.save() or a full-model .h5 file (not weights only).") from None
    return load_keras_model(model)


def load_concrete_functions(funcs: list[Any], trackable_obj: Any = None) -> list[LoadedGraph]:
    """Freeze concrete functions; several functions become several signatures."""
    tf = import_tensorflow()
    graphs = []
    for i, func in enumerate(funcs):
        args, kwargs = func.structured_input_signature
        flat = tf.nest.flatten((args, kwargs))
        in_names = []
        for j, spec in enumerate(flat):
            name = getattr(spec, "name", None)
            in_names.append(name or f"input_{j}")
        if kwargs and not args:
            in_names = sorted(kwargs)
        out = func.structured_outputs
        n_out = len(tf.nest.flatten(out))
        out_names = sorted(out) if isinstance(out, dict) else [f"output_{k}" for k in range(n_out)]
        key = "serving_default" if len(funcs) == 1 else (getattr(func, "name", None) or f"signature_{i}")
        if isinstance(key, bytes):
            key = key.decode()
        with silenced():
            graph = _trace_graph(func, key, _dedupe(in_names), out_names, "concrete function")
        graph.reference = _function_reference(func, [n for n, _ in graph.inputs], out_names)
        graphs.append(graph)
    return graphs


def _function_reference(func: Any, in_names: list[str], out_names: list[str],
                        ) -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]:
    import tensorflow as tf

    args, kwargs = func.structured_input_signature

    def run(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if kwargs and not args:
            out = func(**{k: tf.constant(inputs[k]) for k in kwargs})
        else:
            out = func(*[tf.constant(inputs[n]) for n in in_names])
        flat = [out[k] for k in sorted(out)] if isinstance(out, dict) else tf.nest.flatten(out)
        return {n: np.asarray(v) for n, v in zip(out_names, flat, strict=True)}

    return run
