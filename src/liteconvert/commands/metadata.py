"""``liteconvert metadata``: show, set, extract or remove the TFLite metadata of any ``.tflite`` file."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ..errors import InvalidOptionError
from ..files import check_input, check_output, read_input


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("metadata", help="show, set or extract TFLite metadata (labels, normalization, ...)",
                       description="Read and write the standard TFLite metadata of a .tflite model.")
    msub = p.add_subparsers(dest="metadata_command", metavar="ACTION", parser_class=type(p))

    s = msub.add_parser("show", help="print a model's metadata", description="Print a model's metadata.")
    s.add_argument("model", help="the .tflite file")
    s.add_argument("--json", action="store_true", help="print JSON (the schema form, as flatc prints it)")
    s.set_defaults(run=run_show)

    w = msub.add_parser("set", help="attach metadata (replacing any) and write a new .tflite",
                        description="Attach metadata to any .tflite model, replacing what it had. The model's "
                                    "own bytes are kept as they are.")
    w.add_argument("model", help="the .tflite file")
    w.add_argument("--from", dest="source", help="metadata as JSON or YAML: the builder form (name, description, "
                   "version, author, license, inputs, outputs, or type: image_classifier) or the schema form "
                   "that 'show --json' prints. Default: the model's current metadata")
    w.add_argument("--labels", help="a labels file (one label per line) for the first output")
    w.add_argument("--file", dest="files", action="append", default=[],
                   help="an associated file named in the metadata (repeatable)")
    w.add_argument("-o", "--output", required=True, help="the .tflite file to write (may be MODEL itself)")
    w.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    w.set_defaults(run=run_set)

    e = msub.add_parser("extract", help="write a model's associated files (labels, ...) into a directory",
                        description="Write the associated files packed in a model into DIR. Never writes "
                                    "outside DIR, whatever names the archive holds.")
    e.add_argument("model", help="the .tflite file")
    e.add_argument("-d", "--dir", required=True, help="the directory to write into (created if missing)")
    e.add_argument("--overwrite", action="store_true",
                   help="replace files (or symlinks, never followed) already in DIR; by default they are kept and "
                        "nothing is extracted")
    e.add_argument("--max-file-size", type=_size, default=None, metavar="SIZE",
                   help="largest file to write (default 256M; suffixes K, M, G)")
    e.add_argument("--max-total-size", type=_size, default=None, metavar="SIZE",
                   help="most bytes to write in all (default 1G)")
    e.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    e.set_defaults(run=run_extract)

    r = msub.add_parser("remove", help="write the model without metadata and associated files",
                        description="Write the model without TFLite metadata and associated files. A model "
                                    "liteconvert attached metadata to gets its original bytes back.")
    r.add_argument("model", help="the .tflite file")
    r.add_argument("-o", "--output", required=True, help="the .tflite file to write")
    r.set_defaults(run=run_remove)
    p.set_defaults(run=lambda args: _usage(p))


def _usage(p: argparse.ArgumentParser) -> int:
    p.print_help(sys.stderr)
    return 2


def _need(path: str) -> None:
    check_input(path, "model")


def _size(text: str) -> int:
    """``1024``, ``64K``, ``256M``, ``2G`` as bytes (argparse type)."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = t[-1:] if t[-1:] in units else ""
    try:
        value = float(t[: len(t) - len(unit)] if unit else t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (use e.g. 512M or 2G)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive size")
    return int(value * units[unit])


# -- show ------------------------------------------------------------------------------------------------------
def run_show(args: argparse.Namespace) -> int:
    from .. import metadata as md_api

    md, archive = md_api.describe(args.model)
    if args.json:
        out = {"model": args.model, "metadata": md,
               "associated_files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in archive]}
        sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        return 0
    sys.stdout.write(format_metadata(md, {f.name: f for f in archive}))
    return 0


def _nums(v: list[float] | None) -> str:
    return "[" + ", ".join(f"{x:g}" for x in v or []) + "]"


def _tensor_line(kind: str, i: int, tm: dict[str, Any], files: dict[str, Any]) -> list[str]:
    parts = []
    content = tm.get("content") or {}
    ctype = content.get("content_properties_type")
    props = content.get("content_properties") or {}
    if ctype == "ImageProperties":
        size = props.get("default_size")
        dims = f" {size.get('width', 0)}x{size.get('height', 0)}" if size else ""
        parts.append(f"image {props.get('color_space', 'UNKNOWN')}{dims}")
    elif ctype:
        parts.append(str(ctype).replace("Properties", "").lower())
    for unit in tm.get("process_units") or []:
        opts = unit.get("options") or {}
        if unit.get("options_type") == "NormalizationOptions":
            parts.append(f"normalization mean {_nums(opts.get('mean'))} std {_nums(opts.get('std'))}")
        elif unit.get("options_type") == "ScoreCalibrationOptions":
            parts.append(f"score calibration {opts.get('score_transformation', 'IDENTITY')} "
                         f"default {opts.get('default_score', 0.0):g}")
        elif unit.get("options_type") == "ScoreThresholdingOptions":
            parts.append(f"score threshold {opts.get('global_score_threshold', 0.0):g}")
        elif unit.get("options_type"):
            parts.append(str(unit["options_type"]))
    stats = tm.get("stats")
    if stats:
        parts.append(f"range min {_nums(stats.get('min'))} max {_nums(stats.get('max'))}")
    lines = [f"{kind} {i} {tm.get('name', '')!r}: " + ("; ".join(parts) or "-")]
    if tm.get("description"):
        lines.append(f"    {tm['description']}")
    for f in tm.get("associated_files") or []:
        lines.append("    " + _file_line(f, files))
    return lines


def _file_line(f: dict[str, Any], files: dict[str, Any]) -> str:
    """``files``: ``{name: bytes}`` or ``{name: metadata.ArchiveFile}`` (a bounded preview)."""
    name = f.get("name", "")
    entry = files.get(name)
    data = entry if isinstance(entry, (bytes, type(None))) else entry.head
    size = len(entry) if isinstance(entry, bytes) else getattr(entry, "size", 0)
    extra = "missing from the archive" if entry is None else f"{size:,} bytes"
    if data is not None and f.get("type") in ("TENSOR_AXIS_LABELS", "TENSOR_VALUE_LABELS", "VOCABULARY"):
        lines = data.decode("utf-8", "replace").splitlines()
        complete = len(data) >= size
        head = ", ".join(_printable(x) for x in lines[:5]) + (", ..." if len(lines) > 5 or not complete else "")
        extra = f"{len(lines)} lines: {head}" if complete else f"{size:,} bytes: {head}"
    return f"file {_printable(name)} ({f.get('type', 'UNKNOWN')}): {extra}"


def _printable(text: Any) -> str:
    """Text from a model file, with control characters escaped (a label must not move the terminal's cursor)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def format_metadata(md: dict[str, Any] | None, files: dict[str, Any]) -> str:
    """A readable summary of the schema-form metadata and the packed files (``{name: bytes}`` or
    ``{name: ArchiveFile}``)."""
    if md is None:
        lines = ["no TFLite metadata"]
    else:
        lines = [f"model: {md.get('name', '')}" + (f" (version {md['version']})" if md.get("version") else "")]
        for key in ("description", "author", "license", "min_parser_version"):
            if md.get(key):
                lines.append(f"{key}: {md[key]}")
        for f in md.get("associated_files") or []:
            lines.append(_file_line(f, files))
        for si, sg in enumerate(md.get("subgraph_metadata") or []):
            if si:
                lines.append(f"subgraph {si}: {sg.get('name', '')}")
            for i, tm in enumerate(sg.get("input_tensor_metadata") or []):
                lines.extend(_tensor_line("input", i, tm, files))
            for i, tm in enumerate(sg.get("output_tensor_metadata") or []):
                lines.extend(_tensor_line("output", i, tm, files))
            for f in sg.get("associated_files") or []:
                lines.append(_file_line(f, files))
    if files:
        lines.append("associated files: " + ", ".join(
            f"{_printable(n)} ({(len(d) if isinstance(d, bytes) else d.size):,} bytes)" for n, d in files.items()))
    return "\n".join(_printable(line) for line in lines) + "\n"


# -- set ---------------------------------------------------------------------------------------------------------
def load_spec(path: str) -> dict[str, Any]:
    """Read a JSON or YAML metadata description."""
    raw = read_input(path, "metadata file", limit=16 << 20)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidOptionError(f"{path} is not UTF-8 text. Fix: give the metadata as JSON or YAML") from None
    if path.lower().endswith((".yaml", ".yml")):
        try:
            import yaml
        except ImportError:
            raise InvalidOptionError(f"{path}: reading YAML needs PyYAML. Fix: pip install pyyaml, or give the "
                                     "metadata as JSON") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            msg = " ".join(str(e).split())
            raise InvalidOptionError(f"{path} is not valid YAML ({msg}). Fix: correct it") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise InvalidOptionError(f"{path} is not valid JSON ({e}). Fix: correct it, or use .yaml") from None
    if isinstance(data, dict) and "metadata" in data and "associated_files" in data:
        data = data["metadata"]  # the output of 'show --json'
    if not isinstance(data, dict):
        raise InvalidOptionError(f"{path}: expected an object at the top level. Fix: see "
                                 "'liteconvert metadata set --help'")
    return data


def _with_labels(spec: Any, name: str, n_outputs: int, n_inputs: int) -> Any:
    """Add a TENSOR_AXIS_LABELS file ``name`` to the first output of a builder- or schema-form spec."""
    from .. import metadata as md_api

    if isinstance(spec, md_api.ModelMetadata):
        if isinstance(spec, md_api.ImageClassifierMetadata) and not spec.outputs:
            spec.labels, spec.labels_file = None, name
            return spec
        if not spec.outputs:
            spec.outputs = [md_api.TensorInfo() for _ in range(n_outputs)]
        if not spec.inputs:
            spec.inputs = [md_api.TensorInfo() for _ in range(n_inputs)]
        if spec.outputs:
            spec.outputs[0].labels, spec.outputs[0].labels_file = None, name
        return spec
    # schema form
    base = os.path.basename(name)
    if base in md_api.schema.associated_file_names(spec):
        return spec
    sgs = spec.setdefault("subgraph_metadata", [{}])
    if not sgs:
        sgs.append({})
    sg = sgs[0]
    if not sg.get("input_tensor_metadata"):
        sg["input_tensor_metadata"] = [{} for _ in range(n_inputs)]
    outs = sg.get("output_tensor_metadata") or [{} for _ in range(n_outputs)]
    sg["output_tensor_metadata"] = outs
    outs[0].setdefault("associated_files", []).append(
        {"name": base, "description": "Labels for categories that the model can recognize.",
         "type": "TENSOR_AXIS_LABELS"})
    return spec


def run_set(args: argparse.Namespace) -> int:
    from .. import metadata as md_api

    _need(args.model)
    # The output may be the model itself (rewritten in place, atomically), but never one of the other inputs.
    check_output(args.output, [p for p in (args.source, args.labels, *args.files) if p])
    files: dict[str, bytes] = {}
    for path in args.files + ([args.labels] if args.labels else []):
        files[os.path.basename(path)] = read_input(path, "associated file")
    spec: Any
    if args.source:
        raw = load_spec(args.source)
        schema_form = md_api.is_schema_form(raw)
        try:
            spec = raw if schema_form else md_api.from_dict(raw, base_dir=os.path.dirname(os.path.abspath(args.source)))
        except (TypeError, KeyError) as e:
            raise InvalidOptionError(f"{args.source}: {e}. Fix: see 'liteconvert metadata set --help'") from None
    else:
        spec = md_api.read(args.model)["metadata"] or md_api.ModelMetadata()
    if args.labels:
        from ..metadata import container

        with container.open_model(args.model) as buf:
            ins, outs = md_api.model_io(buf)
        spec = _with_labels(spec, args.labels if isinstance(spec, md_api.ModelMetadata) else
                            os.path.basename(args.labels), len(outs), len(ins))
    if not args.source and not args.labels and not files:
        raise InvalidOptionError("nothing to set. Fix: give --from META.json|yaml and/or --labels FILE")
    try:
        md_api.attach_file(args.model, args.output, spec, files)
    except md_api.MetadataSchemaError as e:
        raise InvalidOptionError(f"invalid metadata: {e}. Fix: correct the metadata description") from None
    if not args.quiet:
        sys.stdout.write(f"wrote {args.output} ({os.path.getsize(args.output):,} bytes)\n")
    return 0


# -- extract / remove ------------------------------------------------------------------------------------------
def run_extract(args: argparse.Namespace) -> int:
    from .. import metadata as md_api

    _need(args.model)
    caps = {k: v for k, v in (("max_file_size", args.max_file_size), ("max_total_size", args.max_total_size))
            if v is not None}
    written = md_api.extract(args.model, args.dir, overwrite=args.overwrite, **caps)
    if not args.quiet:
        for path in written:
            sys.stdout.write(f"wrote {path}\n")
        if not written:
            sys.stdout.write("the model has no associated files\n")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from .. import metadata as md_api
    from ..files import write_atomic

    _need(args.model)
    write_atomic(args.output, md_api.remove(args.model))
    return 0
