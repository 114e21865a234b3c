"""The minimum LiteRT runtime version a model needs, from the (op, version) pairs it uses.

Mirrors the runtime's table of the release in which each op version first appeared. An op version missing
from the table counts as the newest version we know of, so an unknown entry never under-states.
"""

from __future__ import annotations

from collections.abc import Iterable

_NEWEST = "2.20.0"

# (op, version) -> first runtime release that implements it.
RUNTIME_VERSIONS: dict[tuple[str, int], str] = {
    ("AVERAGE_POOL_2D", 1): "1.5.0",
    ("AVERAGE_POOL_2D", 2): "1.14.0",
    ("AVERAGE_POOL_2D", 3): "2.3.0",
    ("CONV_2D", 1): "1.5.0",
    ("CONV_2D", 2): "1.14.0",
    ("CONV_2D", 3): "1.14.0",
    ("CONV_2D", 4): "2.3.0",
    ("CONV_2D", 5): "2.4.0",
    ("CONV_2D", 6): "2.9.0",
    ("DEPTHWISE_CONV_2D", 1): "1.5.0",
    ("DEPTHWISE_CONV_2D", 2): "1.12.0",
    ("DEPTHWISE_CONV_2D", 3): "1.14.0",
    ("FULLY_CONNECTED", 1): "1.5.0",
    ("FULLY_CONNECTED", 5): "2.0.0",
    ("FULLY_CONNECTED", 6): "2.1.0",
    ("ADD", 1): "1.5.0",
    ("SUB", 1): "1.6.0",
    ("MUL", 1): "1.5.0",
    ("DIV", 1): "1.6.0",
    ("MAX_POOL_2D", 1): "1.5.0",
    ("CONCATENATION", 1): "1.5.0",
    ("RESHAPE", 1): "1.5.0",
    ("SOFTMAX", 1): "1.5.0",
    ("RELU", 1): "1.5.0",
    ("RELU6", 1): "1.5.0",
    ("LOGISTIC", 1): "1.5.0",
    ("TANH", 1): "1.14.0",
    ("MEAN", 1): "1.6.0",
    ("PAD", 1): "1.5.0",
    ("TRANSPOSE", 1): "1.6.0",
    ("SQUEEZE", 1): "1.6.0",
    ("STRIDED_SLICE", 1): "1.6.0",
    ("RESIZE_BILINEAR", 1): "1.7.0",
    ("RESIZE_BILINEAR", 3): "2.2.0",
    ("RESIZE_NEAREST_NEIGHBOR", 1): "1.13.1",
    ("RESIZE_NEAREST_NEIGHBOR", 3): "2.3.0",
    ("MAXIMUM", 1): "1.14.0",
    ("MINIMUM", 1): "1.14.0",
    ("PRELU", 1): "1.8.0",
    ("LEAKY_RELU", 1): "1.13.1",
    ("HARD_SWISH", 1): "1.15.0",
    ("ELU", 1): "2.5.0",
    ("GELU", 1): "2.9.0",
    ("TRANSPOSE_CONV", 1): "1.9.0",
    ("TRANSPOSE_CONV", 3): "2.2.0",
    ("TRANSPOSE_CONV", 4): "2.13.0",
    ("SUM", 1): "1.10.0",
    ("REDUCE_MAX", 1): "1.11.0",
    ("EXP", 1): "1.7.0",
    ("SQUARED_DIFFERENCE", 1): "1.13.1",
    ("RSQRT", 1): "1.10.0",
    ("SQRT", 1): "1.10.0",
    ("BATCH_MATMUL", 1): "2.3.0",
    ("GATHER", 1): "1.6.0",
    ("CAST", 1): "1.5.0",
    ("SHAPE", 1): "1.10.0",
    ("PACK", 1): "1.11.0",
    ("EXPAND_DIMS", 1): "1.10.0",
}


def _key(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


def min_runtime_version(ops: Iterable[tuple[str, int]]) -> str:
    best = "1.5.0"
    for pair in ops:
        v = RUNTIME_VERSIONS.get(pair, _NEWEST if pair[0] != "CUSTOM" else "1.5.0")
        if _key(v) > _key(best):
            best = v
    return best
