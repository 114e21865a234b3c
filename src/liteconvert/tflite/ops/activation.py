"""Activations: RELU family, LOGISTIC, TANH, SOFTMAX, GELU, HARD_SWISH, PRELU, LEAKY_RELU, ELU."""

from __future__ import annotations

import numpy as np

from . import F, QuantSpec, declare
from . import versions as v

_Q816 = QuantSpec(int16=True)
# The output parameters LiteRT's integer kernels require (they compute in that fixed range).
_SOFTMAX_OUT = {"int8": (1.0 / 256, -128), "int16": (1.0 / 32768, 0), "uint8": (1.0 / 256, 0)}
_TANH_OUT = {"int8": (1.0 / 128, 0), "int16": (1.0 / 32768, 0), "uint8": (1.0 / 128, 128)}

declare("RELU", None, ("input",), v.by_dtype({"int16": 3, "int8": 2, "uint8": 2}), kernel_dtypes=F,
        reference=lambda op, xs: [np.maximum(xs[0], 0)], quant=_Q816)
declare("RELU6", None, ("input",), v.int16_3_int8_2, kernel_dtypes=F,
        reference=lambda op, xs: [np.clip(xs[0], 0, 6)], quant=_Q816)
# (no int16 kernels: LiteRT's RELU_N1_TO_1 and RELU_0_TO_1 take float32, uint8 and int8)
declare("RELU_N1_TO_1", None, ("input",), quant=QuantSpec())
declare("RELU_0_TO_1", None, ("input",), quant=QuantSpec())
declare("LEAKY_RELU", "LeakyReluOptions", ("input",), v.by_dtype({"int16": 2}), quant=_Q816)
declare("PRELU", None, ("input", "alpha"), quant=QuantSpec())
declare("ELU", None, ("input",), kernel_dtypes=F, quant=QuantSpec())
declare("LOGISTIC", None, ("input",), v.logistic_tanh_version, kernel_dtypes=F,
        quant=QuantSpec(int16=True, fixed_output=_SOFTMAX_OUT))
declare("TANH", None, ("input",), v.logistic_tanh_version, kernel_dtypes=F,
        quant=QuantSpec(int16=True, fixed_output=_TANH_OUT))
declare("HARD_SWISH", "HardSwishOptions", ("input",), quant=QuantSpec())
declare("GELU", "GeluOptions", ("input",), v.by_dtype({"int8": 2, "uint8": 2}), quant=QuantSpec())
declare("SOFTMAX", "SoftmaxOptions", ("input",), v.int16_3_int8_2, kernel_dtypes=F,
        quant=QuantSpec(int16=True, fixed_output=_SOFTMAX_OUT))
declare("LOG_SOFTMAX", "LogSoftmaxOptions", ("input",), v.int8_2, kernel_dtypes=F,
        quant=QuantSpec(fixed_output={"int8": (16.0 / 256, 127)}))
