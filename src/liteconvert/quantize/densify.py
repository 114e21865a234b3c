"""Sparse constants made dense before their weights are quantized.

A model read from a ``.tflite`` may store weights sparse (``Tensor.sparsity``), usually behind a ``DENSIFY`` op
(MediaPipe's pose and full-range face detectors: sparse float16 -> DENSIFY -> DEQUANTIZE -> CONV_2D). The
quantizers read weights as dense arrays, so the dynamic range and integer pipelines first decode every sparse
constant (``tflite.sparsity.densify``) and drop the DENSIFY ops; int8 weights then take about what the sparse
float16 ones took. The float16 pipeline leaves sparse constants as they are: they are already as small.
"""

from __future__ import annotations

from ..ir import Model
from ..passes import PassContext, register_pass
from ..tflite.sparsity import densify


@register_pass
def densify_constants(model: Model, ctx: PassContext) -> bool:
    """Decode each sparse constant to a dense one; a DENSIFY of a constant becomes its dense output."""
    dense: set[int] = set()  # uids decoded
    changed = False
    for sg in model.subgraphs:
        for t in sg.tensors():
            if t.is_const and t.sparsity is not None and t.uid not in dense:
                t.data = densify(t.data, t.sparsity, tuple(t.shape or ()), f"tensor '{t.name}'")
                t.sparsity = None
                dense.add(t.uid)
                changed = True
        kept = []
        for op in sg.ops:
            src = op.inputs[0] if op.kind == "DENSIFY" and op.inputs else None
            if src is not None and src.is_const and src.sparsity is None:
                op.outputs[0].data = src.data
                changed = True
                continue
            kept.append(op)
        sg.ops = kept
    if dense:
        ctx.note(f"densify_constants: {len(dense)} sparse constant(s) made dense for quantization")
    return changed
