"""Keep TensorFlow's and Keras's console noise out of our own streams."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """Redirect the process's stdout and stderr (C level too) to a scratch file for the block.

    On an exception the captured text is dropped: our error carries what the user needs.
    """
    if os.environ.get("LITECONVERT_VERBOSE"):
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        old_out, old_err = sys.stdout, sys.stderr
        try:
            with open(os.devnull, "w") as null:
                sys.stdout = sys.stderr = null
                yield
        finally:
            sys.stdout, sys.stderr = old_out, old_err
            sys.stdout.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


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
