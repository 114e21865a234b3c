"""Side-by-side benchmark: liteconvert against Google's converter (tf.lite.TFLiteConverter), same run.

For each zoo model (benchmarks/zoo.py) and each real model (benchmarks/real_models.py):

* conversion wall time and peak RSS, from the in-memory Keras model and from a SavedModel on disk, each
  conversion in a fresh subprocess (peak RSS from ``os.wait4``'s resource usage of that child alone);
* output size, op count, LiteRT invoke latency (median of many runs after warm-up, 1 thread, the same
  interpreter settings for both files) and max abs error against Keras on the same input;
* the ratios liteconvert/Google per model and their geometric means over the zoo, with a note naming the
  missing pass where we fall short.

Usage (from the repo root, in the project venv)::

    python benchmarks/bench.py                     # the core zoo (15 models) + real models
    python benchmarks/bench.py --set all           # every keras.applications architecture
    python benchmarks/bench.py --models MobileNet,fer --runs 20

Writes ``benchmarks/results/bench.json`` and ``benchmarks/results/bench.md`` (the printed table).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

REAL = ["fer", "mtcnn_PNet", "mtcnn_RNet", "mtcnn_ONet"]
CONVERTERS = ("ours", "google")
SOURCES = ("keras", "savedmodel")


# -- workers (run in fresh subprocesses) ---------------------------------------------------------------------

def _quiet_tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import logging

    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    return tf


def _build(name: str):
    """The Keras model of a benchmark entry (deterministic: every worker rebuilds the same weights)."""
    if name == "fer":
        import keras
        import real_models

        return keras.models.load_model(real_models.fer_h5(), compile=False)
    if name.startswith("mtcnn_"):
        import real_models

        return real_models.mtcnn_model(name.split("_", 1)[1])
    import zoo

    return zoo.build(name)


def _input_shape(name: str, model) -> tuple[int, ...]:
    if name.startswith("mtcnn_"):
        import real_models

        return real_models.MTCNN_NETS[name.split("_", 1)[1]]
    return tuple(int(d) for d in model.inputs[0].shape[1:])


def worker_prepare(name: str, workdir: str) -> None:
    """Build the model, export it as a SavedModel, and save one input with Keras's outputs."""
    tf = _quiet_tf()
    model = _build(name)
    shape = _input_shape(name, model)
    x = np.random.default_rng(0).standard_normal((1, *shape)).astype(np.float32)
    if name == "fer":
        x = np.clip(x, -1, 1)
    out = model(x, training=False)
    flat = [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]
    np.savez(os.path.join(workdir, "reference.npz"), x=x, **{f"out{i}": o for i, o in enumerate(flat)})
    spec = [tf.TensorSpec((None, *[None if name == "mtcnn_PNet" and i < 2 else d for i, d in enumerate(shape)]),
                          tf.float32)]
    model.export(os.path.join(workdir, "savedmodel"), format="tf_saved_model", input_signature=spec, verbose=False)


def _hwm_kb() -> int:
    """This process's peak RSS in KB since its exec (VmHWM).

    Not ``ru_maxrss``: on Linux a child's ``ru_maxrss`` starts from its parent's RSS at fork and survives exec,
    so a child forked from a big parent reports at least the parent's size.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def worker_convert(name: str, workdir: str, converter: str, source: str) -> None:
    """One conversion: load what the converter reads (not timed), then time the conversion alone."""
    tf = _quiet_tf()
    if converter == "ours":
        import liteconvert

        cls = liteconvert.TFLiteConverter
    else:
        cls = tf.lite.TFLiteConverter
    sm = os.path.join(workdir, "savedmodel")
    model = _build(name) if source == "keras" else None
    rss_before = _hwm_kb()
    t0 = time.perf_counter()
    # Keras 3's export writes "serve" and its alias "serving_default": both converters convert the one.
    conv = cls.from_keras_model(model) if source == "keras" else cls.from_saved_model(sm, ["serving_default"])
    data = conv.convert()
    seconds = time.perf_counter() - t0
    rss_after = _hwm_kb()
    path = os.path.join(workdir, f"{converter}_{source}.tflite")
    with open(path, "wb") as f:
        f.write(data)
    with open(path + ".json", "w") as f:
        json.dump({"seconds": seconds, "rss_before_kb": rss_before, "rss_after_kb": rss_after}, f)


# -- the parent ------------------------------------------------------------------------------------------------

def _run_worker(args: list[str], log: str) -> dict:
    """Run a worker in a fresh interpreter; return its exit status (and its ``ru_maxrss``, for reference)."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", *args]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "src"), HERE]))
    with open(log, "ab") as f:
        p = subprocess.Popen(cmd, stdout=f, stderr=f, env=env)
        _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return {"ok": p.returncode == 0, "peak_rss_mb": usage.ru_maxrss / 1024.0}


def _op_histogram(data: bytes) -> dict[str, int]:
    from ai_edge_litert import schema_py_generated as fb

    names = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
    m = fb.ModelT.InitFromPackedBuf(data, 0)
    hist: dict[str, int] = {}
    for sg in m.subgraphs:
        for op in sg.operators or []:
            code = m.operatorCodes[op.opcodeIndex]
            n = names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "?")
            if n == "CUSTOM":
                cc = code.customCode
                n = "CUSTOM:" + (cc.decode() if isinstance(cc, bytes) else str(cc))
            hist[n] = hist.get(n, 0) + 1
    return hist


def _natural(key: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", key)]


def _measure_pair(files: dict[str, bytes], ref: dict, runs: int, warmup: int) -> dict[str, dict]:
    """Measure both converters' files; latency is the median over interleaved invocations.

    The timed invocations alternate between the files, so a busy machine slows both alike, and nothing about
    order favours either: the runs are split in two blocks with fresh interpreters created in opposite orders,
    and within a block the order of the two calls flips every iteration. (On the shared 2-core machine the
    interpreter created first, or called first, in a fixed order measured about 15% slower, whichever file it
    held.)
    """
    from ai_edge_litert.interpreter import Interpreter

    results = {label: _measure(data, ref) for label, data in files.items()}
    times: dict[str, list[float]] = {label: [] for label in files}
    labels = list(files)
    for block in range(2):
        runners = []
        for label in (labels if block == 0 else labels[::-1]):
            runner = Interpreter(model_content=files[label], num_threads=1).get_signature_runner()
            runners.append((label, runner, {next(iter(runner.get_input_details())): ref["x"]}))
        n = runs // 2 if block == 0 else runs - runs // 2
        for i in range(warmup + n):
            for label, runner, feed in (runners if i % 2 == 0 else runners[::-1]):
                t0 = time.perf_counter()
                runner(**feed)
                if i >= warmup:
                    times[label].append(time.perf_counter() - t0)
        del runners
    for label in files:
        results[label]["latency_ms"] = 1000 * float(np.median(times[label]))
    return results


def _measure(data: bytes, ref: dict) -> dict:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=data, num_threads=1)
    runner = interp.get_signature_runner()
    in_name = next(iter(runner.get_input_details()))
    x = ref["x"]
    outs = runner(**{in_name: x})
    keys = sorted(outs, key=_natural)
    refs = [ref[k] for k in sorted((k for k in ref if k.startswith("out")), key=_natural)]
    err = 0.0
    scale = 1.0
    if len(keys) != len(refs):
        err = float("nan")
    else:
        for k, r in zip(keys, refs, strict=True):
            got = outs[k]
            if got.shape != r.shape:
                err = float("nan")
                break
            err = max(err, float(np.max(np.abs(got.astype(np.float64) - r))))
            scale = max(scale, float(np.max(np.abs(r))))
    hist = _op_histogram(data)
    return {"size": len(data), "ops": sum(hist.values()), "op_histogram": hist, "max_error": err,
            "error_bound": 1e-5 * scale}


# Which pass closes the gap when we emit more of an op kind than Google does.
_MISSING_PASS = {
    "RESHAPE": "reshape-chain / flatten simplification (passes/simplify.py, cleanup.simplify_reshapes)",
    "SHAPE": "static shape folding of dynamic-batch reshapes (tensordot/flatten: one RESHAPE with -1)",
    "GATHER": "static shape folding of tensordot's shape arithmetic (patterns.dense.fuse_tensordot)",
    "REDUCE_PROD": "static shape folding of tensordot's shape arithmetic (patterns.dense.fuse_tensordot)",
    "PACK": "static shape folding of dynamic-batch reshapes (one RESHAPE with -1)",
    "STRIDED_SLICE": "static shape folding / slice-of-shape folding",
    "CONCATENATION": "concat of a shape vector folding",
    "TRANSPOSE": "transpose cancellation / transpose folding into its consumer",
    "MUL": "fold_mul_into_weights (BatchNorm / scale after a non-foldable producer: one MUL+ADD)",
    "ADD": "fuse_bias (bias after a non-weighted producer), or BatchNorm folding",
    "SUB": "fuse_bias / mean-subtraction folding into the first layer",
    "PAD": "pad folding into the following convolution or pool",
    "LOGISTIC": "swish pattern (x*sigmoid(x)) kept as two ops: no single LiteRT builtin",
    "RELU": "fuse_activation into the producer",
    "NEG": "LayerNorm pattern fusion (SQUARED_DIFFERENCE/RSQRT/NEG chain)",
    "RSQRT": "LayerNorm pattern fusion",
    "SQUARED_DIFFERENCE": "LayerNorm pattern fusion",
    "MEAN": "LayerNorm pattern fusion / global pooling",
    "CAST": "cast folding",
}


def _note(ours: dict, google: dict) -> str:
    parts = []
    ho, hg = ours["op_histogram"], google["op_histogram"]
    extra = {k: ho.get(k, 0) - hg.get(k, 0) for k in set(ho) | set(hg)}
    more = sorted((k for k, v in extra.items() if v > 0), key=lambda k: -extra[k])
    fewer = sorted((k for k, v in extra.items() if v < 0), key=lambda k: extra[k])
    if ours["ops"] > google["ops"] or ours["size"] > google["size"] or ours["latency_ms"] > 1.05 * google["latency_ms"]:
        for k in more[:4]:
            parts.append(f"+{extra[k]} {k}: {_MISSING_PASS.get(k, 'no pass yet')}")
        if ours["size"] > google["size"] and not more:
            parts.append(f"size +{ours['size'] - google['size']} B: buffer layout/dedup (writer)")
        if not parts and ours["latency_ms"] > 1.05 * google["latency_ms"]:
            parts.append("slower with the same op mix: kernel choice or noise (rerun with more --runs)")
    if fewer:
        parts.append("we emit fewer: " + ", ".join(f"{extra[k]} {k}" for k in fewer[:4]))
    return "; ".join(parts)


@dataclass
class Row:
    name: str
    kind: str
    result: dict


def bench_one(name: str, kind: str, runs: int, warmup: int, outdir: str) -> dict:
    workdir = os.path.join(outdir, "work", name)
    os.makedirs(workdir, exist_ok=True)
    log = os.path.join(workdir, "log.txt")
    open(log, "w").close()
    prep = _run_worker(["prepare", name, workdir], log)
    if not prep["ok"]:
        return {"error": f"prepare failed, see {log}"}
    ref = dict(np.load(os.path.join(workdir, "reference.npz")))
    res: dict = {}
    for conv in CONVERTERS:
        res[conv] = {}
        for source in SOURCES:
            path = os.path.join(workdir, f"{conv}_{source}.tflite")
            for p in (path, path + ".json"):
                if os.path.exists(p):
                    os.unlink(p)
            w = _run_worker(["convert", name, workdir, conv, source], log)
            if not w["ok"] or not os.path.exists(path + ".json"):
                res[conv][source] = {"error": f"conversion failed, see {log}"}
                continue
            with open(path + ".json") as f:
                info = json.load(f)
            entry = {"convert_s": info["seconds"], "peak_rss_mb": info["rss_after_kb"] / 1024.0,
                     "rss_increase_mb": (info["rss_after_kb"] - info["rss_before_kb"]) / 1024.0}
            res[conv][source] = entry
    files = {}
    for conv in CONVERTERS:
        path = os.path.join(workdir, f"{conv}_keras.tflite")
        if "error" not in res[conv]["keras"]:
            with open(path, "rb") as f:
                files[conv] = f.read()
    for conv, measured in _measure_pair(files, ref, runs, warmup).items():
        res[conv]["keras"].update(measured)
    res["ratios"] = _ratios(res)
    if "error" not in res["ours"]["keras"] and "error" not in res["google"]["keras"]:
        res["note"] = _note(res["ours"]["keras"], res["google"]["keras"])
    elif "error" in res["google"]["keras"] and "error" not in res["ours"]["keras"]:
        res["note"] = "Google's converter fails from the Keras model (see the log); ours converts it"
    return res


_METRICS = [  # (key, where, label)
    ("size", "keras", "size"),
    ("ops", "keras", "ops"),
    ("latency_ms", "keras", "latency"),
    ("convert_s", "keras", "time(keras)"),
    ("convert_s", "savedmodel", "time(SM)"),
    ("peak_rss_mb", "keras", "rss(keras)"),
    ("peak_rss_mb", "savedmodel", "rss(SM)"),
    ("rss_increase_mb", "keras", "mem+(keras)"),
    ("rss_increase_mb", "savedmodel", "mem+(SM)"),
]


def _ratios(res: dict) -> dict:
    out = {}
    for key, src, label in _METRICS:
        a, b = res["ours"].get(src, {}), res["google"].get(src, {})
        if key in a and key in b and b[key]:
            out[label] = a[key] / b[key]
    return out


def _geomean(values: list[float]) -> float | None:
    vals = [v for v in values if v and v > 0 and math.isfinite(v)]
    return math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else None


def _fmt(v, spec: str = ".2f") -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not math.isfinite(v):
        return "nan"
    return format(v, spec)


def render(rows: list[Row]) -> str:
    lines = []
    hdr = ("| model | size KB ours/G | ops ours/G | latency ms ours/G | convert s keras ours/G | convert s SM ours/G "
           "| peak RSS MB keras ours/G | peak RSS MB SM ours/G | max err ours/G | note |")
    lines.append(hdr)
    lines.append("|" + "---|" * (hdr.count("|") - 1))
    for r in rows:
        res = r.result
        if "error" in res:
            lines.append(f"| {r.name} | {res['error']} |" + " |" * 8)
            continue
        o, g = res["ours"], res["google"]

        def pair(src, key, spec=".2f", scale=1.0, o=o, g=g):
            a, b = o.get(src, {}).get(key), g.get(src, {}).get(key)
            if scale != 1.0:
                a = None if a is None else a * scale
                b = None if b is None else b * scale
            return f"{_fmt(a, spec)} / {_fmt(b, spec)}"

        err = pair("keras", "max_error", ".1e")
        if o.get("keras", {}).get("error") or g.get("keras", {}).get("error"):
            err = f"{'FAIL' if o.get('keras', {}).get('error') else 'ok'} / " \
                  f"{'FAIL' if g.get('keras', {}).get('error') else 'ok'}"
        lines.append(f"| {r.name} | {pair('keras', 'size', '.0f', 1 / 1024)} | {pair('keras', 'ops', 'd')} | "
                     f"{pair('keras', 'latency_ms', '.3f')} | {pair('keras', 'convert_s', '.1f')} | "
                     f"{pair('savedmodel', 'convert_s', '.1f')} | {pair('keras', 'peak_rss_mb', '.0f')} | "
                     f"{pair('savedmodel', 'peak_rss_mb', '.0f')} | {err} | {res.get('note', '')} |")
    lines.append("")
    lines.append("Ratios liteconvert/Google (targets: size <= 1.00, ops <= 1.00, latency <= 1.00, "
                 "conversion time <= 0.5, peak memory <= 0.7; rss = peak RSS of the converting process, "
                 "mem+ = its growth during the conversion):")
    lines.append("")
    labels = [label for _, _, label in _METRICS]
    lines.append("| model | " + " | ".join(labels) + " |")
    lines.append("|" + "---|" * (len(labels) + 1))
    for r in rows:
        rat = r.result.get("ratios", {})
        lines.append(f"| {r.name} | " + " | ".join(_fmt(rat.get(lb)) for lb in labels) + " |")
    zoo_rows = [r for r in rows if r.kind == "zoo" and "ratios" in r.result]
    gm = {lb: _geomean([r.result["ratios"].get(lb) for r in zoo_rows]) for lb in labels}
    lines.append(f"| **geomean (zoo, {len(zoo_rows)})** | " + " | ".join(f"**{_fmt(gm[lb])}**" for lb in labels)
                 + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", choices=["core", "fast", "all"], default="core", help="which zoo models")
    ap.add_argument("--models", help="comma-separated zoo/real names (overrides --set and --no-real)")
    ap.add_argument("--no-real", action="store_true", help="skip the real pretrained models")
    ap.add_argument("--runs", type=int, default=100, help="timed LiteRT invocations per model")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="output directory")
    ap.add_argument("--render", metavar="JSON", help="only re-render the table of an earlier bench.json")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        kind, *rest = args.worker
        {"prepare": worker_prepare, "convert": worker_convert}[kind](*rest)
        return 0
    if args.render:
        with open(args.render) as f:
            doc = json.load(f)
        rows = []
        for m in doc["models"]:
            res = {k: v for k, v in m.items() if k not in ("name", "kind")}
            if "ours" in res and "google" in res:
                res["ratios"] = _ratios(res)
                if "error" not in res["ours"]["keras"] and "error" not in res["google"]["keras"]:
                    res["note"] = _note(res["ours"]["keras"], res["google"]["keras"])
            rows.append(Row(m["name"], m["kind"], res))
        print(render(rows))
        return 0

    import zoo

    if args.models:
        names = [n.strip() for n in args.models.split(",") if n.strip()]
    else:
        if args.set == "core":
            names = list(zoo.CORE)
        elif args.set == "fast":
            names = [e.name for e in zoo.ZOO if e.fast]
        else:
            names = [e.name for e in zoo.ZOO]
        if not args.no_real:
            names += REAL
    os.makedirs(args.out, exist_ok=True)
    rows: list[Row] = []
    for name in names:
        kind = "real" if name in REAL else "zoo"
        t0 = time.time()
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        try:
            res = bench_one(name, kind, args.runs, args.warmup, args.out)
        except Exception as e:  # keep going: one broken model must not hide the others
            res = {"error": f"{type(e).__name__}: {e}"}
        print(f"[bench] {name} done in {time.time() - t0:.0f}s {json.dumps(res.get('ratios', res.get('error')))}",
              file=sys.stderr, flush=True)
        rows.append(Row(name, kind, res))
        _write(rows, args.out)
    print(render(rows))
    return 0


def _write(rows: list[Row], out: str) -> None:
    labels = [label for _, _, label in _METRICS]
    zoo_rows = [r for r in rows if r.kind == "zoo" and "ratios" in r.result]
    doc = {
        "environment": _environment(),
        "models": [{"name": r.name, "kind": r.kind, **r.result} for r in rows],
        "geomean_zoo": {lb: _geomean([r.result["ratios"].get(lb) for r in zoo_rows]) for lb in labels},
        "targets": {"size": 1.0, "ops": 1.0, "latency": 1.0, "time(keras)": 0.5, "time(SM)": 0.5,
                    "rss(keras)": 0.7, "rss(SM)": 0.7, "mem+(keras)": 0.7, "mem+(SM)": 0.7},
    }
    with open(os.path.join(out, "bench.json"), "w") as f:
        json.dump(doc, f, indent=1)
    with open(os.path.join(out, "bench.md"), "w") as f:
        f.write(render(rows) + "\n")


def _environment() -> dict:
    import platform

    env = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()}
    from importlib.metadata import PackageNotFoundError, version

    for pkg, dists in (("tensorflow", ("tensorflow-cpu", "tensorflow")), ("keras", ("keras",)),
                       ("ai-edge-litert", ("ai-edge-litert",)), ("numpy", ("numpy",))):
        env[pkg] = None
        for dist in dists:
            try:
                env[pkg] = version(dist)
                break
            except PackageNotFoundError:
                continue
    return env


if __name__ == "__main__":
    sys.exit(main())
