"""Element-wise arithmetic, comparisons, logic and math functions."""

from __future__ import annotations

import numpy as np

from ...ir import Op
from . import ANY, FI, FIL, F, QuantSpec, declare
from . import versions as v

_Q8 = QuantSpec()
_Q816 = QuantSpec(int16=True)


def _binary(fn):
    return lambda op, xs: [fn(xs[0], xs[1])]


def _unary(fn):
    return lambda op, xs: [fn(xs[0])]


def _div(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    a, b = xs
    if a.dtype.kind in "iu":
        return [np.floor_divide(a, b)]  # TFLite integer DIV truncates only for positive; folded ints are shapes
    return [a / b]


def _cast(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    return [xs[0].astype(op.outputs[0].dtype)]


declare("ADD", "AddOptions", ("x", "y"), v.add_version, fused_activation=True, kernel_dtypes=FIL,
        reference=_binary(np.add), quant=_Q816)
declare("SUB", "SubOptions", ("x", "y"), v.sub_version, fused_activation=True, kernel_dtypes=FIL,
        reference=_binary(np.subtract), quant=_Q816)
declare("MUL", "MulOptions", ("x", "y"), v.mul_version, fused_activation=True, kernel_dtypes=FIL,
        reference=_binary(np.multiply), quant=_Q816)
declare("DIV", "DivOptions", ("x", "y"), v.div_version, fused_activation=True, kernel_dtypes=FI, reference=_div,
        quant=_Q8)  # (int8 kernel in LiteRT, as Google's converter makes it; uint8 and int16 none)
declare("MAXIMUM", "MaximumMinimumOptions", ("x", "y"), v.max_min_version, kernel_dtypes=FIL,
        reference=_binary(np.maximum), quant=QuantSpec(int16=True, same_scale=True))
declare("MINIMUM", "MaximumMinimumOptions", ("x", "y"), v.max_min_version, kernel_dtypes=FIL,
        reference=_binary(np.minimum), quant=QuantSpec(int16=True, same_scale=True))
declare("SQUARED_DIFFERENCE", "SquaredDifferenceOptions", ("x", "y"), v.int8_2, kernel_dtypes=FI,
        reference=_binary(lambda a, b: (a - b) ** 2), quant=_Q8)
declare("POW", "PowOptions", ("x", "y"), kernel_dtypes=FI, reference=_binary(np.power))
declare("FLOOR_DIV", "FloorDivOptions", ("x", "y"), v.by_dtype({"int16": 3, "int8": 3, "float32": 2}),
        kernel_dtypes=FI, reference=_binary(np.floor_divide))
declare("FLOOR_MOD", "FloorModOptions", ("x", "y"), v.int8_int16_2, kernel_dtypes=FIL, reference=_binary(np.mod))

declare("LESS", "LessOptions", ("x", "y"), v.by_dtype({"int16": 3, "int8": 2}), kernel_dtypes=FIL,
        reference=_binary(np.less), quant=_Q8)
declare("GREATER", "GreaterOptions", ("x", "y"), v.int8_2, kernel_dtypes=FIL, reference=_binary(np.greater),
        quant=_Q8)
declare("EQUAL", "EqualOptions", ("x", "y"), v.equal_version, kernel_dtypes=FIL, reference=_binary(np.equal),
        quant=_Q8)
declare("NOT_EQUAL", "NotEqualOptions", ("x", "y"), v.not_equal_version, kernel_dtypes=FIL,
        reference=_binary(np.not_equal), quant=_Q8)
declare("LESS_EQUAL", "LessEqualOptions", ("x", "y"), v.int8_2, kernel_dtypes=FIL,
        reference=_binary(np.less_equal), quant=_Q8)
declare("GREATER_EQUAL", "GreaterEqualOptions", ("x", "y"), v.by_dtype({"int16": 3, "int8": 2}),
        kernel_dtypes=FIL, reference=_binary(np.greater_equal), quant=_Q8)
declare("LOGICAL_AND", "LogicalAndOptions", ("x", "y"), reference=_binary(np.logical_and))
declare("LOGICAL_OR", "LogicalOrOptions", ("x", "y"), reference=_binary(np.logical_or))
declare("LOGICAL_NOT", "LogicalNotOptions", ("x",), reference=_unary(np.logical_not))
declare("SELECT_V2", "SelectV2Options", ("cond", "x", "y"), v.by_dtype({"uint32": 2}), data_input=1,
        quant=QuantSpec(same_scale=True))

# (no integer form: LiteRT's int8 NEG negates the raw values, right only for zero points of 0 and no -128)
declare("NEG", "NegOptions", ("input",), kernel_dtypes=FIL, reference=_unary(np.negative))
declare("ABS", "AbsOptions", ("input",), v.abs_version, kernel_dtypes=FI, reference=_unary(np.abs), quant=_Q816)
declare("SQRT", None, ("input",), v.int8_int16_2, kernel_dtypes=F, reference=_unary(np.sqrt), quant=_Q816)
declare("RSQRT", None, ("input",), v.int16_3_int8_2, kernel_dtypes=F, reference=_unary(lambda x: 1 / np.sqrt(x)),
        quant=_Q816)
declare("EXP", "ExpOptions", ("input",), v.int8_int16_2, kernel_dtypes=F, reference=_unary(np.exp), quant=_Q816)
declare("LOG", None, ("input",), v.int8_int16_2, kernel_dtypes=F, reference=_unary(np.log), quant=_Q816)
declare("SQUARE", "SquareOptions", ("input",), kernel_dtypes=F, reference=_unary(np.square))
declare("FLOOR", None, ("input",), kernel_dtypes=F, reference=_unary(np.floor))
declare("CEIL", None, ("input",), kernel_dtypes=F, reference=_unary(np.ceil))
declare("ROUND", None, ("input",), kernel_dtypes=F)
declare("SIN", None, ("input",), kernel_dtypes=F)
declare("COS", "CosOptions", ("input",), kernel_dtypes=F)
declare("SIGN", "SignOptions", ("input",), v.by_dtype({"int32": 2}),
        kernel_dtypes=frozenset({"float32", "int32", "float64"}), reference=_unary(np.sign))
declare("CAST", "CastOptions", ("input",), v.cast_version, reference=_cast)
declare("ZEROS_LIKE", "ZerosLikeOptions", ("input",), kernel_dtypes=FIL, reference=_unary(np.zeros_like))

__all__ = ["ANY"]
