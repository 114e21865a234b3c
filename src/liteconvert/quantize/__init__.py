"""Post-training quantization, on the passes: each mode is a pipeline of its own in ``liteconvert.passes``.

=================  ============================================================================================
``dynamic_range``  int8 weights per channel, float activations, hybrid kernels (``dynamic.py``)
``float16``        float16 weights and DEQUANTIZE ops (``float16.py``)
``int8``           int8 activations and weights, integer biases, from calibrated ranges (``integer.py``)
``int16x8``        int16 activations, int8 weights, int64 biases (``integer.py``)
=================  ============================================================================================

A quantization-aware-trained model (fake quantization in the graph) quantizes from the ranges training chose
(``qat.py``): optimizations alone make it int8, with no representative dataset.

The driver runs the float pipeline, then, for the integer modes, calibration (``calibrate.py``: the float model
in LiteRT over the representative samples, ``data.py`` checks them) whose ranges reach the passes in
``PassContext.stats["ranges"]``, then the mode's pipeline. Parameters and the float/integer arithmetic are in
``params.py``; what each op's kernel requires (fixed output parameters, same-scale ops, weight axes, biases) is
in its declaration (``liteconvert.tflite.ops``, ``OpDecl.quant``).
"""

from __future__ import annotations

from ..config import DYNAMIC_RANGE, FLOAT16, INT8, INT16X8
from ..passes import PIPELINES
from . import densify, dynamic, float16, integer, qat  # noqa: F401  (registering the passes)

_DENSE = ["densify_constants", "fold_constants", "remove_dead_ops"]  # sparse weights decoded (a .tflite source)
PIPELINES[DYNAMIC_RANGE] = [[*_DENSE], ["quantize_weights_dynamic"]]
PIPELINES[FLOAT16] = [["weights_to_float16"]]
PIPELINES[INT8] = [[*_DENSE], ["absorb_fake_quant"], ["quantize_activations"], ["remove_dead_ops"]]
PIPELINES[INT16X8] = [[*_DENSE], ["absorb_fake_quant"], ["quantize_activations"], ["remove_dead_ops"]]

CALIBRATED = (INT8, INT16X8)
