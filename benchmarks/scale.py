"""Big models in bounded memory: liteconvert against Google's converter on Keras MLPs of Dense(16384) layers.

    python benchmarks/scale.py                    # 1 and 3 GiB, from the Keras object and from a SavedModel
    python benchmarks/scale.py --sizes 1,3,6 --savedmodel-only 6

Each conversion runs in a fresh process. The Keras model (or, for the SavedModel path, TensorFlow and the
converter) is loaded first; then the process's peak-RSS counter is reset (``/proc/self/clear_refs``) so that
``VmHWM`` afterwards is the peak *during* the conversion; growth = that peak minus the RSS just before. Time is
wall time of the conversion alone (to a file: ``liteconvert.convert(src, out)``; Google's: ``convert()`` and
writing its bytes). The output is then loaded in LiteRT and compared with Keras on one input.

A GiB here is 2**30 bytes of float32 weights: Input(16384) then N Dense(16384) layers (1 GiB each, plus a
64 KiB bias). Google's converter is run where it can finish on this machine: a watchdog kills it above
``--google-limit`` GiB of RSS (it needs about 12 GiB for 1 GiB of weights and is killed at 3 GiB).
Targets (issue 10): growth <= 1.2x the weights from a Keras object, <= 0.5x from a SavedModel; time linear in
size. Results go to ``benchmarks/results/scale.json`` and ``scale.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WIDTH = 16384
GIB = 1 << 30


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _build(layers: int):
    import keras
    import numpy as np

    inp = keras.Input((WIDTH,), name="x")
    x = inp
    rng = np.random.default_rng(0)
    for i in range(layers):
        dense = keras.layers.Dense(WIDTH, activation="relu" if i < layers - 1 else None, name=f"dense{i}")
        x = dense(x)
        w = rng.standard_normal((WIDTH, WIDTH), dtype=np.float32)
        w *= 1.0 / np.sqrt(WIDTH)
        dense.kernel.assign(w)
        del w
    return keras.Model(inp, x, name=f"mlp{layers}")


def worker(converter: str, source: str, layers: int, path: str, out: str) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import tensorflow as tf

    import liteconvert

    model = _build(layers) if source == "keras" else None
    rss_before = _status("VmRSS")
    reset = _reset_peak()
    start = time.perf_counter()
    if converter == "ours":
        liteconvert.convert(model if source == "keras" else path, out)
    else:
        conv = (tf.lite.TFLiteConverter.from_keras_model(model) if source == "keras"
                else tf.lite.TFLiteConverter.from_saved_model(path))
        data = conv.convert()
        with open(out, "wb") as f:
            f.write(data)
        del data, conv
    seconds = time.perf_counter() - start
    peak = _status("VmHWM")
    result = {"converter": converter, "source": source, "layers": layers, "weights_bytes": layers * WIDTH * WIDTH * 4,
              "seconds": seconds, "rss_before": rss_before, "peak": peak, "growth": peak - rss_before,
              "peak_reset": reset, "size": os.path.getsize(out)}
    # The output loads in LiteRT and matches the source.
    from liteconvert.verify import make_interpreter

    x = np.random.default_rng(1).standard_normal((1, WIDTH)).astype(np.float32)
    interp = make_interpreter(out)
    runner = interp.get_signature_runner()
    got = next(iter(runner(x=x).values()))
    if model is None:
        model = tf.saved_model.load(path)
        want = next(iter(model.signatures["serving_default"](x=tf.constant(x)).values())).numpy()
    else:
        want = np.asarray(model(x))
    result["max_abs_error"] = float(np.max(np.abs(got - want)))
    result["output_scale"] = float(np.max(np.abs(want)))
    return result


def export(layers: int, path: str) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    model = _build(layers)
    model.export(path, verbose=False)


def _run(args: list[str], limit_gib: float | None, timeout: float = 7200) -> tuple[dict | None, str]:
    """Run a worker; kill it when its RSS passes ``limit_gib`` (returns None and why)."""
    proc = subprocess.Popen([sys.executable, __file__, "--worker", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    killed = []

    def watch() -> None:
        while proc.poll() is None:
            try:
                with open(f"/proc/{proc.pid}/status") as f:
                    rss = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
            except (OSError, StopIteration):
                break
            if limit_gib is not None and rss > limit_gib * GIB:
                killed.append(rss)
                proc.kill()
                break
            time.sleep(0.2)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return None, "timed out"
    t.join()
    if killed:
        return None, f"stopped by the watchdog at {killed[0] / GIB:.1f} GiB RSS"
    if proc.returncode != 0:
        return None, f"failed (exit {proc.returncode}): {err.strip().splitlines()[-1] if err.strip() else ''}"
    return json.loads(out.strip().splitlines()[-1]), ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1,3", help="GiB of weights (one Dense(16384) layer per GiB)")
    ap.add_argument("--savedmodel-only", default="", help="sizes converted from a SavedModel only (e.g. 6)")
    ap.add_argument("--google-limit", type=float, default=18.0, help="GiB of RSS at which Google's run is stopped")
    ap.add_argument("--no-google", action="store_true")
    ap.add_argument("--work", default=None, help="scratch directory (default: a temporary one)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--export", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        converter, source, layers, path, out = a.worker
        print(json.dumps(worker(converter, source, int(layers), path, out)))
        return 0
    if a.export:
        export(int(a.export[0]), a.export[1])
        return 0
    sizes = [int(s) for s in a.sizes.split(",") if s]
    sm_only = {int(s) for s in a.savedmodel_only.split(",") if s}
    work = a.work or tempfile.mkdtemp(prefix="liteconvert-scale-")
    os.makedirs(work, exist_ok=True)
    rows = []
    try:
        for n in sorted(set(sizes) | sm_only):
            sm = os.path.join(work, f"mlp{n}")
            if not os.path.exists(os.path.join(sm, "saved_model.pb")):
                t0 = time.perf_counter()
                subprocess.run([sys.executable, __file__, "--export", str(n), sm], check=True)
                print(f"[scale] exported the {n} GiB SavedModel in {time.perf_counter() - t0:.0f} s", flush=True)
            sources = ["savedmodel"] if n in sm_only and n not in sizes else ["keras", "savedmodel"]
            for source in sources:
                for converter in ("ours", "google"):
                    if converter == "google" and a.no_google:
                        continue
                    out = os.path.join(work, f"{converter}-{source}-{n}.tflite")
                    print(f"[scale] {converter} {source} {n} GiB ...", flush=True)
                    res, why = _run([converter, source, str(n), sm, out],
                                    a.google_limit if converter == "google" else None)
                    if os.path.exists(out):
                        os.unlink(out)
                    row = res or {"converter": converter, "source": source, "layers": n,
                                  "weights_bytes": n * WIDTH * WIDTH * 4, "failed": why}
                    rows.append(row)
                    print("[scale]   " + (f"{row['seconds']:.1f} s, growth {row['growth'] / GIB:.2f} GiB "
                                          f"({row['growth'] / row['weights_bytes']:.2f}x the weights), peak "
                                          f"{row['peak'] / GIB:.2f} GiB, error {row['max_abs_error']:.2e}"
                                          if res else why), flush=True)
    finally:
        if a.work is None:
            shutil.rmtree(work, ignore_errors=True)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "scale.json"), "w") as f:
        json.dump(rows, f, indent=2)
    table = render(rows)
    with open(os.path.join(a.out, "scale.md"), "w") as f:
        f.write(table)
    print(table)
    return 0


def render(rows: list[dict]) -> str:
    lines = ["| weights | source | converter | time (s) | s/GiB | peak RSS (GiB) | growth (GiB) | growth / weights "
             "| size (GiB) | max err |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        gib = r["weights_bytes"] / GIB
        if "failed" in r:
            lines.append(f"| {gib:.0f} GiB | {r['source']} | {r['converter']} | {r['failed']} | | | | | | |")
            continue
        lines.append(f"| {gib:.0f} GiB | {r['source']} | {r['converter']} | {r['seconds']:.1f} | "
                     f"{r['seconds'] / gib:.1f} | {r['peak'] / GIB:.2f} | {r['growth'] / GIB:.2f} | "
                     f"{r['growth'] / r['weights_bytes']:.2f} | {r['size'] / GIB:.2f} | {r['max_abs_error']:.1e} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
