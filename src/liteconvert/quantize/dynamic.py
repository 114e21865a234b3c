"""Dynamic range quantization: int8 weights, float activations, LiteRT's hybrid kernels."""

from __future__ import annotations

from collections.abc import Iterable

from ..ir import Model, Tensor
from ..passes import PassContext, register_pass
from ..tflite.ops import DECLS
from . import params

# The weighted ops LiteRT has hybrid kernels for (float input, int8 per-channel weights, float output).
HYBRID = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")


def keep_float(op: object, ctx: PassContext) -> bool:
    """The user asked to leave this op in float: named by its source node, a layer of it (a path component),
    or one of its output tensors (as the quantization report names them)."""
    return bool(ctx.keep_float) and named(op, ctx.keep_float)


def named(op: object, names: Iterable[str]) -> bool:
    """One of ``names`` is ``op``'s source node, a layer of it (a path component) or one of its output tensors."""
    source = getattr(op, "source", None) or ""
    outputs = {t.name for t in getattr(op, "outputs", [])}
    return any(k == source or k in outputs or source.startswith(k + "/") or f"/{k}/" in f"/{source}/"
               for k in names)


@register_pass
def quantize_weights_dynamic(model: Model, ctx: PassContext) -> bool:
    """Dynamic range: the weights of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and TRANSPOSE_CONV become int8,
    per output channel (symmetric); activations stay float and LiteRT's hybrid kernels quantize them on the fly.
    Weights with fewer than ``ConversionConfig.dynamic_min_elements`` (1024) elements stay float, as in Google's
    converter."""
    done: dict[int, Tensor] = {}
    changed = False
    minimum = ctx.config.dynamic_min_elements
    for _, op in model.all_ops():
        if op.kind not in HYBRID or keep_float(op, ctx):
            continue
        spec = DECLS[op.kind].quant
        assert spec is not None and spec.weights is not None
        w = op.inputs[spec.weights]
        if w is None or not w.is_const or w.dtype != "float32" or w.quant is not None or w.size < minimum:
            continue
        if op.inputs[0] is not None and op.inputs[0].dtype != "float32" and op.kind != "TRANSPOSE_CONV":
            continue
        if w.uid not in done:
            q = params.weight_params(w.data, spec.weight_axis)
            done[w.uid] = Tensor(w.name, "int8", w.shape, data=params.quantize_weights(w.data, q), quant=q,
                                 source=w.source)
        op.inputs[spec.weights] = done[w.uid]
        if op.kind == "FULLY_CONNECTED":
            op.attrs["asymmetric_quantize_inputs"] = True  # per-row input scales: what Google's hybrid FC uses
        changed = True
    if changed:
        ctx.note(f"quantize_weights_dynamic: {len(done)} weight tensor(s) to int8 per channel")
    return changed
