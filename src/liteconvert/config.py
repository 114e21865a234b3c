"""What a conversion is asked to do, as plain data: the one object every layer below the API reads.

``TFLiteConverter`` (the ``tf.lite`` mirror) and the command line map their attributes and flags onto a
:class:`ConversionConfig`; the driver runs a frontend, the pass pipeline, legalization and the writer from it.
Nothing here imports anything of ours but the enums' names.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


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


# Optimization modes (``ConversionConfig.mode``); each names its pass pipeline in ``liteconvert.passes``
# (the quantization modes' pipelines run after the float one; see ``liteconvert.quantize``).
FLOAT, DYNAMIC_RANGE, FLOAT16, INT8, INT16X8 = "float", "dynamic_range", "float16", "int8", "int16x8"
MODES = (FLOAT, DYNAMIC_RANGE, FLOAT16, INT8, INT16X8)


@dataclass
class ConversionConfig:
    """Op sets (``allow_select_tf_ops``, ``allow_custom_ops``), the optimization ``mode`` and its data
    (``representative_data``, interface dtypes), the ``pipeline`` (a name or phases of pass names; None: the
    mode's own), TFLite ``metadata`` to attach, and ``check_invariants`` (run the IR checker after each pass)."""

    allow_select_tf_ops: bool = False
    allow_custom_ops: bool = False
    mode: str = FLOAT
    representative_data: Any = None
    calibration: str | None = None  # minmax | percentile | mse; None: the mode's default (quantize.calibrate)
    calibration_samples: int | None = None  # at most this many representative samples
    inference_input_type: str = "float32"
    inference_output_type: str = "float32"
    integer_only: bool = False  # TFLITE_BUILTINS_INT8: an op without an integer kernel is an error
    # With a float output interface, a final SOFTMAX/LOGISTIC/TANH stays float: their integer kernels have a
    # fixed output step (1/256 for SOFTMAX) that costs far more accuracy than the op costs time.
    float_final_activation: bool = True
    dynamic_min_elements: int = 1024  # dynamic range: smaller weights stay float
    pipeline: str | Sequence[Sequence[str]] | None = None  # the float pipeline (None: "float")
    keep_float: list[str] = field(default_factory=list)  # source node or layer names left in float
    metadata: Any = None
    keep_float_model: bool = False  # keep the float model's bytes (Conversion.float_model), for the report
    check_invariants: bool = False

    @property
    def pipeline_spec(self) -> str | Sequence[Sequence[str]]:
        return self.pipeline if self.pipeline is not None else FLOAT


INTERFACE_TYPES = {INT8: ("float32", "int8", "uint8"), INT16X8: ("float32", "int16")}


def resolve_mode(config: ConversionConfig, quantization_aware: bool) -> tuple[ConversionConfig, str | None]:
    """The mode the conversion runs in, once the model is known, and a note saying why it changed (or None).

    Google's rules: optimizations alone on a quantization-aware-trained model (one carrying fake quantization)
    give full integer int8 from its trained ranges, as they give dynamic range on any other model; the integer
    modes need a representative dataset unless the model carries its ranges; an integer interface type needs an
    integer mode. Raises :class:`~liteconvert.errors.InvalidOptionError` naming the fix.
    """
    from dataclasses import replace

    from .errors import InvalidOptionError

    note = None
    if quantization_aware and config.mode == DYNAMIC_RANGE:
        config = replace(config, mode=INT8)
        note = ("quantization-aware-trained model: full integer int8 from the ranges its fake-quantization ops "
                "carry (no representative dataset needed)")
    if config.mode in (INT8, INT16X8) and config.representative_data is None and not quantization_aware:
        raise InvalidOptionError(f"{'16x8' if config.mode == INT16X8 else 'full integer'} quantization needs a "
                                 "representative_dataset (a few hundred typical inputs) to calibrate the "
                                 "activations. Fix: set converter.representative_dataset (command line: "
                                 "--representative-data FILE.npz), or convert a quantization-aware-trained model")
    allowed = INTERFACE_TYPES.get(config.mode, ("float32",))
    for attr in ("inference_input_type", "inference_output_type"):
        value = getattr(config, attr)
        if value not in allowed:
            raise InvalidOptionError(
                f"{attr}={value} needs {'an integer' if value != 'float32' else 'a'} mode that gives it: with this "
                f"converter's settings the model is {config.mode}, whose interface can be {', '.join(allowed)}. "
                "Fix: " + ("set a representative_dataset and optimizations for int8" if config.mode not in
                           INTERFACE_TYPES else f"use one of {', '.join(allowed)}"))
    return config, note
