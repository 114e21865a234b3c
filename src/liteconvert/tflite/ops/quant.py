"""Conversions between float and quantized tensors."""

from __future__ import annotations

from . import declare
from . import versions as v

declare("QUANTIZE", "QuantizeOptions", ("input",), v.quantize_version)
declare("DEQUANTIZE", "DequantizeOptions", ("input",), v.dequantize_version)
