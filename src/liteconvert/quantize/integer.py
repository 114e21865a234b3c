"""Full integer quantization: int8 (or, for 16x8, int16) activations, int8 weights per channel, integer biases.

The pass works on the float model after calibration (``PassContext.stats``: a range per tensor uid, from
``calibrate`` or from the ranges a quantization-aware-trained model carries, ``Tensor.range_hint``):

1. an op is *quantized* when its declaration has an integer kernel for the activation type
   (``OpDecl.quant``), every float tensor it reads or writes has a range, and the user did not keep it float;
2. every tensor a quantized op touches gets parameters, in graph order: the fixed ones the kernel requires
   (SOFTMAX, LOGISTIC, TANH, ...), its input's for an op that moves values without rescaling them (RESHAPE,
   MAX_POOL_2D, ...: ``same_scale``), else its calibrated range;
3. the rewrite: weights int8 per channel, biases int32 (int64 in 16x8) with scale input x weight, other float
   constants on their own range; a tensor crossing between float and integer ops gets a QUANTIZE or DEQUANTIZE;
   the inputs of a same-scale op with several inputs (CONCATENATION) are requantized to the output's
   parameters where they differ;
4. the interface: float by default (QUANTIZE after each input, DEQUANTIZE before each output), or the
   ``inference_input_type`` / ``inference_output_type`` integer type.

Ops with no integer kernel stay float between a DEQUANTIZE and a QUANTIZE, and are listed in the log; with
``TFLITE_BUILTINS_INT8`` (``ConversionConfig.integer_only``) they are an error naming them instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidOptionError, OpProblem, UnsupportedOpsError
from ..ir import Model, Op, QuantParams, Signature, Subgraph, Tensor, unique_name
from ..passes import PassContext, register_pass
from ..tflite.ops import DECLS
from . import params
from .dynamic import keep_float, named

INT8, INT16X8 = "int8", "int16x8"
_BIAS_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")


@dataclass
class _State:
    sg: Subgraph
    act: str  # activation dtype: int8 | int16
    stats: dict[int, tuple[float, float]]
    names: set[str]
    qparams: dict[int, QuantParams]  # tensor uid -> parameters of its integer form
    qform: dict[int, Tensor]  # float tensor uid -> its integer counterpart (QUANTIZE output), where made
    fform: dict[int, Tensor]  # integer tensor uid -> its float counterpart (DEQUANTIZE output), where made
    trained: bool = False  # a quantization-aware-trained model: weights on a trained grid stay on it


def _range(t: Tensor, stats: dict[int, tuple[float, float]]) -> tuple[float, float] | None:
    if t.uid in stats:
        return stats[t.uid]
    hint = getattr(t, "range_hint", None)
    return hint if hint is not None else None


def _is_act(t: Tensor | None) -> bool:
    return t is not None and not t.is_const and t.dtype == "float32"


def _quantizable(op: Op, st: _State, ctx: PassContext, outputs: set[int]) -> str | None:
    """Why ``op`` stays float (None: it is quantized). ``outputs``: uids of the signature's outputs."""
    why = kernel_reason(op, st.act, ctx.config, outputs, keep_float(op, ctx))
    if why is not None:
        return why
    d = DECLS[op.kind]
    assert d.quant is not None
    fixed = st.act in d.quant.fixed_output  # the kernel sets the output's parameters: no range needed there
    for t in [*op.inputs, *([] if fixed else op.outputs)]:
        if _is_act(t) and _range(t, st.stats) is None:  # type: ignore[arg-type]
            return f"no range for tensor {t.name}"  # type: ignore[union-attr]
    if op.kind in _COMPARISONS:
        for t in op.inputs:
            r = _range(t, st.stats) if _is_act(t) else _const_range(t)
            if r is not None and params.activation_params(r[0], r[1], st.act).scale[0] >= 1.0:
                return (f"input {t.name} spans {r[1] - r[0]:.4g} (a scale of 1 or more), which LiteRT's integer "  # type: ignore[union-attr]
                        "comparisons cannot take")
    return None


# LiteRT's integer comparisons rescale their inputs with multipliers that must be under 1: an input scale of 1 or
# more aborts the process (QuantizeMultiplierSmallerThanOneExp)
_COMPARISONS = ("LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "EQUAL", "NOT_EQUAL")


def _const_range(t: Tensor | None) -> tuple[float, float] | None:
    if t is None or not t.is_const or t.dtype != "float32" or t.data is None:
        return None
    v = np.asarray(t.data, np.float32)
    return (float(v.min()), float(v.max())) if v.size else None


FINAL_ACTIVATION = "a final activation with a float output (its integer kernel's fixed output step costs accuracy)"


def kernel_reason(op: Op, act: str, config: Any, outputs: set[int], kept: bool = False) -> str | None:
    """Why ``op`` stays float whatever the calibration data (None: it has an integer form with ``act``
    activations). ``outputs``: uids of the signature's outputs; ``kept``: keep_float names it."""
    d = DECLS.get(op.kind)
    q = d.quant if d is not None else None
    if q is None or op.subgraphs:
        return "no integer kernel"
    if (q.fixed_output and config.float_final_activation and not config.integer_only
            and config.inference_output_type == "float32" and op.outputs
            and all(t.uid in outputs for t in op.outputs)):
        return FINAL_ACTIVATION
    if (act == "int16" and not q.int16) or (act == "int8" and not q.int8):
        return f"no {act} kernel"
    if kept:
        return "kept float (keep_float)"
    if not any(_is_act(t) for t in op.outputs) and not any(_is_act(t) for t in op.inputs):
        return "not a float op"
    for t in op.inputs:
        if t is not None and not t.is_const and t.dtype not in ("float32", "int32", "int64", "bool"):
            return f"a {t.dtype} tensor"
    if q.weights is not None:
        w = op.inputs[q.weights] if q.weights < len(op.inputs) else None
        if w is None or not w.is_const or w.dtype != "float32":
            return "weights computed at run time"
    return None


def integer_plan(model: Model, config: Any) -> list[tuple[Op, str | None]]:
    """Each float op of the model under full integer quantization (``config.mode`` int8 or 16x8), with why it
    would stay float (None: it becomes integer), judged without calibration data. Ops of control-flow subgraphs
    stay float (the quantizer makes the signatures' subgraphs integer)."""
    act = "int16" if config.mode == INT16X8 else "int8"
    main = {id(sig.subgraph) for sig in model.signatures}
    outputs = {t.uid for sig in model.signatures for t in sig.outputs.values()}
    names = set(config.keep_float or ())
    plan: list[tuple[Op, str | None]] = []
    for sg in model.subgraphs:
        for op in sg.ops:
            why = kernel_reason(op, act, config, outputs, named(op, names)) if id(sg) in main else \
                "inside a control-flow subgraph (IF / WHILE branches stay float)"
            if why != "not a float op":
                plan.append((op, why))
    return plan


def _params_for(t: Tensor, st: _State) -> QuantParams:
    if t.uid not in st.qparams:
        st.qparams[t.uid] = _params_of_range(_range(t, st.stats), st.act)  # type: ignore[arg-type]
    return st.qparams[t.uid]


def _params_of_range(r: tuple, act: str) -> QuantParams:
    """A range is (lo, hi), or (lo, hi, narrow) for a trained range whose lowest level training never used."""
    return params.activation_params(r[0], r[1], act, narrow=len(r) > 2 and bool(r[2]))


def _propagate_ranges(sg: Subgraph, stats: dict[int, tuple]) -> None:
    """An op that moves values without rescaling them (RESHAPE, MAX_POOL_2D, ...) gives its output its input's
    range where the output has none: a quantization-aware-trained graph has ranges only where training put fake
    quantization, not after every reshape."""
    for op in sg.ops:
        q = DECLS[op.kind].quant if op.kind in DECLS else None
        if q is None or not q.same_scale:
            continue
        data = [t for t in op.inputs if _is_act(t)]
        if len(data) != 1 or data[0].uid not in stats:  # type: ignore[union-attr]
            continue
        for out in op.outputs:
            if _is_act(out) and _range(out, stats) is None:
                stats[out.uid] = stats[data[0].uid]  # type: ignore[union-attr]


# |input| beyond which an integer LOGISTIC / TANH output no longer changes (it is within half an output step of
# its limit: LOGISTIC's int8 step is 1/256, so sigmoid(-6.24) is already below half a step; TANH's int8 step is
# 1/128, tanh(3.12) within half a step of 1), with a margin.
_SATURATES = {("LOGISTIC", "int8"): 6.5, ("LOGISTIC", "int16"): 11.5, ("TANH", "int8"): 3.5, ("TANH", "int16"): 6.0}


def _clip_saturated_inputs(sg: Subgraph, st: _State, reasons: dict[int, str | None]) -> None:
    """A tensor that only quantized LOGISTIC / TANH ops read gets its range clipped to where their outputs still
    change: calibration often sees logits far out in the flat part (-789 on a segmentation model's random
    input), and a grid stretched over them leaves the few steps near 0, where the output moves, too coarse."""
    readers: dict[int, list[Op]] = {}
    for op in sg.ops:
        for t in op.inputs:
            if t is not None:
                readers.setdefault(t.uid, []).append(op)
    outputs = {t.uid for t in sg.outputs}
    for op in sg.ops:
        limit = _SATURATES.get((op.kind, st.act))
        t = op.inputs[0] if op.inputs else None
        if limit is None or reasons[id(op)] is not None or t is None or t.uid in outputs or t.uid not in st.stats:
            continue
        if not all(r.kind in ("LOGISTIC", "TANH") and reasons[id(r)] is None for r in readers.get(t.uid, [])):
            continue
        lo, hi = st.stats[t.uid][:2]
        st.stats[t.uid] = (max(lo, -limit), min(hi, limit))


def _assign(op: Op, st: _State) -> None:
    """Parameters of the op's float outputs (its inputs got theirs from their producers or at the boundary)."""
    q = DECLS[op.kind].quant
    assert q is not None
    data_inputs = [t for t in op.inputs if _is_act(t)]
    for t in data_inputs:
        _params_for(t, st)  # type: ignore[arg-type]
    for out in op.outputs:
        if not _is_act(out) or out.uid in st.qparams:
            continue
        if st.act in q.fixed_output:
            scale, zero = q.fixed_output[st.act]
            st.qparams[out.uid] = params.fixed(scale, zero)
        elif q.same_scale and len(data_inputs) == 1:
            st.qparams[out.uid] = st.qparams[data_inputs[0].uid]  # type: ignore[union-attr]
        else:
            _params_for(out, st)


def _share(sg: Subgraph, st: _State, reasons: dict[int, str | None]) -> None:
    """Tensors a same-scale op ties together (a CONCATENATION's inputs and output, a MAX_POOL_2D's input and
    output, ...) get one set of parameters, from the union of their ranges, so that no requantization is needed
    (what Google's converter does too). Outputs with parameters fixed by their kernel stay out of the groups."""
    fixed_outputs = {t.uid for op in sg.ops if reasons[id(op)] is None and st.act in DECLS[op.kind].quant.fixed_output
                     for t in op.outputs}  # type: ignore[union-attr]
    parent: dict[int, int] = {}

    def find(u: int) -> int:
        while parent.get(u, u) != u:
            parent[u] = parent.get(parent[u], parent[u])
            u = parent[u]
        return u

    members: dict[int, Tensor] = {}
    for op in sg.ops:
        q = DECLS[op.kind].quant if op.kind in DECLS else None
        if reasons[id(op)] is not None or q is None or not q.same_scale:
            continue
        tied = [t for t in (*op.inputs, *op.outputs) if _is_act(t) and t.uid not in fixed_outputs]  # type: ignore
        for t in tied:
            members[t.uid] = t  # type: ignore[union-attr]
        for t in tied[1:]:
            a, b = find(tied[0].uid), find(t.uid)  # type: ignore[union-attr]
            if a != b:
                parent[b] = a
    groups: dict[int, list[Tensor]] = {}
    for uid, t in members.items():
        groups.setdefault(find(uid), []).append(t)
    for group in groups.values():
        ranges = [_range(t, st.stats) for t in group]
        if any(r is None for r in ranges):
            continue
        lo = min(r[0] for r in ranges)  # type: ignore[index]
        hi = max(r[1] for r in ranges)  # type: ignore[index]
        narrow = all(len(r) > 2 and r[2] for r in ranges)  # type: ignore[arg-type]
        shared = _params_of_range((lo, hi, narrow), st.act)
        for t in group:
            st.qparams[t.uid] = shared


def _const_params(t: Tensor, st: _State) -> QuantParams:
    v = np.asarray(t.data, np.float32)
    return params.activation_params(float(v.min()) if v.size else 0.0, float(v.max()) if v.size else 0.0, st.act)


def _new(st: _State, base: str, dtype: str, shape: tuple[int, ...] | None, quant: QuantParams | None,
         source: str | None) -> Tensor:
    return Tensor(unique_name(st.names, base), dtype, shape, quant=quant, source=source)


def _integer_input(t: Tensor, st: _State, new_ops: list[Op], want: QuantParams | None = None) -> Tensor:
    """``t`` as a quantized op reads it: its integer form, requantized to ``want`` when given."""
    if t.dtype == st.act and t.quant is not None:  # produced by a quantized op
        src = t
    elif t.uid in st.qform:
        src = st.qform[t.uid]
    else:  # a float tensor: QUANTIZE it (graph input, or an op that stayed float)
        q = _params_for(t, st)
        src = _new(st, t.name + "/quantized", st.act, t.shape, q, t.source)
        new_ops.append(Op("QUANTIZE", [t], [src], source=t.source))
        st.qform[t.uid] = src
    if want is not None and not _same(src.quant, want):
        out = _new(st, src.name + "/requantized", st.act, src.shape, want, src.source)
        new_ops.append(Op("QUANTIZE", [src], [out], source=src.source))
        return out
    return src


def _same(a: QuantParams | None, b: QuantParams | None) -> bool:
    return a is not None and b is not None and np.array_equal(a.scale, b.scale) and \
        np.array_equal(a.zero_point, b.zero_point)


def _float_input(t: Tensor, st: _State, new_ops: list[Op]) -> Tensor:
    """``t`` as a float op reads it: itself, or a DEQUANTIZE of its integer form."""
    if not (t.quant is not None and t.dtype == st.act and not t.is_const):
        return t
    if t.uid not in st.fform:
        out = _new(st, t.name + "/dequantized", "float32", t.shape, None, t.source)
        new_ops.append(Op("DEQUANTIZE", [t], [out], source=t.source))
        st.fform[t.uid] = out
    return st.fform[t.uid]


def _rewrite_quantized(op: Op, st: _State, new_ops: list[Op]) -> None:
    d = DECLS[op.kind]
    q = d.quant
    assert q is not None
    out_params = [st.qparams.get(t.uid) for t in op.outputs]
    same_many = q.same_scale and sum(1 for t in op.inputs if t is not None and (
        _is_act(t) or (t.quant is not None and t.dtype == st.act) or (t.is_const and t.dtype == "float32"))) > 1
    want = out_params[0] if same_many else None
    inputs = list(op.inputs)
    in_scale = None
    for i, t in enumerate(inputs):
        if t is None:
            continue
        if i == q.weights:
            continue  # below, once the input scale is known
        if i == q.bias and op.kind in _BIAS_OPS:
            continue
        if _is_act(t) or (t.quant is not None and t.dtype == st.act):
            inputs[i] = _integer_input(t, st, new_ops, want)
        elif t.is_const and t.dtype == "float32":
            cq = want if want is not None else _const_params(t, st)
            inputs[i] = Tensor(unique_name(st.names, t.name + "/quantized"), st.act, t.shape,
                               data=params.quantize(np.asarray(t.data, np.float32), cq, st.act), quant=cq,
                               source=t.source)
        if i == 0 or (op.kind == "TRANSPOSE_CONV" and i == 2):
            in_scale = float(np.asarray(inputs[i].quant.scale).reshape(-1)[0]) if inputs[i].quant is not None \
                else None  # type: ignore[union-attr]
    if q.weights is not None:
        w = op.inputs[q.weights]
        assert w is not None and in_scale is not None
        b = op.inputs[q.bias] if q.bias is not None and q.bias < len(op.inputs) else None
        bias_dtype = "int64" if st.act == "int16" else "int32"
        floor = params.bias_floor(b.data if b is not None and b.is_const else None, in_scale, bias_dtype)
        wq = params.weight_params(w.data, q.weight_axis, floor)
        step = params.trained_step(w.data) if st.trained else None
        if step is not None and (floor is None or step >= float(np.max(floor))):
            # quantization-aware-trained weights on one per-tensor grid: kept on it, exactly
            channels = None if op.kind == "FULLY_CONNECTED" else int(np.asarray(w.data).shape[q.weight_axis])
            wq = params.per_tensor_weight_params(step, channels, q.weight_axis)
        inputs[q.weights] = Tensor(unique_name(st.names, w.name + "/quantized"), "int8", w.shape,
                                   data=params.quantize_weights(w.data, wq), quant=wq, source=w.source)
        if b is not None and b.is_const and op.kind in _BIAS_OPS:
            bq = params.bias_params(in_scale, wq)
            bias = np.asarray(b.data, np.float32)
            inputs[q.bias] = Tensor(unique_name(st.names, b.name + "/quantized"), bias_dtype, b.shape,
                                    data=params.quantize(bias, bq, bias_dtype), quant=bq,
                                    source=b.source)
    op.inputs = inputs
    for t, p in zip(op.outputs, out_params, strict=True):
        if p is not None and _is_act(t):
            t.dtype, t.quant = st.act, p
    if st.act == "int16" and op.kind in ("ADD", "SUB"):
        op.attrs["pot_scale_int16"] = False  # general scales (the power-of-two kernel is the default)


def _interface(sig: Signature, sg: Subgraph, st: _State, in_type: str, out_type: str) -> list[Op]:
    """Integer interface types: inputs and outputs of the signature as ``in_type`` / ``out_type``."""
    head: list[Op] = []
    for name, t in list(sig.inputs.items()):
        if in_type == "float32" or t.dtype != "float32":
            continue
        if t.uid not in st.qform:
            continue  # nothing quantized reads it: it stays float
        q = st.qform[t.uid]  # the QUANTIZE output the quantized ops read
        producer = next(op for op in sg.ops if q in op.outputs)
        if in_type == st.act:
            # the input itself is integer: the QUANTIZE goes, its output becomes the input
            sg.ops.remove(producer)
            float_readers = any(t in op.inputs for op in sg.ops)
            sg.inputs[sg.inputs.index(t)] = q
            sig.inputs[name] = q
            if float_readers:  # float ops still read it: from a DEQUANTIZE of the integer input
                back = _new(st, t.name + "/float", "float32", t.shape, None, t.source)
                head.append(Op("DEQUANTIZE", [q], [back], source=t.source))
                sg.replace_uses(t, back)
        else:  # uint8 -> int8: the input is uint8, a QUANTIZE requantizes it
            p = q.quant
            assert p is not None
            u = _new(st, t.name + "/uint8", "uint8", t.shape,
                     QuantParams(p.scale, p.zero_point + 128), t.source)
            producer.inputs = [u]
            sg.inputs[sg.inputs.index(t)] = u
            sig.inputs[name] = u
    for name, t in list(sig.outputs.items()):
        src = next((op for op in sg.ops if t in op.outputs), None)
        if out_type == "float32" or t.dtype != "float32":
            continue
        if src is None or src.kind != "DEQUANTIZE":  # a float op makes it: QUANTIZE its result
            if _range(t, st.stats) is None:
                raise UnsupportedOpsError([OpProblem(
                    src.kind if src is not None else "output", t.source or t.name,
                    f"output {name!r} is computed in float and has no range to make it {out_type}",
                    status="limited", limitation="quantization")])
            q = _params_for(t, st)
            new_out = _new(st, t.name + f"/{out_type}", out_type, t.shape,
                           QuantParams(q.scale, q.zero_point + (128 if out_type == "uint8" else 0)), t.source)
            sg.ops.append(Op("QUANTIZE", [t], [new_out], source=t.source))
            sg.outputs[sg.outputs.index(t)] = new_out
            sig.outputs[name] = new_out
            continue
        qt = src.inputs[0]
        assert qt is not None and qt.quant is not None
        if out_type == st.act and qt not in sg.inputs:
            # the output is the integer tensor itself; its DEQUANTIZE goes unless float ops read it
            if not any(t in op.inputs for op in sg.ops):
                sg.ops.remove(src)
            new_out = qt
        else:  # uint8 (or an input passed straight through): a QUANTIZE to the output type
            new_out = _new(st, t.name + f"/{out_type}", out_type,
                           t.shape, QuantParams(qt.quant.scale, qt.quant.zero_point + (128 if out_type == "uint8"
                                                                                       else 0)), t.source)
            sg.ops.append(Op("QUANTIZE", [qt], [new_out], source=t.source))
        sg.outputs[sg.outputs.index(t)] = new_out
        sig.outputs[name] = new_out
    return head


def _keep_interface_names(sg: Subgraph, inputs: list[str], outputs: list[str], names: set[str]) -> None:
    """The subgraph's inputs and outputs keep the names the float model gave them (as Google's converter keeps
    them), whatever QUANTIZE / DEQUANTIZE now stands at the interface: a tensor inside that had the name is
    renamed ``NAME/<dtype>`` (the quantization report maps it back)."""
    by_name = {t.name: t for t in sg.tensors()}
    for tensors, wanted in ((sg.inputs, inputs), (sg.outputs, outputs)):
        for t, name in zip(tensors, wanted, strict=True):
            if t.name == name:
                continue
            inner = by_name.get(name)
            if inner is not None and inner is not t:
                inner.name = unique_name(names, f"{name}/{inner.dtype}")
                by_name[inner.name] = inner
            by_name.pop(t.name, None)
            t.name = name
            by_name[name] = t
            names.add(name)


@register_pass
def quantize_activations(model: Model, ctx: PassContext) -> bool:
    """Full integer quantization of every signature's subgraph (int8, or int16 activations for 16x8) from the
    calibrated ranges in ``ctx.stats`` (see the module docstring)."""
    mode = ctx.config.mode
    if mode not in (INT8, INT16X8) or ctx.stats.get("quantized"):
        return False
    act = "int16" if mode == INT16X8 else "int8"
    ranges = ctx.stats.get("ranges", {})
    names = {t.name for sg in model.subgraphs for t in sg.tensors()}
    problems: list[OpProblem] = []
    done: set[int] = set()
    for sig in model.signatures:
        sg = sig.subgraph
        if id(sg) in done:
            continue
        done.add(id(sg))
        _propagate_ranges(sg, ranges)
        st = _State(sg, act, ranges, names, {}, {}, {}, trained=bool(ctx.stats.get("quantization_aware")))
        outputs = {t.uid for t in sig.outputs.values()}
        reasons = {id(op): _quantizable(op, st, ctx, outputs) for op in sg.ops}
        if not st.trained:
            _clip_saturated_inputs(sg, st, reasons)
        _share(sg, st, reasons)
        for op in sg.ops:
            if reasons[id(op)] is None:
                _assign(op, st)
        new: list[Op] = []
        for op in sg.ops:
            pre: list[Op] = []
            if reasons[id(op)] is None:
                _rewrite_quantized(op, st, pre)
            else:
                op.inputs = [_float_input(t, st, pre) if t is not None else None for t in op.inputs]
                if reasons[id(op)] not in ("not a float op",):
                    ctx.note(f"quantize: {op.kind} ({op.source}) stays float: {reasons[id(op)]}")
                    if ctx.config.integer_only and reasons[id(op)] == "kept float (keep_float)":
                        raise InvalidOptionError(
                            f"keep_float keeps {op.kind} ({op.source}) float, but the op sets ask for integer ops "
                            "only. Fix: drop that name from keep_float, or add OpsSet.TFLITE_BUILTINS to "
                            "target_spec.supported_ops (command line: drop --integer-only)")
                    if ctx.config.integer_only:
                        problems.append(OpProblem(op.kind, op.source or op.kind, f"no {act} form: "
                                                  f"{reasons[id(op)]}", status="limited", limitation="quantization"))
            new.extend(pre)
            new.append(op)
        interface_names = [t.name for t in sg.inputs], [t.name for t in sg.outputs]
        tail: list[Op] = []
        old = list(sg.outputs)
        sg.outputs = [_float_input(t, st, tail) for t in sg.outputs]
        moved = {o.uid: n for o, n in zip(old, sg.outputs, strict=True)}
        sg.ops = new + tail
        for other in model.signatures:
            if other.subgraph is sg:
                other.outputs = {k: moved.get(t.uid, t) for k, t in other.outputs.items()}
        head = _interface(sig, sg, st, ctx.config.inference_input_type, ctx.config.inference_output_type)
        sg.ops[:0] = head
        _keep_interface_names(sg, *interface_names, names)
        for other in model.signatures:  # signatures sharing this subgraph see the same interface
            if other is not sig and other.subgraph is sg:
                other.inputs = dict(zip(other.inputs, sig.inputs.values(), strict=True))
                other.outputs = dict(zip(other.outputs, sig.outputs.values(), strict=True))
    if problems:
        raise UnsupportedOpsError(problems)
    ctx.stats["quantized"] = True
    return True
