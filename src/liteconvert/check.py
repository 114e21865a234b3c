"""Evaluate a model before converting it: can every op run on the standard LiteRT runtime?

``check`` runs the frontend and the lowering registry exactly as ``convert`` does (the same importer walk and
:class:`~liteconvert.frontends.tensorflow.policy.LoweringPolicy`), writes nothing, and reports one row per
distinct source op: how often it occurs, its status, the LiteRT op(s) it becomes and, for problems, where it
comes from and what to do. The outcome says whether the model converts as is, with Select TF ops, with custom
ops, or not at all; each outcome has its own exit code (:data:`EXIT_CODES`).

This module does not import TensorFlow: the frontend is imported when a model is checked.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

BUILTIN, LIMITED, SELECT, CUSTOM, UNSUPPORTED = "builtin", "limited", "select", "custom", "unsupported"

AS_IS, WITH_SELECT, WITH_CUSTOM, NOT_CONVERTIBLE = "as_is", "select_tf_ops", "custom_ops", "not_convertible"

# ``liteconvert check`` exit codes, one per outcome (1, 2 and 3 keep their CLI-wide meaning: load failure,
# bad command line, input not found).
EXIT_CODES = {AS_IS: 0, WITH_SELECT: 10, WITH_CUSTOM: 11, NOT_CONVERTIBLE: 12}

_SEVERITY = {UNSUPPORTED: 0, CUSTOM: 1, LIMITED: 2, SELECT: 3, BUILTIN: 4}

_STATUS_TEXT = {
    BUILTIN: "builtin",
    LIMITED: "builtin, limited",
    SELECT: "needs Select TF ops",
    CUSTOM: "needs a custom op",
    UNSUPPORTED: "unsupported",
}

FLEX_RUNTIME_NOTE = ("it needs the Flex delegate at run time (Android: the "
                     "org.tensorflow:tensorflow-lite-select-tf-ops AAR; iOS: the TensorFlowLiteSelectTfOps pod; "
                     "C++: link the Flex delegate library). The ai-edge-litert Python interpreter does not ship it")


class _Item(Protocol):  # NodeRecord (every node) or OpProblem (the failures only)
    op_type: str
    node: str
    layer: str | None
    status: str
    reason: str
    limitation: str | None


@dataclass
class ModelInput:
    signature: str
    name: str
    dtype: str
    shape: tuple[int, ...] | None


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
class CheckReport:
    source: str
    rows: list[Row]
    inputs: list[ModelInput] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

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
        return AS_IS

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]

    @property
    def converts_as_is(self) -> bool:
        return self.outcome == AS_IS

    def flags(self) -> list[str]:
        """The converter flags the model needs (``[]`` when it converts as is or not at all)."""
        if self.outcome in (AS_IS, NOT_CONVERTIBLE):
            return []
        needs = {r.fallback or r.status for r in self.problems}
        return [f for f, s in (("--allow-select-tf-ops", SELECT), ("--allow-custom-ops", CUSTOM)) if s in needs]

    def summary(self) -> str:
        n_ops = sum(r.count for r in self.rows)
        kinds = len(self.rows)
        bad = self.problems
        limited = [r.op_type for r in bad if r.status == LIMITED]
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
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    def __str__(self) -> str:
        return self.to_text()


# -- building rows --------------------------------------------------------------------------------------------

def _fallback_of(op_type: str, status: str) -> str | None:
    if status in (BUILTIN, UNSUPPORTED):
        return None
    from .frontends.tensorflow.flex import is_flex_allowed  # no TensorFlow import

    return SELECT if is_flex_allowed(op_type) else CUSTOM


def build_rows(items: Iterable[_Item], litert: dict[str, list[str]] | None = None,
               inputs: list[ModelInput] | None = None) -> list[Row]:
    """Group node records (or problems) by (op type, status, limitation); ``litert`` maps node names to the
    LiteRT ops they finally became."""
    rows: dict[tuple[str, str, str | None], Row] = {}
    for it in items:
        key = (it.op_type, it.status, it.limitation)
        row = rows.get(key)
        if row is None:
            row = rows[key] = Row(it.op_type, it.status, limitation=it.limitation,
                                  fallback=_fallback_of(it.op_type, it.status))
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
            r.fix = advise(r, inputs or [])
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


def problem_table(problems: Iterable[_Item]) -> str:
    """The table of a failed conversion (what ``UnsupportedOpsError`` carries)."""
    rows = build_rows(list(problems))
    return "\n".join(render_rows(rows)) if rows else ""


# -- advice ------------------------------------------------------------------------------------------------------

_STRING_PREFIXES = ("String", "Regex", "StaticRegex", "Substr", "Unicode", "ReduceJoin", "DecodeBase64",
                    "EncodeBase64", "AsString", "DecodeRaw", "DecodeJpeg", "DecodePng", "DecodeImage")

_RANDOM = {
    "RandomUniform": "RANDOM_UNIFORM", "RandomStandardNormal": "RANDOM_STANDARD_NORMAL",
    "Multinomial": "MULTINOMIAL", "RandomUniformInt": "RANDOM_UNIFORM", "TruncatedNormal": None,
    "StatelessRandomUniformV2": None, "StatelessRandomNormalV2": None, "StatelessRandomUniform": None,
    "StatelessRandomNormal": None, "StatelessTruncatedNormalV2": None, "RandomGamma": None,
    "RandomPoisson": None, "RandomPoissonV2": None,
}

# Ops with no LiteRT builtin where a rewrite with builtin-lowerable ops exists.
_REPLACEMENTS = {
    "MatrixDeterminant": "no LiteRT builtin computes a determinant. For a small fixed size write it out: 2x2 "
                         "a*d - b*c, 3x3 by cofactors (tf.gather / slicing, MUL, SUB, SUM are builtins)",
    "LogMatrixDeterminant": "no LiteRT builtin; for a small fixed size expand the determinant with slicing, MUL and "
                            "SUB, then take LOG of its absolute value",
    "MatrixInverse": "no LiteRT builtin; for a 2x2/3x3 matrix use the adjugate formula (slicing, MUL, SUB, DIV), "
                     "or precompute the inverse if the matrix is constant",
    "Cholesky": "no LiteRT builtin; precompute it if the matrix is constant",
    "Qr": "no LiteRT builtin; precompute it if the matrix is constant",
    "Svd": "no LiteRT builtin; precompute it if the matrix is constant",
    "SelfAdjointEigV2": "no LiteRT builtin; precompute it if the matrix is constant",
    "MatrixSolve": "no LiteRT builtin; for a fixed small system multiply by the precomputed inverse",
    "Cumprod": "for positive inputs tf.exp(tf.math.cumsum(tf.math.log(x), axis)) gives the same result with LOG, "
               "CUMSUM and EXP builtins; for a short fixed axis, a product of slices",
    "Einsum": "rewrite it with tf.matmul / tf.transpose / tf.reshape, which lower to BATCH_MATMUL, TRANSPOSE and "
              "RESHAPE",
    "Erf": "a lone erf has no builtin; for GELU use keras.activations.gelu(x, approximate=True) or tf.nn.gelu",
    "Lgamma": "no LiteRT builtin; if the argument is constant, precompute it",
    "Atan2": "no builtin in this converter; for angles use a polynomial approximation with builtins",
    "Bucketize": "compare against the boundaries (tf.cast(x[..., None] > boundaries, tf.int32) summed over the "
                 "last axis): GREATER, CAST and SUM are builtins",
}


def advise(row: Row, inputs: list[ModelInput]) -> str:
    """The concrete fix for a problem row."""
    from .frontends.tensorflow.flex import NEVER_CONVERTIBLE  # no TensorFlow import

    op = row.op_type
    if op in NEVER_CONVERTIBLE:
        return ("a Python function can never be converted: its body is Python, not graph ops. Rewrite it with "
                "TensorFlow ops (then run check again), or run it outside the model, before or after inference.")
    if row.status == UNSUPPORTED:
        return (f"{op} handles resources or variants that LiteRT cannot hold. Export the inference function only "
                "(model.export() / a tf.function without training state) and check again.")
    tail = _flags_tail(row)
    if row.status == LIMITED:
        return _limited_advice(row, inputs) + tail
    if op.startswith(_STRING_PREFIXES):
        return ("LiteRT builtins do not process strings. Move string processing out of the model (tokenize in "
                "the app and feed integer ids)." + tail)
    if op in _RANDOM:
        builtin = _RANDOM[op]
        head = (f"LiteRT has the builtin {builtin} but this converter does not lower {op} yet. "
                if builtin else "no LiteRT builtin for this random op. ")
        return (head + "If it comes from a training-only layer (Dropout, GaussianNoise), export with "
                "training=False; else generate the noise in the app and pass it as a model input." + tail)
    if op in _REPLACEMENTS:
        return _REPLACEMENTS[op] + "." + tail
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

def model_inputs(graphs: list[Any]) -> list[ModelInput]:
    """Signature inputs (dtype, shape) read from the loaded graphs' placeholder NodeDefs."""
    result = []
    for g in graphs:
        nodes = {n.name: n for n in g.graph_def.node}
        for uname, tname in g.inputs:
            nd = nodes.get(tname.split(":")[0])
            if nd is None:
                continue
            dtype, shape = "?", None
            if "dtype" in nd.attr:
                from tensorflow.python.framework import dtypes

                dtype = dtypes.as_dtype(nd.attr["dtype"].type).name
            if "shape" in nd.attr and not nd.attr["shape"].shape.unknown_rank:
                shape = tuple(int(d.size) for d in nd.attr["shape"].shape.dim)
            result.append(ModelInput(g.key, uname, dtype, shape))
    return result


def check_graphs(graphs: list[Any], source: str, pipeline: list[list[str]] | None = None) -> CheckReport:
    """Check loaded TF graphs: the converter's import walk with every fallback allowed (so that the walk
    and the pass pipeline see a complete graph), recording what each node needs."""
    from .converter import legalize
    from .errors import UnsupportedOpsError
    from .frontends.tensorflow import import_graphs
    from .frontends.tensorflow.policy import LoweringPolicy
    from .passes import run_pipeline

    policy = LoweringPolicy(allow_select_tf_ops=True, allow_custom_ops=True)
    model = None
    try:
        model = import_graphs(graphs, policy)
    except UnsupportedOpsError:
        pass  # only nodes no op set can carry; every node is in policy.records
    litert: dict[str, list[str]] | None = None
    if model is not None:
        try:
            run_pipeline(model, pipeline)
            legalize(model)
        except UnsupportedOpsError as e:  # a lowering produced a pattern with no LiteRT builtin
            for p in e.problems:
                rec = policy.record_for(p.node)
                if rec is not None and rec.status == BUILTIN:
                    rec.status, rec.limitation = LIMITED, "pattern"
                    rec.reason = f"{p.op_type}: {p.reason}"
            model = None
    if model is not None:
        litert = {}
        for _, op in model.all_ops():
            if op.source and op.kind != "CUSTOM":
                kinds = litert.setdefault(op.source, [])
                if op.kind not in kinds:
                    kinds.append(op.kind)
        for rec in policy.records:  # lowered, then fused into a neighbour or folded away by the passes
            if rec.status == BUILTIN and not litert.get(rec.node):
                litert[rec.node] = [f"{k} (fused)" for k in rec.litert]
    inputs = model_inputs(graphs)
    rows = build_rows(policy.records, litert, inputs)
    aliases: dict[str, list[str]] = {}  # signatures converted once for another one (Keras 3's serve)
    for g in graphs:
        if getattr(g, "alias_of", None):
            aliases.setdefault(g.alias_of, []).append(g.key)
    for r in rows:
        r.signatures.extend(a for s in list(r.signatures) for a in aliases.get(s, []) if a not in r.signatures)
    notes = []
    wide: dict[tuple[str, str], list[str]] = {}
    for i in inputs:
        if i.dtype in ("int64", "float64"):
            wide.setdefault((i.name, i.dtype), []).append(i.signature)
    for (name, dtype), sigs in wide.items():
        narrow = "int32" if dtype == "int64" else "float32"
        notes.append(f"input '{name}' ({', '.join(sigs)}) is {dtype}: LiteRT kernels mostly take {narrow}; "
                     f"declare it {narrow} unless you need the range.")
    return CheckReport(source, rows, inputs, notes)


def check(source: Any, signature_keys: list[str] | None = None, **options: Any) -> CheckReport:
    """Check ``source`` (SavedModel directory, ``.keras``/``.h5`` path, or Keras model) without converting.

    Returns a :class:`CheckReport`: ``print(report)`` for the table, ``report.outcome`` /
    ``report.exit_code`` / ``report.as_dict()`` for programs.
    """
    from .converter import _converter_for

    conv = _converter_for(source, signature_keys)
    for key, value in options.items():
        if not hasattr(conv, key):
            from .errors import InvalidOptionError

            raise InvalidOptionError(f"unknown option {key!r}. Fix: use an attribute of TFLiteConverter.")
        setattr(conv, key, value)
    return conv.check()


def source_name(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return getattr(source, "name", type(source).__name__)
