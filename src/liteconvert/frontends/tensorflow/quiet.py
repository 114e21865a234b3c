"""Import TensorFlow quietly."""

from __future__ import annotations

import logging
import os

from ..._console import silenced

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def import_tensorflow():
    """Import TensorFlow quietly, with a clear error when it is not installed."""
    from ...errors import ConversionError

    try:
        with silenced():
            import tensorflow as tf

            tf.get_logger().setLevel(logging.ERROR)
            logging.getLogger("absl").setLevel(logging.ERROR)
    except ImportError as e:
        raise ConversionError(
            f"TensorFlow is not installed ({e}). Fix: pip install 'liteconvert[tensorflow]'") from None
    return tf
