"""Which element types LiteRT's builtin kernels accept, for the ops and types where a model can go wrong.

A TFLite op can be written for any dtype, but its kernel rejects some at run time (``FLOOR_DIV`` has no int64
kernel, no math kernel takes float64). This table lets the converter find that at conversion time and say
what to do. It lists, for the first input, which of the frontend's common dtypes (float32, int32, int64,
float64) the kernel accepts. The element-wise, reduction and array entries were measured against the
ai-edge-litert 2.3 interpreter by running one op per (kind, dtype) pair; the convolution, matmul and pooling
entries (float kernels only, besides the quantized types, which are not judged) follow the kernels' sources.
Ops and dtypes not listed are not judged.
"""

from __future__ import annotations

from ..ir import Op

JUDGED_DTYPES = frozenset({"float32", "int32", "int64", "float64"})

_F = frozenset({"float32"})
_FI = frozenset({"float32", "int32"})
_FIL = frozenset({"float32", "int32", "int64"})
_ANY = frozenset({"float32", "int32", "int64", "float64"})

KERNEL_DTYPES: dict[str, frozenset[str]] = {
    "ADD": _FIL, "SUB": _FIL, "MUL": _FIL, "DIV": _FI, "MAXIMUM": _FIL, "MINIMUM": _FIL, "POW": _FI,
    "SQUARED_DIFFERENCE": _FI, "FLOOR_DIV": _FI, "FLOOR_MOD": _FIL,
    "LESS": _FIL, "GREATER": _FIL, "EQUAL": _FIL, "NOT_EQUAL": _FIL, "LESS_EQUAL": _FIL, "GREATER_EQUAL": _FIL,
    "NEG": _FIL, "ABS": _FI, "SQRT": _F, "RSQRT": _F, "EXP": _F, "LOG": _F, "SQUARE": _F, "FLOOR": _F,
    "CEIL": _F, "ROUND": _F, "SIN": _F, "COS": _F, "SIGN": frozenset({"float32", "int32", "float64"}),
    "RELU": _F, "RELU6": _F, "LOGISTIC": _F, "TANH": _F, "ELU": _F, "ZEROS_LIKE": _FIL, "SOFTMAX": _F,
    "LOG_SOFTMAX": _F, "MEAN": _FIL, "SUM": _FIL, "REDUCE_MAX": _FIL, "REDUCE_MIN": _FIL, "REDUCE_PROD": _FIL,
    "CUMSUM": _FIL, "ARG_MAX": _FI, "RESHAPE": _ANY, "TRANSPOSE": _ANY, "CONCATENATION": _FIL, "GATHER": _FIL,
    "STRIDED_SLICE": _ANY, "TILE": _ANY, "PAD": _FIL,
    "CONV_2D": _F, "DEPTHWISE_CONV_2D": _F, "FULLY_CONNECTED": _F, "TRANSPOSE_CONV": _F, "BATCH_MATMUL": _F,
    "AVERAGE_POOL_2D": _F, "MAX_POOL_2D": _F,
}

# For SELECT_V2 the judged operand is the second (the first is the bool condition).
_DATA_INPUT = {"SELECT_V2": 1, "TRANSPOSE_CONV": 2}  # TRANSPOSE_CONV: (output_shape, filter, input, bias)


def kernel_limitation(op: Op) -> str | None:
    """Why LiteRT's kernel for ``op`` would reject it (``None`` when it is fine or not judged)."""
    accepted = KERNEL_DTYPES.get(op.kind)
    if accepted is None:
        return None
    i = _DATA_INPUT.get(op.kind, 0)
    t = op.inputs[i] if i < len(op.inputs) else None
    if t is None or t.dtype not in JUDGED_DTYPES or t.dtype in accepted:
        return None
    return (f"dtype {t.dtype}: LiteRT's {op.kind} kernel takes {', '.join(sorted(accepted & JUDGED_DTYPES))}, "
            f"not {t.dtype}")
