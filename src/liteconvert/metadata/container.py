"""Put metadata into a ``.tflite`` file, and find it there, without re-packing the model.

How a model is changed (the "prefix" design)
--------------------------------------------
Flatbuffer offsets point forward only, so a new root table must come *before* everything it refers to. To attach
metadata we therefore write a small new head and keep the original model bytes, unchanged, after it::

    [root offset, "TFL3"] [marker: magic, P, N] [pad] [new Model table, new buffers/metadata vectors,
    new Buffer for TFLITE_METADATA, the metadata bytes]  | P: the original model's N bytes | zip of files

The new Model table points at the original operator codes, subgraphs, description, signature defs and
(unchanged) Buffer tables, which sit after it. Only three things are new: the ``buffers`` vector (the same Buffer
tables, plus or in place of the ``TFLITE_METADATA`` one), the ``metadata`` vector when the entry is new, and the
Buffer tables of buffers stored outside the flatbuffer (models over 2 GB: their ``offset`` counts from the file
start, so it is shifted by P). P is a multiple of 64, so every alignment in the original bytes still holds.

The marker records P and N, so attaching again (or removing, ``write_model(..., md=None)``) starts from the
original bytes: new metadata replaces the old, it never piles up, and removing it gives back the original file
byte for byte. Removing the metadata of a model we did not write puts a head whose ``metadata`` vector leaves
the ``TFLITE_METADATA`` entry out (its buffer left empty, so that no buffer index moves).

Associated files go in an uncompressed zip appended at the end, with offsets counted from the file start (what
Python's zipfile, minizip and the Java metadata extractor all read). The zip a model already carried is dropped
when new metadata is attached (files the new metadata still names are carried over), but only when it lies
after everything the model's buffers hold.

Files are read through ``mmap`` for the few tables we look at and copied with plain reads, so a model over
2 GB is never held in memory.

Not handled: a TFLITE_METADATA buffer that tensors also use (no converter writes that); Model fields newer than
the schema we know are refused rather than dropped.
"""

from __future__ import annotations

import io
import mmap
import os
import struct
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO

import flatbuffers
from flatbuffers import number_types as nt
from flatbuffers.table import Table

from ..errors import InvalidModelError
from ..files import open_input

METADATA_NAME = "TFLITE_METADATA"
MAGIC = b"liteconvert.meta"  # 16 bytes
_MARKER = struct.Struct("<16sQQ")  # magic, P (start of the original model), N (its length)
_HEADER = 8 + _MARKER.size
_ALIGN = 64

# Model table slots (schema.fbs): 0 version (uint32); every other known slot is an offset to a vector/string.
_MODEL_SLOTS = 10
_SLOT_BUFFERS, _SLOT_METADATA = 4, 6


class MetadataError(InvalidModelError):
    """A model or its metadata cannot be read or written as asked."""


@dataclass
class _Buffer:
    pos: int  # table position, relative to the model start
    offset: int
    size: int
    data: tuple[int, int] | None  # (start, length) of the inline data vector


@dataclass
class ModelLayout:
    """Where things are in one model flatbuffer (positions relative to the model's first byte)."""

    root: int
    version: int
    fields: dict[int, int]  # slot -> position of the referenced vector/string
    buffers: list[_Buffer]
    metadata: list[tuple[int, str, int]]  # (table position, name, buffer index)

    def metadata_buffer(self, name: str = METADATA_NAME) -> int | None:
        for _, n, idx in self.metadata:
            if n == name:
                return idx
        return None


def parse_layout(buf: Any, base: int = 0, end: int | None = None) -> ModelLayout:
    """Read the Model table of the model whose bytes start at ``base`` in ``buf`` (bytes or mmap)."""
    end = len(buf) if end is None else end
    if end - base < 8 or bytes(buf[base + 4:base + 8]) != b"TFL3":
        raise MetadataError("not a TFLite model (no 'TFL3' file identifier). Fix: pass a .tflite file")
    try:
        root = struct.unpack_from("<I", buf, base)[0]
        t = Table(buf, base + root)
        vt = t.Pos - struct.unpack_from("<i", buf, t.Pos)[0]
        vt_slots = (struct.unpack_from("<H", buf, vt)[0] - 4) // 2
        if vt_slots > _MODEL_SLOTS and any(t.Offset(4 + 2 * s) for s in range(_MODEL_SLOTS, vt_slots)):
            raise MetadataError("the model uses Model fields newer than this tool knows; refusing to rewrite it. "
                                "Fix: update liteconvert")
        version = t.Get(nt.Uint32Flags, t.Pos + t.Offset(4)) if t.Offset(4) else 0
        fields = {}
        for slot in range(1, _MODEL_SLOTS):
            o = t.Offset(4 + 2 * slot)
            if o:
                fields[slot] = t.Indirect(t.Pos + o) - base
        buffers = []
        o = t.Offset(4 + 2 * _SLOT_BUFFERS)
        if o:
            start, n = t.Vector(o), t.VectorLen(o)
            for i in range(n):
                bt = Table(buf, t.Indirect(start + 4 * i))
                data = None
                od = bt.Offset(4)
                if od:
                    data = (bt.Vector(od) - base, bt.VectorLen(od))
                off = bt.Get(nt.Uint64Flags, bt.Pos + bt.Offset(6)) if bt.Offset(6) else 0
                size = bt.Get(nt.Uint64Flags, bt.Pos + bt.Offset(8)) if bt.Offset(8) else 0
                buffers.append(_Buffer(bt.Pos - base, off, size, data))
        metadata = []
        o = t.Offset(4 + 2 * _SLOT_METADATA)
        if o:
            start, n = t.Vector(o), t.VectorLen(o)
            for i in range(n):
                mt = Table(buf, t.Indirect(start + 4 * i))
                on = mt.Offset(4)
                name = bytes(mt.String(mt.Pos + on)).decode("utf-8", "replace") if on else ""
                ob = mt.Offset(6)
                idx = mt.Get(nt.Uint32Flags, mt.Pos + ob) if ob else 0
                metadata.append((mt.Pos - base, name, idx))
    except (struct.error, IndexError, ValueError) as e:
        raise MetadataError(f"the model flatbuffer is malformed ({e}). Fix: check that the file is a whole "
                            ".tflite model") from None
    return ModelLayout(root, version, fields, buffers, metadata)


# -- locating the original model and the zip -----------------------------------------------------------------
def find_model(buf: Any) -> tuple[int, int, bool]:
    """``(start, end, ours)``: where the model proper lies in the file (without our head or a trailing zip)."""
    size = len(buf)
    if size >= _HEADER and bytes(buf[4:8]) == b"TFL3":
        magic, p, n = _MARKER.unpack_from(buf, 8)
        if magic == MAGIC and _HEADER <= p and p + n <= size and bytes(buf[p + 4:p + 8]) == b"TFL3":
            return p, p + n, True
    end = _zip_start(buf, size)
    if end < size:
        # A trailing zip must lie after everything the model's buffers hold, or it is not ours to drop.
        layout = parse_layout(buf, 0, size)
        extents = [b.data[0] + b.data[1] for b in layout.buffers if b.data is not None]
        extents += [b.offset + b.size for b in layout.buffers if b.offset > 1]
        if layout.root >= end or any(x > end for x in extents):
            end = size
    return 0, end, False


def _zip_start(buf: Any, size: int) -> int:
    """Where an appended zip archive starts (``size`` when there is none)."""
    if size < 22 or b"PK\x05\x06" not in bytes(buf[max(0, size - 65_557):size]):
        return size
    try:
        zf = zipfile.ZipFile(_BufReader(buf))
        starts = [i.header_offset for i in zf.infolist()]
        start = min(starts) if starts else zf.start_dir
    except (zipfile.BadZipFile, OSError, ValueError, struct.error):
        return size
    if 8 <= start <= size and (not starts or bytes(buf[start:start + 4]) == b"PK\x03\x04"):
        return start
    return size


class _BufReader(io.RawIOBase):
    """A seekable read-only file over bytes or an mmap, without copying it."""

    def __init__(self, buf: Any):
        self._buf = buf
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        self._pos = pos if whence == 0 else (self._pos + pos if whence == 1 else len(self._buf) + pos)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, b: Any) -> int:
        chunk = self._buf[self._pos:self._pos + len(b)]
        b[:len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)


class _ShiftedWriter(io.RawIOBase):
    """An in-memory file whose positions start at ``base`` (zip offsets then count from the model's start)."""

    def __init__(self, base: int):
        self.base = base
        self.buf = io.BytesIO()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.base + self.buf.tell()

    def seek(self, pos: int, whence: int = 0) -> int:
        self.buf.seek(pos - self.base if whence == 0 else pos, whence)
        return self.tell()

    def write(self, b: Any) -> int:
        return self.buf.write(b)


def build_zip(files: Mapping[str, bytes], base: int) -> bytes:
    """An uncompressed zip of ``files`` whose offsets assume it starts ``base`` bytes into the file."""
    out = _ShiftedWriter(base)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            zf.writestr(info, bytes(data))
    return out.buf.getvalue()


# What reading an archive may inflate into memory (``read``, ``attach`` carrying files over) unless told otherwise;
# ``extract`` streams to disk with its own caps.
READ_LIMIT = 256 << 20


def _zip_error(e: BaseException) -> MetadataError:
    detail = " ".join(str(e).split())[:200] or type(e).__name__
    return MetadataError(f"the model's associated-file archive is damaged ({detail}). Fix: get a fresh copy of the "
                         "model, or remove the archive with 'liteconvert metadata remove'")


# What a hostile or damaged archive can raise inside zipfile.
ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, struct.error, OverflowError,
              EOFError, NotImplementedError, RuntimeError, KeyError, IndexError, UnicodeDecodeError, zlib.error)


def zip_members(buf: Any) -> list[zipfile.ZipInfo]:
    """The entries of the zip appended to a model (its central directory only; nothing is inflated)."""
    size = len(buf)
    if _zip_start(buf, size) >= size:
        return []
    try:
        members = zipfile.ZipFile(_BufReader(buf)).infolist()
    except ZIP_ERRORS as e:
        raise _zip_error(e) from None
    for i in members:  # zipfile cuts a name at a NUL; keep it whole, so that such a name is refused, not renamed
        if "\0" in i.orig_filename:
            i.filename = i.orig_filename
    try:
        return [i for i in members if not i.filename.endswith("/")]
    except ZIP_ERRORS as e:
        raise _zip_error(e) from None


@contextmanager
def open_member(buf: Any, info: zipfile.ZipInfo) -> Iterator[BinaryIO]:
    """A stream of one member's bytes; it never yields more than the member's declared size (zipfile stops
    there and checks the CRC), so declared sizes bound what inflating can cost."""
    try:
        zf = zipfile.ZipFile(_BufReader(buf))
        f = zf.open(info)
    except ZIP_ERRORS as e:
        raise _zip_error(e) from None
    with f:
        yield _CheckedStream(f)


class _CheckedStream:
    """Read from a zip member, turning zipfile's errors (bad CRC, bad deflate data) into one MetadataError."""

    def __init__(self, f: Any):
        self._f = f

    def read(self, n: int = -1) -> bytes:
        try:
            return self._f.read(n)
        except ZIP_ERRORS as e:
            raise _zip_error(e) from None


def read_member(buf: Any, info: zipfile.ZipInfo, limit: int = READ_LIMIT) -> bytes:
    if info.file_size > limit:
        raise MetadataError(f"associated file {info.filename!r} would inflate to {info.file_size:,} bytes, more "
                            f"than the {limit:,} read into memory. Fix: extract it with 'liteconvert metadata "
                            "extract' (which streams to disk, with --max-size)")
    with open_member(buf, info) as f:
        return f.read(limit + 1)[:limit]


def read_zip(buf: Any, start: int = 0, limit: int = READ_LIMIT) -> dict[str, bytes]:
    """The files of the zip appended to a model (``{}`` when there is none), at most ``limit`` bytes in all."""
    members = zip_members(buf)
    total = sum(i.file_size for i in members)
    if total > limit:
        raise MetadataError(f"the model's associated files would inflate to {total:,} bytes, more than the "
                            f"{limit:,} read into memory. Fix: extract them with 'liteconvert metadata extract'")
    return {i.filename: read_member(buf, i, limit) for i in members}


# -- writing the new head ----------------------------------------------------------------------------------------
def _prepend_far(b: flatbuffers.Builder, q: int) -> None:
    """Write a uoffset to position ``q`` of the original model, which will start where the head ends."""
    b.Prep(4, 0)
    b.PlaceUOffsetT(b.Offset() + 4 + q)


def _new_buffer(b: flatbuffers.Builder, data: bytes | None = None, offset: int = 0, size: int = 0) -> int:
    vec = None
    if data:
        b.StartVector(1, len(data), 16)
        b.head = b.head - len(data)
        b.Bytes[b.head:b.head + len(data)] = data
        b.vectorNumElems = len(data)
        vec = b.EndVector()
    b.StartObject(3)
    if vec is not None:
        b.PrependUOffsetTRelativeSlot(0, vec, 0)
    b.PrependUint64Slot(1, offset, 0)
    b.PrependUint64Slot(2, size, 0)
    return b.EndObject()


def _build_body(layout: ModelLayout, md: bytes | None, shift: int) -> tuple[bytes, int]:
    """The new tables: returns (bytes, distance of the Model table from their end).

    ``md=None`` drops the ``TFLITE_METADATA`` entry (its buffer becomes empty; buffer indices do not move).
    """
    b = flatbuffers.Builder(1024 + (len(md) if md else 0))
    md_index = layout.metadata_buffer()
    n_buf = len(layout.buffers)
    if md_index is not None and not 0 < md_index < n_buf:
        raise MetadataError(f"the model's {METADATA_NAME} entry points at buffer {md_index} of {n_buf}. Fix: "
                            "repair the model with the tool that made it")
    own: dict[int, int] = {}  # new Buffer tables by index
    new_entry = md is not None and md_index is None
    if new_entry:
        if n_buf == 0:
            own[0] = _new_buffer(b)  # buffer 0 is the empty sentinel that tensors without data point at
        md_index = max(n_buf, 1)
    # The metadata buffer and the external ones (their file offsets move by ``shift``).
    for i, buf in enumerate(layout.buffers):
        if i == md_index:
            continue
        if buf.offset > 1:
            own[i] = _new_buffer(b, None, buf.offset + shift, buf.size)
    if md_index is not None:
        own[md_index] = _new_buffer(b, md)
    name_off = b.CreateString(METADATA_NAME) if new_entry else None
    meta_entry = None
    if new_entry:
        b.StartObject(2)
        b.PrependUOffsetTRelativeSlot(0, name_off, 0)
        b.PrependUint32Slot(1, md_index, 0)
        meta_entry = b.EndObject()
    # The buffers vector (always rebuilt) and the metadata vector (when an entry is added).
    total = md_index + 1 if new_entry else n_buf
    b.StartVector(4, total, 4)
    for i in reversed(range(total)):
        if i in own:
            b.PrependUOffsetTRelative(own[i])
        else:
            _prepend_far(b, layout.buffers[i].pos)
    buffers_vec = b.EndVector()
    metadata_vec = None
    if new_entry:
        b.StartVector(4, len(layout.metadata) + 1, 4)
        b.PrependUOffsetTRelative(meta_entry)
        for pos, _, _ in reversed(layout.metadata):
            _prepend_far(b, pos)
        metadata_vec = b.EndVector()
    elif md is None:
        kept = [pos for pos, name, _ in layout.metadata if name != METADATA_NAME]
        b.StartVector(4, len(kept), 4)
        for pos in reversed(kept):
            _prepend_far(b, pos)
        metadata_vec = b.EndVector()
    b.StartObject(_MODEL_SLOTS)
    for slot in reversed(range(1, _MODEL_SLOTS)):
        if slot == _SLOT_BUFFERS:
            b.PrependUOffsetTRelativeSlot(slot, buffers_vec, 0)
        elif slot == _SLOT_METADATA and metadata_vec is not None:
            b.PrependUOffsetTRelativeSlot(slot, metadata_vec, 0)
        elif slot in layout.fields:
            _prepend_far(b, layout.fields[slot])
            b.Slot(slot)
    b.PrependUint32Slot(0, layout.version, 0)
    root = b.EndObject()
    return bytes(b.Bytes[b.Head():]), root


def build_head(layout: ModelLayout, model_len: int, md: bytes | None) -> bytes:
    """The bytes that go before the original model: header, marker, padding and the new tables."""
    body, root = _build_body(layout, md, 0)
    p = -(-(_HEADER + len(body)) // _ALIGN) * _ALIGN
    if any(buf.offset > 1 for buf in layout.buffers):
        body2, root = _build_body(layout, md, p)
        if len(body2) != len(body):  # pragma: no cover - offsets are fixed-width fields
            raise MetadataError("internal error: head size changed while shifting buffer offsets")
        body = body2
    head = bytearray(p)
    struct.pack_into("<I4s", head, 0, p - root, b"TFL3")
    _MARKER.pack_into(head, 8, MAGIC, p, model_len)
    head[p - len(body):] = body
    return bytes(head)


# -- whole-file operations ---------------------------------------------------------------------------------------
def _verify(buf: Any, base: int, label: str) -> None:
    """The model flatbuffer at ``base`` is well formed (what LiteRT's verifier checks) before we read it."""
    from ..flatbuf import VerifyError
    from ..tflite.schema import model_schema

    if len(buf) - base < 8 or bytes(buf[base + 4:base + 8]) != b"TFL3":
        raise MetadataError(f"{label} is not a TFLite model (no 'TFL3' file identifier). Fix: pass a .tflite file")
    try:
        from ..flatbuf import verify

        verify(buf, model_schema(), "Model", b"TFL3", start=base)
    except VerifyError as e:
        raise MetadataError(f"{label} is not a valid .tflite model: {e}. Fix: the file is damaged or truncated; "
                            "get a fresh copy") from None


@contextmanager
def open_model(src: str | os.PathLike[str] | bytes | bytearray | memoryview) -> Iterator[Any]:
    """Bytes as they are, or a file mapped read-only (never read into memory)."""
    if isinstance(src, (bytes, bytearray, memoryview)):
        data = src if not isinstance(src, memoryview) else src.tobytes()
        _verify(data, 0, "the model bytes")
        yield data
        return
    path = os.fspath(src)
    with open_input(path, "model") as f:
        if os.fstat(f.fileno()).st_size == 0:
            raise MetadataError(f"{path} is empty. Fix: pass a .tflite model")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            _verify(mm, 0, path)
            yield mm


def write_model(buf: Any, out: BinaryIO, md: bytes | None, files: Mapping[str, bytes] | None = None,
                source: BinaryIO | None = None) -> None:
    """Write the model in ``buf`` to ``out`` with metadata ``md`` and associated ``files``.

    The original model (without any head of ours, and without the zip it carried) is copied unchanged. With
    ``md=None`` the result has no metadata: the original bytes as they were before we attached anything, or,
    when those carry a ``TFLITE_METADATA`` entry of their own, a head that leaves it out.
    ``source``, the file ``buf`` maps, is copied with plain reads: pages of a mapping count as resident memory.
    """
    start, end, ours = find_model(buf)
    if ours:
        _verify(buf, start, "the original model inside the file")
    layout = parse_layout(buf, start, end)
    head = b"" if md is None and layout.metadata_buffer() is None else build_head(layout, end - start, md)
    out.write(head)
    if source is not None:
        _copy_file(source, start, end, out)
    else:
        _copy(buf, start, end, out)
    if files:
        out.write(build_zip(files, len(head) + end - start))


def _copy(buf: Any, start: int, end: int, out: BinaryIO, chunk: int = 64 << 20) -> None:
    view = memoryview(buf)
    try:
        for pos in range(start, end, chunk):
            out.write(view[pos:min(end, pos + chunk)])
    finally:
        view.release()


def _copy_file(f: BinaryIO, start: int, end: int, out: BinaryIO, chunk: int = 16 << 20) -> None:
    f.seek(start)
    remaining = end - start
    while remaining:
        data = f.read(min(chunk, remaining))
        if not data:
            raise MetadataError("the model file changed while it was being copied")
        out.write(data)
        remaining -= len(data)


def write_model_file(src: str | os.PathLike[str] | bytes, dst: str | os.PathLike[str], md: bytes | None,
                     files: Mapping[str, bytes] | None = None) -> None:
    """Stream the result to ``dst`` through a temporary file and an atomic rename (``dst`` may be ``src``)."""
    from ..files import atomic_output

    with open_model(src) as buf, atomic_output(dst) as out:
        if isinstance(src, (bytes, bytearray, memoryview)):
            write_model(buf, out, md, files)
        else:
            with open(src, "rb") as source:
                write_model(buf, out, md, files, source)


def metadata_bytes(buf: Any) -> bytes | None:
    """The raw ``TFLITE_METADATA`` buffer of a model, or None."""
    start, end, ours = find_model(buf)
    # Read through our head when there is one: that is what every reader sees.
    layout = parse_layout(buf, 0, len(buf)) if ours else parse_layout(buf, start, end)
    idx = layout.metadata_buffer()
    if idx is None:
        return None
    if idx >= len(layout.buffers):
        raise MetadataError(f"the model's {METADATA_NAME} entry points at buffer {idx}, which does not exist. Fix: "
                            "the model is damaged; get a fresh copy, or drop the entry with 'liteconvert metadata "
                            "remove'")
    b = layout.buffers[idx]
    if b.data is not None:
        s, n = b.data
        return bytes(buf[s:s + n])
    if b.offset > 1:
        return bytes(buf[b.offset:b.offset + b.size])
    return None
