"""Layers with weights (convolutions, fully connected, matrix products), pooling, L2 normalization."""

from __future__ import annotations

from . import F, QuantSpec, declare
from . import versions as v

declare("CONV_2D", "Conv2DOptions", ("input", "filter", "bias?"), v.conv2d_version, fused_activation=True,
        kernel_dtypes=F, quant=QuantSpec(int16=True, weights=1, weight_axis=0, bias=2))
declare("DEPTHWISE_CONV_2D", "DepthwiseConv2DOptions", ("input", "filter", "bias?"), v.depthwise_version,
        fused_activation=True, kernel_dtypes=F, quant=QuantSpec(int16=True, weights=1, weight_axis=3, bias=2))
declare("TRANSPOSE_CONV", "TransposeConvOptions", ("output_shape", "filter", "input", "bias?"),
        v.transpose_conv_version, fused_activation=True, kernel_dtypes=F, data_input=2,
        quant=QuantSpec(int16=True, weights=1, weight_axis=0, bias=3))
declare("FULLY_CONNECTED", "FullyConnectedOptions", ("input", "weights", "bias?"), v.fc_version,
        fused_activation=True, kernel_dtypes=F, quant=QuantSpec(int16=True, weights=1, weight_axis=0, bias=2))
declare("BATCH_MATMUL", "BatchMatMulOptions", ("x", "y"), v.batch_matmul_version, kernel_dtypes=F,
        quant=QuantSpec(int16=True))
declare("AVERAGE_POOL_2D", "Pool2DOptions", ("input",), v.pool_version, fused_activation=True, kernel_dtypes=F,
        quant=QuantSpec(int16=True, same_scale=True))
declare("MAX_POOL_2D", "Pool2DOptions", ("input",), v.pool_version, fused_activation=True, kernel_dtypes=F,
        quant=QuantSpec(int16=True, same_scale=True))
declare("L2_NORMALIZATION", "L2NormOptions", ("input",), v.l2_norm_version,
        quant=QuantSpec(fixed_output={"int8": (1.0 / 128, 0)}))
