"""The Python API, mirroring ``tf.lite.TFLiteConverter`` so that users switch by changing one import.

``TFLiteConverter`` only maps ``tf.lite``'s attributes onto a :class:`~liteconvert.config.ConversionConfig`
and hands it, with a frontend for the source, to the driver (``liteconvert.driver``); ``check``, ``verify`` and
``convert`` all go through that one path.
"""

from __future__ import annotations

import numbers
import os
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, BinaryIO

from .config import DYNAMIC_RANGE, FLOAT, FLOAT16, INT8, INT16X8, ConversionConfig, OpsSet, Optimize
from .errors import (
    ConversionWarning,
    FeatureNotImplementedError,
    InvalidModelError,
    InvalidOptionError,
    UnsupportedOpsError,
)
from .files import atomic_output, check_input, check_output, write_atomic  # noqa: F401 (atomic_output: old home)
from .ir import Model

if TYPE_CHECKING:
    from .check import CheckReport
    from .frontends.base import Frontend
    from .verify import VerifyReport

__all__ = ["OpsSet", "Optimize", "TFLiteConverter", "TargetSpec", "check", "convert", "converter_for"]


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

    def __init__(self, frontend: Frontend, source: str):
        self._frontend = frontend
        self._samples: dict[str, list[dict]] | None = None  # the last conversion's representative samples
        self._source = source
        self.optimizations: list[Any] = []
        self.target_spec = TargetSpec()
        self.representative_dataset: Any = None
        self.inference_input_type: Any = None
        self.inference_output_type: Any = None
        self.allow_custom_ops = False
        self.experimental_new_converter = True
        self.metadata: Any = None
        self.pipeline: Any = None  # a pipeline name or a list of phases of pass names (liteconvert.passes)
        # minmax | percentile | mse; None: per mode, what benchmarks/quant.py found best (percentile for int8,
        # minmax for 16x8: liteconvert.quantize.calibrate.DEFAULT_METHOD)
        self.calibration: str | None = None
        self.calibration_samples: int | None = None  # use at most this many representative samples
        self.dynamic_min_elements = 1024  # dynamic range: weights with fewer elements stay float (as Google's)
        self.keep_float: list[str] = []  # source node or layer names to leave in float
        self.float_final_activation = True  # int8 with a float output: a final SOFTMAX/LOGISTIC/TANH stays float
        # quantize, find the N ops the report finds add the most error, quantize again with them float
        self.keep_float_worst = 0
        self.report = False  # convert() also builds ``quantization_report`` (quantized against float, per op)
        self.quantization_report: Any = None  # set by convert() when ``report`` or ``keep_float_worst``
        self.warnings: list[str] = []  # set by convert(): what the model needs beyond builtins
        self.log: list[str] = []  # set by convert(): what the passes reported

    # -- constructors -------------------------------------------------------------------------------------------
    @classmethod
    def from_saved_model(cls, saved_model_dir: str, signature_keys: list[str] | None = None,
                         tags: Iterable[str] | None = None) -> TFLiteConverter:
        from .frontends.tensorflow import saved_model

        path = os.fspath(saved_model_dir)
        check_input(path, "SavedModel directory", directory=None)
        return cls(saved_model(path, signature_keys, set(tags) if tags else None), path)

    @classmethod
    def from_keras_model(cls, model: Any) -> TFLiteConverter:
        from .frontends.tensorflow import keras_model

        return cls(keras_model(model), getattr(model, "name", "keras model"))

    @classmethod
    def from_keras_file(cls, path: str) -> TFLiteConverter:
        from .frontends.tensorflow import keras_file

        path = os.fspath(path)
        check_input(path, "Keras model file")
        return cls(keras_file(path), path)

    @classmethod
    def from_concrete_functions(cls, funcs: list[Any], trackable_obj: Any = None) -> TFLiteConverter:
        from .frontends.tensorflow import concrete_functions

        return cls(concrete_functions(list(funcs), trackable_obj), "concrete functions")

    @classmethod
    def from_tflite(cls, path: str | os.PathLike[str] | bytes) -> TFLiteConverter:
        """An existing float ``.tflite`` (ours, Google's, MediaPipe's), to quantize: signatures, metadata and
        associated files are kept. (Google's converter has no such entry point.)"""
        from .frontends.tflite import TFLiteFrontend

        if isinstance(path, (str, os.PathLike)):
            check_input(os.fspath(path), "model")
            return cls(TFLiteFrontend(os.fspath(path)), os.fspath(path))
        return cls(TFLiteFrontend(bytes(path)), "model bytes")

    @classmethod
    def experimental_from_jax(cls, serving_funcs: list[Any], inputs: list[Any]) -> TFLiteConverter:
        raise FeatureNotImplementedError("the JAX frontend is not built yet. Fix: export the function with "
                                         "jax2tf to a SavedModel and convert that.")

    # -- attributes -> config -----------------------------------------------------------------------------------
    def _config(self) -> ConversionConfig:
        """The ``tf.lite`` attributes as a :class:`ConversionConfig`, with Google's converter's rules: an
        optimization alone is dynamic range; with ``supported_types=[float16]``, float16; with a
        ``representative_dataset``, full integer (int8, or 16x8 with its op set), integer only when the op sets
        are only integer ones. Options whose feature is not built raise."""
        opts = {_name(o) for o in self.optimizations}
        unknown = sorted(opts - {o.value for o in Optimize})
        if unknown:
            raise InvalidOptionError(f"optimizations has unknown value(s) {unknown}. Fix: use "
                                     "[liteconvert.Optimize.DEFAULT]")
        if "EXPERIMENTAL_SPARSITY" in opts:
            raise FeatureNotImplementedError("Optimize.EXPERIMENTAL_SPARSITY: sparse weights are not built yet. "
                                             "Fix: use [Optimize.DEFAULT]")
        ops = {_name(o) for o in self.target_spec.supported_ops}
        known = {o.value for o in OpsSet}
        bad = sorted(ops - known)
        if bad:
            raise InvalidOptionError(f"target_spec.supported_ops has unknown value(s) {bad}. "
                                     f"Fix: use liteconvert.OpsSet members ({', '.join(sorted(known))}).")
        int8_set, int16_set = "TFLITE_BUILTINS_INT8", "EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8"
        if not ops & {"TFLITE_BUILTINS", int8_set, int16_set}:
            raise FeatureNotImplementedError(
                "target_spec.supported_ops without TFLITE_BUILTINS (every op as a Flex op) is not supported. "
                "Fix: use [OpsSet.TFLITE_BUILTINS, OpsSet.SELECT_TF_OPS]; ops with a builtin stay builtin.")
        types = {_dtype_name(t) for t in self.target_spec.supported_types} - {None}
        types = {t.replace("tf.", "") for t in types if t}
        bad_types = sorted(types - {"float32", "float16", "int8", "int16"})
        if bad_types:
            raise InvalidOptionError(f"target_spec.supported_types has {bad_types}. Fix: use tf.float16 (float16 "
                                     "weights) or leave it empty")
        integer_sets = ops & {int8_set, int16_set}
        mode = FLOAT
        if opts or integer_sets:
            if int16_set in ops:
                mode = INT16X8
            elif self.representative_dataset is not None or int8_set in ops or "int8" in types:
                mode = INT8
            elif "float16" in types:
                mode = FLOAT16
            else:
                mode = DYNAMIC_RANGE
        io = {}
        for attr in ("inference_input_type", "inference_output_type"):
            value = (_dtype_name(getattr(self, attr)) or "float32").replace("tf.", "")
            if value not in ("float32", "int8", "uint8", "int16"):
                raise InvalidOptionError(f"{attr}={value}: the interface can be float32, int8 or uint8 (int8 "
                                         "quantization), or int16 (16x8). Fix: use one of those")
            io[attr] = value
        if self.calibration is not None and self.calibration not in ("minmax", "percentile", "mse"):
            raise InvalidOptionError(f"calibration={self.calibration!r}. Fix: use 'minmax', 'percentile' or 'mse' "
                                     "(or None: the mode's default)")
        # (whether the mode gives that interface, and has its data, is judged once the model is known:
        # config.resolve_mode, as a quantization-aware-trained model carries its own ranges)
        return ConversionConfig(
            allow_select_tf_ops="SELECT_TF_OPS" in ops, allow_custom_ops=bool(self.allow_custom_ops), mode=mode,
            representative_data=self.representative_dataset, inference_input_type=io["inference_input_type"],
            inference_output_type=io["inference_output_type"],
            integer_only=bool(integer_sets) and "TFLITE_BUILTINS" not in ops,
            calibration=self.calibration, calibration_samples=self.calibration_samples,
            dynamic_min_elements=self._min_elements(),
            keep_float=list(self.keep_float), float_final_activation=bool(self.float_final_activation),
            pipeline=self.pipeline, metadata=self.metadata,
            check_invariants=bool(os.environ.get("LITECONVERT_CHECK_INVARIANTS")))  # (the test suite sets it)

    def _min_elements(self) -> int:
        n = self.dynamic_min_elements
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise InvalidOptionError(f"dynamic_min_elements={n!r}. Fix: a whole number of elements, at least 0 "
                                     "(0 quantizes every weight)")
        return int(n)

    # -- conversion -----------------------------------------------------------------------------------------------
    def _build(self) -> Any:
        from . import driver

        config = self._config()
        wants_report = (self.report or self.keep_float_worst) and config.mode != FLOAT
        if wants_report:
            config.keep_float_model = True
        conversion = self._build_with(driver, config)
        if self.keep_float_worst and config.mode != FLOAT:
            report = self._report(conversion, driver.write(conversion))
            worst = [o.tensor for o in report.culprits(int(self.keep_float_worst))]
            config.keep_float = [*config.keep_float, *worst]
            conversion = self._build_with(driver, config)
            self.log.append(f"keep_float_worst: kept {', '.join(worst)} in float")
        conversion.wants_report = wants_report
        self._samples = conversion.samples  # what verify() runs a calibrated model on
        return conversion

    def _report(self, conversion: Any, data: bytes) -> Any:
        from .quantization_report import build_report

        by_key = conversion.samples or {}
        sigs = [s.key for s in conversion.model.signatures]
        key = next((k for k in sigs if k in by_key), sigs[0] if sigs else None)  # the report covers one signature
        samples = by_key.get(key) if key is not None else None
        if not samples:  # dynamic range / float16: random inputs, as verify uses
            from .verify import random_inputs, signature_specs

            specs = signature_specs(data, key)
            samples = [random_inputs(specs, batch=1, seed=i) for i in range(16)]
        layers = {r.node: r.layer for r in conversion.records if r.layer}
        self.quantization_report = build_report(conversion.float_model, data, samples[:64], conversion.config.mode,
                                                signature=key, layers=layers)
        return self.quantization_report

    def _build_with(self, driver: Any, config: ConversionConfig) -> Any:
        try:
            conversion = driver.build(self._frontend, config)
        except UnsupportedOpsError as e:
            from .check import problem_table

            e.table = problem_table(e.problems, self._frontend.advice)  # what 'liteconvert check' would print
            raise
        self.warnings, self.log = list(conversion.warnings), list(conversion.log)
        for w in self.warnings:
            warnings.warn(w, ConversionWarning, stacklevel=5)  # the caller of convert()
        return conversion

    def convert_to_ir(self) -> Model:
        """Run the frontend and the pass pipeline; return the IR (what :meth:`convert` serializes)."""
        return self._build().model

    def convert(self) -> bytes:
        """Convert the model; returns the ``.tflite`` flatbuffer bytes."""
        from . import driver

        conversion = self._build()
        data = driver.write(conversion)
        assert data is not None
        if conversion.wants_report:
            self._report(conversion, data)
        return data

    def convert_to_file(self, path: str | os.PathLike[str] | BinaryIO, inputs: Iterable[str] = ()) -> None:
        """Convert and stream the result to ``path`` (atomically) or a binary stream: the model is never held in
        memory as one ``bytes``. ``inputs`` are paths the output must not be."""
        from . import driver

        conversion = self._build()
        if conversion.wants_report:
            data = driver.write(conversion)
            self._report(conversion, data)
            if isinstance(path, (str, os.PathLike)):
                write_atomic(path, data, list(inputs))
            else:
                path.write(data)
            return
        driver.write(conversion, path, list(inputs))

    def check(self) -> CheckReport:
        """Evaluate the model without converting: a :class:`liteconvert.check.CheckReport` that says, per
        source op, whether it maps to LiteRT builtins, needs Select TF ops or a custom op, or cannot run."""
        from .check import check_report

        return check_report(self._frontend, self._config())

    def verify(self, data: bytes | str | os.PathLike[str], batch: int = 2, dynamic_dim: int = 32,
               seed: int = 0) -> VerifyReport:
        """Run the source model and the converted model (bytes or a path) in LiteRT on the same inputs; compare.
        After a calibrated conversion (int8, 16x8) the inputs are its first representative samples, else random
        ones, whose dynamic dimensions are set to ``batch`` (the first) and ``dynamic_dim`` (the others). An
        integer interface is fed quantized inputs and read dequantized."""
        from .verify import verify_frontend

        return verify_frontend(self._frontend, data, batch=batch, dynamic_dim=dynamic_dim, seed=seed,
                               samples=self._samples)


def converter_for(source: Any, signature_keys: list[str] | None = None, **options: Any) -> TFLiteConverter:
    """A converter for ``source`` (SavedModel dir, ``.keras``/``.h5`` path, or Keras model) with ``options``
    (attributes of :class:`TFLiteConverter`) set."""
    conv = _converter_for(source, signature_keys)
    for key, value in options.items():
        if not hasattr(conv, key):
            raise InvalidOptionError(f"unknown option {key!r}. Fix: use an attribute of TFLiteConverter.")
        setattr(conv, key, value)
    return conv


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


def convert(source: Any, output_path: str | os.PathLike[str] | None = None, **options: Any) -> bytes | str:
    """Convert ``source`` (SavedModel dir, ``.keras``/``.h5`` path, or Keras model).

    Without ``output_path``, returns the ``.tflite`` bytes. With it, streams the model to that file (through a
    temporary file and an atomic rename, so a failed conversion never leaves a half-written file, and never in
    memory as a whole) and returns the path. ``options`` are converter attributes (``signature_keys`` and any
    attribute of :class:`TFLiteConverter`).
    """
    inputs = [os.fspath(source)] if isinstance(source, (str, os.PathLike)) else []
    if output_path is not None:
        check_output(output_path, inputs)  # before any work: the output is writable and is not the source
    conv = converter_for(source, options.pop("signature_keys", None), **options)
    if output_path is None:
        return conv.convert()
    conv.convert_to_file(output_path, inputs)
    return os.fspath(output_path)


def check(source: Any, signature_keys: list[str] | None = None, **options: Any) -> CheckReport:
    """Check ``source`` (SavedModel directory, ``.keras``/``.h5`` path, or Keras model) without converting.

    Returns a :class:`~liteconvert.check.CheckReport`: ``print(report)`` for the table, ``report.outcome`` /
    ``report.exit_code`` / ``report.as_dict()`` for programs. ``options`` are ``TFLiteConverter`` attributes.
    """
    return converter_for(source, signature_keys, **options).check()
