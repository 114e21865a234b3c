"""Float16 weights: half the size, DEQUANTIZE ops turning them back to float32 at run time (GPU delegates and
XNNPACK read the float16 constants directly)."""

from __future__ import annotations

import numpy as np

from ..ir import Model, Op, Tensor
from ..passes import PassContext, register_pass
from .dynamic import keep_float


@register_pass
def weights_to_float16(model: Model, ctx: PassContext) -> bool:
    """Every float32 constant an op reads (weights, biases, other constants of at least 16 elements) is stored
    as float16, with one DEQUANTIZE to float32 at the start of its subgraph."""
    changed = False
    for sg in model.subgraphs:
        converted: dict[int, Tensor] = {}
        head: list[Op] = []
        for op in sg.ops:
            if op.kind == "DEQUANTIZE" or keep_float(op, ctx):
                continue
            for i, t in enumerate(op.inputs):
                if (t is None or not t.is_const or t.dtype != "float32" or t.quant is not None or t.size < 16
                        or t.sparsity is not None):  # (sparse: already small, and DEQUANTIZE reads dense)
                    continue
                if t.uid not in converted:
                    half = Tensor(t.name + "_fp16", "float16", t.shape, data=np.asarray(t.data).astype(np.float16),
                                  source=t.source)
                    back = Tensor(t.name, "float32", t.shape, source=t.source)
                    head.append(Op("DEQUANTIZE", [half], [back], source=t.source))
                    converted[t.uid] = back
                op.inputs[i] = converted[t.uid]
        if head:
            sg.ops[:0] = head
            changed = True
            ctx.note(f"weights_to_float16: {len(head)} constant(s) of {sg.name} stored as float16")
    return changed
