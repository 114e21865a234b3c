"""Calibration: run the float model in the LiteRT interpreter over the representative samples, every
intermediate tensor kept, and record each float tensor's range (and a sample of its values, for the methods
that clip outliers).

Methods (``ConversionConfig.calibration``): ``minmax`` (the observed range, as Google's converter uses),
``percentile`` (the 0.01% tails clipped), ``mse`` (per tensor, the symmetric clip that minimises the mean squared
quantization error of the observed values). Ranges always contain zero, so that zero is exact.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .._console import silenced
from ..ir import Model, Subgraph, Tensor

METHODS = ("minmax", "percentile", "mse")
# The default per mode, from benchmarks/quant.py (digits, MobileNetV2, EfficientNetB0): for int8, clipping the
# 0.01% tails gives a smaller error than min/max everywhere (and "mse" no better, at twice the cost); with int16
# activations there is no resolution to win back and min/max is best.
DEFAULT_METHOD = {"int8": "percentile", "int16x8": "minmax"}
_KEEP = 1 << 12  # values kept per tensor and sample for percentile / mse
_POOL = 1 << 17  # values the mse search evaluates per tensor


@dataclass
class Range:
    min: float = float("inf")
    max: float = float("-inf")
    values: list[np.ndarray] = field(default_factory=list)

    def add(self, v: np.ndarray, rng: np.random.Generator) -> None:
        if v.size == 0:
            return
        self.min = min(self.min, float(v.min()))
        self.max = max(self.max, float(v.max()))
        flat = v.reshape(-1)
        if flat.size > _KEEP:
            flat = flat[rng.integers(0, flat.size, _KEEP)]
        self.values.append(flat.astype(np.float32, copy=True))

    def bounds(self, method: str = "minmax", bits: int = 8) -> tuple[float, float]:
        """The range to quantize to, always containing 0."""
        lo, hi = min(self.min, 0.0), max(self.max, 0.0)
        if method == "minmax" or not self.values or lo == hi:
            return lo, hi
        v = np.concatenate(self.values)
        if method == "percentile":
            lo = min(float(np.percentile(v, 0.01)), 0.0)
            hi = max(float(np.percentile(v, 99.99)), 0.0)
            return lo, hi
        if method == "mse":
            return _mse_bounds(v, lo, hi, bits)
        raise ValueError(method)


def _mse_bounds(v: np.ndarray, lo: float, hi: float, bits: int) -> tuple[float, float]:
    """Shrink [lo, hi] by a common factor to the one with the least squared error on ``v`` (after rounding to
    ``2**bits`` levels and clipping)."""
    levels = (1 << bits) - 1
    if v.size > _POOL:
        v = v[np.random.default_rng(0).integers(0, v.size, _POOL)]
    best, best_err = 1.0, None
    for f in np.linspace(0.3, 1.0, 29):
        a, b = lo * f, hi * f
        scale = (b - a) / levels
        if scale <= 0:
            continue
        q = np.clip(np.round((v - a) / scale), 0, levels) * scale + a
        err = float(np.mean((q - v) ** 2))
        if best_err is None or err < best_err:
            best, best_err = float(f), err
    return lo * best, hi * best


def _progress(done: int, total: int, start: float) -> None:
    if not sys.stderr.isatty() or total < 20:
        return
    width = 30
    filled = int(width * done / total)
    rate = done / max(time.perf_counter() - start, 1e-9)
    sys.stderr.write(f"\rcalibrating [{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                     f"({rate:.1f} samples/s)")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _runnable(model: Model) -> contextlib.AbstractContextManager[None]:
    """LiteRT refusing to run the float model (a custom op it has no kernel for, say) as one clear error."""
    from ..errors import litert_refusal

    return litert_refusal(model, "calibration runs the float model in LiteRT, to measure every activation",
                          "quantize with --quantize dynamic or float16, which need no calibration")


def calibrate(model: Model, samples: dict[str, list[dict[str, np.ndarray]]], seed: int = 0) -> dict[int, Range]:
    """Per-tensor ranges (by tensor uid) of the float tensors of each signature's subgraph over that signature's
    ``samples`` (``{signature key: samples}``; signatures sharing a subgraph add to the same ranges)."""
    from ai_edge_litert.interpreter import Interpreter

    from ..tflite.writer import serialize

    by_key = {s.key: s for s in model.signatures}
    data = serialize(model)
    with silenced(), _runnable(model):
        interp = Interpreter(model_content=data, experimental_preserve_all_tensors=True, num_threads=2)
    ranges: dict[int, Range] = {}
    rng = np.random.default_rng(seed)
    total, done, start = sum(len(v) for v in samples.values()), 0, time.perf_counter()
    for key, batch in samples.items():
        sg: Subgraph = by_key[key].subgraph
        index = model.subgraphs.index(sg)
        tensors: list[Tensor] = sg.tensors()  # the writer's tensor order
        watched = [(i, t) for i, t in enumerate(tensors) if t.dtype == "float32" and not t.is_const]
        for _, t in watched:
            ranges.setdefault(t.uid, Range())
        with _runnable(model):
            runner = interp.get_signature_runner(key)
        for sample in batch:
            if done:
                runner(**sample)
            else:
                with silenced(), _runnable(model):  # the first invoke: the runtime announces its CPU delegate
                    runner(**sample)
            for i, t in watched:
                ranges[t.uid].add(interp.get_tensor(i, index), rng)
            done += 1
            _progress(done, total, start)
    return ranges
