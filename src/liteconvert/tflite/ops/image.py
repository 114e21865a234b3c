"""Image resizing."""

from __future__ import annotations

from . import QuantSpec, declare
from . import versions as v

declare("RESIZE_BILINEAR", "ResizeBilinearOptions", ("input", "size"), v.resize_version,
        quant=QuantSpec(int16=True))
declare("RESIZE_NEAREST_NEIGHBOR", "ResizeNearestNeighborOptions", ("input", "size"), v.resize_nn_version,
        quant=QuantSpec(int16=True, same_scale=True))
