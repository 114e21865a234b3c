"""Constant folding: an op whose inputs are all constants is evaluated with its declaration's numpy reference
(``liteconvert.tflite.ops``) and dropped. Frontends fold the same way as they emit, so lowering rules see
constants."""

from __future__ import annotations

from ..ir import Model
from ..tflite.ops import fold
from . import PassContext, register_pass


@register_pass
def fold_constants(model: Model, ctx: PassContext) -> bool:
    """Evaluate ops whose inputs are all constants, and drop them."""
    changed = False
    for sg in model.subgraphs:
        kept = []
        outs = {t.uid for t in sg.outputs}
        for op in sg.ops:
            if not any(t.uid in outs for t in op.outputs) and fold(op):
                changed = True
                continue
            kept.append(op)
        sg.ops = kept
    return changed
