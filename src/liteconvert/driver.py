"""The one conversion driver: frontend -> IR -> passes -> legalize -> writer, for every frontend and mode.

    conversion = build(frontend, config)       # import, run the pipeline, legalize: the IR of TFLite ops
    write(conversion, "model.tflite")          # stream it to a file (or a binary stream); or write(c) -> bytes

``check`` runs the same path up to legalization with every fallback allowed, and returns what each source node
needs. Nothing below this module knows which API called it; nothing here knows a source framework: a frontend
is anything with the :class:`~liteconvert.frontends.base.Frontend` protocol.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import BinaryIO

from .config import FLOAT, INT8, INT16X8, ConversionConfig, resolve_mode
from .errors import InvalidModelError, InvalidOptionError, OpProblem, UnsupportedOpsError
from .frontends.base import BUILTIN, LIMITED, Frontend, Imported, ModelInput, NodeRecord
from .ir import Model, Tensor, check_invariants
from .passes import PassContext, resolve, run_pipeline
from .tflite.ops import DECLS

FLEX_RUNTIME_NOTE = ("it needs the Flex delegate at run time (Android: the "
                     "org.tensorflow:tensorflow-lite-select-tf-ops AAR; iOS: the TensorFlowLiteSelectTfOps pod; "
                     "C++: link the Flex delegate library). The ai-edge-litert Python interpreter does not ship it")


@dataclass
class Conversion:
    """A model converted to TFLite ops, ready to write; ``records`` say what each source node became, ``log``
    what the passes did, ``warnings`` what the model needs beyond the standard runtime (and signatures left
    float for want of representative samples)."""

    model: Model
    config: ConversionConfig
    records: list[NodeRecord] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # TFLite metadata (raw M001 bytes) and associated files the source carried (a .tflite being quantized).
    carried_metadata: bytes | None = None
    carried_files: dict[str, bytes] = field(default_factory=dict)
    float_model: bytes | None = None  # the model before quantization (``config.keep_float_model``)
    samples: dict[str, list[dict]] | None = None  # the samples calibration ran on, per signature key
    wants_report: bool = False


def legalize(model: Model) -> list[OpProblem]:
    """Every op left must be a declared TFLite op: the problems for those that are not."""
    return [OpProblem(op.kind, op.source or "?", "no LiteRT builtin for this pattern")
            for _, op in model.all_ops() if op.kind not in DECLS]


def _source_problem(p: OpProblem, imported: Imported) -> OpProblem:
    """A legalization problem named by the source op it came from."""
    rec = imported.record_for(p.node)
    if rec is None:
        return p
    return OpProblem(rec.op_type, p.node, f"{p.op_type}: {p.reason}", rec.layer, status="limited",
                     limitation="pattern", fallback=rec.fallback, signature=rec.signature)


def _run_passes(model: Model, config: ConversionConfig, records: list[NodeRecord] | None = None) -> PassContext:
    ctx = PassContext(config=config, keep_float=_keep_float_names(config.keep_float, records or []),
                      check=config.check_invariants)
    if ctx.check:
        check_invariants(model)
    run_pipeline(model, config.pipeline_spec, ctx)
    return ctx


def build(frontend: Frontend, config: ConversionConfig) -> Conversion:
    """Import ``frontend``'s model, run the pipeline and legalize; raises UnsupportedOpsError listing every op
    that cannot be carried."""
    resolve(config.pipeline_spec)  # an unknown pass name fails before anything is loaded
    if config.mode != FLOAT:
        from . import quantize  # noqa: F401  (the quantization pipelines)

        resolve(config.mode)
    loaded = frontend.load()
    imported = frontend.import_model(loaded, config)
    del loaded  # the source's graphs (and a restored SavedModel's variables) are not needed past the import
    if imported.problems or imported.model is None:
        raise UnsupportedOpsError(imported.problems)
    model = imported.model
    config, note = resolve_mode(config, quantization_aware(model))
    carried = getattr(getattr(frontend, "extras", None), "metadata", None)  # (a .tflite source's metadata)
    samples = _representative_samples(model, config, carried)  # checked before any work on the model
    unmatched = _unmatched_keep_float(model, config, imported.records) if config.mode != FLOAT else []
    ctx = _run_passes(model, config, imported.records)
    if note:
        ctx.note(note)
    problems = legalize(model)
    if problems:
        raise UnsupportedOpsError([_source_problem(p, imported) for p in problems])
    float_model = None
    if config.mode != FLOAT:
        if config.keep_float_model:
            from .tflite.writer import serialize

            float_model = serialize(model)
        _quantize(model, config, ctx, samples, carried)
        problems = legalize(model)
        if problems:
            raise UnsupportedOpsError([_source_problem(p, imported) for p in problems])
    extras = getattr(frontend, "extras", None)  # what a .tflite source carried (liteconvert.frontends.tflite)
    warned = runtime_needs(imported.records)
    missing = _uncalibrated(model, samples)
    if unmatched:
        warned.append(f"keep_float: {', '.join(repr(k) for k in unmatched)} name(s) no op or layer of the model, "
                      "so nothing was kept float for them. Use a Keras layer name, a source op name, or a tensor "
                      "name from the quantization report.")
    if missing:
        warned.append(f"signature(s) {', '.join(repr(k) for k in missing)} got no representative samples: their "
                      f"ops stay float. To quantize them, also yield ('{missing[0]}', {{input name: array}}) "
                      f"samples (from the command line: arrays keyed '{missing[0]}/INPUT').")
    return Conversion(model, config, imported.records, ctx.log, warned,
                      carried_metadata=getattr(extras, "metadata", None),
                      carried_files=dict(getattr(extras, "files", None) or {}), float_model=float_model,
                      samples=samples)


def _keep_float_names(names: list[str], records: list[NodeRecord]) -> set[str]:
    """``names`` (``config.keep_float``), plus the source nodes of each Keras layer named there (a graph's scopes
    may differ from the layer's name: Keras 3 traces layer ``fc`` as ``fc_1``)."""
    wanted = set(names)
    return wanted | {r.node for r in records if r.layer is not None and r.layer in wanted}


def _unmatched_keep_float(model: Model, config: ConversionConfig, records: list[NodeRecord]) -> list[str]:
    """The names in ``config.keep_float`` that name no op of ``model`` (nor a layer of its source)."""
    from .quantize.dynamic import keep_float

    ops = [op for _, op in model.all_ops()]
    out = []
    for k in config.keep_float:
        ctx = PassContext(config=config, keep_float=_keep_float_names([k], records))
        if not any(keep_float(op, ctx) for op in ops):
            out.append(k)
    return out


def quantization_aware(model: Model) -> bool:
    """The model carries trained ranges: fake quantization (quantization-aware training) or range hints."""
    return any(op.kind == "FAKE_QUANT" for _, op in model.all_ops()) or any(
        t.range_hint is not None for sg in model.subgraphs for t in sg.tensors())


def _representative_samples(model: Model, config: ConversionConfig, carried_metadata: bytes | None = None,
                            ) -> dict[str, list[dict]] | None:
    """The representative data as checked samples per signature key, for the modes that calibrate (None
    otherwise, and for a quantization-aware-trained model given none: its ranges are in the graph). Checked
    before any work on the model. A folder of images without a normalization takes the one in the metadata being
    attached, else in the metadata the source carried (``carried_metadata``)."""
    from .quantize import CALIBRATED, data, images

    if config.mode not in CALIBRATED:
        return None
    if config.representative_data is None:
        return None  # (resolve_mode let that through for a quantization-aware-trained model only)
    if not model.signatures:
        raise InvalidModelError("the model has no signature to calibrate. Fix: convert a model with a signature")
    specs = {sig.key: [data.InputSpec(n, tuple(t.shape or ()), t.dtype) for n, t in sig.inputs.items()]
             for sig in model.signatures}
    norm = None
    if isinstance(config.representative_data, images.ImageFolder) and config.representative_data.normalization \
            is None:
        norm = _metadata_normalization(model, config, carried_metadata)
    samples = data.samples_by_signature(config.representative_data, specs, model.signatures[0].key,
                                        config.calibration_samples, norm)
    if config.integer_only:
        missing = _uncalibrated(model, samples)
        if missing:
            raise InvalidOptionError(f"signature(s) {', '.join(repr(k) for k in missing)} got no representative "
                                     "samples, so their ops cannot be made integer. Fix: also yield "
                                     f"('{missing[0]}', {{input name: array}}) samples (from the command line: "
                                     f"arrays keyed '{missing[0]}/INPUT')")
    return samples


def _metadata_normalization(model: Model, config: ConversionConfig, carried: bytes | None,
                            ) -> tuple[list[float], list[float]] | None:
    """(mean, std) that the TFLite metadata (the one this conversion attaches, else the source's) records for the
    first signature's one input."""
    from .metadata import prepare
    from .metadata.schema import decode
    from .quantize.images import model_normalization

    raw = prepare(config.metadata, model)[0] if config.metadata is not None else carried
    sig = model.signatures[0]
    if raw is None or len(sig.inputs) != 1:
        return None
    tensor = next(iter(sig.inputs.values()))
    inputs = model.subgraphs[0].inputs if model.subgraphs else []
    index = next((i for i, t in enumerate(inputs) if t is tensor), 0)
    return model_normalization(decode(raw), index)


def _pixel_inputs(model: Model, config: ConversionConfig, carried: bytes | None,
                  ) -> list[tuple[Tensor, tuple[float, float], tuple[float, float]]]:
    """With an int8 / uint8 interface, an image input whose normalization is known (``--image-norm``, or the
    NormalizationOptions of the TFLite metadata) gets the range pixels 0-255 normalize to, instead of the
    calibrated one: its scale is then 1 / std and its (uint8) zero point the mean, so that the integer values it
    takes are the raw pixels, which is what MediaPipe Tasks and the TFLite support library feed a quantized
    image input (they skip the normalization). Per-channel normalizations have no per-tensor grid: skipped."""
    from .quantize.images import ImageFolder

    if config.mode != INT8 or config.inference_input_type not in ("int8", "uint8") or not model.signatures:
        return []
    sig = model.signatures[0]
    if len(sig.inputs) != 1:
        return []
    folder = config.representative_data if isinstance(config.representative_data, ImageFolder) else None
    norm = folder.normalization if folder is not None and folder.normalization else \
        _metadata_normalization(model, config, carried)
    if norm is None or len(set(norm[0])) != 1 or len(set(norm[1])) != 1:
        return []
    mean, std = float(norm[0][0]), float(norm[1][0])
    t = next(iter(sig.inputs.values()))
    if std <= 0 or not 0 <= mean <= 255 or t.dtype != "float32":
        return []
    return [(t, ((0 - mean) / std, (255 - mean) / std), (mean, std))]


def _uncalibrated(model: Model, samples: dict[str, list[dict]] | None) -> list[str]:
    """Keys of the signatures whose subgraph no sample reached (they stay float)."""
    if samples is None:
        return []
    reached = {id(s.subgraph) for s in model.signatures if s.key in samples}
    return [s.key for s in model.signatures if id(s.subgraph) not in reached]


def _quantize(model: Model, config: ConversionConfig, ctx: PassContext,
              samples: dict[str, list[dict]] | None, carried_metadata: bytes | None = None) -> None:
    """Calibrate (integer modes) and run the mode's quantization pipeline."""
    from .quantize import calibrate

    if samples is not None:
        bits = 16 if config.mode == INT16X8 else 8
        stats = calibrate.calibrate(model, samples)
        method = config.calibration or calibrate.DEFAULT_METHOD[config.mode]
        ctx.stats["ranges"] = {uid: r.bounds(method, bits) for uid, r in stats.items()}
        count = sum(len(v) for v in samples.values())
        ctx.stats["samples"] = count
        ctx.note(f"calibrated {len(stats)} tensors on {count} samples ({method})")
        for t, (lo, hi), (mean, std) in _pixel_inputs(model, config, carried_metadata):
            ctx.stats["ranges"][t.uid] = (lo, hi)
            ctx.note(f"input {t.name!r} takes raw pixels 0-255 (normalized by (x - {mean:g}) / {std:g}): scale "
                     f"1/{std:g}, zero point {mean:g}")
    else:
        ctx.stats["ranges"] = {t.uid: t.range_hint for sg in model.subgraphs for t in sg.tensors()
                               if t.range_hint is not None}
    run_pipeline(model, config.mode, ctx)


def runtime_needs(records: list[NodeRecord]) -> list[str]:
    """Warnings for what the converted model needs beyond the standard runtime: Flex ops, custom ops."""
    out = []
    flex_ops = sorted({r.op_type for r in records if r.emitted == "flex"})
    custom_ops = sorted({r.op_type for r in records if r.emitted == "custom"})
    if flex_ops:
        out.append(f"the model uses Select TF ops ({', '.join('Flex' + o for o in flex_ops)}): {FLEX_RUNTIME_NOTE}.")
    if custom_ops:
        out.append(f"the model uses custom ops ({', '.join(custom_ops)}): the runtime needs a kernel for each, "
                   "registered under that exact name (C++: MutableOpResolver::AddCustom; Python: "
                   "Interpreter(custom_op_registerers=...)).")
    return out


@dataclass
class CheckResult:
    """What ``check`` reports: every node's record, the LiteRT ops each node finally became, the model inputs,
    and the signatures converted once for another."""

    records: list[NodeRecord]
    litert: dict[str, list[str]] | None
    inputs: list[ModelInput]
    aliases: dict[str, list[str]]
    # under full integer quantization (config.mode int8 / 16x8): (LiteRT op, source node, why it would stay float
    # or None) for each float op; None when the mode is not full integer or the model did not legalize
    quantization: list[tuple[str, str, str | None]] | None = None


def check(frontend: Frontend, config: ConversionConfig) -> CheckResult:
    """The conversion up to legalization, with every fallback allowed (so that the walk and the passes see a
    complete graph), recording what each node needs. Writes nothing."""
    resolve(config.pipeline_spec)
    loaded = frontend.load()
    imported = frontend.import_model(loaded, config, keep_going=True)
    model = imported.model
    litert: dict[str, list[str]] | None = None
    if model is not None:
        _run_passes(model, config)
        problems = legalize(model)
        for p in problems:  # a lowering produced a pattern with no LiteRT builtin
            rec = imported.record_for(p.node)
            if rec is not None and rec.status == BUILTIN:
                rec.status, rec.limitation = LIMITED, "pattern"
                rec.reason = f"{p.op_type}: {p.reason}"
        if not problems:
            litert = {}
            for _, op in model.all_ops():
                if op.source and op.kind != "CUSTOM":
                    kinds = litert.setdefault(op.source, [])
                    if op.kind not in kinds:
                        kinds.append(op.kind)
            for rec in imported.records:  # lowered, then fused into a neighbour or folded away by the passes
                if rec.status == BUILTIN and not litert.get(rec.node):
                    litert[rec.node] = [f"{k} (fused)" for k in rec.litert]
    plan = None
    if litert is not None and config.mode in (INT8, INT16X8):
        from .quantize.integer import integer_plan

        plan = [(op.kind, op.source or op.kind, why) for op, why in integer_plan(model, config)]  # type: ignore[arg-type]
    return CheckResult(imported.records, litert, frontend.inputs(loaded), frontend.aliases(loaded), plan)


# -- writing ------------------------------------------------------------------------------------------------------

def _metadata_parts(conversion: Conversion) -> tuple[bytes | None, dict[str, bytes]]:
    """The TFLITE_METADATA flatbuffer and associated files for ``config.metadata`` (None: no metadata)."""
    md = conversion.config.metadata
    if md is None:
        return conversion.carried_metadata, dict(conversion.carried_files)
    from .metadata import prepare

    return prepare(md, conversion.model)


def write(conversion: Conversion, target: str | os.PathLike[str] | BinaryIO | None = None,
          inputs: list[str] | None = None) -> bytes | None:
    """Serialize the converted model. ``target``: a path (written atomically; ``inputs`` are checked not to be
    it), a binary stream, or None for the bytes. Each constant is released as it is written (the model's
    constants are gone afterwards)."""
    from .files import atomic_output
    from .tflite.writer import write_model

    md, files = _metadata_parts(conversion)
    if target is None:
        import io

        buf = io.BytesIO()
        write_model(conversion.model, buf, metadata=md, files=files, consume=True)
        return buf.getvalue()
    if isinstance(target, (str, os.PathLike)):
        with atomic_output(target, inputs or []) as f:
            write_model(conversion.model, f, metadata=md, files=files, consume=True)
        return None
    write_model(conversion.model, target, metadata=md, files=files, consume=True)
    return None


def convert(frontend: Frontend, config: ConversionConfig, target: str | os.PathLike[str] | BinaryIO | None = None,
            inputs: list[str] | None = None) -> tuple[Conversion, bytes | None]:
    """``build`` then ``write``: the conversion (its warnings and log) and the bytes when ``target`` is None."""
    conversion = build(frontend, config)
    return conversion, write(conversion, target, inputs)


__all__ = ["FLEX_RUNTIME_NOTE", "CheckResult", "Conversion", "build", "check", "convert", "legalize",
           "runtime_needs", "write"]
