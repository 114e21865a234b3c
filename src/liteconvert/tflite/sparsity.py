"""TFLite's sparse tensor format (``SparsityParameters``), decoded to a dense array.

A sparse constant stores only its values; its ``SparsityParameters`` say where they go. The tensor's ``n``
dimensions, plus ``k`` block dimensions (``block_map[b]`` names the dimension block ``b`` splits, its block size
being that dimension's ``dense_size``), are walked in ``traversal_order``; each walked dimension is DENSE
(``dense_size`` positions) or SPARSE_CSR (for each position of the dimension before it, the entries
``array_segments[p]:array_segments[p + 1]`` of ``array_indices`` are the present indices). The leaf positions
index the values. This is what LiteRT's DENSIFY kernel computes; every index is checked, since the file may be
hostile.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import InvalidModelError

_DENSE, _SPARSE_CSR = 0, 1
_MAX_ELEMENTS = 1 << 28  # a hostile shape must not allocate terabytes


def _vector(v: Any) -> np.ndarray:
    values = getattr(v, "values", None)
    return np.asarray(values if values is not None else [], dtype=np.int64).reshape(-1)


def densify(values: np.ndarray, sparsity: Any, shape: tuple[int, ...], where: str = "a sparse tensor",
            ) -> np.ndarray:
    """The dense array of ``shape`` that sparse ``values`` (1-D) with ``sparsity`` (``SparsityParametersT``)
    stand for; absent entries are zero."""

    def bad(what: str) -> InvalidModelError:
        return InvalidModelError(f"{where}: its sparsity parameters are inconsistent ({what}). Fix: the file is "
                                 "damaged, or was written by a broken tool; LiteRT would refuse it.")

    n = len(shape)
    if math.prod(shape) > _MAX_ELEMENTS:
        raise bad(f"a dense shape {list(shape)} of more than {_MAX_ELEMENTS} elements")
    order = [int(d) for d in (sparsity.traversalOrder if sparsity.traversalOrder is not None else [])]
    block_map = [int(d) for d in (sparsity.blockMap if sparsity.blockMap is not None else [])]
    meta = list(sparsity.dimMetadata or [])
    k = len(block_map)
    if sorted(order) != list(range(n + k)) or len(meta) != n + k or any(not 0 <= d < n for d in block_map):
        raise bad(f"traversal order {order}, block map {block_map}, {len(meta)} dimension entries, rank {n}")
    block = [int(meta[n + b].denseSize) for b in range(k)]
    expanded = list(shape) + block  # the size of each walked dimension, by dimension number
    for b, d in enumerate(block_map):
        if block[b] <= 0 or shape[d] % block[b]:
            raise bad(f"block size {block[b]} does not divide dimension {d} of size {shape[d]}")
        expanded[d] = shape[d] // block[b]
    values = np.asarray(values).reshape(-1)
    pos = np.zeros(1, np.int64)  # for each path walked so far, its position in the current level
    coords: dict[int, np.ndarray] = {}
    for level, dim in enumerate(order):
        m = meta[level]
        size = expanded[dim]
        if int(m.format) == _DENSE:
            if int(m.denseSize) != size:
                raise bad(f"dense size {m.denseSize} of dimension {dim}, which has {size}")
            here = np.tile(np.arange(size, dtype=np.int64), len(pos))
            coords = {d: np.repeat(c, size) for d, c in coords.items()}
            pos = np.repeat(pos * size, size) + here
        elif int(m.format) == _SPARSE_CSR:
            seg, idx = _vector(m.arraySegments), _vector(m.arrayIndices)
            if len(pos) and (pos.max() + 1 >= len(seg)):
                raise bad(f"{len(seg)} segments for {int(pos.max()) + 2} positions")
            starts, stops = seg[pos], seg[pos + 1]
            counts = stops - starts
            if np.any(counts < 0) or (len(stops) and (stops.max() > len(idx) or starts.min() < 0)):
                raise bad("segments out of order or past the indices")
            total = int(counts.sum())
            offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total, dtype=np.int64)
            here = idx[offsets]
            if total and (here.min() < 0 or here.max() >= size):
                raise bad(f"an index outside dimension {dim} of size {size}")
            coords = {d: np.repeat(c, counts) for d, c in coords.items()}
            pos = offsets
        else:
            raise bad(f"dimension format {m.format}")
        coords[dim] = here
    if len(pos) and (pos.max() >= len(values)):
        raise bad(f"{len(values)} values for {int(pos.max()) + 1} positions")
    full = [coords[d] for d in range(n)]
    for b, d in enumerate(block_map):
        full[d] = full[d] * block[b] + coords[n + b]
    out = np.zeros(shape, dtype=values.dtype)
    if math.prod(shape):
        out[tuple(full)] = values[pos]
    return out
