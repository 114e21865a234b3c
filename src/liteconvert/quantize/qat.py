"""Quantization-aware-trained models: the ranges training chose, instead of calibrated ones.

A QAT graph reaches the quantizer with ``FAKE_QUANT`` ops on its activations (the TensorFlow frontend lowers
FakeQuantWithMinMaxVars / QuantizeAndDequantize to them; fake-quantized weights were folded to their values on the
trained grid). ``absorb_fake_quant`` gives each FAKE_QUANT's input and output the op's nudged range (zero on a
level, as TensorFlow computes it) and removes the op: quantizing the tensor over that range reproduces exactly
the levels training used, so the integer model computes what the trained graph simulated. Trained ranges
override calibrated ones where both exist.
"""

from __future__ import annotations

import numpy as np

from ..ir import Model, Op, Subgraph, Tensor
from ..passes import PassContext, register_pass
from ..tflite.ops.quant import fake_quant_range


def _narrow_clamp(sg: Subgraph, x: Tensor, rng: tuple[float, float], bits: int) -> Op | None:
    """The MAXIMUM that makes a full-range FAKE_QUANT narrow (its constant one step above the range's low end),
    when ``x`` comes from one and nothing else reads ``x``."""
    producer = next((op for op in sg.ops if x in op.outputs), None)
    if producer is None or producer.kind != "MAXIMUM" or len(producer.inputs) != 2:
        return None
    c = producer.inputs[1]
    if c is None or not c.is_const or c.data is None or np.asarray(c.data).size != 1:
        return None
    step = (rng[1] - rng[0]) / ((1 << bits) - 1)
    if abs(float(np.asarray(c.data).reshape(-1)[0]) - (rng[0] + step)) > 1e-3 * step:
        return None
    readers = [op for op in sg.ops if x in op.inputs]
    if len(readers) != 1 or any(o is x for o in sg.outputs):
        return None
    return producer


@register_pass
def absorb_fake_quant(model: Model, ctx: PassContext) -> bool:
    """Each FAKE_QUANT gives its tensors their trained range (``ctx.stats["ranges"]``, ``Tensor.range_hint``)
    and leaves the graph (its input takes its place)."""
    ranges = ctx.stats.setdefault("ranges", {})
    if any(op.kind == "FAKE_QUANT" for _, op in model.all_ops()):
        ctx.stats["quantization_aware"] = True  # (weights on a trained grid are kept on it: integer.py)
    changed = False
    for sg in model.subgraphs:
        inputs = {t.uid for t in sg.inputs}
        for op in list(sg.ops):
            if op.kind != "FAKE_QUANT" or int(op.attrs.get("num_bits", 8)) > 8:
                continue  # (a 16-bit fake quantization stays a float op: our integer activations are 8-bit)
            x, y = op.inputs[0], op.outputs[0]
            if x is None:
                continue
            rng = fake_quant_range(op)
            narrow = bool(op.attrs.get("narrow_range"))
            hint: tuple = (rng[0], rng[1], narrow) if narrow else rng
            clamp = _narrow_clamp(sg, x, rng, int(op.attrs.get("num_bits", 8)))
            if clamp is not None:  # the frontend's narrow-range pair: MAXIMUM(a, lowest level) -> FAKE_QUANT
                hint = (float(clamp.inputs[1].data), rng[1], True)  # type: ignore[union-attr]
                sg.ops.remove(clamp)
                sg.replace_uses(x, clamp.inputs[0])  # type: ignore[arg-type]
                x = clamp.inputs[0]
                assert x is not None
            x.range_hint = y.range_hint = hint
            ranges[x.uid] = ranges[y.uid] = hint
            if any(o is y for o in sg.outputs) and x.uid in inputs:
                continue  # a graph input passed straight out: the op keeps the two apart
            sg.replace_uses(y, x)
            for sig in model.signatures:
                if sig.subgraph is sg:
                    sig.outputs = {k: (x if t is y else t) for k, t in sig.outputs.items()}
            sg.ops.remove(op)
            changed = True
    return changed
