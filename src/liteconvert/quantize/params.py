"""Quantization parameters and the arithmetic that maps float values onto integers (the LiteRT conventions).

* activations: int8 asymmetric (scale, zero point in [-128, 127]); int16 symmetric (zero point 0), for 16x8;
* weights: int8 symmetric per channel, values in [-127, 127] (zero point 0), as LiteRT's kernels require;
* biases: int32 (int8 mode) or int64 (16x8) with scale = input scale x weight scale, zero point 0.
A range always contains 0, so that zero (padding, ReLU's floor) is exact.
"""

from __future__ import annotations

import numpy as np

from ..ir import QuantParams

LIMITS = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}
# The scale of a tensor that is always 0 (any scale represents it; one under 1, since LiteRT's integer
# comparisons abort on an input scale of 1 or more)
_DEGENERATE_SCALE = 1.0 / 256
_TINY = 1e-12


def activation_params(lo: float, hi: float, dtype: str, narrow: bool = False) -> QuantParams:
    """Per-tensor parameters for values in [lo, hi] (widened to contain 0). ``narrow``: the levels are
    [qmin + 1, qmax] (a trained narrow-range fake quantization), so that the trained grid is kept exactly."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    qmin, qmax = LIMITS[dtype]
    if narrow and dtype != "int16":
        qmin += 1
    if dtype == "int16":  # symmetric
        scale = max(abs(lo), abs(hi)) / qmax
        scale = scale if scale > 0 else _DEGENERATE_SCALE
        return QuantParams(np.array([scale], np.float32), np.array([0], np.int64))
    scale = (hi - lo) / (qmax - qmin)
    if scale <= 0:
        scale = _DEGENERATE_SCALE
    zero = int(np.clip(np.round(qmin - lo / scale), qmin, qmax))
    return QuantParams(np.array([scale], np.float32), np.array([zero], np.int64))


def fixed(scale: float, zero_point: int) -> QuantParams:
    return QuantParams(np.array([scale], np.float32), np.array([zero_point], np.int64))


def _broadcast(q: QuantParams, ndim: int) -> tuple[np.ndarray, np.ndarray]:
    """Scale and zero point shaped to broadcast against values of rank ``ndim`` (per tensor: scalars, so that
    a scalar stays a scalar)."""
    scale, zero = np.asarray(q.scale, np.float64), np.asarray(q.zero_point, np.float64)
    if scale.size == 1:
        return scale.reshape(()), zero.reshape(())
    shape = [1] * ndim
    shape[q.axis] = scale.size
    return scale.reshape(shape), zero.reshape(shape)


def quantize(values: np.ndarray, q: QuantParams, dtype: str) -> np.ndarray:
    """``values`` on ``q``'s grid as ``dtype`` (per tensor, or per channel along ``q.axis``)."""
    scale, zero = _broadcast(q, values.ndim)
    qmin, qmax = LIMITS.get(dtype, (np.iinfo(dtype).min, np.iinfo(dtype).max))
    return np.clip(np.round(values.astype(np.float64) / scale) + zero, qmin, qmax).astype(dtype)


def dequantize(values: np.ndarray, q: QuantParams) -> np.ndarray:
    scale, zero = _broadcast(q, values.ndim)
    return ((values.astype(np.float64) - zero) * scale).astype(np.float32)


def weight_params(w: np.ndarray, axis: int | None, floor: np.ndarray | None = None) -> QuantParams:
    """Symmetric int8 parameters for weights, per channel along ``axis`` (None: per tensor). ``floor``: a least
    scale per channel (so that a bias quantized with input x weight scale fits its integer type)."""
    w = np.asarray(w, np.float32)
    if axis is None:
        absmax = np.array([float(np.max(np.abs(w))) if w.size else 0.0])
    else:
        absmax = np.max(np.abs(np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)), axis=1)
    scale = absmax.astype(np.float64) / 127.0
    if floor is not None:
        scale = np.maximum(scale, floor)
    scale = np.where(scale > _TINY, scale, 1.0)
    return QuantParams(scale.astype(np.float32), np.zeros(scale.size, np.int64), axis=axis or 0)


def trained_step(w: np.ndarray, tolerance: float = 1e-3) -> float | None:
    """The step of the symmetric per-tensor int8 grid ``w`` lies on, when it does: the weights of a
    quantization-aware-trained layer (fake-quantized per tensor, its largest magnitude on level 127). None for
    ordinary float weights, which are on no grid."""
    w = np.asarray(w, np.float64)
    top = float(np.max(np.abs(w))) if w.size else 0.0
    if top <= _TINY:
        return None
    step = top / 127.0
    levels = w / step
    return step if float(np.max(np.abs(levels - np.round(levels)))) <= tolerance else None


def per_tensor_weight_params(step: float, channels: int | None, axis: int = 0) -> QuantParams:
    """Parameters of a per-tensor weight grid, repeated per channel when ``channels`` is given (the layout the
    per-channel kernels read, as Google's converter writes a trained per-tensor depthwise kernel)."""
    n = channels or 1
    return QuantParams(np.full(n, step, np.float32), np.zeros(n, np.int64), axis=axis if channels else 0)


def quantize_weights(w: np.ndarray, q: QuantParams) -> np.ndarray:
    return np.clip(quantize(np.asarray(w, np.float32), q, "int8"), -127, 127).astype(np.int8)


def bias_params(input_scale: float, weight: QuantParams) -> QuantParams:
    scale = (np.asarray(weight.scale, np.float64) * float(input_scale)).astype(np.float32)
    return QuantParams(scale, np.zeros(scale.size, np.int64), axis=0)


def bias_floor(bias: np.ndarray | None, input_scale: float, dtype: str) -> np.ndarray | None:
    """The least weight scale per channel for which ``bias`` / (input scale x weight scale) fits ``dtype``."""
    if bias is None:
        return None
    limit = float(np.iinfo(dtype).max) / 2
    return np.abs(np.asarray(bias, np.float64).reshape(-1)) / (max(float(input_scale), _TINY) * limit)
