"""The Python API, mirroring ``tf.lite.TFLiteConverter`` so that users switch by changing one import."""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .errors import (
    FeatureNotImplementedError,
    InvalidModelError,
    InvalidOptionError,
    OpProblem,
    UnsupportedOpsError,
)
from .files import atomic_output, check_input, check_output, write_atomic  # noqa: F401 (atomic_output: old home)
from .ir import Model, check_invariants

if TYPE_CHECKING:
    from .verify import VerifyReport


class OpsSet(enum.Enum):
    TFLITE_BUILTINS = "TFLITE_BUILTINS"
    SELECT_TF_OPS = "SELECT_TF_OPS"
    TFLITE_BUILTINS_INT8 = "TFLITE_BUILTINS_INT8"
    EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8 = \
        "EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8"


class Optimize(enum.Enum):
    DEFAULT = "DEFAULT"
    OPTIMIZE_FOR_SIZE = "OPTIMIZE_FOR_SIZE"
    OPTIMIZE_FOR_LATENCY = "OPTIMIZE_FOR_LATENCY"
    EXPERIMENTAL_SPARSITY = "EXPERIMENTAL_SPARSITY"


def _name(value: Any) -> str:
    """Accept our enums, TensorFlow's (``tf.lite.OpsSet``) and plain strings alike."""
    n = getattr(value, "name", None)
    return str(n if n is not None else value).upper()


def _dtype_name(value: Any) -> str | None:
    if value is None:
        return None
    n = getattr(value, "name", None) or getattr(value, "__name__", None) or str(value)
    return str(n).lower()


class TargetSpec:
    def __init__(self) -> None:
        self.supported_ops: set[Any] = {OpsSet.TFLITE_BUILTINS}
        self.supported_types: set[Any] = set()
        self.experimental_select_user_tf_ops: list[str] = []


class TFLiteConverter:
    """Converts a TensorFlow/Keras model to LiteRT flatbuffer bytes.

    Build one with :meth:`from_saved_model`, :meth:`from_keras_model` or :meth:`from_concrete_functions`, set
    the attributes you need, then call :meth:`convert`.
    """

    def __init__(self, load: Callable[[], list[Any]], source: str):
        self._load = load
        self._source = source
        self.optimizations: list[Any] = []
        self.target_spec = TargetSpec()
        self.representative_dataset: Any = None
        self.inference_input_type: Any = None
        self.inference_output_type: Any = None
        self.allow_custom_ops = False
        self.experimental_new_converter = True
        self.metadata: Any = None
        self.pipeline: list[list[str]] | None = None
        self.warnings: list[str] = []  # set by convert(): what the model needs beyond builtins

    # -- constructors -------------------------------------------------------------------------------------------
    @classmethod
    def from_saved_model(cls, saved_model_dir: str, signature_keys: list[str] | None = None,
                         tags: Iterable[str] | None = None) -> TFLiteConverter:
        path = os.fspath(saved_model_dir)
        check_input(path, "SavedModel directory", directory=None)

        def load() -> list[Any]:
            from .frontends.tensorflow import load_saved_model

            return load_saved_model(path, signature_keys, set(tags) if tags else None)

        return cls(load, path)

    @classmethod
    def from_keras_model(cls, model: Any) -> TFLiteConverter:
        def load() -> list[Any]:
            from .frontends.tensorflow import load_keras_model

            return load_keras_model(model)

        return cls(load, getattr(model, "name", "keras model"))

    @classmethod
    def from_keras_file(cls, path: str) -> TFLiteConverter:
        path = os.fspath(path)
        check_input(path, "Keras model file")

        def load() -> list[Any]:
            from .frontends.tensorflow import load_keras_file

            return load_keras_file(path)

        return cls(load, path)

    @classmethod
    def from_concrete_functions(cls, funcs: list[Any], trackable_obj: Any = None) -> TFLiteConverter:
        funcs = list(funcs)

        def load() -> list[Any]:
            from .frontends.tensorflow import load_concrete_functions

            return load_concrete_functions(funcs, trackable_obj)

        return cls(load, "concrete functions")

    @classmethod
    def experimental_from_jax(cls, serving_funcs: list[Any], inputs: list[Any]) -> TFLiteConverter:
        raise FeatureNotImplementedError("the JAX frontend is not built yet. Fix: export the function with "
                                         "jax2tf to a SavedModel and convert that.")

    # -- conversion -----------------------------------------------------------------------------------------------
    def _check_options(self) -> None:
        if self.optimizations:
            raise FeatureNotImplementedError(
                f"optimizations={[_name(o) for o in self.optimizations]}: post-training quantization is not built "
                "yet. Fix: leave converter.optimizations empty for a float model.")
        if self.representative_dataset is not None:
            raise FeatureNotImplementedError("representative_dataset: full-integer quantization is not built yet. "
                                             "Fix: leave it unset for a float model.")
        for attr in ("inference_input_type", "inference_output_type"):
            value = _dtype_name(getattr(self, attr))
            if value not in (None, "float32", "tf.float32"):
                raise FeatureNotImplementedError(f"{attr}={value}: only float32 model interfaces are built yet. "
                                                 "Fix: leave it unset.")
        ops = {_name(o) for o in self.target_spec.supported_ops}
        known = {o.value for o in OpsSet}
        bad = sorted(ops - known)
        if bad:
            raise InvalidOptionError(f"target_spec.supported_ops has unknown value(s) {bad}. "
                                     f"Fix: use liteconvert.OpsSet members ({', '.join(sorted(known))}).")
        if ops - {"TFLITE_BUILTINS", "SELECT_TF_OPS"}:
            raise FeatureNotImplementedError(
                f"target_spec.supported_ops={sorted(ops)}: only TFLITE_BUILTINS and SELECT_TF_OPS are built yet "
                "(integer op sets are coming). Fix: use [OpsSet.TFLITE_BUILTINS, OpsSet.SELECT_TF_OPS].")
        if "TFLITE_BUILTINS" not in ops:
            raise FeatureNotImplementedError(
                "target_spec.supported_ops without TFLITE_BUILTINS (every op as a Flex op) is not supported. "
                "Fix: use [OpsSet.TFLITE_BUILTINS, OpsSet.SELECT_TF_OPS]; ops with a builtin stay builtin.")
        types = {_dtype_name(t) for t in self.target_spec.supported_types}
        if types - {"float32", "tf.float32"}:
            raise FeatureNotImplementedError(f"target_spec.supported_types={sorted(t or '' for t in types)}: "
                                             "float16/int8 conversion is not built yet. Fix: leave it empty.")

    def convert_to_ir(self) -> Model:
        """Run the frontend and the pass pipeline; return the IR (what :meth:`convert` serializes)."""
        self._check_options()
        from .frontends.tensorflow import import_graphs
        from .frontends.tensorflow.policy import LoweringPolicy
        from .passes import run_pipeline

        graphs = self._load()
        policy = LoweringPolicy(
            allow_select_tf_ops="SELECT_TF_OPS" in {_name(o) for o in self.target_spec.supported_ops},
            allow_custom_ops=bool(self.allow_custom_ops))
        model = import_graphs(graphs, policy)
        del graphs  # the frozen graphs (and a loaded SavedModel's variables) are not needed past the import
        check = bool(os.environ.get("LITECONVERT_CHECK_INVARIANTS"))  # set by the test suite
        if check:
            check_invariants(model)
        run_pipeline(model, self.pipeline, check=check)
        try:
            legalize(model)
        except UnsupportedOpsError as e:  # name the source ops, as the importer does
            raise UnsupportedOpsError([_source_problem(p, policy) for p in e.problems]) from None
        self._warn_fallbacks(policy)
        return model

    def _warn_fallbacks(self, policy: Any) -> None:
        """Warn when the model needs more than the standard runtime: Flex ops, custom ops."""
        import warnings

        from .errors import ConversionWarning

        self.warnings = []
        flex_ops = sorted({r.op_type for r in policy.emitted("flex")})
        custom_ops = sorted({r.op_type for r in policy.emitted("custom")})
        if flex_ops:
            from .check import FLEX_RUNTIME_NOTE

            self.warnings.append(f"the model uses Select TF ops ({', '.join('Flex' + o for o in flex_ops)}): "
                                 f"{FLEX_RUNTIME_NOTE}.")
        if custom_ops:
            self.warnings.append(f"the model uses custom ops ({', '.join(custom_ops)}): the runtime needs a kernel "
                                 "for each, registered under that exact name (C++: "
                                 "MutableOpResolver::AddCustom; Python: Interpreter(custom_op_registerers=...)).")
        for w in self.warnings:
            warnings.warn(w, ConversionWarning, stacklevel=4)  # the caller of convert()

    def check(self) -> Any:
        """Evaluate the model without converting: a :class:`liteconvert.check.CheckReport` that says, per
        source op, whether it maps to LiteRT builtins, needs Select TF ops or a custom op, or cannot run."""
        from .check import check_graphs

        return check_graphs(self._load(), self._source, self.pipeline)

    def convert(self) -> bytes:
        """Convert the model; returns the ``.tflite`` flatbuffer bytes."""
        from .tflite.writer import serialize

        data = serialize(self.convert_to_ir(), consume=True)
        if self.metadata is not None:  # TFLite metadata (liteconvert.metadata): a builder, dict or M001 bytes
            from .metadata import attach

            data = attach(data, self.metadata)
        return data

    def verify(self, data: bytes, batch: int = 2, dynamic_dim: int = 32, seed: int = 0) -> VerifyReport:
        """Run the source model and the converted ``data`` in LiteRT on the same random inputs; compare.

        Dynamic dimensions are set to ``batch`` (the first) and ``dynamic_dim`` (the others).
        """
        from ._console import silenced
        from .verify import VerifyReport, compare, random_inputs, run_tflite, signature_specs

        graphs = self._load()  # loaded again: convert() does not keep the source model alive
        report = VerifyReport()
        for g in graphs:
            if g.reference is None:
                continue
            specs = signature_specs(data, g.key)
            inputs = random_inputs(specs, batch=batch, seed=seed, dynamic_dim=dynamic_dim)
            with silenced():
                ref = g.reference(inputs)
            got = run_tflite(data, inputs, g.key)
            report.signatures[g.key] = compare(got, ref)
        return report


def _source_problem(p: OpProblem, policy: Any) -> OpProblem:
    rec = policy.record_for(p.node)
    if rec is None:
        return p
    return OpProblem(rec.op_type, p.node, f"{p.op_type}: {p.reason}", rec.layer, status="limited",
                     limitation="pattern")


def legalize(model: Model) -> None:
    """Every op left must be a declared TFLite op; report all that are not, with their source nodes."""
    from .tflite.ops import DECLS

    problems = [OpProblem(op.kind, op.source or "?", "no LiteRT builtin for this pattern")
                for _, op in model.all_ops() if op.kind not in DECLS]
    if problems:
        raise UnsupportedOpsError(problems)


def _converter_for(source: Any, signature_keys: list[str] | None = None) -> TFLiteConverter:
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        check_input(path, "model", directory=None)
        if os.path.isdir(path):
            return TFLiteConverter.from_saved_model(path, signature_keys)
        lower = path.lower()
        if lower.endswith((".keras", ".h5", ".hdf5")):
            if signature_keys:
                raise InvalidOptionError("--signature-keys applies to SavedModel directories only. Fix: drop it "
                                         "for a Keras file.")
            return TFLiteConverter.from_keras_file(path)
        if lower.endswith(".tflite"):
            raise InvalidModelError(f"{path} is already a .tflite model. Fix: pass the source model "
                                    "(SavedModel directory, .keras or .h5 file).")
        raise InvalidModelError(f"{path} is not a model this converter reads. Fix: pass a SavedModel directory, "
                                "a .keras file or a .h5 file.")
    if hasattr(source, "layers") or type(source).__name__ in ("Functional", "Sequential", "Model"):
        return TFLiteConverter.from_keras_model(source)
    raise InvalidOptionError(f"cannot convert an object of type {type(source).__name__}. Fix: pass a SavedModel "
                             "directory, a .keras/.h5 path or a Keras model.")


def convert(source: Any, output_path: str | os.PathLike[str] | None = None, **options: Any) -> bytes:
    """Convert ``source`` (SavedModel dir, ``.keras``/``.h5`` path, or Keras model) and return the bytes.

    With ``output_path`` the bytes are also written there atomically (a temporary file renamed into place), so
    a failed conversion never leaves a half-written file. ``options`` are converter attributes
    (``signature_keys`` and any attribute of :class:`TFLiteConverter`).
    """
    inputs = [os.fspath(source)] if isinstance(source, (str, os.PathLike)) else []
    if output_path is not None:
        check_output(output_path, inputs)  # before any work: the output is writable and is not the source
    conv = _converter_for(source, options.pop("signature_keys", None))
    for key, value in options.items():
        if not hasattr(conv, key):
            raise InvalidOptionError(f"unknown option {key!r}. Fix: use an attribute of TFLiteConverter.")
        setattr(conv, key, value)
    data = conv.convert()
    if output_path is not None:
        write_atomic(output_path, data, inputs)
    return data
