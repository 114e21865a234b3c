"""The quantization report: what quantization did to each op's output, against the float model, on real data.

Both models run in the LiteRT interpreter with every intermediate tensor kept, on the same samples; each
quantized op's output is dequantized and compared with the same tensor of the float model (tensors keep their
names through quantization): SNR in dB (signal power over error power) and cosine similarity, worst first, with
the source layer. Text (``to_text``), JSON (``as_dict``) and a self-contained HTML page (``to_html``: a plot of
the error along the graph and the file's size by kind of data).
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._console import silenced
from .errors import InvalidOptionError, litert_refusal

CANNOT_RUN_FIX = "report on a model whose custom ops LiteRT has kernels for (the report cannot run the others)"


@dataclass
class OpError:
    index: int  # position in the quantized model's main subgraph
    op: str
    tensor: str
    layer: str
    dtype: str
    snr_db: float
    cosine: float
    # the error this op adds: its output's error power less its noisiest input's, as a fraction of the signal
    # power (0.01: the op adds noise at 1% of the signal's power, an SNR of 20 dB on an exact input)
    added_error: float = 0.0


@dataclass
class QuantizationReport:
    mode: str
    ops: list[OpError] = field(default_factory=list)  # worst first
    outputs: dict[str, dict[str, float]] = field(default_factory=dict)  # per model output: snr, cosine
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)  # float / quantized: bytes by kind
    samples: int = 0

    def worst(self, n: int) -> list[OpError]:
        """The ``n`` ops whose outputs are furthest from float (error grows along the graph: these are often
        downstream of where it was made)."""
        return self.ops[:n]

    def culprits(self, n: int) -> list[OpError]:
        """The ``n`` ops that add the most error themselves (``added_error``): what keeping an op float can fix.
        An op downstream of a bad one reads a bad input and adds little; the bad one adds a lot. (A QUANTIZE at
        the interface is not one: it has no float form to keep.)"""
        ops = [o for o in self.ops if o.op not in ("QUANTIZE", "DEQUANTIZE")]
        return sorted(ops, key=lambda o: (-o.added_error, o.snr_db))[:n]

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "samples": self.samples, "outputs": self.outputs, "sizes": self.sizes,
                "ops": [vars(o) for o in self.ops]}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    def to_text(self, limit: int = 15) -> str:
        lines = [f"quantization report ({self.mode + ', ' if self.mode else ''}{self.samples} samples): per-op "
                 "output error against float, worst first"]
        for name, m in self.outputs.items():
            lines.append(f"  output {name}: SNR {m['snr_db']:.1f} dB, cosine {m['cosine']:.5f}")
        w = max([len(o.layer) for o in self.ops[:limit]] + [5])
        lines.append(f"  {'SNR dB':>7}  {'added %':>8}  {'cosine':>8}  {'op':<18} {'layer':<{w}}  tensor")
        for o in self.ops[:limit]:
            lines.append(f"  {o.snr_db:>7.1f}  {100 * o.added_error:>8.3f}  {o.cosine:>8.5f}  {o.op:<18} "
                         f"{o.layer:<{w}}  {o.tensor}")
        lines.append("  (added %: the error an op adds, in % of the signal's power; --keep-float-worst keeps the "
                     "ops that add the most in float)")
        if len(self.ops) > limit:
            lines.append(f"  ... {len(self.ops) - limit} more ops")
        for which, parts in self.sizes.items():
            total = sum(parts.values())
            lines.append(f"  {which} size {total:,} B: " + ", ".join(f"{k} {v:,}" for k, v in parts.items() if v))
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        return _html(self)


def _layer(tensor_name: str, layers: dict[str, str] | None = None) -> str:
    """The layer a tensor comes from: as the source model's records name it (``layers``: source node -> layer),
    else the scope that holds the op (``model/conv_1/BiasAdd;...`` -> ``conv_1``), else the name."""
    if layers and tensor_name in layers:
        return layers[tensor_name]
    parts = [p for p in tensor_name.split(";")[0].split("/") if p]
    if len(parts) >= 2:
        return parts[-2]
    return parts[0] if parts else tensor_name


def _run_all(data: bytes, samples: list[dict[str, np.ndarray]], signature: str | None, subgraph: int,
             ) -> tuple[Any, list[dict[str, np.ndarray]]]:
    """Every tensor of the signature's subgraph (by name) for each sample, dequantized to float."""
    from ai_edge_litert.interpreter import Interpreter

    with silenced():
        interp = Interpreter(model_content=bytes(data), experimental_preserve_all_tensors=True, num_threads=2)
    if signature is None and not interp.get_signature_list():  # a model without SignatureDefs (MediaPipe's)
        inputs = {d["name"]: d for d in interp.get_input_details()}
        interp.allocate_tensors()

        def run(feed: dict[str, np.ndarray]) -> None:
            for name, x in feed.items():
                interp.set_tensor(inputs[name]["index"], x)
            interp.invoke()
    else:
        runner = interp.get_signature_runner(signature)
        inputs = runner.get_input_details()

        def run(feed: dict[str, np.ndarray]) -> None:
            runner(**feed)
    details = interp.get_tensor_details(subgraph)
    out = []
    for sample in samples:
        feed = {}
        for name, d in inputs.items():
            x = sample[name]
            if np.dtype(d["dtype"]).kind in "iu" and x.dtype.kind == "f":  # an integer interface
                scale, zero = d["quantization"]
                info = np.iinfo(d["dtype"])
                x = np.clip(np.round(x / scale + zero), info.min, info.max).astype(d["dtype"])
            feed[name] = x
        if out:
            run(feed)
        else:
            with silenced():  # the first invoke: the runtime announces its CPU delegate on stderr
                run(feed)
        values = {}
        for d in details:
            try:
                v = interp.get_tensor(d["index"], subgraph)
            except ValueError:
                continue
            scale, zero = d["quantization"]
            if v.dtype.kind in "iu" and scale:
                v = (v.astype(np.float64) - zero) * scale
            if v.dtype.kind == "f":
                values[d["name"]] = np.asarray(v, np.float64)
        out.append(values)
    return interp, out


def _sizes(data: bytes) -> dict[str, int]:
    from .tflite.reader import read_model

    m = read_model(bytes(data))
    parts: dict[str, int] = {}
    seen: set[int] = set()
    for sg in m.subgraphs:
        for t in sg.tensors:
            if t.buffer > 0 and t.buffer not in seen and m.buffers[t.buffer].size:
                seen.add(t.buffer)
                key = f"{t.dtype} weights"
                parts[key] = parts.get(key, 0) + m.buffers[t.buffer].size
    parts["graph and metadata"] = m.file_size - sum(parts.values())
    return parts


def _noise(snr_db: float) -> float:
    """Error power over signal power (capped: an output with no signal left counts as all noise, 1)."""
    return 0.0 if snr_db == float("inf") else min(1.0, 10 ** (-snr_db / 10)) if snr_db > -float("inf") else 1.0


def _metrics(ref: np.ndarray, got: np.ndarray) -> tuple[float, float]:
    err = float(np.sum((ref - got) ** 2))
    sig = float(np.sum(ref ** 2))
    snr = 10 * math.log10(sig / err) if err > 0 and sig > 0 else (float("inf") if err == 0 else -float("inf"))
    denom = float(np.linalg.norm(ref) * np.linalg.norm(got))
    cos = float(np.dot(ref.reshape(-1), got.reshape(-1)) / denom) if denom > 0 else (1.0 if err == 0 else 0.0)
    return snr, cos


def build_report(float_model: bytes, quantized: bytes, samples: list[dict[str, np.ndarray]],
                 mode: str = "", signature: str | None = None, layers: dict[str, str] | None = None,
                 ) -> QuantizationReport:
    """Compare ``quantized`` with ``float_model`` op by op on ``samples`` (dicts of float inputs by name) through
    ``signature`` (default: the first). ``layers`` (source node -> layer name, from a conversion's records)
    names each op's layer."""
    from .tflite.reader import read_model

    q, f = read_model(bytes(quantized)), read_model(bytes(float_model))
    qsig = next((x for x in q.signatures if signature is None or x.key == signature), None)
    fsig = next((x for x in f.signatures if qsig is not None and x.key == qsig.key), None)
    if signature is not None and (qsig is None or fsig is None):
        raise InvalidOptionError(f"no signature '{signature}' in both models (they have "
                                 f"{', '.join(x.key for x in q.signatures) or 'none'}). Fix: name one they share")
    key = qsig.key if qsig is not None and fsig is not None else None
    qi, fi = (qsig.subgraph, fsig.subgraph) if key is not None else (0, 0)  # type: ignore[union-attr]
    with litert_refusal(None, "the report runs both models in LiteRT", CANNOT_RUN_FIX):
        _, fvals = _run_all(float_model, samples, key, fi)
        _, qvals = _run_all(quantized, samples, key, qi)
    sg = q.subgraphs[qi]
    report = QuantizationReport(mode, samples=len(samples))
    noise: dict[str, float] = {}  # by the quantized model's tensor name
    for op in sg.operators:
        kind = q.operator_codes[op.opcode_index].display_name
        # a hybrid op (dynamic range: int8 weights, float activations) is measured by its float output
        hybrid = any(i >= 0 and sg.tensors[i].dtype == "int8" and sg.tensors[i].buffer > 0 for i in op.inputs)
        for i in op.outputs:
            t = sg.tensors[i]
            if (t.quantization is None or not t.quantization.scale) and not (hybrid and t.dtype == "float32"):
                continue  # a float op (or a float tensor): nothing quantized to measure here
            name = t.name
            # a QUANTIZE the quantizer added (a graph input's) is compared with the float tensor it quantizes
            src = sg.tensors[op.inputs[0]].name if kind == "QUANTIZE" and op.inputs and op.inputs[0] >= 0 else name
            fname = name if all(name in f for f in fvals) else src
            base, _, suffix = name.rpartition("/")
            if not all(fname in f for f in fvals) and suffix in ("int8", "uint8", "int16") and base:
                fname = base  # an output's integer tensor, renamed so the output keeps its name
            if not all(fname in f and name in g for f, g in zip(fvals, qvals, strict=True)):
                continue
            ref = np.concatenate([f[fname].reshape(-1) for f in fvals])
            got = np.concatenate([g[name].reshape(-1) for g in qvals])
            if ref.shape != got.shape:
                continue
            snr, cos = _metrics(ref, got)
            report.ops.append(OpError(op.index, kind, fname if fname != src else name, _layer(fname, layers),
                                      t.dtype, snr, cos))
            noise[name] = _noise(snr)
    for o in report.ops:
        op = sg.operators[o.index]
        ins = [noise[sg.tensors[i].name] for i in op.inputs if i >= 0 and sg.tensors[i].name in noise]
        o.added_error = max(0.0, _noise(o.snr_db) - max(ins, default=0.0))  # (float inputs, constants: exact)
    report.ops.sort(key=lambda o: (o.snr_db, o.cosine))
    if key is not None:
        fsg = f.subgraphs[fi]
        for name, ft in fsig.outputs.items():  # type: ignore[union-attr]
            qt = qsig.outputs.get(name)  # type: ignore[union-attr]
            if qt is None:
                continue
            fn, qn = fsg.tensors[ft].name, sg.tensors[qt].name
            if all(fn in f for f in fvals) and all(qn in g for g in qvals):
                ref = np.concatenate([f[fn].reshape(-1) for f in fvals])
                got = np.concatenate([g[qn].reshape(-1) for g in qvals])
                snr, cos = _metrics(ref, got)
                report.outputs[name] = {"snr_db": snr, "cosine": cos}
    report.sizes = {"float": _sizes(float_model), "quantized": _sizes(quantized)}
    return report


# -- HTML ---------------------------------------------------------------------------------------------------------

def _html(r: QuantizationReport) -> str:
    by_index = sorted(r.ops, key=lambda o: o.index)
    finite = [o.snr_db for o in by_index if math.isfinite(o.snr_db)]
    top = max([*finite, 40.0])
    width, height, pad = 900, 260, 40
    n = max(len(by_index), 1)
    bars = []
    for k, o in enumerate(by_index):
        snr = o.snr_db if math.isfinite(o.snr_db) else top
        h = max(0.0, min(snr, top)) / top * (height - 2 * pad)
        x = pad + k * (width - 2 * pad) / n
        color = "#c0392b" if snr < 20 else "#e67e22" if snr < 30 else "#27ae60"
        bars.append(f'<rect x="{x:.1f}" y="{height - pad - h:.1f}" width="{max((width - 2 * pad) / n - 1, 1):.1f}" '
                    f'height="{h:.1f}" fill="{color}"><title>{html.escape(o.op)} {html.escape(o.layer)}: '
                    f'{snr:.1f} dB</title></rect>')
    grid = "".join(f'<line x1="{pad}" x2="{width - pad}" y1="{height - pad - v / top * (height - 2 * pad):.1f}" '
                   f'y2="{height - pad - v / top * (height - 2 * pad):.1f}" stroke="#ddd"/>'
                   f'<text x="4" y="{height - pad - v / top * (height - 2 * pad) + 4:.1f}" font-size="10">{v:.0f}'
                   '</text>' for v in np.linspace(0, top, 5))
    svg = (f'<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">{grid}{"".join(bars)}'
           f'<text x="{pad}" y="{height - 8}" font-size="11">ops in graph order (SNR in dB; red &lt; 20, orange &lt; '
           '30)</text></svg>')
    size_rows = []
    for which, parts in r.sizes.items():
        total = sum(parts.values()) or 1
        segs = "".join(f'<div title="{html.escape(k)}: {v:,} B" style="display:inline-block;height:18px;'
                       f'width:{600 * v / total:.1f}px;background:{_color(k)}"></div>' for k, v in parts.items())
        legend = ", ".join(f"{html.escape(k)} {v:,} B" for k, v in parts.items() if v)
        size_rows.append(f"<tr><td>{which}</td><td>{total:,} B</td><td>{segs}<br><small>{legend}</small></td></tr>")
    rows = "".join(f"<tr><td>{o.snr_db:.1f}</td><td>{o.cosine:.5f}</td><td>{html.escape(o.op)}</td>"
                   f"<td>{html.escape(o.layer)}</td><td><code>{html.escape(o.tensor)}</code></td></tr>"
                   for o in r.ops)
    outs = "".join(f"<li>{html.escape(k)}: SNR {v['snr_db']:.1f} dB, cosine {v['cosine']:.5f}</li>"
                   for k, v in r.outputs.items())
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>liteconvert quantization report</title>
<style>body{{font-family:sans-serif;margin:24px}} table{{border-collapse:collapse}} td,th{{padding:2px 8px;
border-bottom:1px solid #eee;text-align:left}} code{{font-size:11px}}</style></head><body>
<h1>Quantization report ({html.escape(r.mode)})</h1><p>{r.samples} samples; each quantized op's output against
the float model's.</p><ul>{outs}</ul><h2>Error along the graph</h2>{svg}
<h2>Size</h2><table>{"".join(size_rows)}</table>
<h2>Ops, worst first</h2><table><tr><th>SNR dB</th><th>cosine</th><th>op</th><th>layer</th><th>tensor</th></tr>
{rows}</table></body></html>
"""


def _color(kind: str) -> str:
    return {"int8 weights": "#2980b9", "float32 weights": "#8e44ad", "float16 weights": "#16a085",
            "int32 weights": "#f39c12", "int64 weights": "#d35400"}.get(kind, "#95a5a6")
