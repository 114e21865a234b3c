"""Errors the converter raises, as plain data. Each carries one line that names the problem and the fix.

The bottom layer: this module imports nothing of ours."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


class ConversionError(Exception):
    """Base class: the conversion could not be done; ``str(err)`` is one line for the user."""


class SourceNotFoundError(ConversionError, FileNotFoundError):
    pass


class InputError(ConversionError):
    """An input exists but cannot be used as given: unreadable, a directory where a file is expected, a FIFO."""


class OutputError(ConversionError):
    """The output cannot be written where asked (or writing it would change an input); nothing was written."""


class InvalidModelError(ConversionError, ValueError):
    pass


class SignatureKeyError(ConversionError, KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class FeatureNotImplementedError(ConversionError, NotImplementedError):
    """A converter option whose feature is not built yet: never silently ignored."""


class InvalidOptionError(ConversionError, ValueError):
    pass


class ConversionWarning(UserWarning):
    """The model converted but needs more than the standard LiteRT runtime (Flex delegate, custom kernels)."""


@dataclass(frozen=True)
class OpProblem:
    """One source op that could not be lowered."""

    op_type: str
    node: str
    reason: str = "no lowering to LiteRT builtin ops"
    layer: str | None = None
    status: str = "unsupported"  # builtin | limited | select | custom | unsupported (see frontends.base)
    limitation: str | None = None  # for "limited": dtype, rank, dynamic dimension, attribute value, ...
    fallback: str | None = None  # the op set that could carry it: "select", "custom" or None
    signature: str = ""


class UnsupportedOpsError(ConversionError):
    """Every op that could not be lowered, all at once. ``summary`` is one line; ``table``, set by the API
    layer, is the table ``liteconvert check`` prints for these ops (where each comes from, what to do), and
    ``str(err)`` is the summary followed by it."""

    def __init__(self, problems: list[OpProblem], table: str = ""):
        self.problems = problems
        self.summary = self._message()  # one line
        self.table = table
        super().__init__(self.summary)

    def __str__(self) -> str:
        return self.summary + ("\n" + self.table if self.table else "")

    def _message(self) -> str:
        by_type: dict[str, list[OpProblem]] = {}
        for p in self.problems:
            by_type.setdefault(p.op_type, []).append(p)
        parts = []
        for op_type, items in by_type.items():
            nodes = ", ".join(p.node for p in items[:3]) + (f" (+{len(items) - 3} more)" if len(items) > 3 else "")
            reasons = sorted({p.reason for p in items})
            parts.append(f"{op_type} x{len(items)} [{'; '.join(reasons)}] at {nodes}")
        return (f"{len(self.problems)} op(s) cannot be converted to LiteRT builtin ops: " + " | ".join(parts)
                + ". Fix: replace them in the model, or allow Select TF ops (--allow-select-tf-ops) or custom ops "
                "(--allow-custom-ops) where 'liteconvert check' says they fit; it shows where each op comes from.")


@contextlib.contextmanager
def litert_refusal(model: Any, doing: str, fix: str) -> Iterator[None]:
    """LiteRT refusing to load or run a model (a custom op it has no kernel for, a Select TF op without the Flex
    delegate) as one clear error saying what was being done and what to do. ``model``: an IR model (to name its
    custom ops) or None."""
    try:
        yield
    except RuntimeError as e:  # (what LiteRT raises for a kernel it lacks or a node it cannot prepare)
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        custom = sorted({op.custom_code or "" for _, op in model.all_ops() if op.kind == "CUSTOM"} - {""}) \
            if model is not None else []
        around = f" (the model runs custom op(s) {', '.join(custom)})" if custom else ""
        raise InvalidModelError(f"{doing}, which cannot run it here: {first.rstrip('.')}{around}. Fix: {fix}") \
            from None
