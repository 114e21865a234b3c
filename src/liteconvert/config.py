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


# Optimization modes (``ConversionConfig.mode``); each names its pass pipeline in ``liteconvert.passes``.
FLOAT = "float"


@dataclass
class ConversionConfig:
    """Op sets (``allow_select_tf_ops``, ``allow_custom_ops``), the optimization ``mode`` and its data
    (``representative_data``, interface dtypes), the ``pipeline`` (a name or phases of pass names; None: the
    mode's own), TFLite ``metadata`` to attach, and ``check_invariants`` (run the IR checker after each pass)."""

    allow_select_tf_ops: bool = False
    allow_custom_ops: bool = False
    mode: str = FLOAT
    representative_data: Any = None
    inference_input_type: str = "float32"
    inference_output_type: str = "float32"
    pipeline: str | Sequence[Sequence[str]] | None = None
    keep_float: list[str] = field(default_factory=list)
    metadata: Any = None
    check_invariants: bool = False

    @property
    def pipeline_spec(self) -> str | Sequence[Sequence[str]]:
        return self.pipeline if self.pipeline is not None else self.mode
