"""A flatbuffer verifier: checks every offset, length and index a reader would follow before anything reads them.

The rules are the FlatBuffers C++ verifier's (``flatbuffers/verifier.h``), which LiteRT runs on a model before
it uses it: the root offset and every table, vtable, field, string and vector lie inside the buffer and are
aligned; a vtable's size is even and at least 4; an offset is non-zero and below 2**31; a string has its NUL
terminator; a vector's byte size does not overflow; nesting is at most 64 deep and the number of tables is
bounded, so that a hostile buffer can neither make a reader index out of range nor loop for ever. Fields a
schema does not know (newer writers) and union members it does not know are accepted, as C++ does.

A schema is plain data: for each table, its :class:`Field` s by slot. ``liteconvert.tflite.schema`` derives the
TFLite model schema from the schema bindings that ship with LiteRT; ``liteconvert.metadata.schema`` declares the
metadata schema. Nothing here knows either.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_U16 = struct.Struct("<H")
_I32 = struct.Struct("<i")
_U32 = struct.Struct("<I")

MAX_DEPTH = 64

# Field kinds.
SCALAR, STRUCT, STRING, TABLE, UNION_TYPE, UNION = "scalar", "struct", "string", "table", "union_type", "union"
VECTOR, VECTOR_STRING, VECTOR_TABLE, VECTOR_STRUCT, OFFSET = ("vector", "vector_string", "vector_table",
                                                              "vector_struct", "offset")


@dataclass(frozen=True)
class Field:
    """One field of a table. ``size``: bytes of a scalar or struct, or of one vector element; ``ref``: the table
    of a table field or vector, or the union of a union value field. ``OFFSET``: an offset to something the
    schema does not describe (only its target's bounds are checked)."""

    name: str
    slot: int
    kind: str
    size: int = 0
    ref: str | None = None


@dataclass
class Schema:
    tables: Mapping[str, tuple[Field, ...]]
    unions: Mapping[str, Mapping[int, str]]  # union name -> {type value: member table}


class VerifyError(ValueError):
    """The buffer is not a well-formed flatbuffer of the schema; the message names the first problem found."""


class _Verifier:
    def __init__(self, buf: Any, schema: Schema, max_depth: int, max_tables: int):
        self.buf = buf
        self.n = len(buf)
        self.schema = schema
        self.max_depth = max_depth
        self.max_tables = max_tables
        self.tables = 0

    def need(self, pos: int, size: int, align: int, what: str) -> None:
        if pos < 0 or size < 0 or pos + size > self.n:
            raise VerifyError(f"{what} (bytes {pos}..{pos + size}) lies outside the {self.n}-byte buffer")
        if align > 1 and pos % align:
            raise VerifyError(f"{what} at byte {pos} is not {align}-byte aligned")

    def deref(self, pos: int, what: str) -> int:
        self.need(pos, 4, 4, what)
        off = _U32.unpack_from(self.buf, pos)[0]
        if off == 0 or off >= 1 << 31:
            raise VerifyError(f"{what}: offset {off} at byte {pos} is not valid")
        target = pos + off
        self.need(target, 1, 1, what)
        return target

    def vector(self, pos: int, elem: int, what: str) -> tuple[int, int]:
        """(first element, length) of the vector at ``pos``."""
        self.need(pos, 4, 4, what)
        n = _U32.unpack_from(self.buf, pos)[0]
        if elem and n >= (1 << 31) // elem:
            raise VerifyError(f"{what}: a vector of {n} elements is too long")
        self.need(pos + 4, n * elem, 1, f"{what} ({n} elements)")
        return pos + 4, n

    def string(self, pos: int, what: str) -> None:
        start, n = self.vector(pos, 1, what)
        self.need(start + n, 1, 1, f"{what} terminator")
        if self.buf[start + n] != 0:
            raise VerifyError(f"{what}: the string at byte {pos} has no NUL terminator")

    def table(self, pos: int, name: str, depth: int, path: str) -> None:
        if depth > self.max_depth:
            raise VerifyError(f"{path}: tables nested more than {self.max_depth} deep")
        self.tables += 1
        if self.tables > self.max_tables:
            raise VerifyError(f"more than {self.max_tables} tables: the buffer is not a plausible {name}")
        self.need(pos, 4, 4, f"{path} ({name})")
        vt = pos - _I32.unpack_from(self.buf, pos)[0]
        self.need(vt, 4, 2, f"{path} ({name}) vtable")
        vsize, osize = _U16.unpack_from(self.buf, vt)[0], _U16.unpack_from(self.buf, vt + 2)[0]
        if vsize < 4 or vsize % 2:
            raise VerifyError(f"{path} ({name}): vtable size {vsize} is not valid")
        self.need(vt, vsize, 2, f"{path} ({name}) vtable")
        self.need(pos, osize, 1, f"{path} ({name}) object")
        slots = (vsize - 4) // 2
        utypes: dict[int, int] = {}
        for f in self.schema.tables.get(name, ()):
            if f.slot >= slots:
                continue
            vo = _U16.unpack_from(self.buf, vt + 4 + 2 * f.slot)[0]
            if not vo:
                continue
            fpos = pos + vo
            where = f"{path}.{f.name}"
            kind = f.kind
            if kind in (SCALAR, UNION_TYPE):
                self.need(fpos, f.size, f.size, where)
                if kind == UNION_TYPE:
                    utypes[f.slot + 1] = self.buf[fpos]
            elif kind == STRUCT:
                self.need(fpos, f.size, 1, where)
            elif kind == STRING:
                self.string(self.deref(fpos, where), where)
            elif kind == TABLE:
                self.table(self.deref(fpos, where), f.ref or "", depth + 1, where)
            elif kind == UNION:
                target = self.deref(fpos, where)
                member = self.schema.unions.get(f.ref or "", {}).get(utypes.get(f.slot, 0))
                if member is not None:
                    self.table(target, member, depth + 1, where)
            elif kind in (VECTOR, VECTOR_STRUCT):
                self.vector(self.deref(fpos, where), f.size, where)
            elif kind in (VECTOR_TABLE, VECTOR_STRING):
                start, n = self.vector(self.deref(fpos, where), 4, where)
                for i in range(n):
                    item = self.deref(start + 4 * i, f"{where}[{i}]")
                    if kind == VECTOR_STRING:
                        self.string(item, f"{where}[{i}]")
                    else:
                        self.table(item, f.ref or "", depth + 1, f"{where}[{i}]")
            else:  # OFFSET: something this schema does not describe
                self.deref(fpos, where)


def verify(buf: Any, schema: Schema, root: str, identifier: bytes | None = None, start: int = 0,
           max_depth: int = MAX_DEPTH, max_tables: int | None = None) -> None:
    """Raise :class:`VerifyError` unless ``buf`` (bytes, memoryview or mmap) holds, at ``start``, a well-formed
    flatbuffer whose root is table ``root`` of ``schema`` (with file ``identifier``, when given)."""
    n = len(buf)
    if n - start < 8:
        raise VerifyError(f"{n - start} bytes is too short for a flatbuffer")
    if identifier is not None and bytes(buf[start + 4:start + 8]) != identifier:
        raise VerifyError(f"file identifier {bytes(buf[start + 4:start + 8])!r} is not {identifier!r}")
    if max_tables is None:
        max_tables = (n - start) // 4 + 16  # a table takes at least 4 bytes: no honest buffer has more
    v = _Verifier(buf, schema, max_depth, max_tables)
    v.table(v.deref(start, "root offset"), root, 0, root)
