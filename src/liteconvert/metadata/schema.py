"""The TFLite metadata flatbuffer (file identifier ``M001``, metadata schema 1.5.0), read and written in pure Python.

The schema is declared below as data: one entry per table, its fields in schema order (a field's position is its
flatbuffer slot; a union takes two slots, ``<name>_type`` then ``<name>``). A small generic encoder and decoder
walk that declaration, so there is no generated code to keep in step.

The plain-Python form is the one ``flatc --json --strict-json`` (and so tflite-support's ``MetadataDisplayer``)
prints: field names in snake_case, enums by name, a union as ``<name>_type`` (the member table's name) beside
``<name>`` (its fields), absent fields and scalars equal to their default left out, ``[ubyte]`` as a list of ints.
"""

from __future__ import annotations

import functools
import struct
from typing import Any

import flatbuffers
from flatbuffers import number_types as nt
from flatbuffers.table import Table

from .. import flatbuf
from ..errors import InvalidModelError

FILE_IDENTIFIER = b"M001"
SCHEMA_VERSION = "1.5.0"

ENUMS: dict[str, list[str]] = {
    "AssociatedFileType": ["UNKNOWN", "DESCRIPTIONS", "TENSOR_AXIS_LABELS", "TENSOR_VALUE_LABELS",
                           "TENSOR_AXIS_SCORE_CALIBRATION", "VOCABULARY", "SCANN_INDEX_FILE"],
    "ColorSpaceType": ["UNKNOWN", "RGB", "GRAYSCALE"],
    "BoundingBoxType": ["UNKNOWN", "BOUNDARIES", "UPPER_LEFT", "CENTER"],
    "CoordinateType": ["RATIO", "PIXEL"],
    "ScoreTransformationType": ["IDENTITY", "LOG", "INVERSE_LOGISTIC"],
}

UNIONS: dict[str, list[str]] = {  # index = the union type value; 0 is NONE
    "ContentProperties": ["NONE", "FeatureProperties", "ImageProperties", "BoundingBoxProperties",
                          "AudioProperties"],
    "ProcessUnitOptions": ["NONE", "NormalizationOptions", "ScoreCalibrationOptions", "ScoreThresholdingOptions",
                           "BertTokenizerOptions", "SentencePieceTokenizerOptions", "RegexTokenizerOptions"],
}

# Field types: "string", "uint", "int", "float", "enum:<Enum>", "table:<T>", "union:<U>",
# "[float]", "[uint]", "[string]", "[table:<T>]", "[ubyte16]" (a byte vector aligned to 16).
TABLES: dict[str, list[tuple[str, str]]] = {
    "AssociatedFile": [("name", "string"), ("description", "string"), ("type", "enum:AssociatedFileType"),
                       ("locale", "string"), ("version", "string")],
    "FeatureProperties": [],
    "ImageSize": [("width", "uint"), ("height", "uint")],
    "ImageProperties": [("color_space", "enum:ColorSpaceType"), ("default_size", "table:ImageSize")],
    "AudioProperties": [("sample_rate", "uint"), ("channels", "uint")],
    "BoundingBoxProperties": [("index", "[uint]"), ("type", "enum:BoundingBoxType"),
                              ("coordinate_type", "enum:CoordinateType")],
    "ValueRange": [("min", "int"), ("max", "int")],
    "Content": [("content_properties", "union:ContentProperties"), ("range", "table:ValueRange")],
    "NormalizationOptions": [("mean", "[float]"), ("std", "[float]")],
    "ScoreCalibrationOptions": [("score_transformation", "enum:ScoreTransformationType"),
                                ("default_score", "float")],
    "ScoreThresholdingOptions": [("global_score_threshold", "float")],
    "BertTokenizerOptions": [("vocab_file", "[table:AssociatedFile]")],
    "SentencePieceTokenizerOptions": [("sentencePiece_model", "[table:AssociatedFile]"),
                                      ("vocab_file", "[table:AssociatedFile]")],
    "RegexTokenizerOptions": [("delim_regex_pattern", "string"), ("vocab_file", "[table:AssociatedFile]")],
    "ProcessUnit": [("options", "union:ProcessUnitOptions")],
    "Stats": [("max", "[float]"), ("min", "[float]")],
    "TensorGroup": [("name", "string"), ("tensor_names", "[string]")],
    "TensorMetadata": [("name", "string"), ("description", "string"), ("dimension_names", "[string]"),
                       ("content", "table:Content"), ("process_units", "[table:ProcessUnit]"),
                       ("stats", "table:Stats"), ("associated_files", "[table:AssociatedFile]")],
    "CustomMetadata": [("name", "string"), ("data", "[ubyte16]")],
    "SubGraphMetadata": [("name", "string"), ("description", "string"),
                         ("input_tensor_metadata", "[table:TensorMetadata]"),
                         ("output_tensor_metadata", "[table:TensorMetadata]"),
                         ("associated_files", "[table:AssociatedFile]"),
                         ("input_process_units", "[table:ProcessUnit]"),
                         ("output_process_units", "[table:ProcessUnit]"),
                         ("input_tensor_groups", "[table:TensorGroup]"),
                         ("output_tensor_groups", "[table:TensorGroup]"),
                         ("custom_metadata", "[table:CustomMetadata]")],
    "ModelMetadata": [("name", "string"), ("description", "string"), ("version", "string"),
                      ("subgraph_metadata", "[table:SubGraphMetadata]"), ("author", "string"),
                      ("license", "string"), ("associated_files", "[table:AssociatedFile]"),
                      ("min_parser_version", "string")],
}

_SCALARS = {"uint": (nt.Uint32Flags, "<I"), "int": (nt.Int32Flags, "<i"), "float": (nt.Float32Flags, "<f"),
            "enum": (nt.Int8Flags, "<b"), "utype": (nt.Uint8Flags, "<B")}


class MetadataSchemaError(InvalidModelError):
    """The metadata (plain-Python form or flatbuffer bytes) does not follow the metadata schema."""


def _slots(table: str) -> list[tuple[str, str, int]]:
    """``(field, type, slot)`` of a table, unions expanded to their ``_type`` slot and value slot."""
    out, slot = [], 0
    for name, ftype in TABLES[table]:
        if ftype.startswith("union:"):
            out.append((name + "_type", "utype:" + ftype[6:], slot))
            slot += 1
        out.append((name, ftype, slot))
        slot += 1
    return out


def _f32(value: float) -> float:
    """A float32 value as the shortest Python float that round-trips it (what flatc prints)."""
    import numpy as np

    return float(str(np.float32(value)))


# -- encoding -----------------------------------------------------------------------------------------------------
def encode(metadata: dict[str, Any]) -> bytes:
    """Serialize a ``ModelMetadata`` dict to metadata flatbuffer bytes (identifier ``M001``).

    ``min_parser_version`` is always computed from the fields used (any given value is replaced).
    """
    md = dict(metadata)
    md["min_parser_version"] = min_parser_version(md)
    builder = flatbuffers.Builder(1024)
    root = _encode_table(builder, "ModelMetadata", md, "ModelMetadata")
    builder.Finish(root, file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


def _encode_table(b: flatbuffers.Builder, table: str, value: Any, where: str) -> int:
    if not isinstance(value, dict):
        raise MetadataSchemaError(f"{where}: expected an object for table {table}, got {type(value).__name__}")
    slots = _slots(table)
    known = {name for name, _, _ in slots}
    unknown = sorted(set(value) - known)
    if unknown:
        raise MetadataSchemaError(f"{where}: unknown field(s) {unknown} for {table}; known: {sorted(known)}")
    # Children first (flatbuffers are built back to front), then the table itself.
    offsets: dict[str, int] = {}
    for name, ftype, _ in slots:
        if name not in value or value[name] is None or ftype.startswith("utype:"):
            continue
        path = f"{where}.{name}"
        v = value[name]
        if ftype == "string":
            offsets[name] = b.CreateString(_str(v, path))
        elif ftype.startswith("table:"):
            offsets[name] = _encode_table(b, ftype[6:], v, path)
        elif ftype.startswith("union:"):
            member = _union_member(ftype[6:], value.get(name + "_type"), path)
            offsets[name] = _encode_table(b, member, v, path)
        elif ftype.startswith("["):
            offsets[name] = _encode_vector(b, ftype[1:-1], v, path)
    b.StartObject(len(slots))
    for name, ftype, slot in slots:
        if name in offsets:
            b.PrependUOffsetTRelativeSlot(slot, offsets[name], 0)
        elif name in value and value[name] is not None:
            v = value[name]
            if ftype.startswith("enum:"):
                b.PrependInt8Slot(slot, _enum_value(ftype[5:], v, f"{where}.{name}"), 0)
            elif ftype.startswith("utype:"):
                union = ftype[6:]
                member = _union_member(union, v, f"{where}.{name}")
                if name[:-5] not in value:
                    raise MetadataSchemaError(f"{where}: {name} given without {name[:-5]}")
                b.PrependUint8Slot(slot, UNIONS[union].index(member), 0)
            elif ftype == "uint":
                b.PrependUint32Slot(slot, _int(v, 0, 2**32 - 1, f"{where}.{name}"), 0)
            elif ftype == "int":
                b.PrependInt32Slot(slot, _int(v, -(2**31), 2**31 - 1, f"{where}.{name}"), 0)
            elif ftype == "float":
                b.PrependFloat32Slot(slot, _float(v, f"{where}.{name}"), 0.0)
    return b.EndObject()


def _encode_vector(b: flatbuffers.Builder, etype: str, items: Any, where: str) -> int:
    if etype == "ubyte16":
        data = bytes(items) if not isinstance(items, str) else items.encode()
        b.StartVector(1, len(data), 16)
        b.head = b.head - len(data)
        b.Bytes[b.head:b.head + len(data)] = data
        b.vectorNumElems = len(data)
        return b.EndVector()
    if not isinstance(items, (list, tuple)):
        raise MetadataSchemaError(f"{where}: expected a list, got {type(items).__name__}")
    if etype == "float":
        vals = [_float(v, where) for v in items]
        b.StartVector(4, len(vals), 4)
        for v in reversed(vals):
            b.PrependFloat32(v)
        return b.EndVector()
    if etype == "uint":
        ints = [_int(v, 0, 2**32 - 1, where) for v in items]
        b.StartVector(4, len(ints), 4)
        for v in reversed(ints):
            b.PrependUint32(v)
        return b.EndVector()
    if etype == "string":
        offs = [b.CreateString(_str(v, where)) for v in items]
    elif etype.startswith("table:"):
        offs = [_encode_table(b, etype[6:], v, f"{where}[{i}]") for i, v in enumerate(items)]
    else:  # pragma: no cover - the declaration above uses no other vector types
        raise AssertionError(etype)
    b.StartVector(4, len(offs), 4)
    for o in reversed(offs):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()


def _str(v: Any, where: str) -> str:
    if not isinstance(v, str):
        raise MetadataSchemaError(f"{where}: expected a string, got {v!r}")
    return v


def _int(v: Any, lo: int, hi: int, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        try:
            import numpy as np

            if isinstance(v, np.integer) and lo <= int(v) <= hi:
                return int(v)
        except ImportError:  # pragma: no cover
            pass
        raise MetadataSchemaError(f"{where}: expected an integer in [{lo}, {hi}], got {v!r}")
    return v


def _float(v: Any, where: str) -> float:
    try:
        if isinstance(v, (bool, str)):
            raise TypeError
        return float(v)
    except (TypeError, ValueError):
        raise MetadataSchemaError(f"{where}: expected a number, got {v!r}") from None


def _enum_value(enum: str, v: Any, where: str) -> int:
    names = ENUMS[enum]
    if isinstance(v, str) and v.upper() in names:
        return names.index(v.upper())
    if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < len(names):
        return v
    raise MetadataSchemaError(f"{where}: {v!r} is not a {enum}; use one of {names}")


def _union_member(union: str, v: Any, where: str) -> str:
    members = UNIONS[union][1:]
    if isinstance(v, str) and v in members:
        return v
    if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= len(members):
        return members[v - 1]
    raise MetadataSchemaError(f"{where}: union {union} needs its _type set to one of {members}, got {v!r}")


# -- decoding -----------------------------------------------------------------------------------------------------
@functools.cache
def verifier_schema() -> flatbuf.Schema:
    """:data:`TABLES` in the form :func:`liteconvert.flatbuf.verify` reads."""
    kinds = {"string": (flatbuf.STRING, 0), "uint": (flatbuf.SCALAR, 4), "int": (flatbuf.SCALAR, 4),
             "float": (flatbuf.SCALAR, 4), "[float]": (flatbuf.VECTOR, 4), "[uint]": (flatbuf.VECTOR, 4),
             "[string]": (flatbuf.VECTOR_STRING, 4), "[ubyte16]": (flatbuf.VECTOR, 1)}
    tables = {}
    for table in TABLES:
        fields = []
        for name, ftype, slot in _slots(table):
            ref = ftype.split(":", 1)[1] if ":" in ftype else None
            if ftype in kinds:
                kind, size = kinds[ftype]
            elif ftype.startswith("enum:"):
                kind, size = flatbuf.SCALAR, 1
            elif ftype.startswith("utype:"):
                kind, size = flatbuf.UNION_TYPE, 1
            elif ftype.startswith("table:"):
                kind, size = flatbuf.TABLE, 0
            elif ftype.startswith("union:"):
                kind, size = flatbuf.UNION, 0
            else:  # [table:T]
                kind, size, ref = flatbuf.VECTOR_TABLE, 4, ftype[7:-1]
            fields.append(flatbuf.Field(name, slot, kind, size, ref))
        tables[table] = tuple(fields)
    unions = {u: {i: m for i, m in enumerate(members) if i} for u, members in UNIONS.items()}
    return flatbuf.Schema(tables, unions)


def decode(data: bytes | bytearray | memoryview) -> dict[str, Any]:
    """Parse metadata flatbuffer bytes into the plain-Python form (see the module docstring).

    The buffer is verified first (every offset and length in bounds), so a damaged one is one clear error."""
    buf = bytes(data)
    fix = (". Fix: the model's metadata is damaged; attach it again ('liteconvert metadata set') or drop it "
           "('liteconvert metadata remove')")
    if len(buf) < 8:
        raise MetadataSchemaError(f"the TFLITE_METADATA buffer of {len(buf)} bytes is too short{fix}")
    if buf[4:8] != FILE_IDENTIFIER:
        raise MetadataSchemaError(f"the TFLITE_METADATA buffer has identifier {buf[4:8]!r}, not "
                                  f"{FILE_IDENTIFIER!r}{fix}")
    try:
        flatbuf.verify(buf, verifier_schema(), "ModelMetadata", FILE_IDENTIFIER)
    except flatbuf.VerifyError as e:
        raise MetadataSchemaError(f"the TFLITE_METADATA buffer is malformed: {e}{fix}") from None
    root = struct.unpack_from("<I", buf, 0)[0]
    try:
        return _decode_table(Table(buf, root), "ModelMetadata")
    except UnicodeDecodeError as e:
        raise MetadataSchemaError(f"the TFLITE_METADATA buffer has a string that is not UTF-8 ({e.reason} at "
                                  f"byte {e.start}){fix}") from None
    except (struct.error, IndexError, ValueError, TypeError) as e:  # the verifier should have caught it
        raise MetadataSchemaError(f"the TFLITE_METADATA buffer is malformed: {e}{fix}") from None


def _decode_table(t: Table, table: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    utypes: dict[str, int] = {}
    for name, ftype, slot in _slots(table):
        o = t.Offset(4 + 2 * slot)
        if not o:
            continue
        pos = t.Pos + o
        if ftype.startswith("utype:"):
            v = t.Get(nt.Uint8Flags, pos)
            utypes[name[:-5]] = v
            if v:
                members = UNIONS[ftype[6:]]
                out[name] = members[v] if v < len(members) else v
        elif ftype == "string":
            out[name] = t.String(pos).decode("utf-8")
        elif ftype.startswith("enum:"):
            v = t.Get(nt.Int8Flags, pos)
            if v:
                names = ENUMS[ftype[5:]]
                out[name] = names[v] if 0 <= v < len(names) else v
        elif ftype in ("uint", "int", "float"):
            flags = _SCALARS[ftype][0]
            v = t.Get(flags, pos)
            if v:
                out[name] = _f32(v) if ftype == "float" else int(v)
        elif ftype.startswith("table:"):
            out[name] = _decode_table(Table(t.Bytes, t.Indirect(pos)), ftype[6:])
        elif ftype.startswith("union:"):
            kind = utypes.get(name, 0)
            members = UNIONS[ftype[6:]]
            if 0 < kind < len(members):
                out[name] = _decode_table(Table(t.Bytes, t.Indirect(pos)), members[kind])
        elif ftype.startswith("["):
            out[name] = _decode_vector(t, o, ftype[1:-1])
    return out


def _decode_vector(t: Table, o: int, etype: str) -> list[Any]:
    n = t.VectorLen(o)
    start = t.Vector(o)
    if etype == "ubyte16":
        return list(t.Bytes[start:start + n])
    if etype == "float":
        return [_f32(v) for v in struct.unpack_from(f"<{n}f", t.Bytes, start)]
    if etype == "uint":
        return list(struct.unpack_from(f"<{n}I", t.Bytes, start))
    out = []
    for i in range(n):
        pos = start + 4 * i
        if etype == "string":
            out.append(t.String(pos).decode("utf-8"))
        else:
            out.append(_decode_table(Table(t.Bytes, t.Indirect(pos)), etype[6:]))
    return out


# -- min_parser_version -------------------------------------------------------------------------------------------
def _ver(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


def min_parser_version(md: dict[str, Any]) -> str:
    """The smallest metadata parser version that understands every field ``md`` uses.

    Mirrors the rules of the reference metadata_version.cc: VOCABULARY files 1.0.1; subgraph input/output
    process units and BERT/SentencePiece tokenizers 1.1.0; tensor groups 1.2.0; regex tokenizer 1.2.1; audio
    content 1.3.0; SCANN_INDEX_FILE files 1.4.0; an associated file's ``version`` 1.4.1; custom metadata 1.5.0.
    """
    need = ["1.0.0"]

    def files(items: Any) -> None:
        for f in items or []:
            kind = f.get("type")
            if kind in ("VOCABULARY", 5):
                need.append("1.0.1")
            if kind in ("SCANN_INDEX_FILE", 6):
                need.append("1.4.0")
            if f.get("version") is not None:
                need.append("1.4.1")

    def units(items: Any) -> None:
        for u in items or []:
            kind = u.get("options_type")
            if kind in ("BertTokenizerOptions", "SentencePieceTokenizerOptions", 4, 5):
                need.append("1.1.0")
            if kind in ("RegexTokenizerOptions", 6):
                need.append("1.2.1")

    def tensors(items: Any) -> None:
        for tm in items or []:
            files(tm.get("associated_files"))
            units(tm.get("process_units"))
            if (tm.get("content") or {}).get("content_properties_type") in ("AudioProperties", 4):
                need.append("1.3.0")

    for sg in md.get("subgraph_metadata") or []:
        tensors(sg.get("input_tensor_metadata"))
        tensors(sg.get("output_tensor_metadata"))
        files(sg.get("associated_files"))
        for key in ("input_process_units", "output_process_units"):
            if sg.get(key) is not None:
                need.append("1.1.0")
                units(sg[key])
        for key in ("input_tensor_groups", "output_tensor_groups"):
            if sg.get(key) is not None:
                need.append("1.2.0")
        if sg.get("custom_metadata") is not None:
            need.append("1.5.0")
    files(md.get("associated_files"))
    return max(need, key=_ver)


def associated_file_names(md: dict[str, Any]) -> list[str]:
    """Every associated file name the metadata refers to (model, subgraph, tensor and tokenizer levels)."""
    names: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("associated_files", "vocab_file", "sentencePiece_model") and isinstance(value, list):
                    names.extend(f["name"] for f in value if isinstance(f, dict) and "name" in f)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(md)
    return list(dict.fromkeys(names))
