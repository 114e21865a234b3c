"""Fusion passes: per-channel scales and biases into weights, activations into their producers."""

from __future__ import annotations

import numpy as np

from ..ir import Model, Op, Tensor, const
from ..tflite.ops import DECLS
from . import PassContext, only_reader, register_pass

_WEIGHTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")
# Which slot holds weights and bias, and which weight axis is the output channel.
_SLOTS = {
    "CONV_2D": (1, 2, 0),
    "DEPTHWISE_CONV_2D": (1, 2, 3),
    "FULLY_CONNECTED": (1, 2, 0),
    "TRANSPOSE_CONV": (1, 3, 0),
}
_ACTIVATIONS = {"RELU": "RELU", "RELU6": "RELU6", "RELU_N1_TO_1": "RELU_N1_TO_1"}



def _channel_vector(c: Tensor | None, channels: int) -> np.ndarray | None:
    """The per-output-channel vector a constant broadcasts as, or None if it is not one."""
    if c is None or not c.is_const or c.dtype != "float32" or c.size not in (1, channels):
        return None
    d = c.data
    if d.size == 1:
        return np.full(channels, d.reshape(-1)[0], dtype=np.float32)
    if d.ndim >= 1 and d.shape[-1] == channels and d.size == channels:
        return d.reshape(-1).astype(np.float32)
    return None


def _out_channels(op: Op) -> int | None:
    shape = op.outputs[0].shape
    if not shape or shape[-1] < 0:
        return None
    return shape[-1]


def _const_operand(op: Op, x: Tensor) -> tuple[Tensor | None, int]:
    a, b = op.inputs[0], op.inputs[1]
    if a is x and b is not None and b.is_const:
        return b, 1
    if b is x and a is not None and a.is_const:
        return a, 0
    return None, -1


def _fusable(op: Op) -> bool:
    return op.kind in _WEIGHTED and op.attrs.get("fused_activation_function", "NONE") == "NONE" \
        and op.outputs[0].dtype == "float32"


@register_pass
def fold_mul_into_weights(model: Model, ctx: PassContext) -> bool:
    """CONV/DEPTHWISE/FC followed by a multiply (or divide) by a per-channel constant: scale the weights.

    This folds the scale half of an inference BatchNormalization into the preceding layer.
    """
    changed = False
    for sg in model.subgraphs:
        users = sg.consumers()
        for op in list(sg.ops):
            if not _fusable(op):  # TRANSPOSE_CONV too: its filter is O,H,W,I (tests/frontends/tensorflow/test_ops.py)
                continue
            nxt = only_reader(sg, users, op.outputs[0])
            if nxt is None or nxt.kind not in ("MUL", "DIV") or nxt.attrs.get("fused_activation_function",
                                                                             "NONE") != "NONE":
                continue
            c, slot = _const_operand(nxt, op.outputs[0])
            channels = _out_channels(op)
            if channels is None or (nxt.kind == "DIV" and slot != 1):
                continue
            if nxt.outputs[0].shape != op.outputs[0].shape:
                continue  # the constant broadcasts the result to a bigger shape
            scale = _channel_vector(c, channels)
            w_slot, b_slot, axis = _SLOTS[op.kind]
            w = op.inputs[w_slot]
            if scale is None or w is None or not w.is_const or w.dtype != "float32" or w.shape is None:
                continue
            if nxt.kind == "DIV":
                scale = (1.0 / scale).astype(np.float32)
            b = op.inputs[b_slot] if b_slot < len(op.inputs) else None
            if w.shape[axis] != channels or (b is not None and not b.is_const):
                continue  # (a bias computed at run time cannot take the scale: nothing is changed)
            if w.is_lazy:  # a weight not read yet stays so: the writer applies the scale as it streams it
                assert w.lazy is not None
                op.inputs[w_slot] = Tensor(w.name, w.dtype, w.shape, lazy=w.lazy.scaled(scale, axis),
                                           source=w.source)
            else:
                bshape = [1] * len(w.shape)
                bshape[axis] = channels
                op.inputs[w_slot] = const(w.name, (w.data * scale.reshape(bshape)).astype(np.float32))
            if b is not None:
                op.inputs[b_slot] = const(b.name, (b.data * scale).astype(np.float32))
            op.outputs = [nxt.outputs[0]]
            sg.ops.remove(nxt)
            users = sg.consumers()
            changed = True
    return changed


@register_pass
def fuse_bias(model: Model, ctx: PassContext) -> bool:
    """CONV/DEPTHWISE/FC/TRANSPOSE_CONV followed by adding (or subtracting) a per-channel constant: a bias."""
    changed = False
    for sg in model.subgraphs:
        users = sg.consumers()
        for op in list(sg.ops):
            if not _fusable(op):
                continue
            nxt = only_reader(sg, users, op.outputs[0])
            if nxt is None or nxt.kind not in ("ADD", "SUB"):
                continue
            if nxt.attrs.get("fused_activation_function", "NONE") != "NONE":
                act = nxt.attrs["fused_activation_function"]
            else:
                act = "NONE"
            c, slot = _const_operand(nxt, op.outputs[0])
            channels = _out_channels(op)
            if channels is None or (nxt.kind == "SUB" and slot != 1):
                continue
            if nxt.outputs[0].shape != op.outputs[0].shape:
                continue
            vec = _channel_vector(c, channels)
            if vec is None:
                continue
            if nxt.kind == "SUB":
                vec = -vec
            _, b_slot, _ = _SLOTS[op.kind]
            while len(op.inputs) <= b_slot:
                op.inputs.append(None)
            b = op.inputs[b_slot]
            if b is not None and b.data is None:
                continue
            base = b.data if b is not None else np.zeros(channels, np.float32)
            name = (b.name if b is not None else op.outputs[0].name + "/bias")
            op.inputs[b_slot] = const(name, (base + vec).astype(np.float32))
            if act != "NONE":
                op.attrs["fused_activation_function"] = act
            op.outputs = [nxt.outputs[0]]
            sg.ops.remove(nxt)
            users = sg.consumers()
            changed = True
    return changed


@register_pass
def fuse_activation(model: Model, ctx: PassContext) -> bool:
    """An op followed only by RELU, RELU6 or RELU_N1_TO_1: set its fused activation and drop the activation."""
    changed = False
    for sg in model.subgraphs:
        users = sg.consumers()
        for op in list(sg.ops):
            d = DECLS.get(op.kind)
            if d is None or not d.fused_activation:  # the kernel applies it (CONCATENATION's option does not)
                continue
            if op.attrs.get("fused_activation_function", "NONE") != "NONE" or op.outputs[0].dtype != "float32":
                continue
            nxt = only_reader(sg, users, op.outputs[0])
            if nxt is None or nxt.kind not in _ACTIVATIONS:
                continue
            op.attrs["fused_activation_function"] = _ACTIVATIONS[nxt.kind]
            op.outputs = [nxt.outputs[0]]
            sg.ops.remove(nxt)
            users = sg.consumers()
            changed = True
    return changed
