"""Keep third-party console noise (TensorFlow, Keras, the LiteRT runtime) out of our own streams."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """Redirect the process's stdout and stderr (the C-level file descriptors too) to a scratch file.

    Set ``LITECONVERT_VERBOSE=1`` to see the noise. On an exception the captured text is dropped: our own
    error carries what the user needs.
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
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
