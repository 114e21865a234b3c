"""A seeded mutation fuzzer for everything that reads a .tflite file: ``inspect``, ``metadata show`` and
``metadata extract``, run through the real command line (``liteconvert.cli.main``).

    python benchmarks/fuzz.py --runs 20000 --seed 1            # the figure the issue asks for (2 workers)
    python benchmarks/fuzz.py --reproduce 1:4711 -o case.tflite   # one iteration's input

Each run takes one of the seed models (built here from IR, no TensorFlow: a CNN with metadata and labels, Flex
and custom ops, two subgraphs with signatures, weights stored after the flatbuffer, quantized tensors), applies
one mutation (half the time) or two to four, chosen by ``numpy.random.default_rng([seed, iteration])`` (bit
flips, interesting integers over offsets and vtable entries, truncation, deleted, repeated or inserted chunks,
a splice with another seed), and runs the three commands on it. A run fails when a command

* raises out of the CLI or reports an internal error (a traceback's worth of bug: exit code 5),
* writes more than one line to stderr, or an error line without ``liteconvert: error:`` and ``Fix:``,
* takes longer than ``--timeout`` seconds (a hang),
* kills the process (a crash: the worker is restarted after the iteration),
* modifies the input, writes outside the extraction directory or leaves a partial file behind.

Failing inputs are saved under ``--save`` (default ``benchmarks/results/fuzz``) with what happened; every input
that ever failed belongs in ``tests/data/fuzz/`` (``tests/tflite/test_fuzz.py`` runs them all).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import multiprocessing as mp
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

COMMANDS = ("inspect", "show", "extract")


# -- seed models --------------------------------------------------------------------------------------------------

def _flex_options(op: str) -> bytes:
    """Flex custom options: FlexBuffer vector [op, NodeDef], the NodeDef hand-encoded (name=1, op=2)."""
    from flatbuffers import flexbuffers

    def field(num: int, text: str) -> bytes:
        raw = text.encode()
        return bytes([num << 3 | 2, len(raw)]) + raw

    node_def = field(1, op.lower()) + field(2, op)
    b = flexbuffers.Builder()
    with b.Vector():
        b.String(op)
        b._WriteBlob(node_def, append_zero=True, type_=flexbuffers.Type.STRING)
    return bytes(b.Finish())


def seed_models() -> dict[str, bytes]:
    """The models every mutation starts from (deterministic bytes)."""
    from flatbuffers import flexbuffers

    from liteconvert import metadata
    from liteconvert.ir import Model, Op, QuantParams, Signature, Subgraph, Tensor, const
    from liteconvert.tflite.writer import serialize

    rng = np.random.default_rng(0)

    def f32(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float32)

    # A small CNN classifier.
    x = Tensor("image", "float32", (-1, 8, 8, 3))
    c1, c2, p, logits, probs = (Tensor(n, "float32", s) for n, s in (
        ("conv", (-1, 4, 4, 8)), ("dw", (-1, 4, 4, 8)), ("pool", (-1, 8)), ("logits", (-1, 4)), ("probs", (-1, 4))))
    cnn = Subgraph("main", [x], [probs], [
        Op("CONV_2D", [x, const("w1", f32(8, 3, 3, 3)), const("b1", f32(8))], [c1],
           {"padding": "SAME", "stride_h": 2, "stride_w": 2, "fused_activation_function": "RELU6"}),
        Op("DEPTHWISE_CONV_2D", [c1, const("w2", f32(1, 3, 3, 8)), const("b2", f32(8))], [c2],
           {"padding": "SAME", "depth_multiplier": 1, "stride_h": 1, "stride_w": 1}),
        Op("MEAN", [c2, const("axes", np.array([1, 2], np.int32))], [p], {"keep_dims": False}),
        Op("FULLY_CONNECTED", [p, const("w3", f32(4, 8)), const("b3", f32(4))], [logits]),
        Op("SOFTMAX", [logits], [probs], {"beta": 1.0}),
    ])

    def cnn_model() -> Model:
        return Model([cnn], [Signature("serving_default", cnn, {"image": x}, {"probs": probs})])

    md = metadata.ImageClassifierMetadata(name="fuzz cnn", version="1", author="liteconvert", license="MIT",
                                          input_norm=(127.5, 127.5), labels=["a", "b", "c", "d"])
    seeds = {"cnn_metadata": metadata.attach(serialize(cnn_model()), md)}

    # Flex and custom ops, with a quantized tensor.
    m = Tensor("m", "float32", (-1, 3, 3))
    det, d2, z = Tensor("det", "float32", (-1,)), Tensor("dg", "float32", (-1,)), Tensor("z", "float32", (-1,))
    q = Tensor("q", "int8", (-1,), quant=QuantParams(np.array([0.05], np.float32), np.array([3], np.int64)))
    back = Tensor("back", "float32", (-1,))
    flex = Subgraph("main", [m], [back], [
        Op("CUSTOM", [m], [det], custom_code="FlexMatrixDeterminant",
           custom_options=_flex_options("MatrixDeterminant")),
        Op("CUSTOM", [det], [d2], custom_code="Digamma", custom_options=bytes(flexbuffers.Dumps({"T": "float32"}))),
        Op("ADD", [det, d2], [z], {"fused_activation_function": "NONE"}),
        Op("QUANTIZE", [z], [q]),
        Op("DEQUANTIZE", [q], [back]),
    ])
    flex_model = Model([flex], [Signature("serving_default", flex, {"m": m}, {"out": back})])
    seeds["flex_custom"] = serialize(flex_model)

    # Two subgraphs, two signatures, a per-channel quantized weight.
    a, h, out = Tensor("a", "float32", (2, 4)), Tensor("h", "float32", (2, 3)), Tensor("out", "float32", (2, 3))
    w = const("wq", rng.integers(-127, 127, (3, 4)).astype(np.int8))
    w.quant = QuantParams(np.array([0.01, 0.02, 0.03], np.float32), np.zeros(3, np.int64), axis=0)
    first = Subgraph("first", [a], [out], [
        Op("FULLY_CONNECTED", [a, w, const("bq", f32(3))], [h]),
        Op("TANH", [h], [out]),
    ])
    y, twice = Tensor("y", "float32", (5,)), Tensor("twice", "float32", (5,))
    second = Subgraph("second", [y], [twice], [Op("MUL", [y, const("two", np.float32(2.0))], [twice])])
    seeds["two_subgraphs"] = serialize(Model([first, second], [
        Signature("serving_default", first, {"a": a}, {"out": out}),
        Signature("double", second, {"y": y}, {"twice": twice})]))

    # Weights after the flatbuffer (the >2 GB layout), with metadata and an associated file.
    seeds["appended_weights"] = metadata.attach(
        serialize(cnn_model(), weights_after_flatbuffer=True),
        metadata.ModelMetadata(name="appended", description="weights after the flatbuffer",
                               outputs=[metadata.TensorInfo(name="probs", labels=["w", "x", "y", "z"])]))
    return seeds


# -- mutations ------------------------------------------------------------------------------------------------------

_INTERESTING_32 = [0, 1, 2, 3, 4, 7, 8, 16, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF,
                   0x80000000, 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFC]
_INTERESTING_16 = [0, 1, 2, 3, 4, 5, 6, 8, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF]


def mutate(seeds: dict[str, bytes], seed: int, iteration: int) -> tuple[str, bytes]:
    """The input of one iteration: (seed model name, mutated bytes). Same (seed, iteration), same bytes."""
    rng = np.random.default_rng([seed, iteration])
    names = sorted(seeds)
    name = names[int(rng.integers(len(names)))]
    data = bytearray(seeds[name])
    for _ in range(1 if rng.random() < 0.5 else int(rng.integers(2, 5))):
        n = len(data)
        if n < 8:
            break
        kind = int(rng.integers(9))
        # Most of a model's bytes are weights: aim three mutations in four at the tables (the first bytes
        # and the last ones, where flatbuffer tables and the zip directory sit).
        if rng.random() < 0.75:
            span = min(n, 2048)
            pos = int(rng.integers(span)) if rng.random() < 0.7 else n - 1 - int(rng.integers(span))
        else:
            pos = int(rng.integers(n))
        if kind == 0:  # bit flips
            for _ in range(int(rng.integers(1, 9))):
                p = int(rng.integers(n))
                data[p] ^= 1 << int(rng.integers(8))
        elif kind == 1:  # an interesting 32-bit value at an aligned position
            p = pos - pos % 4
            if p + 4 <= n:
                v = _INTERESTING_32[int(rng.integers(len(_INTERESTING_32)))] if rng.random() < 0.7 \
                    else int(rng.integers(0, 2 * n + 16))
                data[p:p + 4] = int(v % (1 << 32)).to_bytes(4, "little")
        elif kind == 2:  # an interesting 16-bit value (vtable entries)
            p = pos - pos % 2
            if p + 2 <= n:
                data[p:p + 2] = _INTERESTING_16[int(rng.integers(len(_INTERESTING_16)))].to_bytes(2, "little")
        elif kind == 3:  # one random byte
            data[pos] = int(rng.integers(256))
        elif kind == 4:  # truncate
            del data[max(8, int(rng.integers(n))):]
        elif kind == 5:  # delete a chunk
            size = int(rng.integers(1, 65))
            del data[pos:pos + size]
        elif kind == 6:  # repeat a chunk
            size = int(rng.integers(1, 65))
            data[pos:pos] = data[pos:pos + size]
        elif kind == 7:  # insert random bytes
            data[pos:pos] = rng.integers(0, 256, int(rng.integers(1, 33))).astype(np.uint8).tobytes()
        else:  # splice with another seed
            other = seeds[names[int(rng.integers(len(names)))]]
            cut = int(rng.integers(min(n, len(other))))
            data[cut:] = other[cut:]
    return name, bytes(data)


# -- running --------------------------------------------------------------------------------------------------------

class Hang(BaseException):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise Hang()


@dataclass
class Outcome:
    command: str
    code: int
    stderr: str
    problem: str | None = None
    seconds: float = 0.0


def _cli(args: list[str], timeout: float) -> tuple[int, str, str, float]:
    from liteconvert.cli import main

    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(args)
            except Hang:
                raise
            except BaseException as e:
                code = -1
                err.write(f"ESCAPED {type(e).__name__}: {e}\n")
    except Hang:
        code = -2
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return code, out.getvalue(), err.getvalue(), time.perf_counter() - start


def _tree(path: str) -> set[str]:
    found = set()
    for dirpath, dirnames, filenames in os.walk(path):
        for n in dirnames + filenames:
            found.add(os.path.relpath(os.path.join(dirpath, n), path))
    return found


def check_file(data: bytes, timeout: float = 10.0, work: str | None = None) -> list[Outcome]:
    """Run the three commands on ``data``; each outcome's ``problem`` says what went wrong, if anything."""
    own = work is None
    work = work or tempfile.mkdtemp(prefix="liteconvert-fuzz-")
    os.makedirs(work, exist_ok=True)
    try:
        model = os.path.join(work, "model.tflite")
        with open(model, "wb") as f:
            f.write(data)
        digest = hashlib.sha256(data).digest()
        outdir = os.path.join(work, "out")
        results = []
        for command in COMMANDS:
            args = {"inspect": ["inspect", model], "show": ["metadata", "show", model],
                    "extract": ["metadata", "extract", model, "-d", outdir, "-q"]}[command]
            before = _tree(work)
            code, _stdout, stderr, seconds = _cli(args, timeout)
            o = Outcome(command, code, stderr, seconds=seconds)
            lines = stderr.splitlines()
            if code == -2:
                o.problem = f"hang (> {timeout:g} s)"
            elif code == -1 or code == 5 or "Traceback" in stderr or "internal error" in stderr:
                o.problem = "traceback: " + (lines[-1] if lines else "")
            elif code not in (0, 1, 3):
                o.problem = f"exit code {code}"
            elif code == 0 and lines:
                o.problem = "stderr on success: " + lines[0]
            elif code != 0 and (len(lines) != 1 or not lines[0].startswith("liteconvert: error: ")
                                or "Fix:" not in lines[0]):
                o.problem = f"not one error line: {stderr[:300]!r}"
            with open(model, "rb") as f:
                if hashlib.sha256(f.read()).digest() != digest:
                    o.problem = o.problem or "the input was modified"
            after = _tree(work)
            new = after - before
            if command == "extract":
                stray = [p for p in new if p != "out" and not p.startswith("out" + os.sep)]
                partial = [p for p in new if p.endswith((".part", ".tmp"))]
                if stray or partial:
                    o.problem = o.problem or f"wrote {sorted(stray + partial)[:3]}"
                if code != 0 and os.path.lexists(outdir):
                    o.problem = o.problem or "a failed extraction left files"
                shutil.rmtree(outdir, ignore_errors=True)
            elif new:
                o.problem = o.problem or f"wrote {sorted(new)[:3]}"
            results.append(o)
        return results
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


@dataclass
class Report:
    runs: int = 0
    failures: list[dict] = field(default_factory=list)
    crashes: int = 0
    exits: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    slowest: float = 0.0

    def kinds(self) -> Counter:
        return Counter(f["problem"].split(":")[0] for f in self.failures)


def _worker(seed: int, iterations: list[int], timeout: float, conn: object) -> None:
    seeds = seed_models()
    work = tempfile.mkdtemp(prefix="liteconvert-fuzz-")
    try:
        for it in iterations:
            conn.send(("start", it))  # type: ignore[attr-defined]
            name, data = mutate(seeds, seed, it)
            outcomes = check_file(data, timeout, work)
            conn.send(("done", it, name, [(o.command, o.code, o.problem, o.seconds, o.stderr[:500])  # type: ignore
                                          for o in outcomes]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        conn.send(("exit",))  # type: ignore[attr-defined]


def _save(save: str | None, seed: int, it: int, data: bytes, what: dict) -> None:
    if not save:
        return
    os.makedirs(save, exist_ok=True)
    base = os.path.join(save, f"fuzz-{seed}-{it}")
    with open(base + ".tflite", "wb") as f:
        f.write(data)
    with open(base + ".json", "w") as f:
        json.dump(what, f, indent=2)


def run(seed: int, runs: int, jobs: int = 1, timeout: float = 10.0, save: str | None = None, start: int = 0,
        progress: bool = False) -> Report:
    """Fuzz iterations ``start`` .. ``start + runs - 1`` of ``seed`` in ``jobs`` worker processes."""
    report = Report()
    t0 = time.perf_counter()
    todo = list(range(start, start + runs))
    chunks = [todo[i::jobs] for i in range(jobs)]
    seeds = seed_models() if save else None
    ctx = mp.get_context("fork")
    active = []
    for chunk in chunks:
        if chunk:
            parent, child = ctx.Pipe()
            p = ctx.Process(target=_worker, args=(seed, chunk, timeout, child), daemon=True)
            p.start()
            active.append([p, parent, chunk, None])
    while active:
        for entry in list(active):
            p, conn, chunk, _ = entry
            if conn.poll(0.05):
                try:
                    msg = conn.recv()
                except EOFError:
                    msg = None
                if msg is None:
                    pass
                elif msg[0] == "start":
                    entry[3] = msg[1]
                    continue
                elif msg[0] == "done":
                    _, it, name, outcomes = msg
                    report.runs += 1
                    for command, code, problem, seconds, stderr in outcomes:
                        report.exits[f"{command}:{code}"] += 1
                        report.slowest = max(report.slowest, seconds)
                        if problem:
                            what = {"seed": seed, "iteration": it, "model": name, "command": command,
                                    "code": code, "problem": problem, "stderr": stderr}
                            report.failures.append(what)
                            if seeds is not None:
                                _save(save, seed, it, mutate(seeds, seed, it)[1], what)
                    entry[3] = None
                    if progress and report.runs % 1000 == 0:
                        print(f"  {report.runs} runs, {len(report.failures)} failures, "
                              f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
                    continue
                elif msg[0] == "exit":
                    p.join()
                    active.remove(entry)
                    continue
            if not p.is_alive() and not conn.poll(0):
                # The worker died inside an iteration: a crash. Record it and go on after it.
                p.join()
                active.remove(entry)
                it = entry[3]
                if it is not None:
                    report.crashes += 1
                    what = {"seed": seed, "iteration": it, "problem": f"crash: exit {p.exitcode}"}
                    report.failures.append(what)
                    if seeds is not None:
                        _save(save, seed, it, mutate(seeds, seed, it)[1], what)
                    rest = chunk[chunk.index(it) + 1:]
                    if rest:
                        parent, child = ctx.Pipe()
                        q = ctx.Process(target=_worker, args=(seed, rest, timeout, child), daemon=True)
                        q.start()
                        active.append([q, parent, rest, None])
    report.seconds = time.perf_counter() - t0
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--start", type=int, default=0, help="first iteration")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds one command may take")
    ap.add_argument("--save", default=os.path.join(ROOT, "benchmarks", "results", "fuzz"),
                    help="where failing inputs go")
    ap.add_argument("--reproduce", metavar="SEED:ITER", help="write the input of one iteration and check it")
    ap.add_argument("-o", "--output", default="case.tflite", help="with --reproduce: the file to write")
    args = ap.parse_args(argv)
    if args.reproduce:
        seed, it = (int(v) for v in args.reproduce.split(":"))
        name, data = mutate(seed_models(), seed, it)
        with open(args.output, "wb") as f:
            f.write(data)
        print(f"wrote {args.output} ({len(data)} bytes, from {name})")
        for o in check_file(data, args.timeout):
            print(f"  {o.command:8} exit {o.code}  {o.problem or 'ok'}  {o.stderr.strip()[:200]}")
        return 0
    r = run(args.seed, args.runs, args.jobs, args.timeout, args.save, args.start, progress=True)
    print(f"fuzz seed {args.seed}, iterations {args.start}..{args.start + args.runs - 1}: {r.runs} runs "
          f"({r.runs * len(COMMANDS)} commands) in {r.seconds:.0f} s, slowest command {r.slowest:.2f} s")
    print(f"failures: {len(r.failures)} {dict(r.kinds())}; crashes: {r.crashes}")
    print("exit codes: " + ", ".join(f"{k} x{v}" for k, v in sorted(r.exits.items())))
    for f in r.failures[:20]:
        print(f"  {f}")
    return 1 if r.failures else 0


if __name__ == "__main__":
    sys.exit(main())
