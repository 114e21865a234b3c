"""liteconvert: convert TensorFlow, Keras and JAX models into LiteRT (.tflite) models.

``import liteconvert`` is light: TensorFlow is imported only when a TensorFlow model is converted.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# ``liteconvert.check`` is the function (the submodule of the same name is imported here, light and free of
# TensorFlow, so that the function, bound after it, is what the attribute stays).
from . import check as _check_module  # noqa: F401
from .converter import check

__all__ = ["ConversionConfig", "ConversionError", "OpsSet", "Optimize", "TFLiteConverter", "TargetSpec",
           "__version__", "check", "convert"]


# Public subpackages, imported on first use as attributes (``liteconvert.metadata.ImageClassifierMetadata``)
# as well as by ``from liteconvert import metadata``; none of them imports TensorFlow.
_SUBMODULES = ("cli", "config", "driver", "errors", "files", "flatbuf", "frontends", "inspect", "ir", "metadata",
               "passes", "tflite", "verify")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    if name in ("TFLiteConverter", "OpsSet", "Optimize", "TargetSpec", "convert"):
        from . import converter

        return getattr(converter, name)
    if name == "ConversionConfig":
        from .config import ConversionConfig

        return ConversionConfig
    if name == "ConversionError":
        from .errors import ConversionError

        return ConversionError
    raise AttributeError(f"module 'liteconvert' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES})
