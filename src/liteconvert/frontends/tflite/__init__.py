"""The TFLite frontend: read an existing ``.tflite`` model (ours, Google's converter's, MediaPipe's) into the IR.

``import_tflite(path_or_bytes) -> (Model, TFLiteExtras)`` reads a file faithfully (``importer.py``; builtin
options through ``options.py``, the inverse of the writer's); :class:`TFLiteFrontend` is the same as a
``Frontend`` for the driver (``frontend.py``). No TensorFlow: only the LiteRT schema bindings and interpreter.
"""

from .frontend import TFLiteFrontend
from .importer import TFLiteExtras, TFLiteSource, import_tflite, open_tflite

__all__ = ["TFLiteExtras", "TFLiteFrontend", "TFLiteSource", "import_tflite", "open_tflite"]
