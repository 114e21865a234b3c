"""Image resizing."""

from __future__ import annotations

from . import QuantSpec, declare
from . import versions as v

# LiteRT's integer resize kernels do not rescale: the output keeps the input's parameters (XNNPACK refuses
# anything else when it prepares the model)
declare("RESIZE_BILINEAR", "ResizeBilinearOptions", ("input", "size"), v.resize_version,
        quant=QuantSpec(int16=True, same_scale=True))
declare("RESIZE_NEAREST_NEIGHBOR", "ResizeNearestNeighborOptions", ("input", "size"), v.resize_nn_version,
        quant=QuantSpec(int16=True, same_scale=True))
