"""An audit of the quantization declarations against LiteRT's real integer kernels.

For every op kind whose declaration (``DECLS[K].quant``) claims an int8 kernel, and separately every one that
claims an int16 (16x8) kernel: a one-op float32 model exercising K (realistic options, constant operands where
the op takes them; ``K[variant]`` cases add the other forms K commonly takes: a constant operand, no bias, other
options) is written with our writer, checked to run in LiteRT (and to match a numpy reference where there is
one), quantized with random calibration data (minmax), and then the quantized model must

* have K with integer inputs of the mode's activation type (K really was quantized: the declaration says it can
  be; a "stays float" in the converter's log is a declaration / quantizer mismatch),
* load and run in LiteRT with its default delegate (XNNPACK) and without it (the builtin kernels), with no
  crash, no delegation or preparation error in the runtime's log (LiteRT runs in forked children: a failed
  TFLITE_CHECK aborts the process),
* compute about what the float model computes on held-out inputs (max abs error <= 0.1 x max |float output| +
  0.02, where a held-out value beyond the calibrated range may saturate; bool and integer outputs mostly equal).

A failure here means a declaration claims something the runtime does not do (no int16 kernel, a kernel that
requires the input's scale on its output, fixed output parameters, ...), or the quantizer does not do what the
declaration says.
"""

from __future__ import annotations

import math
import os
import pickle
import re
import signal
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import liteconvert
from liteconvert.ir import Model, Op, Signature, Subgraph, Tensor, check_invariants, const
from liteconvert.tflite.ops import DECLS
from liteconvert.tflite.reader import read_model
from liteconvert.tflite.writer import serialize

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="runs LiteRT in forked children"),
    pytest.mark.filterwarnings("ignore:.*experimental_preserve_all_tensors"),  # (calibration's interpreter)
]

Sampler = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]
Reference = Callable[[dict[str, np.ndarray]], list[np.ndarray]]

# enough calibration samples, on minmax, that held-out inputs from the same distribution rarely leave the
# calibrated ranges: a clipped output would be the calibration's fault, not the kernel's
CALIBRATION_SAMPLES = 128
EVAL_SAMPLES = 8
REL_TOL = 0.1  # of the float output's max |value|
ABS_TOL = 0.02
MISMATCH_TOL = 0.1  # bool / integer outputs: at most this fraction of elements may differ


def uniform(lo: float, hi: float) -> Sampler:
    return lambda rng, shape: rng.uniform(lo, hi, shape).astype(np.float32)


def grid(lo: float, hi: float, step: float) -> Sampler:
    """Values on a coarse grid, so that comparisons (EQUAL) see equal operands often."""
    values = np.arange(lo, hi + step / 2, step, dtype=np.float32)
    return lambda rng, shape: rng.choice(values, shape).astype(np.float32)


def integers(lo: int, hi: int) -> Sampler:
    return lambda rng, shape: rng.integers(lo, hi, shape).astype(np.int32)


def booleans() -> Sampler:
    return lambda rng, shape: rng.integers(0, 2, shape).astype(bool)


@dataclass
class Case:
    """A one-op float model: the op, its runtime inputs (with how to sample them) and an optional numpy
    reference of its outputs (by input name), used when the declaration has none."""

    op: Op
    samplers: dict[str, Sampler]
    reference: Reference | None = None

    @property
    def inputs(self) -> list[Tensor]:
        seen: dict[int, Tensor] = {}
        for t in self.op.inputs:
            if t is not None and not t.is_const:
                seen.setdefault(t.uid, t)
        return list(seen.values())

    def model(self) -> Model:
        sg = Subgraph("main", self.inputs, list(self.op.outputs), [self.op])
        model = Model([sg], [Signature("serving_default", sg, {t.name: t for t in sg.inputs},
                                       {t.name: t for t in sg.outputs})])
        check_invariants(model)
        return model

    def feeds(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        out = {}
        for t in self.inputs:
            sampler = self.samplers.get(t.name) or (uniform(-2.0, 2.0) if t.dtype == "float32" else None)
            assert sampler is not None, f"no sampler for {t}"
            out[t.name] = sampler(rng, t.shape)
        return out

    def expected(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray] | None:
        if self.reference is not None:
            return [np.asarray(r) for r in self.reference(feeds)]
        d = DECLS[self.op.kind]
        if d.reference is None or any(t is None for t in self.op.inputs):
            return None
        if self.op.attrs.get("fused_activation_function", "NONE") != "NONE":
            return None  # the references do not apply a fused activation
        values = [t.data if t.is_const else feeds[t.name] for t in self.op.inputs]  # type: ignore[union-attr]
        return [np.asarray(r) for r in d.reference(self.op, values)]


# -- the one-op models ---------------------------------------------------------------------------------------------

def _x(shape: tuple[int, ...], name: str = "x", dtype: str = "float32") -> Tensor:
    return Tensor(name, dtype, tuple(shape))


def _i32(name: str, value: object) -> Tensor:
    return const(name, np.asarray(value, np.int32))


def _f32(name: str, value: object) -> Tensor:
    return const(name, np.asarray(value, np.float32))


def _case(kind: str, inputs: list[Tensor | None], out_shapes: list[tuple[int, ...]], attrs: dict | None = None,
          samplers: dict[str, Sampler] | None = None, reference: Reference | None = None,
          out_dtype: str = "float32") -> Case:
    names = ["out"] if len(out_shapes) == 1 else [f"out{i}" for i in range(len(out_shapes))]
    outs = [Tensor(n, out_dtype, tuple(s)) for n, s in zip(names, out_shapes, strict=True)]
    return Case(Op(kind, inputs, outs, dict(attrs or {})), dict(samplers or {}), reference)


BUILDERS: dict[str, Callable[[np.random.Generator], Case]] = {}


def builds(*kinds: str):
    def register(fn: Callable[[str, np.random.Generator], Case]):
        for k in kinds:
            BUILDERS[k] = lambda rng, k=k: fn(k, rng)
        return fn

    return register


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf)(x.astype(np.float64))


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# kind: (input range, options, numpy reference or None when the declaration has one)
_UNARY: dict[str, tuple[tuple[float, float], dict, Callable[[np.ndarray], np.ndarray] | None]] = {
    "RELU": ((-3, 3), {}, None),
    "RELU6": ((-4, 8), {}, None),
    "RELU_N1_TO_1": ((-2, 2), {}, lambda x: np.clip(x, -1, 1)),
    "RELU_0_TO_1": ((-2, 2), {}, lambda x: np.clip(x, 0, 1)),
    "LEAKY_RELU": ((-3, 3), {"alpha": 0.2}, lambda x: np.where(x > 0, x, 0.2 * x)),
    "ELU": ((-3, 3), {}, lambda x: np.where(x > 0, x, np.expm1(x))),
    "LOGISTIC": ((-6, 6), {}, lambda x: 1 / (1 + np.exp(-x))),
    "TANH": ((-3, 3), {}, np.tanh),
    "HARD_SWISH": ((-4, 4), {}, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "GELU": ((-3, 3), {"approximate": False}, lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2)))),
    "SOFTMAX": ((-4, 4), {"beta": 1.0}, _softmax),
    "LOG_SOFTMAX": ((-4, 4), {}, lambda x: np.log(_softmax(x))),
    "NEG": ((-2, 2), {}, None),
    "ABS": ((-2, 2), {}, None),
    "SQRT": ((0, 4), {}, None),
    "RSQRT": ((0.25, 4), {}, None),
    "EXP": ((-3, 1), {}, None),
    "LOG": ((0.25, 4), {}, None),
}


@builds(*_UNARY)
def _unary(kind: str, rng: np.random.Generator) -> Case:
    (lo, hi), attrs, ref = _UNARY[kind]
    shape = (1, 10) if "SOFTMAX" in kind else (1, 4, 6)
    return _case(kind, [_x(shape)], [shape], attrs, {"x": uniform(lo, hi)},
                 None if ref is None else (lambda f: [ref(f["x"])]))


@builds("PRELU")
def _prelu(kind: str, rng: np.random.Generator) -> Case:
    alpha = rng.uniform(0.05, 0.3, (1, 1, 3)).astype(np.float32)  # per channel, as Keras' PReLU shares H and W
    return _case(kind, [_x((1, 4, 4, 3)), _f32("alpha", alpha)], [(1, 4, 4, 3)],
                 reference=lambda f: [np.where(f["x"] > 0, f["x"], alpha * f["x"])])


# -- element-wise binary ops: two data inputs, different ranges, some broadcasting

_BINARY: dict[str, tuple[tuple[int, ...], dict[str, Sampler]]] = {
    "ADD": ((1, 4, 6), {"y": uniform(-1, 3)}),
    "SUB": ((6,), {"y": uniform(-1, 3)}),
    "MUL": ((1, 1, 6), {"y": uniform(-1, 3)}),
    "DIV": ((1, 4, 6), {"y": uniform(0.5, 2)}),
    "MAXIMUM": ((1, 4, 6), {"y": uniform(-1, 3)}),
    "MINIMUM": ((1, 4, 6), {"y": uniform(-1, 3)}),
    "SQUARED_DIFFERENCE": ((1, 4, 6), {"y": uniform(-1, 3)}),
}
_FUSED = ("ADD", "SUB", "MUL", "DIV")


@builds(*_BINARY)
def _binary(kind: str, rng: np.random.Generator) -> Case:
    y_shape, samplers = _BINARY[kind]
    attrs = {"fused_activation_function": "NONE"} if kind in _FUSED else {}
    return _case(kind, [_x((1, 4, 6)), _x(y_shape, "y")], [(1, 4, 6)], attrs, samplers)


@builds("LESS", "GREATER", "EQUAL", "NOT_EQUAL", "LESS_EQUAL", "GREATER_EQUAL")
def _comparison(kind: str, rng: np.random.Generator) -> Case:
    g = grid(-2, 2, 0.25)
    return _case(kind, [_x((1, 4, 6)), _x((1, 4, 6), "y")], [(1, 4, 6)], samplers={"x": g, "y": g},
                 out_dtype="bool")


@builds("SELECT_V2")
def _select(kind: str, rng: np.random.Generator) -> Case:
    return _case(kind, [_x((1, 4, 6), "cond", "bool"), _x((1, 4, 6)), _x((1, 4, 6), "y")], [(1, 4, 6)],
                 samplers={"cond": booleans(), "y": uniform(-1, 3)},
                 reference=lambda f: [np.where(f["cond"], f["x"], f["y"])])


# -- shape and layout ops

@builds("RESHAPE")
def _reshape(kind: str, rng: np.random.Generator) -> Case:
    return _case(kind, [_x((1, 4, 6)), _i32("shape", [1, 24])], [(1, 24)])


@builds("SQUEEZE")
def _squeeze(kind: str, rng: np.random.Generator) -> Case:
    return _case(kind, [_x((1, 4, 1, 6))], [(1, 4, 6)], {"squeeze_dims": [2]})


@builds("EXPAND_DIMS")
def _expand_dims(kind: str, rng: np.random.Generator) -> Case:
    return _case(kind, [_x((1, 4, 6)), _i32("axis", 2)], [(1, 4, 1, 6)])


@builds("TRANSPOSE")
def _transpose(kind: str, rng: np.random.Generator) -> Case:
    return _case(kind, [_x((1, 3, 4, 5)), _i32("perm", [0, 2, 3, 1])], [(1, 4, 5, 3)])


_PADDINGS = [[0, 0], [1, 2], [2, 1], [0, 0]]


@builds("PAD")
def _pad(kind: str, rng: np.random.Generator) -> Case:
    return _case(kind, [_x((1, 4, 4, 3)), _i32("paddings", _PADDINGS)], [(1, 7, 7, 3)],
                 reference=lambda f: [np.pad(f["x"], _PADDINGS)])


@builds("PADV2")
def _padv2(kind: str, rng: np.random.Generator) -> Case:
    return _case(kind, [_x((1, 4, 4, 3)), _i32("paddings", _PADDINGS), _f32("constant_values", 0.5)],
                 [(1, 7, 7, 3)], reference=lambda f: [np.pad(f["x"], _PADDINGS, constant_values=0.5)])


@builds("MIRROR_PAD")
def _mirror_pad(kind: str, rng: np.random.Generator) -> Case:
    pads = [[0, 0], [1, 1], [2, 2], [0, 0]]
    return _case(kind, [_x((1, 4, 5, 3)), _i32("paddings", pads)], [(1, 6, 9, 3)], {"mode": "REFLECT"},
                 reference=lambda f: [np.pad(f["x"], pads, mode="reflect")])


@builds("CONCATENATION")
def _concat(kind: str, rng: np.random.Generator) -> Case:
    return _case(kind, [_x((1, 4, 3)), _x((1, 4, 5), "y")], [(1, 4, 8)],
                 {"axis": 2, "fused_activation_function": "NONE"}, {"x": uniform(-1, 1), "y": uniform(-3, 2)})


@builds("STRIDED_SLICE")
def _strided_slice(kind: str, rng: np.random.Generator) -> Case:
    return _case(kind, [_x((1, 6, 8, 3)), _i32("begin", [0, 1, 0, 0]), _i32("end", [1, 6, 7, 3]),
                        _i32("strides", [1, 2, 2, 1])], [(1, 3, 4, 3)])


@builds("SLICE")
def _slice(kind: str, rng: np.random.Generator) -> Case:
    return _case(kind, [_x((1, 6, 8, 3)), _i32("begin", [0, 1, 2, 0]), _i32("size", [1, 4, -1, 2])], [(1, 4, 6, 2)])


@builds("GATHER")
def _gather(kind: str, rng: np.random.Generator) -> Case:
    return _case(kind, [_x((1, 6, 4)), _x((3,), "indices", "int32")], [(1, 3, 4)], {"axis": 1, "batch_dims": 0},
                 {"indices": integers(0, 6)})


@builds("SPLIT")
def _split(kind: str, rng: np.random.Generator) -> Case:
    return _case(kind, [_i32("axis", 1), _x((1, 6, 4))], [(1, 2, 4)] * 3, {"num_splits": 3},
                 reference=lambda f: np.split(f["x"], 3, axis=1))


@builds("SPLIT_V")
def _split_v(kind: str, rng: np.random.Generator) -> Case:
    return _case(kind, [_x((1, 7, 4)), _i32("size_splits", [2, 5]), _i32("axis", 1)], [(1, 2, 4), (1, 5, 4)],
                 {"num_splits": 2}, reference=lambda f: np.split(f["x"], [2], axis=1))


@builds("PACK")
def _pack(kind: str, rng: np.random.Generator) -> Case:
    return _case(kind, [_x((1, 4)), _x((1, 4), "y")], [(1, 2, 4)], {"values_count": 2, "axis": 1},
                 {"y": uniform(-1, 3)})


@builds("UNPACK")
def _unpack(kind: str, rng: np.random.Generator) -> Case:
    return _case(kind, [_x((1, 3, 4))], [(1, 4)] * 3, {"num": 3, "axis": 1},
                 reference=lambda f: [f["x"][:, i] for i in range(3)])


@builds("TILE")
def _tile(kind: str, rng: np.random.Generator) -> Case:
    return _case(kind, [_x((1, 2, 3)), _i32("multiples", [1, 3, 2])], [(1, 6, 6)])


@builds("BROADCAST_TO")
def _broadcast_to(kind: str, rng: np.random.Generator) -> Case:
    return _case(kind, [_x((1, 1, 4)), _i32("shape", [1, 3, 4])], [(1, 3, 4)])


def _depth_to_space(x: np.ndarray, bs: int) -> np.ndarray:
    n, h, w, c = x.shape
    return x.reshape(n, h, w, bs, bs, c // bs // bs).transpose(0, 1, 3, 2, 4, 5).reshape(n, h * bs, w * bs, -1)


def _space_to_depth(x: np.ndarray, bs: int) -> np.ndarray:
    n, h, w, c = x.shape
    return x.reshape(n, h // bs, bs, w // bs, bs, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, h // bs, w // bs, -1)


@builds("DEPTH_TO_SPACE")
def _d2s(kind: str, rng: np.random.Generator) -> Case:
    return _case(kind, [_x((1, 2, 3, 8))], [(1, 4, 6, 2)], {"block_size": 2},
                 reference=lambda f: [_depth_to_space(f["x"], 2)])


@builds("SPACE_TO_DEPTH")
def _s2d(kind: str, rng: np.random.Generator) -> Case:
    return _case(kind, [_x((1, 4, 6, 2))], [(1, 2, 3, 8)], {"block_size": 2},
                 reference=lambda f: [_space_to_depth(f["x"], 2)])


def _space_to_batch(x: np.ndarray, block: tuple[int, int], pads: list[list[int]]) -> np.ndarray:
    x = np.pad(x, [[0, 0], *pads, [0, 0]])
    n, h, w, c = x.shape
    b0, b1 = block
    return x.reshape(n, h // b0, b0, w // b1, b1, c).transpose(2, 4, 0, 1, 3, 5).reshape(b0 * b1 * n, h // b0,
                                                                                           w // b1, c)


def _batch_to_space(x: np.ndarray, block: tuple[int, int], crops: list[list[int]]) -> np.ndarray:
    nb, h, w, c = x.shape
    b0, b1 = block
    n = nb // (b0 * b1)
    y = x.reshape(b0, b1, n, h, w, c).transpose(2, 3, 0, 4, 1, 5).reshape(n, h * b0, w * b1, c)
    return y[:, crops[0][0]:h * b0 - crops[0][1], crops[1][0]:w * b1 - crops[1][1]]


@builds("SPACE_TO_BATCH_ND")
def _s2b(kind: str, rng: np.random.Generator) -> Case:
    pads = [[0, 0], [0, 2]]
    return _case(kind, [_x((1, 4, 6, 2)), _i32("block_shape", [2, 2]), _i32("paddings", pads)], [(4, 2, 4, 2)],
                 reference=lambda f: [_space_to_batch(f["x"], (2, 2), pads)])


@builds("BATCH_TO_SPACE_ND")
def _b2s(kind: str, rng: np.random.Generator) -> Case:
    crops = [[0, 0], [0, 1]]
    return _case(kind, [_x((4, 2, 3, 2)), _i32("block_shape", [2, 2]), _i32("crops", crops)], [(1, 4, 5, 2)],
                 reference=lambda f: [_batch_to_space(f["x"], (2, 2), crops)])


# -- image resizing (TF2's defaults: half-pixel centers)

@builds("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR")
def _resize(kind: str, rng: np.random.Generator) -> Case:
    return _case(kind, [_x((1, 4, 4, 3)), _i32("size", [8, 8])], [(1, 8, 8, 3)],
                 {"align_corners": False, "half_pixel_centers": True})


# -- layers with weights, pooling, normalization

@builds("CONV_2D")
def _conv(kind: str, rng: np.random.Generator) -> Case:
    w = (rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float32)
    b = (rng.standard_normal(4) * 0.2).astype(np.float32)
    return _case(kind, [_x((1, 6, 6, 3)), _f32("w", w), _f32("b", b)], [(1, 3, 3, 4)],
                 {"padding": "SAME", "stride_w": 2, "stride_h": 2, "fused_activation_function": "RELU"})


@builds("DEPTHWISE_CONV_2D")
def _depthwise(kind: str, rng: np.random.Generator) -> Case:
    w = (rng.standard_normal((1, 3, 3, 6)) * 0.3).astype(np.float32)
    b = (rng.standard_normal(6) * 0.2).astype(np.float32)
    return _case(kind, [_x((1, 6, 6, 3)), _f32("w", w), _f32("b", b)], [(1, 6, 6, 6)],
                 {"padding": "SAME", "stride_w": 1, "stride_h": 1, "depth_multiplier": 2,
                  "fused_activation_function": "NONE"})


@builds("TRANSPOSE_CONV")
def _transpose_conv(kind: str, rng: np.random.Generator) -> Case:
    w = (rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float32)  # (out channels, h, w, in channels)
    b = (rng.standard_normal(4) * 0.2).astype(np.float32)
    return _case(kind, [_i32("output_shape", [1, 8, 8, 4]), _f32("w", w), _x((1, 4, 4, 3)), _f32("b", b)],
                 [(1, 8, 8, 4)], {"padding": "SAME", "stride_w": 2, "stride_h": 2,
                                  "fused_activation_function": "NONE"})


@builds("FULLY_CONNECTED")
def _fc(kind: str, rng: np.random.Generator) -> Case:
    w = (rng.standard_normal((5, 8)) * 0.4).astype(np.float32)
    b = (rng.standard_normal(5) * 0.2).astype(np.float32)
    return _case(kind, [_x((1, 8)), _f32("w", w), _f32("b", b)], [(1, 5)],
                 {"fused_activation_function": "NONE", "weights_format": "DEFAULT", "keep_num_dims": False},
                 reference=lambda f: [f["x"] @ w.T + b])


@builds("BATCH_MATMUL")
def _batch_matmul(kind: str, rng: np.random.Generator) -> Case:
    # two activations (attention's q x k^T): the case without weights to quantize per channel
    return _case(kind, [_x((1, 3, 4)), _x((1, 4, 5), "y")], [(1, 3, 5)], {"adj_x": False, "adj_y": False},
                 {"y": uniform(-1, 3)}, reference=lambda f: [f["x"] @ f["y"]])


def _pool(x: np.ndarray, k: int, s: int, fn: Callable[..., np.ndarray]) -> np.ndarray:
    n, h, w, c = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    out = np.empty((n, oh, ow, c), np.float32)
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = fn(x[:, i * s:i * s + k, j * s:j * s + k], axis=(1, 2))
    return out


@builds("AVERAGE_POOL_2D", "MAX_POOL_2D")
def _pool2d(kind: str, rng: np.random.Generator) -> Case:
    fn = np.mean if kind == "AVERAGE_POOL_2D" else np.max
    return _case(kind, [_x((1, 6, 6, 3))], [(1, 2, 2, 3)],
                 {"padding": "VALID", "stride_w": 2, "stride_h": 2, "filter_width": 3, "filter_height": 3,
                  "fused_activation_function": "NONE"}, reference=lambda f: [_pool(f["x"], 3, 2, fn)])


@builds("L2_NORMALIZATION")
def _l2(kind: str, rng: np.random.Generator) -> Case:
    return _case(kind, [_x((1, 4, 6))], [(1, 4, 6)], {"fused_activation_function": "NONE"},
                 reference=lambda f: [f["x"] / np.sqrt(np.sum(f["x"] ** 2, axis=-1, keepdims=True))])


# -- reductions

_REDUCE = {"MEAN": ([1, 2], True), "SUM": ([2], False), "REDUCE_MAX": ([1], False), "REDUCE_MIN": ([-1], True)}


@builds(*_REDUCE)
def _reduce(kind: str, rng: np.random.Generator) -> Case:
    axes, keep = _REDUCE[kind]
    fn = {"MEAN": np.mean, "SUM": np.sum, "REDUCE_MAX": np.max, "REDUCE_MIN": np.min}[kind]
    shape = fn(np.zeros((1, 4, 5, 3)), axis=tuple(axes), keepdims=keep).shape
    return _case(kind, [_x((1, 4, 5, 3)), _i32("axis", axes)], [shape], {"keep_dims": keep})


@builds("ARG_MAX", "ARG_MIN")
def _arg(kind: str, rng: np.random.Generator) -> Case:
    fn = np.argmax if kind == "ARG_MAX" else np.argmin
    return _case(kind, [_x((1, 4, 6)), _i32("axis", [2])], [(1, 4)], {"output_type": "INT32"},
                 reference=lambda f: [fn(f["x"], axis=2).astype(np.int32)], out_dtype="int32")


# -- variants: the other forms these ops commonly take in real models (a constant operand, no bias, other
# options); named KIND[variant]

def _kind(name: str) -> str:
    return name.split("[")[0]


_CONST_Y = {
    "ADD": (np.linspace(-1, 1, 6).reshape(1, 1, 6), {}),  # a bias add
    "SUB": (np.linspace(-1, 1, 6).reshape(1, 1, 6), {}),  # a mean subtracted
    "MUL": (np.linspace(0.5, 2, 6).reshape(1, 1, 6), {}),  # a per-channel scale
    "DIV": (np.linspace(0.5, 2, 6).reshape(1, 1, 6), {}),
    "MAXIMUM": (np.float32(-0.5), {}),  # tf.maximum(x, -0.5) (with 0.0 the pipeline makes it a RELU)
    "MINIMUM": (np.float32(1.0), {}),  # tf.minimum(x, 1.0)
    "SQUARED_DIFFERENCE": (np.linspace(-1, 1, 6).reshape(1, 1, 6), {}),
}


@builds(*(f"{k}[const]" for k in _CONST_Y))
def _binary_const(name: str, rng: np.random.Generator) -> Case:
    kind = _kind(name)
    value, attrs = _CONST_Y[kind]
    if kind in _FUSED:
        attrs = {**attrs, "fused_activation_function": "NONE"}
    return _case(kind, [_x((1, 4, 6)), _f32("y", value)], [(1, 4, 6)], attrs)


@builds("ADD[relu]", "MUL[broadcast4d]")
def _binary_more(name: str, rng: np.random.Generator) -> Case:
    if name == "ADD[relu]":  # a residual add with its activation fused
        return _case("ADD", [_x((1, 4, 4, 3)), _x((1, 4, 4, 3), "y")], [(1, 4, 4, 3)],
                     {"fused_activation_function": "RELU"}, reference=lambda f: [np.maximum(f["x"] + f["y"], 0)])
    # squeeze-and-excitation: (1, H, W, C) x (1, 1, 1, C)
    return _case("MUL", [_x((1, 4, 4, 3)), _x((1, 1, 1, 3), "y")], [(1, 4, 4, 3)],
                 {"fused_activation_function": "NONE"}, {"y": uniform(0, 1)})


@builds("LESS[const]", "GREATER_EQUAL[const]", "LESS[zero]", "EQUAL[zero]")
def _comparison_const(name: str, rng: np.random.Generator) -> Case:
    # a threshold (x < 0.5), or a sign / mask test against 0.0 (x < 0, x == 0)
    threshold = 0.0 if name.endswith("[zero]") else 0.5
    return _case(_kind(name), [_x((1, 4, 6)), _f32("y", threshold)], [(1, 4, 6)], samplers={"x": grid(-2, 2, 0.25)},
                 out_dtype="bool")


@builds("SELECT_V2[const]")
def _select_const(name: str, rng: np.random.Generator) -> Case:
    # tf.where(cond, x, 0.0): a broadcast constant branch
    return _case("SELECT_V2", [_x((1, 4, 6), "cond", "bool"), _x((1, 4, 6)), _f32("y", 0.0)], [(1, 4, 6)],
                 samplers={"cond": booleans()}, reference=lambda f: [np.where(f["cond"], f["x"], 0.0)])


@builds("CONCATENATION[three]", "CONCATENATION[const]")
def _concat_more(name: str, rng: np.random.Generator) -> Case:
    if name == "CONCATENATION[three]":
        return _case("CONCATENATION", [_x((1, 2, 4)), _x((1, 3, 4), "y"), _x((1, 1, 4), "z")], [(1, 6, 4)],
                     {"axis": -2, "fused_activation_function": "NONE"},
                     {"x": uniform(0, 1), "y": uniform(-4, 4), "z": uniform(-0.5, 0.5)})
    token = rng.uniform(-1, 1, (1, 1, 4)).astype(np.float32)  # a learned class token prepended
    return _case("CONCATENATION", [_f32("token", token), _x((1, 3, 4))], [(1, 4, 4)],
                 {"axis": 1, "fused_activation_function": "NONE"})


@builds("GATHER[table]")
def _gather_table(name: str, rng: np.random.Generator) -> Case:
    # an embedding lookup: a constant table, indices given at run time
    table = rng.uniform(-1, 1, (10, 4)).astype(np.float32)
    return _case("GATHER", [_f32("table", table), _x((1, 3), "indices", "int32")], [(1, 3, 4)],
                 {"axis": 0, "batch_dims": 0}, {"indices": integers(0, 10)})


@builds("BATCH_MATMUL[const_y]", "BATCH_MATMUL[adj_y]")
def _batch_matmul_more(name: str, rng: np.random.Generator) -> Case:
    if name == "BATCH_MATMUL[adj_y]":  # attention scores: q x k^T
        return _case("BATCH_MATMUL", [_x((1, 3, 4)), _x((1, 5, 4), "y")], [(1, 3, 5)],
                     {"adj_x": False, "adj_y": True}, reference=lambda f: [f["x"] @ np.swapaxes(f["y"], 1, 2)])
    w = (rng.standard_normal((4, 5)) * 0.5).astype(np.float32)  # a Dense on a 3-D input, as tf.matmul
    return _case("BATCH_MATMUL", [_x((1, 3, 4)), _f32("w", w)], [(1, 3, 5)], {"adj_x": False, "adj_y": False},
                 reference=lambda f: [f["x"] @ w])


@builds("FULLY_CONNECTED[no_bias]", "FULLY_CONNECTED[keep_num_dims]")
def _fc_more(name: str, rng: np.random.Generator) -> Case:
    w = (rng.standard_normal((5, 8)) * 0.4).astype(np.float32)
    if name == "FULLY_CONNECTED[no_bias]":
        return _case("FULLY_CONNECTED", [_x((1, 8)), _f32("w", w), None], [(1, 5)],
                     {"fused_activation_function": "RELU"}, reference=lambda f: [np.maximum(f["x"] @ w.T, 0)])
    b = (rng.standard_normal(5) * 0.2).astype(np.float32)
    return _case("FULLY_CONNECTED", [_x((1, 3, 8)), _f32("w", w), _f32("b", b)], [(1, 3, 5)],
                 {"fused_activation_function": "NONE", "keep_num_dims": True}, reference=lambda f: [f["x"] @ w.T + b])


# (no CONV_2D or DEPTHWISE_CONV_2D without a bias: LiteRT's kernels require one, float too: "conv.cc:411 has_bias
# was not true", "Tensor at index 2 was optional but was expected")
@builds("CONV_2D[dilated]")
def _conv_dilated(name: str, rng: np.random.Generator) -> Case:
    w = (rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float32)
    b = (rng.standard_normal(4) * 0.2).astype(np.float32)
    return _case("CONV_2D", [_x((1, 7, 7, 3)), _f32("w", w), _f32("b", b)], [(1, 3, 3, 4)],
                 {"padding": "VALID", "stride_w": 1, "stride_h": 1, "dilation_w_factor": 2, "dilation_h_factor": 2,
                  "fused_activation_function": "RELU6"})


@builds("DEPTHWISE_CONV_2D[stride2]")
def _depthwise_more(name: str, rng: np.random.Generator) -> Case:
    w = (rng.standard_normal((1, 3, 3, 4)) * 0.3).astype(np.float32)
    b = (rng.standard_normal(4) * 0.2).astype(np.float32)
    return _case("DEPTHWISE_CONV_2D", [_x((1, 7, 7, 4)), _f32("w", w), _f32("b", b)], [(1, 3, 3, 4)],
                 {"padding": "VALID", "stride_w": 2, "stride_h": 2, "depth_multiplier": 1,
                  "fused_activation_function": "RELU6"})


@builds("TRANSPOSE_CONV[no_bias]")
def _transpose_conv_more(name: str, rng: np.random.Generator) -> Case:
    w = (rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float32)
    return _case("TRANSPOSE_CONV", [_i32("output_shape", [1, 9, 9, 4]), _f32("w", w), _x((1, 4, 4, 3))],
                 [(1, 9, 9, 4)], {"padding": "VALID", "stride_w": 2, "stride_h": 2})


@builds("AVERAGE_POOL_2D[same]", "MAX_POOL_2D[same]")
def _pool_same(name: str, rng: np.random.Generator) -> Case:
    return _case(_kind(name), [_x((1, 5, 5, 3))], [(1, 5, 5, 3)],
                 {"padding": "SAME", "stride_w": 1, "stride_h": 1, "filter_width": 2, "filter_height": 2,
                  "fused_activation_function": "NONE"})


@builds("RESIZE_BILINEAR[align_corners]", "RESIZE_NEAREST_NEIGHBOR[align_corners]", "RESIZE_BILINEAR[tf1]")
def _resize_more(name: str, rng: np.random.Generator) -> Case:
    align = name.endswith("[align_corners]")  # [tf1]: neither (TF1's default)
    return _case(_kind(name), [_x((1, 4, 4, 3)), _i32("size", [7, 7])], [(1, 7, 7, 3)],
                 {"align_corners": align, "half_pixel_centers": False})


@builds("SOFTMAX[beta]")
def _softmax_beta(name: str, rng: np.random.Generator) -> Case:
    return _case("SOFTMAX", [_x((1, 2, 3, 8))], [(1, 2, 3, 8)], {"beta": 0.5}, {"x": uniform(-6, 6)},
                 lambda f: [_softmax(0.5 * f["x"])])


@builds("GELU[approximate]")
def _gelu_tanh(name: str, rng: np.random.Generator) -> Case:
    return _case("GELU", [_x((1, 4, 6))], [(1, 4, 6)], {"approximate": True}, {"x": uniform(-3, 3)},
                 lambda f: [0.5 * f["x"] * (1 + np.tanh(np.sqrt(2 / np.pi) * (f["x"] + 0.044715 * f["x"] ** 3)))])


@builds("STRIDED_SLICE[shrink]", "STRIDED_SLICE[reverse]")
def _strided_slice_more(name: str, rng: np.random.Generator) -> Case:
    if name == "STRIDED_SLICE[shrink]":  # x[:, 2]
        return _case("STRIDED_SLICE", [_x((1, 6, 8, 3)), _i32("begin", [0, 2, 0, 0]), _i32("end", [1, 3, 8, 3]),
                                       _i32("strides", [1, 1, 1, 1])], [(1, 8, 3)],
                     {"begin_mask": 0b1101, "end_mask": 0b1101, "shrink_axis_mask": 0b0010})
    return _case("STRIDED_SLICE", [_x((1, 6, 8, 3)), _i32("begin", [0, 0, 0, 0]), _i32("end", [0, 0, 0, 0]),
                                   _i32("strides", [1, -1, 1, 1])], [(1, 6, 8, 3)],
                 {"begin_mask": 0b1111, "end_mask": 0b1111})  # x[:, ::-1]


@builds("MEAN[last_axis]", "RESHAPE[options]", "MIRROR_PAD[symmetric]")
def _misc(name: str, rng: np.random.Generator) -> Case:
    if name == "MEAN[last_axis]":  # a layer normalization's mean
        return _case("MEAN", [_x((1, 4, 6)), _i32("axis", [-1])], [(1, 4, 1)], {"keep_dims": True})
    if name == "RESHAPE[options]":  # the shape in the options only (older converters)
        return _case("RESHAPE", [_x((1, 4, 6))], [(1, 24)], {"new_shape": [1, 24]})
    pads = [[0, 0], [1, 1], [2, 2], [0, 0]]
    return _case("MIRROR_PAD", [_x((1, 4, 5, 3)), _i32("paddings", pads)], [(1, 6, 9, 3)], {"mode": "SYMMETRIC"},
                 reference=lambda f: [np.pad(f["x"], pads, mode="symmetric")])


@builds("ARG_MAX[int64]", "ARG_MIN[int64]")
def _arg_int64(name: str, rng: np.random.Generator) -> Case:
    # tf.argmax's default output type
    fn = np.argmax if _kind(name) == "ARG_MAX" else np.argmin
    return _case(_kind(name), [_x((1, 4, 6)), _i32("axis", [-1])], [(1, 4)], {"output_type": "INT64"},
                 reference=lambda f: [fn(f["x"], axis=-1).astype(np.int64)], out_dtype="int64")


# Declared quantizable kinds with no single-op model here, and why (none so far).
SKIPPED: dict[str, str] = {}


# -- running in LiteRT ---------------------------------------------------------------------------------------------

_RUNTIME_TROUBLE = re.compile(r"fail|error|not supported|unsupported|was not true|check", re.IGNORECASE)


def _invoke(data: bytes, feeds: list[dict[str, np.ndarray]], resolver: str) -> list[dict[str, np.ndarray]]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_content=data, num_threads=1,
                         experimental_op_resolver_type=getattr(OpResolverType, resolver))
    interp.allocate_tensors()
    runner = interp.get_signature_runner("serving_default")
    return [{k: np.array(v) for k, v in runner(**feed).items()} for feed in feeds]


def _run(data: bytes, feeds: list[dict[str, np.ndarray]], resolver: str, what: str) -> list[dict[str, np.ndarray]]:
    """Load ``data`` in LiteRT with op resolver ``resolver`` and run it on each feed, in a forked child (a kernel's
    failed TFLITE_CHECK aborts the process: that must fail this test, not end the session). Any error, a crash,
    or a runtime log line about a failure (a delegate refusing a node) fails the test in the runtime's words."""
    read_end, write_end = os.pipe()
    with tempfile.TemporaryFile() as log_file:
        pid = os.fork()
        if pid == 0:  # the child
            try:
                os.close(read_end)
                os.dup2(log_file.fileno(), 1)
                os.dup2(log_file.fileno(), 2)
                try:
                    payload = pickle.dumps((None, _invoke(data, feeds, resolver)))
                except Exception as e:  # (RuntimeError, ValueError: the runtime's words are what we want)
                    payload = pickle.dumps((f"{type(e).__name__}: {e}", None))
                with os.fdopen(write_end, "wb") as pipe:
                    pipe.write(payload)
            finally:
                os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            payload = pipe.read()
        _, status = os.waitpid(pid, 0)
        log_file.seek(0)
        log = log_file.read().decode(errors="replace").splitlines()
    trouble = [line for line in log if _RUNTIME_TROUBLE.search(line)]
    if os.WIFSIGNALED(status) or not payload:
        how = signal.Signals(os.WTERMSIG(status)).name if os.WIFSIGNALED(status) else f"status {status}"
        raise AssertionError(f"{what} ({resolver}): LiteRT crashed the process ({how})\n  " + "\n  ".join(log))
    error, outs = pickle.loads(payload)
    if error is not None or trouble:
        raise AssertionError(f"{what} ({resolver}): {error or 'ran, but the runtime logged'}\n  "
                             + "\n  ".join(trouble or log))
    return outs


def _quantize(path: str, mode: str, samples: list[list[np.ndarray]]) -> tuple[bytes, list[str]]:
    conv = liteconvert.TFLiteConverter.from_tflite(path)
    conv.optimizations = [liteconvert.Optimize.DEFAULT]
    conv.representative_dataset = lambda: iter([list(s) for s in samples])
    conv.calibration = "minmax"
    if mode == "16x8":
        ops = liteconvert.OpsSet
        conv.target_spec.supported_ops = [ops.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
                                          ops.TFLITE_BUILTINS]
    conv.float_final_activation = False  # a final SOFTMAX / LOGISTIC / TANH is audited in integer too
    data = conv.convert()
    return data, list(conv.log)


def _kind_input_dtypes(data: bytes, kind: str) -> list[str]:
    """The dtype of the data input (the declaration's ``data_input``) of every ``kind`` op in the model."""
    m = read_model(data)
    which = DECLS[kind].data_input
    out = []
    for sg in m.subgraphs:
        for op in sg.operators:
            if m.opcode(op).display_name == kind:
                i = op.inputs[which]
                out.append(sg.tensors[i].dtype if i >= 0 else "-")
    return out


def _compare(got: np.ndarray, want: np.ndarray, seen: tuple[float, float], name: str) -> str | None:
    """Why the quantized output ``got`` is not about the float ``want`` (None: it is). ``seen``: the least and
    greatest float value of the output over the calibration samples; where a held-out value lies beyond them the
    quantized model may saturate at the calibrated range (the calibration's doing, not the kernel's), so there
    ``got`` may match the clipped value instead."""
    if got.shape != want.shape:
        return f"{name}: shape {got.shape} != float {want.shape}"
    if want.dtype.kind == "f":
        g, w = got.astype(np.float64), want.astype(np.float64)
        errors = np.minimum(np.abs(g - w), np.abs(g - np.clip(w, *seen)))
        errors[np.isnan(g) != np.isnan(w)] = np.inf
        err = float(np.max(errors))
        peak = float(np.max(np.abs(w)))
        bound = REL_TOL * peak + ABS_TOL
        if not err <= bound:
            at = np.unravel_index(int(np.argmax(errors)), errors.shape)
            return (f"{name}: max abs error {err:.4g} > {bound:.4g} (float output max |value| {peak:.4g}; worst "
                    f"element: float {w[at]:.4g}, quantized {g[at]:.4g}; calibrated range "
                    f"[{seen[0]:.4g}, {seen[1]:.4g}])")
        return None
    wrong = float(np.mean(got != want))
    if wrong > MISMATCH_TOL:
        return f"{name}: {wrong:.0%} of the {want.dtype} elements differ from the float model's"
    return None


def _params() -> list:
    out = []
    for mode, flag in (("int8", "int8"), ("16x8", "int16")):
        for kind, d in DECLS.items():
            if d.quant is None or not getattr(d.quant, flag):
                continue
            marks = [pytest.mark.skip(reason=SKIPPED[kind])] if kind in SKIPPED else []
            names = [n for n in BUILDERS if _kind(n) == kind] or [kind]  # (none: the test says so)
            out.extend(pytest.param(mode, n, id=f"{mode}-{n}", marks=marks) for n in names)
    return out


@pytest.mark.parametrize("mode,name", _params())
def test_quantized_kernel_runs_and_matches_float(mode, name, tmp_path):
    kind = _kind(name)
    assert name in BUILDERS, f"{kind} is declared quantizable but this audit has no one-op model for it: add one"
    seed = sum(map(ord, name))  # per case, the same for both modes
    case = BUILDERS[name](np.random.default_rng(seed))
    assert case.op.kind == kind
    names = [t.name for t in case.inputs]

    path = tmp_path / "float.tflite"
    path.write_bytes(serialize(case.model()))
    rng = np.random.default_rng(seed + 1)
    calibration = [case.feeds(rng) for _ in range(CALIBRATION_SAMPLES)]
    held_out = [case.feeds(rng) for _ in range(EVAL_SAMPLES)]

    # the float model itself: runs, and computes what the op computes
    floats = _run(path.read_bytes(), held_out, "AUTO", f"float {name}")
    for feed, got in zip(held_out, floats, strict=True):
        want = case.expected(feed)
        if want is None:
            continue
        for t, w in zip(case.op.outputs, want, strict=True):
            g = got[t.name]
            assert g.shape == w.shape, f"float {name} {t.name}: shape {g.shape} != reference {w.shape}"
            if w.dtype.kind == "f":
                np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4, err_msg=f"float {name} vs numpy")
            else:
                np.testing.assert_array_equal(g, w, err_msg=f"float {name} vs numpy")

    data, log = _quantize(str(path), mode, [[s[n] for n in names] for s in calibration])
    act = "int8" if mode == "int8" else "int16"
    stayed = [line for line in log if line.startswith(f"quantize: {kind} ") and "stays float" in line]
    assert not stayed, f"{kind} is declared with an {act} kernel but stayed float: {stayed}"
    dtypes = _kind_input_dtypes(data, kind)
    assert dtypes, f"no {kind} op in the quantized model (log: {log})"
    assert all(d == act for d in dtypes), f"{kind} reads {dtypes} in the quantized model, not {act} (log: {log})"

    on_calibration = _run(path.read_bytes(), calibration, "AUTO", f"float {name}")
    problems = []
    for resolver in ("AUTO", "BUILTIN_WITHOUT_DEFAULT_DELEGATES"):
        quants = _run(data, held_out, resolver, f"{mode} {name}")
        for out in floats[0]:  # over all held-out samples at once
            seen = np.stack([f[out] for f in on_calibration])
            why = _compare(np.stack([q[out] for q in quants]), np.stack([f[out] for f in floats]),
                           (seen.min(), seen.max()), out)
            if why is not None:
                problems.append(f"{resolver}: {why}")
    assert not problems, f"{mode} {name} differs from the float model: " + "; ".join(problems)


@pytest.mark.parametrize("kind", ["LESS", "EQUAL"])
def test_comparison_of_a_wide_input_stays_float_instead_of_aborting(kind, tmp_path):
    """LiteRT's integer comparisons abort the process when an input's scale is 1 or more (a range 255 wide:
    x < 100 with x over [-300, 300]). Such a comparison stays float, with the reason in the log; the model runs."""
    case = _case(kind, [_x((1, 4, 6)), _f32("y", 100.0)], [(1, 4, 6)], samplers={"x": grid(-300, 300, 25)},
                 out_dtype="bool")
    path = tmp_path / "float.tflite"
    path.write_bytes(serialize(case.model()))
    rng = np.random.default_rng(0)
    calibration = [case.feeds(rng) for _ in range(32)]
    held_out = [case.feeds(rng) for _ in range(EVAL_SAMPLES)]
    data, log = _quantize(str(path), "int8", [[s["x"]] for s in calibration])
    assert _kind_input_dtypes(data, kind) == ["float32"]
    assert any(line.startswith(f"quantize: {kind} ") and "scale of 1 or more" in line for line in log), log
    floats = _run(path.read_bytes(), held_out, "AUTO", f"float {kind}")
    for resolver in ("AUTO", "BUILTIN_WITHOUT_DEFAULT_DELEGATES"):
        quants = _run(data, held_out, resolver, f"int8 {kind}")
        for f, q in zip(floats, quants, strict=True):
            for out in f:
                np.testing.assert_array_equal(q[out], f[out])
