"""Evaluate a model before converting it: can every op run on the standard LiteRT runtime?

``check`` runs the conversion driver up to legalization (the same import walk and lowering registry as
``convert``, with every fallback allowed), writes nothing, and reports one row per distinct source op: how
often it occurs, its status, the LiteRT op(s) it becomes and, for problems, where it comes from and what to do
(the frontend adds what it knows of its own ops). The outcome says whether the model converts as is, with
Select TF ops, with custom ops, or not at all; each outcome has its own exit code (:data:`EXIT_CODES`).

This module does not import TensorFlow: the frontend is imported when a model is checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .config import ConversionConfig
from .driver import FLEX_RUNTIME_NOTE
from .frontends.base import BUILTIN, CUSTOM, LIMITED, SELECT, UNSUPPORTED, Frontend, ModelInput

AS_IS, WITH_SELECT, WITH_CUSTOM, NOT_CONVERTIBLE = "as_is", "select_tf_ops", "custom_ops", "not_convertible"
NOT_INTEGER = "not_integer_only"  # converts, but not integer-only as asked: some op has no integer kernel

# ``liteconvert check`` exit codes, one per outcome (1, 2 and 3 keep their CLI-wide meaning: load failure,
# bad command line, input not found).
EXIT_CODES = {AS_IS: 0, WITH_SELECT: 10, WITH_CUSTOM: 11, NOT_CONVERTIBLE: 12, NOT_INTEGER: 13}

_SEVERITY = {UNSUPPORTED: 0, CUSTOM: 1, LIMITED: 2, SELECT: 3, BUILTIN: 4}

_STATUS_TEXT = {
    BUILTIN: "builtin",
    LIMITED: "builtin, limited",
    SELECT: "needs Select TF ops",
    CUSTOM: "needs a custom op",
    UNSUPPORTED: "unsupported",
}

__all__ = ["EXIT_CODES", "FLEX_RUNTIME_NOTE", "CheckReport", "Row", "build_rows", "check_report", "problem_table",
           "render_rows"]


class _Item(Protocol):  # NodeRecord (every node) or OpProblem (the failures only)
    op_type: str
    node: str
    layer: str | None
    status: str
    reason: str
    limitation: str | None
    fallback: str | None


@dataclass
class Row:
    """One distinct source op with one status."""

    op_type: str
    status: str
    count: int = 0
    litert_ops: list[str] = field(default_factory=list)
    limitation: str | None = None
    reasons: list[str] = field(default_factory=list)
    nodes: list[tuple[str, str | None]] = field(default_factory=list)  # (node name, Keras layer), distinct
    signatures: list[str] = field(default_factory=list)  # of the problem nodes, when known
    fallback: str | None = None  # select | custom | None
    fix: str | None = None

    @property
    def is_problem(self) -> bool:
        return self.status != BUILTIN

    @property
    def status_text(self) -> str:
        text = _STATUS_TEXT[self.status]
        return f"{text}: {self.limitation}" if self.status == LIMITED and self.limitation else text

    def becomes(self) -> str:
        if self.status == SELECT:
            return f"Flex{self.op_type}"
        if self.status == CUSTOM:
            return f"custom {self.op_type}"
        if self.status == LIMITED:
            alt = f"Flex{self.op_type}" if self.fallback == SELECT else f"custom {self.op_type}"
            return f"{'/'.join(self.litert_ops) or 'builtin'} blocked; {alt}"
        if self.status == UNSUPPORTED:
            return "-"
        return ", ".join(self.litert_ops) or "- (folded into constants)"

    def as_dict(self) -> dict[str, Any]:
        return {
            "op": self.op_type, "count": self.count, "status": self.status, "status_text": self.status_text,
            "limitation": self.limitation, "litert_ops": list(self.litert_ops), "becomes": self.becomes(),
            "fallback": self.fallback, "reasons": list(self.reasons),
            "nodes": [{"node": n, "layer": layer} for n, layer in self.nodes], "signatures": list(self.signatures),
            "fix": self.fix,
        }


@dataclass
class QuantRow:
    """The ops of one LiteRT kind that would stay float (``reason``) or become integer (``reason`` None)."""

    op: str
    reason: str | None
    count: int = 0
    nodes: list[tuple[str, str | None]] = field(default_factory=list)  # (source node, Keras layer), distinct

    def fix(self) -> str:
        from .quantize.integer import FINAL_ACTIVATION

        if self.reason == FINAL_ACTIVATION:
            return ("integer too with an integer interface (--io-type int8) or converter.float_final_activation = "
                    "False")
        if self.reason == "weights computed at run time":
            return "make the weights constants (a layer's variables, not a computed tensor)"
        if self.reason and self.reason.startswith("kept float"):
            return "as asked"
        return ("it runs in float between a DEQUANTIZE and a QUANTIZE; with --integer-only "
                "(OpsSet.TFLITE_BUILTINS_INT8) it is an error: replace it for a fully integer model (an NPU, the "
                "Edge TPU)")

    def as_dict(self) -> dict[str, Any]:
        return {"op": self.op, "count": self.count, "integer": self.reason is None, "reason": self.reason,
                "fix": self.fix() if self.reason else None,
                "nodes": [{"node": n, "layer": layer} for n, layer in self.nodes]}


@dataclass
class QuantizationPlan:
    """What full integer quantization (int8 or 16x8) would make of each float op, known without data."""

    mode: str
    integer_only: bool
    rows: list[QuantRow]

    @property
    def floats(self) -> list[QuantRow]:
        return [r for r in self.rows if r.reason is not None]

    @property
    def blocking(self) -> list[QuantRow]:
        """The rows that make an integer-only conversion fail."""
        return [r for r in self.floats if not (r.reason or "").startswith("kept float")] if self.integer_only else []

    def lines(self, max_nodes: int = 3) -> list[str]:
        total = sum(r.count for r in self.rows)
        integer = sum(r.count for r in self.rows if r.reason is None)
        name = "16x8 (int16 activations, int8 weights)" if self.mode == "int16x8" else "int8 (full integer)"
        out = [f"Under {name}{', integer only' if self.integer_only else ''}: {integer} of {total} ops integer"
               + ("." if not self.floats else f"; {total - integer} {'stays' if total - integer == 1 else 'stay'} "
                                            "float:")]
        for r in self.floats:
            out.append(f"  {r.op:<20} x{r.count:<4} {r.reason}")
            where = ", ".join(n + (f" (layer '{layer}')" if layer else "") for n, layer in r.nodes[:max_nodes])
            if len(r.nodes) > max_nodes:
                where += f" (+{len(r.nodes) - max_nodes} more)"
            out += _wrapped("where", where)
            out += _wrapped("fix", r.fix())
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "integer_only": self.integer_only,
                "integer_ops": sum(r.count for r in self.rows if r.reason is None),
                "float_ops": sum(r.count for r in self.floats), "ops": [r.as_dict() for r in self.rows]}


def quantization_plan(entries: Iterable[tuple[str, str, str | None]], mode: str, integer_only: bool,
                      layers: dict[str, str | None]) -> QuantizationPlan:
    """Rows by (LiteRT op, reason) from ``(op, source node, reason)`` entries; ``layers``: node -> Keras layer."""
    rows: dict[tuple[str, str | None], QuantRow] = {}
    for op, node, reason in entries:
        row = rows.setdefault((op, reason), QuantRow(op, reason))
        row.count += 1
        entry = (node, layers.get(node))
        if entry not in row.nodes:
            row.nodes.append(entry)
    ordered = sorted(rows.values(), key=lambda r: (r.reason is None, r.op, r.reason or ""))
    return QuantizationPlan(mode, integer_only, ordered)


@dataclass
class CheckReport:
    source: str
    rows: list[Row]
    inputs: list[ModelInput] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    quantization: QuantizationPlan | None = None  # with an int8 / 16x8 mode

    # -- outcome --------------------------------------------------------------------------------------------
    @property
    def problems(self) -> list[Row]:
        return [r for r in self.rows if r.is_problem]

    @property
    def outcome(self) -> str:
        statuses = {r.status for r in self.problems}
        if UNSUPPORTED in statuses:
            return NOT_CONVERTIBLE
        if any((r.fallback or r.status) == CUSTOM for r in self.problems):
            return WITH_CUSTOM
        if self.problems:
            return WITH_SELECT
        if self.quantization is not None and self.quantization.blocking:
            return NOT_INTEGER
        return AS_IS

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]

    @property
    def converts_as_is(self) -> bool:
        return self.outcome == AS_IS

    def flags(self) -> list[str]:
        """The converter flags the model needs (``[]`` when it converts as is or not at all)."""
        if self.outcome in (AS_IS, NOT_CONVERTIBLE, NOT_INTEGER):
            return []
        needs = {r.fallback or r.status for r in self.problems}
        return [f for f, s in (("--allow-select-tf-ops", SELECT), ("--allow-custom-ops", CUSTOM)) if s in needs]

    def summary(self) -> str:
        n_ops = sum(r.count for r in self.rows)
        kinds = len(self.rows)
        bad = self.problems
        limited = [r.op_type for r in bad if r.status == LIMITED]
        if self.outcome == NOT_INTEGER:
            ops = sorted({r.op for r in self.quantization.blocking})  # type: ignore[union-attr]
            return (f"Converts to LiteRT builtin ops, but not integer only: {', '.join(ops)} "
                    f"{'has' if len(ops) == 1 else 'have'} no integer kernel (see the fix lines).")
        if self.outcome == AS_IS:
            return f"Converts as is: all {n_ops} ops ({kinds} kinds) map to LiteRT builtin ops."
        if self.outcome == NOT_CONVERTIBLE:
            never = sorted({r.op_type for r in bad if r.status == UNSUPPORTED})
            return (f"Does not convert, with any flags: {', '.join(never)} cannot run on LiteRT. "
                    "Fix them first (see the fix lines).")
        flex = sorted({r.op_type for r in bad if (r.fallback or r.status) == SELECT})
        custom = sorted({r.op_type for r in bad if (r.fallback or r.status) == CUSTOM})
        parts = []
        if self.outcome == WITH_SELECT:
            parts.append(f"Converts with --allow-select-tf-ops (Flex ops: {', '.join(flex)}); "
                         "the model then needs the Flex delegate at run time.")
        else:
            parts.append(f"Converts with --allow-custom-ops (custom ops that need your kernels: {', '.join(custom)})")
            if flex:
                parts[-1] += (f"; best with --allow-select-tf-ops --allow-custom-ops, so that {', '.join(flex)} "
                              f"{'runs as a Flex op' if len(flex) == 1 else 'run as Flex ops'}")
            parts[-1] += "."
        if limited:
            parts.append(f"Better: fix {', '.join(sorted(set(limited)))} as the fix lines say, to stay builtin.")
        return "Does not convert as is. " + " ".join(parts)

    # -- rendering ------------------------------------------------------------------------------------------
    def to_text(self) -> str:
        lines = [f"liteconvert check: {self.source}", ""]
        lines += render_rows(self.rows)
        if self.quantization is not None:
            lines += ["", *self.quantization.lines()]
        if self.notes:
            lines.append("")
            lines += [f"note: {n}" for n in self.notes]
        lines += ["", self.summary(), f"(exit code {self.exit_code})"]
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "converts_as_is": self.converts_as_is,
            "flags": self.flags(),
            "summary": self.summary(),
            "ops": [r.as_dict() for r in self.rows],
            "inputs": [{"signature": i.signature, "name": i.name, "dtype": i.dtype,
                        "shape": list(i.shape) if i.shape is not None else None} for i in self.inputs],
            "notes": list(self.notes),
            "quantization": self.quantization.as_dict() if self.quantization is not None else None,
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    def __str__(self) -> str:
        return self.to_text()


# -- building rows --------------------------------------------------------------------------------------------

def build_rows(items: Iterable[_Item], litert: dict[str, list[str]] | None = None,
               inputs: list[ModelInput] | None = None, advice: Any = None) -> list[Row]:
    """Group node records (or problems) by (op type, status, limitation); ``litert`` maps node names to the
    LiteRT ops they finally became; ``advice(op_type, status)`` is the frontend's op-specific advice."""
    rows: dict[tuple[str, str, str | None], Row] = {}
    for it in items:
        key = (it.op_type, it.status, it.limitation)
        row = rows.get(key)
        if row is None:
            row = rows[key] = Row(it.op_type, it.status, limitation=it.limitation, fallback=it.fallback)
        row.count += 1
        kinds = (litert or {}).get(it.node)
        if kinds is None:
            kinds = list(getattr(it, "litert", ()) or ())
        for k in kinds:
            if k not in row.litert_ops:
                row.litert_ops.append(k)
        if it.status != BUILTIN:
            if (it.node, it.layer) not in row.nodes:
                row.nodes.append((it.node, it.layer))
            sig = getattr(it, "signature", "")
            if sig and sig not in row.signatures:
                row.signatures.append(sig)
            if it.reason and it.reason not in row.reasons:
                row.reasons.append(it.reason)
    result = sorted(rows.values(), key=lambda r: (_SEVERITY[r.status], -r.count, r.op_type))
    for r in result:
        if r.is_problem:
            r.fix = advise(r, inputs or [], advice)
    return result


def render_rows(rows: list[Row], max_nodes: int = 3) -> list[str]:
    """The table: one line per row, and for problems where they come from, why, and the fix."""
    head = ("OP", "COUNT", "STATUS", "LITERT OP(S)")
    w0 = max([len(head[0])] + [len(r.op_type) for r in rows])
    w2 = max([len(head[2])] + [len(r.status_text) for r in rows])
    lines = [f"{head[0]:<{w0}}  {head[1]:>5}  {head[2]:<{w2}}  {head[3]}"]
    for r in rows:
        lines.append(f"{r.op_type:<{w0}}  {r.count:>5}  {r.status_text:<{w2}}  {r.becomes()}")
        if not r.is_problem:
            continue
        where = ", ".join(n + (f" (layer '{layer}')" if layer else "") for n, layer in r.nodes[:max_nodes])
        if len(r.nodes) > max_nodes:
            where += f" (+{len(r.nodes) - max_nodes} more)"
        if len(r.signatures) > 1:
            where += f" [in signatures {', '.join(r.signatures)}]"
        lines += _wrapped("where", where)
        if r.reasons:
            lines += _wrapped("why", "; ".join(r.reasons[:3]))
        if r.fix:
            lines += _wrapped("fix", r.fix)
    return lines


def _wrapped(label: str, text: str, width: int = 110) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width, initial_indent=f"    {label + ':':<7}", subsequent_indent=" " * 11,
                         break_on_hyphens=False, break_long_words=False)


def problem_table(problems: Iterable[_Item], advice: Any = None) -> str:
    """The table of a failed conversion (what ``UnsupportedOpsError`` carries)."""
    rows = build_rows(list(problems), advice=advice)
    return "\n".join(render_rows(rows)) if rows else ""


# -- advice ------------------------------------------------------------------------------------------------------

def advise(row: Row, inputs: list[ModelInput], advice: Any = None) -> str:
    """The concrete fix for a problem row: the frontend's op-specific advice, or the generic one."""
    specific = advice(row.op_type, row.status) if advice is not None else None
    if row.status == UNSUPPORTED:
        return specific or (f"{row.op_type} cannot run on LiteRT with any op set. Rewrite that part of the model "
                            "and check again.")
    tail = _flags_tail(row)
    if row.status == LIMITED:
        return _limited_advice(row, inputs) + tail
    if specific:
        return specific + tail
    return "no builtin lowering exists in this converter; replace the op with builtin-friendly ones." + tail


def _flags_tail(row: Row) -> str:
    if (row.fallback or row.status) == SELECT:
        return (f" Or convert with --allow-select-tf-ops (Flex{row.op_type}; needs the Flex delegate at run "
                "time).")
    return (f" Or convert with --allow-custom-ops and register a kernel for the custom op '{row.op_type}' in "
            "your interpreter.")


def _limited_advice(row: Row, inputs: list[ModelInput]) -> str:
    kind = row.limitation or "attribute value"
    why = "; ".join(row.reasons[:1])
    if kind == "dtype":
        wide = [i for i in inputs if i.dtype in ("int64", "float64")]
        which = "float64" if "float64" in why else "int64" if "int64" in why else None
        src = list({i.name: i for i in wide if which is None or i.dtype == which}.values())
        where = (f" The {which or 'wide'} values come from input(s) {', '.join(repr(i.name) for i in src)}: "
                 f"declare {'them' if len(src) > 1 else 'it'} "
                 f"{'float32' if which == 'float64' else 'int32'} (e.g. keras.Input(..., dtype="
                 f"'{'float32' if which == 'float64' else 'int32'}')).") if src else ""
        if which == "float64":
            return ("LiteRT kernels compute in float32. Compute in float32: cast once with tf.cast(x, tf.float32) "
                    "where the float64 values start (keras.config.set_floatx('float32'))." + where)
        return ("LiteRT's kernel has no " + (which or "such") + " support for this op. Compute in int32: "
                "cast once with tf.cast(x, tf.int32) before the arithmetic (int32 is exact below 2**31)." + where)
    if kind == "dynamic dimension":
        dyn = [i for i in inputs if i.shape is not None and any(d < 0 for d in i.shape)]
        where = (" Inputs with dynamic dimensions: "
                 + ", ".join(f"{i.name} {list(i.shape) if i.shape else '?'}" for i in dyn) + ".") if dyn else ""
        return ("the op needs a static shape here. Give the model's input a fixed shape (keras.Input(shape=(...), "
                "batch_size=N) or a tf.TensorSpec with static dims), or reshape to a known shape before this "
                "op." + where)
    if kind == "non-constant input":
        return ("an operand that must be known at conversion time is computed at run time (often from a dynamic "
                "shape). Make the shapes static or pass the value as a constant.")
    if kind == "rank":
        return "LiteRT's kernel does not take this rank. Reshape to a lower rank (merge dimensions) around the op."
    if kind == "pattern":
        return "the ops this lowers to have no LiteRT builtin in this combination. Rewrite the computation."
    return f"an attribute value is outside what LiteRT supports ({why}). Change it in the model if you can."


# -- running ------------------------------------------------------------------------------------------------------

def check_report(frontend: Frontend, config: ConversionConfig | None = None) -> CheckReport:
    """Check a frontend's model: the driver's walk up to legalization, one row per distinct source op."""
    from . import driver

    config = config or ConversionConfig()
    result = driver.check(frontend, config)  # (its mode: what quantization would give)
    rows = build_rows(result.records, result.litert, result.inputs, frontend.advice)
    for r in rows:  # signatures converted once for another one (Keras 3's serve)
        r.signatures.extend(a for s in list(r.signatures) for a in result.aliases.get(s, []) if a not in r.signatures)
    notes = []
    wide: dict[tuple[str, str], list[str]] = {}
    for i in result.inputs:
        if i.dtype in ("int64", "float64"):
            wide.setdefault((i.name, i.dtype), []).append(i.signature)
    for (name, dtype), sigs in wide.items():
        narrow = "int32" if dtype == "int64" else "float32"
        notes.append(f"input '{name}' ({', '.join(sigs)}) is {dtype}: LiteRT kernels mostly take {narrow}; "
                     f"declare it {narrow} unless you need the range.")
    plan = None
    if result.quantization is not None:
        layers = {r.node: r.layer for r in result.records}
        plan = quantization_plan(result.quantization, config.mode, config.integer_only, layers)
    return CheckReport(frontend.label, rows, result.inputs, notes, plan)
