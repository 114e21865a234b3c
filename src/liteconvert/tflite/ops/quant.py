"""Conversions between float and quantized tensors, and fake quantization (quantization-aware training).

``FAKE_QUANT`` is TensorFlow's FakeQuantWithMinMaxArgs: values clamped to a range and rounded onto its grid of
``2**num_bits`` levels, still float. The arithmetic below is TensorFlow's (``fake_quant_ops_functor.h``) and
LiteRT's kernel's (``Nudge`` then ``FakeQuantizeArray``): the range is first *nudged* so that zero falls exactly
on a level. Frontends use :func:`nudge` and :func:`fake_quantize` to fold fake quantization of constants,
per channel too, and the quantizer reads the nudged range as the tensor's trained range.
"""

from __future__ import annotations

import numpy as np

from ...ir import Op
from . import NoFold, declare
from . import versions as v


def nudge(lo: np.ndarray | float, hi: np.ndarray | float, num_bits: int = 8, narrow_range: bool = False,
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(nudged min, nudged max, scale) of a fake-quantization range, per element of ``lo``/``hi``, in float32
    as TensorFlow computes them. ``narrow_range`` drops the lowest level (``[1, 2**bits - 1]``)."""
    lo = np.asarray(lo, np.float32)
    hi = np.asarray(hi, np.float32)
    qmin = np.float32(1 if narrow_range else 0)
    qmax = np.float32((1 << num_bits) - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = ((hi - lo) / (qmax - qmin)).astype(np.float32)
        zero_from_min = (qmin - lo / scale).astype(np.float32)
    # std::round: halves away from zero (zero_from_min >= qmin here, so floor(x + 0.5))
    zero = np.where(zero_from_min < qmin, qmin, np.where(zero_from_min > qmax, qmax,
                                                         np.floor(zero_from_min + np.float32(0.5))))
    zero = zero.astype(np.float32)
    return ((qmin - zero) * scale).astype(np.float32), ((qmax - zero) * scale).astype(np.float32), scale


def fake_quantize(x: np.ndarray, lo: np.ndarray | float, hi: np.ndarray | float, num_bits: int = 8,
                  narrow_range: bool = False, axis: int | None = None) -> np.ndarray:
    """``x`` fake-quantized over [lo, hi] (per tensor, or per channel along ``axis`` with 1-D ``lo``/``hi``)."""
    x = np.asarray(x, np.float32)
    nlo, nhi, scale = nudge(lo, hi, num_bits, narrow_range)
    if axis is not None:
        shape = [1] * x.ndim
        shape[axis] = -1
        nlo, nhi, scale = (a.reshape(shape) for a in (nlo, nhi, scale))
    inv = (np.float32(1.0) / scale).astype(np.float32)
    shifted = (np.clip(x, nlo, nhi) - nlo).astype(np.float32)
    return (np.floor(shifted * inv + np.float32(0.5)) * scale + nlo).astype(np.float32)


def fake_quant_range(op: Op) -> tuple[float, float]:
    """The nudged (min, max) of a FAKE_QUANT op: the values its output can take lie on this range's grid."""
    lo, hi, _ = nudge(op.attrs.get("min", 0.0), op.attrs.get("max", 0.0), int(op.attrs.get("num_bits", 8)),
                      bool(op.attrs.get("narrow_range", False)))
    return float(lo), float(hi)


def _fake_quant(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    if xs[0].dtype != np.float32:
        raise NoFold
    return [fake_quantize(xs[0], op.attrs.get("min", 0.0), op.attrs.get("max", 0.0),
                          int(op.attrs.get("num_bits", 8)), bool(op.attrs.get("narrow_range", False)))]


def _dequantize(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    """Only float16 constants fold (a quantized constant is never folded: ``fold`` refuses quantized tensors)."""
    if xs[0].dtype != np.float16:
        raise NoFold
    return [xs[0].astype(np.float32)]


declare("QUANTIZE", "QuantizeOptions", ("input",), v.quantize_version)
declare("DEQUANTIZE", "DequantizeOptions", ("input",), v.dequantize_version, reference=_dequantize)
declare("FAKE_QUANT", "FakeQuantOptions", ("input",), v.fake_quant_version, kernel_dtypes=frozenset({"float32"}),
        reference=_fake_quant)
