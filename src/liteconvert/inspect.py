"""What is inside a ``.tflite`` model: signatures, ops and versions, sizes, metadata.

:func:`inspect_model` builds a plain, JSON-ready report; :func:`format_report` renders it as text. Both work on
any valid model (ours, the reference converter's, MediaPipe's) and never import TensorFlow.
"""

from __future__ import annotations

import os
from typing import Any

from .tflite.reader import SubgraphInfo, TensorInfo, TFLiteModel, read_model

# Metadata entries whose contents are a short string worth showing.
_STRING_METADATA = ("min_runtime_version",)


def inspect_model(source: str | os.PathLike[str] | bytes) -> dict[str, Any]:
    """The report for a model file (or its bytes). Raises SourceNotFoundError / InvalidModelError."""
    with read_model(source) as m:
        return _report(m, os.fspath(source) if not isinstance(source, (bytes, bytearray)) else None)


def _report(m: TFLiteModel, path: str | None) -> dict[str, Any]:
    weights = m.weights_bytes()
    hist = m.op_histogram()
    ops = [{"op": name, "version": version, "count": count}
           for (name, version), count in sorted(hist.items(), key=lambda kv: (-kv[1], kv[0]))]
    metadata = []
    for e in m.metadata:
        entry: dict[str, Any] = {"name": e.name, "size": e.size}
        if e.name in _STRING_METADATA:
            raw = m.metadata_bytes(e.name) or b""
            entry["value"] = raw.split(b"\0", 1)[0].decode("ascii", "replace")
        metadata.append(entry)
    return {
        "path": path,
        "file_size": m.file_size,
        "weights_bytes": weights,
        "graph_bytes": m.file_size - weights,
        "external_weights_bytes": m.external_weights_bytes(),
        "schema_version": m.schema_version,
        "description": m.description,
        "subgraphs": [{"index": sg.index, "name": sg.name, "tensors": len(sg.tensors),
                       "operators": len(sg.operators)} for sg in m.subgraphs],
        "tensor_count": m.tensor_count(),
        "buffer_count": len(m.buffers),
        "constant_buffer_count": len(m.constant_buffers()),
        "appended_buffer_count": sum(1 for b in m.buffers if b.appended),
        "sparse_tensor_count": sum(1 for sg in m.subgraphs for t in sg.tensors if t.sparse),
        "signatures": _signatures(m),
        "op_count": sum(hist.values()),
        "ops": ops,
        "metadata": metadata,
        "min_runtime_version": m.min_runtime_version,
        "associated_files": m.associated_files(),
    }


def _io(sg: SubgraphInfo, name: str, index: int) -> dict[str, Any]:
    t: TensorInfo | None = sg.tensors[index] if 0 <= index < len(sg.tensors) else None
    if t is None:
        return {"name": name, "tensor": index, "dtype": None, "shape": None}
    entry: dict[str, Any] = {"name": name, "tensor": index, "dtype": t.dtype, "shape": list(t.shape_signature)}
    if t.quantization is not None:
        q = t.quantization
        entry["quantization"] = {"scale": list(q.scale), "zero_point": list(q.zero_point), "axis": q.axis}
    return entry


def _signatures(m: TFLiteModel) -> list[dict[str, Any]]:
    """The model's SignatureDefs; a model without any (older converters, MediaPipe) gets its main subgraph's
    inputs and outputs, named by tensor name, under the key ``None``."""
    out = []
    for sig in m.signatures:
        sg = m.subgraphs[sig.subgraph] if 0 <= sig.subgraph < len(m.subgraphs) else SubgraphInfo(sig.subgraph, "")
        out.append({"key": sig.key, "subgraph": sig.subgraph,
                    "inputs": [_io(sg, n, i) for n, i in sig.inputs.items()],
                    "outputs": [_io(sg, n, i) for n, i in sig.outputs.items()]})
    if not out and m.subgraphs:
        sg = m.subgraphs[0]
        name = lambda i: sg.tensors[i].name if 0 <= i < len(sg.tensors) else str(i)  # noqa: E731
        out.append({"key": None, "subgraph": 0,
                    "inputs": [_io(sg, name(i), i) for i in sg.inputs],
                    "outputs": [_io(sg, name(i), i) for i in sg.outputs]})
    return out


# -- text -------------------------------------------------------------------------------------------------------

def _bytes(n: int) -> str:
    return f"{n:,} B"


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "0.0%"


def _shape(shape: list[int] | None) -> str:
    return "?" if shape is None else "[" + ", ".join(str(d) for d in shape) + "]"


def format_report(r: dict[str, Any]) -> str:
    lines: list[str] = []
    total = r["file_size"]
    lines.append(f"{r['path'] or '<bytes>'}: {_bytes(total)}")
    lines.append(f"  weights  {_bytes(r['weights_bytes']):>14} ({_pct(r['weights_bytes'], total)}) in "
                 f"{r['constant_buffer_count']} constant buffers")
    lines.append(f"  graph    {_bytes(r['graph_bytes']):>14} ({_pct(r['graph_bytes'], total)})")
    if r["external_weights_bytes"]:
        lines.append(f"  external weights {_bytes(r['external_weights_bytes'])} (in other files)")
    n_sg = len(r["subgraphs"])
    facts = [f"schema v{r['schema_version']}", f"{n_sg} subgraph{'s' if n_sg != 1 else ''}",
             f"{r['tensor_count']} tensors", f"{r['buffer_count']} buffers"]
    if r["appended_buffer_count"]:
        facts.append(f"{r['appended_buffer_count']} buffers after the flatbuffer")
    if r["sparse_tensor_count"]:
        facts.append(f"{r['sparse_tensor_count']} sparse tensors")
    if r["min_runtime_version"] is not None:
        facts.append(f"min runtime {r['min_runtime_version'] or '(none)'}")
    lines.append(", ".join(facts))
    if r["description"]:
        lines.append(f"description: {r['description']}")
    if n_sg > 1:
        lines.append("subgraphs: " + ", ".join(f"{sg['index']} {sg['name'] or '(unnamed)'} ({sg['operators']} ops)"
                                               for sg in r["subgraphs"]))

    for sig in r["signatures"]:
        lines.append("")
        if sig["key"] is None:
            lines.append(f"No signature defs; subgraph {sig['subgraph']} inputs and outputs:")
        else:
            lines.append(f"Signature '{sig['key']}' (subgraph {sig['subgraph']}):")
        rows = [("input", e) for e in sig["inputs"]] + [("output", e) for e in sig["outputs"]]
        width = max((len(e["name"]) for _, e in rows), default=0)
        for kind, e in rows:
            q = ""
            if "quantization" in e:
                scale, zero = e["quantization"]["scale"], e["quantization"]["zero_point"]
                q = (f"  quantized: scale {scale[0]:.6g}, zero point {zero[0]}"
                     if len(scale) == 1 else f"  quantized per channel ({len(scale)} scales)")
            lines.append(f"  {kind:<6} {e['name']:<{width}}  {e['dtype'] or '?':<8} {_shape(e['shape'])}{q}")

    lines.append("")
    kinds = len({o["op"] for o in r["ops"]})
    lines.append(f"Ops: {r['op_count']} ({kinds} kind{'s' if kinds != 1 else ''})")
    width = max((len(o["op"]) for o in r["ops"]), default=0)
    for o in r["ops"]:
        lines.append(f"  {o['op']:<{width}}  v{o['version']:<3} x{o['count']}")

    if r["metadata"]:
        lines.append("")
        lines.append("Metadata:")
        width = max(len(e["name"]) for e in r["metadata"])
        for e in r["metadata"]:
            value = f"  \"{e['value']}\"" if "value" in e else ""
            lines.append(f"  {e['name']:<{width}}  {_bytes(e['size']):>12}{value}")
    if r["associated_files"]:
        lines.append("")
        lines.append("Associated files: " + ", ".join(r["associated_files"]))
    return "\n".join(lines) + "\n"
