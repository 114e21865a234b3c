"""Reductions over axes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...ir import Op
from . import FIL, QuantSpec, declare
from . import versions as v


def _reducer(fn: Callable[..., np.ndarray]):
    def ev(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
        axes = tuple(int(a) for a in np.atleast_1d(xs[1]))
        return [np.asarray(fn(xs[0], axis=axes, keepdims=bool(op.attrs.get("keep_dims", False))))]

    return ev


declare("MEAN", "ReducerOptions", ("input", "axis"), v.int16_3_int8_2, kernel_dtypes=FIL, reference=_reducer(np.mean),
        quant=QuantSpec(int16=True))
declare("SUM", "ReducerOptions", ("input", "axis"), v.int8_2, kernel_dtypes=FIL, reference=_reducer(np.sum),
        quant=QuantSpec(int16=True))
declare("REDUCE_MAX", "ReducerOptions", ("input", "axis"), v.int16_3_int8_2, kernel_dtypes=FIL,
        reference=_reducer(np.max), quant=QuantSpec(int16=True, same_scale=True))
declare("REDUCE_MIN", "ReducerOptions", ("input", "axis"), v.int16_3_int8_2, kernel_dtypes=FIL,
        reference=_reducer(np.min), quant=QuantSpec(int16=True, same_scale=True))
declare("REDUCE_PROD", "ReducerOptions", ("input", "axis"), v.int8_int16_2, kernel_dtypes=FIL,
        reference=_reducer(np.prod))
declare("CUMSUM", "CumsumOptions", ("input", "axis"), kernel_dtypes=FIL)
declare("ARG_MAX", "ArgMaxOptions", ("input", "axis"), v.by_dtype({"bool": 3, "int8": 2}),
        kernel_dtypes=frozenset({"float32", "int32"}), quant=QuantSpec())  # (no int16 kernel)
declare("ARG_MIN", "ArgMinOptions", ("input", "axis"), v.by_dtype({"bool": 3, "int8": 2}), quant=QuantSpec())
