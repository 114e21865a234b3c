"""Access to the TFLite flatbuffer schema bindings that ship with ai-edge-litert, and dtype mapping."""

from __future__ import annotations

import functools
from types import ModuleType

import numpy as np


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


def numpy_dtype(dtype: str) -> np.dtype:
    return np.dtype(object if dtype == "string" else dtype)


@functools.cache
def builtin_names() -> dict[int, str]:
    B = fb().BuiltinOperator
    return {getattr(B, n): n for n in dir(B) if not n.startswith("_")}


def builtin_code(name: str) -> int:
    return getattr(fb().BuiltinOperator, name)
