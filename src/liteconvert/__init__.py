"""liteconvert: convert TensorFlow, Keras and JAX models into LiteRT (.tflite) models.

``import liteconvert`` is light: TensorFlow is imported only when a TensorFlow model is converted.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["ConversionError", "OpsSet", "Optimize", "TFLiteConverter", "TargetSpec", "__version__", "convert"]


def __getattr__(name: str) -> Any:
    if name in ("TFLiteConverter", "OpsSet", "Optimize", "TargetSpec", "convert"):
        from . import converter

        return getattr(converter, name)
    if name == "ConversionError":
        from .errors import ConversionError

        return ConversionError
    raise AttributeError(f"module 'liteconvert' has no attribute {name!r}")
