"""Builtin options of a ``.tflite`` operator, read back into ``Op.attrs``: the inverse of the writer's
:func:`~liteconvert.tflite.writer.build_options`.

Every field of the options table becomes an attr under its snake_case name; enum fields the writer takes by name
(``padding``, ``fused_activation_function``, ...: :func:`~liteconvert.tflite.writer.option_field`) get their
value's name, other fields their value as is (vectors as lists of ints). Fields that name subgraphs (the
declaration's ``subgraphs``, WHILE/IF) become ``Op.subgraphs``. Then the writer builds the options again from
those attrs, and the two tables must agree field for field: anything the writer cannot express (a float vector,
an enum value it cannot name, an options table other than the declared one) is a problem, never lost silently.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import numpy as np

from ...ir import Op, Subgraph
from ...tflite.ops import OpDecl
from ...tflite.schema import fb
from ...tflite.writer import build_options, option_field


@functools.cache
def union_names() -> dict[int, str]:
    """BuiltinOptions union value -> options table name."""
    u = fb().BuiltinOptions
    return {v: k for k, v in vars(u).items() if not k.startswith("_") and isinstance(v, int)}


@functools.cache
def enum_names(enum: str) -> dict[int, str]:
    e = getattr(fb(), enum)
    names: dict[int, str] = {}
    for k, v in vars(e).items():
        if not k.startswith("_") and isinstance(v, int):
            names.setdefault(v, k)  # the first name of a value, as the schema lists it
    return names


def snake(camel: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), camel)


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    return value


def _fields(obj: Any) -> dict[str, Any]:
    return {k: _plain(v) for k, v in vars(obj).items() if v is not None} if obj is not None else {}


def decode_options(kind: str, decl: OpDecl, options_type: int, options: Any, subgraphs: list[Subgraph],
                   ) -> tuple[dict[str, Any], dict[str, Subgraph], list[str]]:
    """``(attrs, subgraphs, problems)`` for an operator's builtin options (``options_type``: the union value,
    ``options``: the bindings' options object, or None)."""
    if not options_type or options is None:
        # No table: LiteRT then reads zeros, and the writer would put the declared table with the schema's
        # defaults. The same thing unless a default is not zero (ADD's pot_scale_int16, CONV_2D's dilations).
        if decl.options is None:
            return {}, {}, []
        defaults = {snake(k): v for k, v in vars(getattr(fb(), decl.options + "T")()).items()
                    if v not in (None, 0, False)}
        if defaults:
            shown = ", ".join(f"{k}={v}" for k, v in defaults.items())
            return {}, {}, [f"it has no {decl.options}: LiteRT reads zeros there, the writer would write the "
                            f"schema defaults ({shown})"]
        return {}, {}, []
    table = union_names().get(options_type, f"options type {options_type}")
    fields = vars(options)
    if decl.options is None:
        if any(v is not None for v in fields.values()):
            return {}, {}, [f"its {table} cannot be written: liteconvert declares {kind} without options"]
        return {}, {}, []  # an empty table where none is declared: nothing is lost
    if table != decl.options:
        return {}, {}, [f"its options are a {table}, but liteconvert writes {kind} with {decl.options}"]
    attrs: dict[str, Any] = {}
    runs: dict[str, Subgraph] = {}
    problems: list[str] = []
    for camel, value in fields.items():
        if value is None:
            continue  # an absent vector or table: the writer leaves it absent too
        key = snake(camel)
        attr, enum = option_field(key)
        if attr != camel:
            problems.append(f"option {camel} has no snake_case name the writer reads back")
            continue
        if key in decl.subgraphs:
            index = int(value)
            if not 0 <= index < len(subgraphs):
                problems.append(f"option {key}={index} names no subgraph (the model has {len(subgraphs)})")
            else:
                runs[key] = subgraphs[index]
            continue
        if enum is not None:
            name = enum_names(enum).get(int(value))
            if name is None:
                problems.append(f"option {key}={value} is not a {enum} value")
                continue
            if getattr(getattr(fb(), enum), name.upper(), None) != value:  # the writer looks names up in capitals
                problems.append(f"the writer cannot name option {key}={name}")
                continue
            attrs[key] = name
        else:
            attrs[key] = _plain(value)
    if problems:
        return attrs, runs, problems
    # The writer's own reading of these attrs must give the same table back.
    try:
        index = {id(sg): i for i, sg in enumerate(subgraphs)}
        _, rebuilt = build_options(Op(kind, [], [], dict(attrs), subgraphs=dict(runs)), decl, index)
    except (AttributeError, ValueError, TypeError, OverflowError) as e:
        return attrs, runs, [f"the writer cannot express its {table} ({type(e).__name__}: {e})"]
    want, got = _fields(options), _fields(rebuilt)
    diff = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
    if diff:
        detail = ", ".join(f"{snake(k)}={want.get(k)!r} (would be {got.get(k)!r})" for k in diff[:3])
        problems.append(f"the writer cannot express its {table}: {detail}")
    return attrs, runs, problems
