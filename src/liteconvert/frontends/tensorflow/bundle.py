"""Read a TensorFlow checkpoint's tensors from the files, in slices, without holding a whole tensor in memory.

TensorFlow's own reader (``CheckpointReader.get_tensor``, ``RestoreV2``) always materializes a stored tensor
whole, even to return a slice of it. For a weight of a gigabyte that is a gigabyte of memory per read. A
checkpoint (a "tensor bundle") is simple enough to read directly:

* ``variables.index`` is a sorted string table (the LevelDB format: data blocks of prefix-compressed
  key/value entries with restart points, an index block, a 48-byte footer ending in the magic number
  ``0xdb4775248b80fb57``); the entry under the empty key is a ``BundleHeaderProto`` (number of shards,
  endianness), every other key a variable's ``BundleEntryProto`` (dtype, shape, shard, offset, size, masked
  CRC32C, and slices when the tensor was saved partitioned);
* ``variables.data-SSSSS-of-NNNNN`` holds each tensor's raw little-endian bytes at that offset.

:class:`Bundle` reads the index once, checks a tensor's CRC32C (streamed, with the ``crc32c`` package) the first
time it is read, and returns any slice along one axis: rows as one contiguous read, other axes as one read
per contiguous run, straight into the result. Anything unusual (compressed index blocks, partitioned or string
tensors, a big-endian bundle, no ``crc32c`` package) makes :func:`open_bundle` return None, and the caller uses
TensorFlow's reader.
"""

from __future__ import annotations

import os
import struct
from typing import Any

import numpy as np

_MAGIC = 0xDB4775248B80FB57
_MASK_DELTA = 0xA282EAD8
_CHUNK = 64 << 20


class BundleError(Exception):
    """The bundle is not of the simple kind this reader handles (or it is damaged)."""


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise BundleError("truncated varint")
        c = buf[i]
        i += 1
        result |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return result, i


def _block(data: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    """The entries of one table block (no compression)."""
    if offset + size + 5 > len(data):
        raise BundleError("a block lies outside the index file")
    if data[offset + size] != 0:
        raise BundleError("compressed index block")
    block = data[offset:offset + size]
    if size < 4:
        raise BundleError("block too small")
    restarts = struct.unpack_from("<I", block, size - 4)[0]
    end = size - 4 - 4 * restarts
    entries, i, key = [], 0, b""
    while i < end:
        shared, i = _varint(block, i)
        unshared, i = _varint(block, i)
        vlen, i = _varint(block, i)
        key = key[:shared] + block[i:i + unshared]
        i += unshared
        entries.append((key, block[i:i + vlen]))
        i += vlen
    return entries


def _unmask(masked: int) -> int:
    rot = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


class Bundle:
    def __init__(self, prefix: str):
        from tensorflow.core.protobuf import tensor_bundle_pb2
        from tensorflow.python.framework import dtypes

        self.prefix = prefix
        with open(prefix + ".index", "rb") as f:
            data = f.read()
        if len(data) < 48 or struct.unpack_from("<Q", data, len(data) - 8)[0] != _MAGIC:
            raise BundleError("not a table file")
        footer = data[len(data) - 48:]
        _, i = _varint(footer, 0)
        _, i = _varint(footer, i)
        index_off, i = _varint(footer, i)
        index_size, i = _varint(footer, i)
        self.entries: dict[str, Any] = {}
        header = None
        for _, handle in _block(data, index_off, index_size):
            off, j = _varint(handle, 0)
            size, _ = _varint(handle, j)
            for key, value in _block(data, off, size):
                if key == b"":
                    header = tensor_bundle_pb2.BundleHeaderProto.FromString(value)
                else:
                    self.entries[key.decode("utf-8", "replace")] = tensor_bundle_pb2.BundleEntryProto.FromString(
                        value)
        if header is None or header.endianness != tensor_bundle_pb2.BundleHeaderProto.LITTLE:
            raise BundleError("no header, or a big-endian bundle")
        self.num_shards = header.num_shards
        self._dtypes = dtypes
        self._checked: set[str] = set()

    def _info(self, key: str) -> tuple[Any, np.dtype, tuple[int, ...], str]:
        e = self.entries.get(key)
        if e is None:
            raise BundleError(f"no entry {key}")
        if len(e.slices):
            raise BundleError("a partitioned tensor")
        dtype = np.dtype(self._dtypes.as_dtype(e.dtype).as_numpy_dtype)
        if dtype.kind not in "fiub":
            raise BundleError("not a numeric tensor")
        shape = tuple(int(d.size) for d in e.shape.dim)
        if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize != e.size:
            raise BundleError("size does not match dtype and shape")
        shard = f"{self.prefix}.data-{e.shard_id:05d}-of-{self.num_shards:05d}"
        return e, dtype, shape, shard

    def _check_crc(self, key: str, e: Any, shard: str) -> None:
        import crc32c

        crc = 0
        with open(shard, "rb") as f:
            f.seek(e.offset)
            left = e.size
            while left:
                chunk = f.read(min(_CHUNK, left))
                if not chunk:
                    raise BundleError("the data file is shorter than its index says")
                crc = crc32c.crc32c(chunk, crc)
                left -= len(chunk)
        if crc != _unmask(e.crc32c):
            raise BundleError(f"checksum mismatch for {key}: the data file is damaged")
        self._checked.add(key)

    def read(self, key: str, axis: int = 0, start: int = 0, stop: int | None = None) -> np.ndarray:
        e, dtype, shape, shard = self._info(key)
        if key not in self._checked:
            self._check_crc(key, e, shard)
        if not shape:
            with open(shard, "rb") as f:
                f.seek(e.offset)
                return np.frombuffer(f.read(e.size), dtype=dtype.newbyteorder("<")).reshape(()).astype(dtype)
        stop = shape[axis] if stop is None else min(stop, shape[axis])
        row = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
        if axis == 0:  # rows are one contiguous range
            out = np.empty((stop - start, *shape[1:]), dtype=dtype)
            with open(shard, "rb") as f:
                f.seek(e.offset + start * row)
                if f.readinto(memoryview(out).cast("B")) != out.nbytes:
                    raise BundleError("the data file is shorter than its index says")
            return out
        # Another axis: the tensor as [outer, n, inner]; the slice is one contiguous run per outer index, read
        # straight into place (no whole-tensor copy, no mapping whose pages would count as ours).
        outer = int(np.prod(shape[:axis], dtype=np.int64))
        inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
        width = (stop - start) * inner * dtype.itemsize
        out = np.empty((outer, stop - start, inner), dtype=dtype)
        flat = memoryview(out.reshape(outer, -1)).cast("B")
        with open(shard, "rb") as f:
            fd = f.fileno()
            for o in range(outer):
                pos = e.offset + ((o * shape[axis] + start) * inner) * dtype.itemsize
                if os.preadv(fd, [flat[o * width:(o + 1) * width]], pos) != width:
                    raise BundleError("the data file is shorter than its index says")
        return out.reshape((*shape[:axis], stop - start, *shape[axis + 1:]))


def open_bundle(prefix: str) -> Bundle | None:
    """A :class:`Bundle` for the checkpoint at ``prefix``, or None when TensorFlow's reader must be used."""
    try:
        import crc32c  # noqa: F401
    except ImportError:
        return None
    try:
        return Bundle(prefix)
    except (BundleError, OSError, ValueError, struct.error):
        return None

