"""Access to the TFLite flatbuffer schema bindings that ship with ai-edge-litert, and dtype mapping."""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any


@functools.cache
def fb() -> ModuleType:
    """The generated schema module (imported on first use: it costs ~0.3 s)."""
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


# IR dtype name <-> TensorType name. IR dtypes are numpy dtype names, plus "string" and "resource".
_DTYPE_TO_TFL = {
    "float32": "FLOAT32", "float16": "FLOAT16", "float64": "FLOAT64", "bfloat16": "BFLOAT16",
    "int32": "INT32", "uint8": "UINT8", "int64": "INT64", "string": "STRING", "bool": "BOOL",
    "int16": "INT16", "complex64": "COMPLEX64", "int8": "INT8", "complex128": "COMPLEX128",
    "uint64": "UINT64", "resource": "RESOURCE", "variant": "VARIANT", "uint32": "UINT32",
    "uint16": "UINT16", "int4": "INT4",
}
_TFL_TO_DTYPE = {v: k for k, v in _DTYPE_TO_TFL.items()}


def tensor_type(dtype: str) -> int:
    try:
        return getattr(fb().TensorType, _DTYPE_TO_TFL[dtype])
    except KeyError:
        raise ValueError(f"dtype {dtype} has no TFLite tensor type") from None


@functools.cache
def _type_names() -> dict[int, str]:
    T = fb().TensorType
    return {getattr(T, n): n for n in dir(T) if not n.startswith("_")}


def dtype_of(tensor_type_value: int) -> str:
    name = _type_names().get(tensor_type_value, f"TYPE_{tensor_type_value}")
    return _TFL_TO_DTYPE.get(name, name.lower())


@functools.cache
def builtin_names() -> dict[int, str]:
    B = fb().BuiltinOperator
    return {getattr(B, n): n for n in dir(B) if not n.startswith("_")}


def builtin_code(name: str) -> int:
    return getattr(fb().BuiltinOperator, name)


# -- the model schema as data, for the verifier -------------------------------------------------------------------
_FLAG_SIZES = {"Bool": 1, "Int8": 1, "Uint8": 1, "Int16": 2, "Uint16": 2, "Int32": 4, "Uint32": 4, "Float32": 4,
               "Int64": 8, "Uint64": 8, "Float64": 8}


@functools.cache
def model_schema() -> Any:
    """The TFLite model schema as a :class:`liteconvert.flatbuf.Schema`, read off the generated bindings.

    The bindings are flatc's Python output, one accessor method per field in a fixed shape (``Offset(4 + 2 *
    slot)``, then ``Get(<Type>Flags ...)`` for a scalar, ``String``, ``Indirect`` + ``<Table>()``, ``Vector`` or
    ``Union``); the union of a union field is named in the object API's ``<Union>Creator(...)`` call. Reading
    them keeps the verifier in step with the schema LiteRT itself was built with, options tables included.
    """
    import inspect
    import re

    from ..flatbuf import (
        OFFSET,
        SCALAR,
        STRING,
        TABLE,
        UNION,
        UNION_TYPE,
        VECTOR,
        VECTOR_STRING,
        VECTOR_TABLE,
        Field,
        Schema,
    )

    src = inspect.getsource(fb())
    blocks = {m.group(1): m.group(2) for m in re.finditer(r"^class (\w+)\(object\):\n(.*?)(?=^\S)", src,
                                                          re.S | re.M)}
    unions: dict[str, dict[int, str]] = {}
    creators = set(re.findall(r"^def (\w+)Creator\(unionType, table\):", src, re.M))
    for name in creators:
        members = re.findall(r"^\s+(\w+) = (\d+)$", blocks.get(name, ""), re.M)
        unions[name] = {int(v): k for k, v in members if int(v) and k in blocks}
    tables: dict[str, tuple[Field, ...]] = {}
    method = re.compile(r"    def (\w+)\(self(, j)?\):\n(.*?)(?=\n    #|\n    def |\Z)", re.S)
    for cls, body in blocks.items():
        if "def Init(self, buf, pos):" not in body:
            continue
        union_of = dict(re.findall(r"self\.(\w+) = (\w+)Creator\(", blocks.get(cls + "T", "")))
        fields = []
        for m in method.finditer(body):
            name, code = m.group(1), m.group(3)
            off = re.search(r"self\._tab\.Offset\((\d+)\)", code)
            if off is None or name.endswith(("AsNumpy", "Length", "IsNone")):
                continue
            slot = (int(off.group(1)) - 4) // 2
            flags = re.search(r"number_types\.(\w+)Flags, ", code)
            table = re.search(r"obj = (\w+)\(\)", code)
            if "self._tab.Union(" in code:
                attr = name[0].lower() + name[1:]
                fields.append(Field(name, slot, UNION, ref=union_of.get(attr)))
            elif "self._tab.Vector(o)" in code:
                if "self._tab.Indirect(x)" in code and table:
                    fields.append(Field(name, slot, VECTOR_TABLE, 4, table.group(1)))
                elif "self._tab.String(a" in code:
                    fields.append(Field(name, slot, VECTOR_STRING, 4))
                elif flags:
                    fields.append(Field(name, slot, VECTOR, _FLAG_SIZES[flags.group(1)]))
                else:
                    fields.append(Field(name, slot, OFFSET))
            elif "self._tab.String(o + self._tab.Pos)" in code:
                fields.append(Field(name, slot, STRING))
            elif "self._tab.Indirect(o + self._tab.Pos)" in code and table:
                fields.append(Field(name, slot, TABLE, ref=table.group(1)))
            elif flags:
                base = name[:-4]
                kind = UNION_TYPE if base and name.endswith("Type") and base[0].lower() + base[1:] in union_of \
                    else SCALAR
                fields.append(Field(name, slot, kind, _FLAG_SIZES[flags.group(1)]))
            else:
                fields.append(Field(name, slot, OFFSET))
        tables[cls] = tuple(sorted(fields, key=lambda f: f.slot))
    return Schema(tables, unions)


def verify_model(buf: Any) -> None:
    """Raise :class:`liteconvert.flatbuf.VerifyError` unless ``buf`` is a well-formed TFLite model flatbuffer
    (every table, vector and string in bounds, as LiteRT's verifier checks); indices are the reader's job."""
    from ..flatbuf import verify

    verify(buf, model_schema(), "Model", identifier=b"TFL3")
