"""Fake quantization, what TensorFlow's quantization-aware training (QAT) leaves in a graph.

* ``FakeQuantWithMinMaxArgs`` / ``FakeQuantWithMinMaxVars`` (per tensor) -> ``FAKE_QUANT``, whose float output
  is exactly TensorFlow's (narrow range: a MAXIMUM at the lowest level, then a full-range FAKE_QUANT, as LiteRT's
  kernel refuses narrow_range); on a constant (a weight) it is folded here. Quantization reads the op's
  range as the trained range of the tensor and drops the op (``liteconvert.quantize.qat``).
* ``FakeQuantWithMinMaxVarsPerChannel``: weights (the last axis is the output channel of a Conv2D kernel, a
  MatMul's columns), folded here; on an activation it has no LiteRT form (activations are quantized per tensor).
* ``QuantizeAndDequantizeV2/V3/V4``: symmetric quantization over a given range. Per tensor, it is the same grid
  as a ``FAKE_QUANT`` over the range TensorFlow derives (zero on a level); per channel (``axis``), weights only.
  A range computed at run time (``range_given=false``) is folded for a constant, refused for an activation.
"""

from __future__ import annotations

import numpy as np

from ....tflite.ops.quant import fake_quantize, nudge
from ..importer import LowerCtx, Node
from ..registry import Unsupported, register


def _range_inputs(node: Node, lo_index: int, hi_index: int) -> tuple[np.ndarray, np.ndarray]:
    lo = np.asarray(node.const_input(lo_index, "min"), np.float32)
    hi = np.asarray(node.const_input(hi_index, "max"), np.float32)
    if lo.shape != hi.shape or np.any(~np.isfinite(lo)) or np.any(~np.isfinite(hi)) or np.any(lo > hi):
        raise Unsupported(f"a fake-quantization range [{lo}, {hi}] that is not a finite range")
    return lo, hi


def _emit_fake_quant(ctx: LowerCtx, node: Node, lo: float, hi: float, bits: int, narrow: bool) -> None:
    x = node.inputs[0]
    if x.dtype != "float32":
        raise Unsupported(f"fake quantization of a {x.dtype} tensor")
    if not 2 <= bits <= 16:
        raise Unsupported(f"num_bits={bits} (LiteRT's FAKE_QUANT takes 2 to 16 bits)")
    if x.is_const:  # a weight: its fake-quantized value, computed now
        node.forward(0, ctx.const(fake_quantize(np.asarray(x.data), lo, hi, bits, narrow), node.name))
        return
    if narrow:
        # LiteRT's FAKE_QUANT kernel refuses narrow_range: the same levels are a clamp to the lowest one, then
        # the full-range FAKE_QUANT whose range starts one step below (quantize.qat reads the pair back)
        nlo, nhi, step = (float(v) for v in nudge(lo, hi, bits, True))
        clamped = ctx.tensor(node.name + "/narrow_range", "float32", x.shape)
        ctx.emit("MAXIMUM", [x, ctx.const(np.float32(nlo), node.name + "/lowest_level")], clamped)
        x, lo, hi = clamped, nlo - step, nhi
    ctx.emit("FAKE_QUANT", [x], node.out(), min=float(lo), max=float(hi), num_bits=bits, narrow_range=False)


@register("FakeQuantWithMinMaxArgs")
def fake_quant_args(ctx: LowerCtx, node: Node) -> None:
    """FakeQuantWithMinMaxArgs(x; min, max, num_bits, narrow_range) -> FAKE_QUANT."""
    lo, hi = float(node.attr("min", -6.0)), float(node.attr("max", 6.0))
    if not lo < hi:
        raise Unsupported(f"min {lo} not below max {hi}")
    _emit_fake_quant(ctx, node, lo, hi, int(node.attr("num_bits", 8)), bool(node.attr("narrow_range", False)))


@register("FakeQuantWithMinMaxVars")
def fake_quant_vars(ctx: LowerCtx, node: Node) -> None:
    """FakeQuantWithMinMaxVars(x, min, max) with trained (constant) min and max -> FAKE_QUANT."""
    lo, hi = _range_inputs(node, 1, 2)
    _emit_fake_quant(ctx, node, float(lo.reshape(-1)[0]), float(hi.reshape(-1)[0]), int(node.attr("num_bits", 8)),
                     bool(node.attr("narrow_range", False)))


@register("FakeQuantWithMinMaxVarsPerChannel")
def fake_quant_per_channel(ctx: LowerCtx, node: Node) -> None:
    """Per-channel fake quantization (along the last axis) of a weight: folded."""
    x = node.inputs[0]
    lo, hi = _range_inputs(node, 1, 2)
    if not x.is_const:
        raise Unsupported("per-channel fake quantization of an activation (LiteRT quantizes activations per "
                          "tensor)")
    data = np.asarray(x.data, np.float32)
    if data.ndim == 0 or lo.size != data.shape[-1]:
        raise Unsupported(f"{lo.size} channel ranges for a tensor of shape {data.shape}")
    folded = fake_quantize(data, lo, hi, int(node.attr("num_bits", 8)), bool(node.attr("narrow_range", False)),
                           axis=data.ndim - 1)
    node.forward(0, ctx.const(folded, node.name))


def _qdq_symmetric(lo: np.ndarray, hi: np.ndarray, bits: int, signed: bool, narrow: bool,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TensorFlow's QuantizeAndDequantize range adjustment: (min, max, step) of the symmetric grid it uses."""
    qmin = (-(1 << (bits - 1)) + (1 if narrow else 0)) if signed else 0
    qmax = ((1 << (bits - 1)) - 1) if signed else (1 << bits) - 1
    lo, hi = lo.astype(np.float32), hi.astype(np.float32)
    big = np.float32(np.finfo(np.float32).max)
    with np.errstate(divide="ignore", invalid="ignore"):
        from_min = np.where(qmin * lo > 0, np.float32(qmin) / lo, big).astype(np.float32)
        from_max = np.where(qmax * hi > 0, np.float32(qmax) / hi, big).astype(np.float32)
        use_min = from_min < from_max
        step = np.where(use_min, lo / np.float32(qmin if qmin else 1), hi / np.float32(qmax)).astype(np.float32)
    new_lo = np.where(use_min, lo, np.float32(qmin) * step).astype(np.float32)
    new_hi = np.where(use_min, np.float32(qmax) * step, hi).astype(np.float32)
    return new_lo, new_hi, step


@register("QuantizeAndDequantizeV2", "QuantizeAndDequantizeV3", "QuantizeAndDequantizeV4")
def quantize_and_dequantize(ctx: LowerCtx, node: Node) -> None:
    """QuantizeAndDequantizeV2/V3/V4: a weight is folded; an activation with a given range -> FAKE_QUANT over
    the same grid."""
    x = node.inputs[0]
    signed = bool(node.attr("signed_input", True))
    narrow = bool(node.attr("narrow_range", False))
    axis = int(node.attr("axis", -1))
    if node.type == "QuantizeAndDequantizeV3":
        bits = int(np.asarray(node.const_input(3, "num_bits")).reshape(-1)[0])
    else:
        bits = int(node.attr("num_bits", 8))
    round_mode = node.attr("round_mode", "HALF_TO_EVEN")
    if round_mode not in ("HALF_TO_EVEN", "HALF_UP"):
        raise Unsupported(f"round_mode {round_mode}")
    range_given = bool(node.attr("range_given", False))
    if x.is_const:
        data = np.asarray(x.data, np.float32)
        if axis >= 0:
            moved = np.moveaxis(data, axis, -1).reshape(-1, data.shape[axis])
            if range_given:
                lo, hi = _range_inputs(node, 1, 2)
            else:
                lo, hi = moved.min(axis=0), moved.max(axis=0)
        elif range_given:
            lo, hi = _range_inputs(node, 1, 2)
        else:
            lo, hi = np.float32(data.min()), np.float32(data.max())
        new_lo, new_hi, step = _qdq_symmetric(np.asarray(lo), np.asarray(hi), bits, signed, narrow)
        if axis >= 0:
            shape = [1] * data.ndim
            shape[axis] = -1
            new_lo, new_hi, step = (a.reshape(shape) for a in (new_lo, new_hi, step))
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(step > 0, np.float32(1.0) / step, np.float32(0.0)).astype(np.float32)
        scaled = np.clip(data, new_lo, new_hi) * scale
        rounded = np.round(scaled) if round_mode == "HALF_TO_EVEN" else np.floor(scaled + np.float32(0.5))
        out = (rounded * step).astype(np.float32)
        node.forward(0, ctx.const(out, node.name))
        return
    if axis >= 0:
        raise Unsupported("per-channel quantize-and-dequantize of an activation (LiteRT quantizes activations "
                          "per tensor)")
    if not range_given:
        raise Unsupported("quantize-and-dequantize of an activation whose range is computed at run time "
                          "(range_given=false): there is no trained range to quantize with")
    lo, hi = _range_inputs(node, 1, 2)
    new_lo, new_hi, step = _qdq_symmetric(lo.reshape(-1)[:1], hi.reshape(-1)[:1], bits, signed, narrow)
    if not step[0] > 0:
        raise Unsupported(f"an empty quantization range [{lo}, {hi}]")
    # The same levels as a FAKE_QUANT over [new_lo, new_hi] with 2**bits levels (narrow: one less); FAKE_QUANT
    # rounds halves up where HALF_TO_EVEN rounds them to even: values exactly between two levels only.
    _emit_fake_quant(ctx, node, float(new_lo[0]), float(new_hi[0]), bits, signed and narrow)
