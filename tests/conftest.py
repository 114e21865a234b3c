"""Shared test helpers: convert a Keras model or function with liteconvert, run it in LiteRT, compare."""

from __future__ import annotations

import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("LITECONVERT_CHECK_INVARIANTS", "1")  # the IR checker runs after every pass in tests

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, ".cache")


def run_cli(*args: str, cwd: str | None = None, timeout: float = 300, env: dict | None = None,
            prefix: tuple[str, ...] | list[str] = ()) -> subprocess.CompletedProcess:
    """``liteconvert ARGS`` in a fresh interpreter, as a user's shell runs it (no verbose/debug settings
    inherited); ``prefix``: a command to run it under (an unprivileged user)."""
    e = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src"), **(env or {})}
    for name in ("LITECONVERT_VERBOSE", "LITECONVERT_DEBUG"):
        if name not in (env or {}):
            e.pop(name, None)
    return subprocess.run([*prefix, sys.executable, "-m", "liteconvert", *args], capture_output=True, text=True,
                          env=e, cwd=cwd, timeout=timeout)


def one_error_line(res: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    """The run failed with ``code`` and said why in one line naming a fix, with no traceback."""
    assert res.returncode == code, (res.returncode, res.stdout, res.stderr)
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    line = lines[0]
    assert line.startswith("liteconvert: error: ") and "Fix:" in line, line
    assert "Traceback" not in res.stderr + res.stdout
    for n in needles:
        assert n in line, (n, line)
    return line


def tolerance(reference: np.ndarray, rel: float = 1e-5) -> float:
    """The project's bar: max abs error <= rel * max(1, max|reference|)."""
    return rel * max(1.0, float(np.max(np.abs(reference))) if reference.size else 1.0)


def max_error(got: np.ndarray, want: np.ndarray) -> float:
    """Max abs difference, in float64 (0 for empty arrays)."""
    got, want = np.asarray(got), np.asarray(want)
    return float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))) if want.size else 0.0


def assert_close(got: np.ndarray, want: np.ndarray, rel: float = 1e-5, what: str = "") -> float:
    """The project's one numeric comparison: same shape, max abs error <= rel * max(1, max|want|). Returns the
    error, for tests that compare it with something else (Google's, say)."""
    got, want = np.asarray(got), np.asarray(want)
    label = f"{what}: " if what else ""
    assert got.shape == want.shape, f"{label}shape {got.shape} != {want.shape}"
    err = max_error(got, want)
    assert err <= tolerance(want, rel), f"{label}max abs error {err:.3g} > {tolerance(want, rel):.3g}"
    return err


def keras_reference(model, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run a Keras model on named inputs; return named outputs (Keras output names)."""
    names = [t.name.split(":")[0] for t in model.inputs]
    args = [inputs[n] for n in names]
    out = model(args[0] if len(args) == 1 else args, training=False)
    flat = out if isinstance(out, (list, tuple)) else [out]
    if isinstance(out, dict):
        flat = list(out.values())
    out_names = list(model.output_names)
    return {n: np.asarray(o) for n, o in zip(out_names, flat, strict=True)}


def assert_matches_keras(model, batch: int = 2, seed: int = 0, rel: float = 1e-5, data: bytes | None = None,
                         ) -> bytes:
    """Convert ``model`` (unless ``data`` is given), run it in LiteRT at ``batch`` and compare with Keras."""
    import liteconvert
    from liteconvert.verify import random_inputs, run_tflite, signature_specs

    if data is None:
        data = liteconvert.TFLiteConverter.from_keras_model(model).convert()
    inputs = random_inputs(signature_specs(data), batch=batch, seed=seed)
    got = run_tflite(data, inputs)
    ref = keras_reference(model, inputs)
    assert set(got) == set(ref), f"outputs {sorted(got)} != keras outputs {sorted(ref)}"
    for name, r in ref.items():
        assert_close(got[name], r, rel, name)
    return data


def op_histogram(data: bytes) -> dict[str, int]:
    """``{builtin op name: count}`` of a ``.tflite`` model, read with LiteRT's schema bindings."""
    from ai_edge_litert import schema_py_generated as fb

    from liteconvert.tflite.schema import builtin_names

    m = fb.ModelT.InitFromPackedBuf(data, 0)
    names = builtin_names()
    hist: dict[str, int] = {}
    for sg in m.subgraphs:
        for op in sg.operators or []:
            code = m.operatorCodes[op.opcodeIndex]
            name = names[max(code.builtinCode, code.deprecatedBuiltinCode)]
            if name == "CUSTOM":
                name = "CUSTOM:" + (code.customCode.decode() if isinstance(code.customCode, bytes)
                                    else str(code.customCode))
            hist[name] = hist.get(name, 0) + 1
    return hist


# -- small TensorFlow models that several test files share ------------------------------------------------------

def configure_quantization(conv, tf, mode: str, calib: np.ndarray | None = None, io: str | None = None) -> None:
    """Set a converter, ours or Google's (the same tf.lite attributes), for ``mode`` (dynamic, float16, int8,
    int16x8), calibrating on ``calib`` one sample at a time; ``io``: the interface type's name (int8, ...)."""
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        conv.target_spec.supported_types = [tf.float16]
    if mode in ("int8", "int16x8"):
        conv.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
    if mode == "int16x8":
        conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    if io:
        conv.inference_input_type = conv.inference_output_type = getattr(tf, io)


def save_two_signature_model(tf, path) -> str:
    """A SavedModel at ``path`` with signatures ``serving_default`` (x -> y = 2x) and ``other`` (x -> z = x + 1),
    x being float32 [None, 2]."""

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
        def a(self, x):
            return {"y": x * 2.0}

        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
        def b(self, x):
            return {"z": x + 1.0}

    m = M()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.a, "other": m.b})
    return str(path)


def while_cond_module(tf):
    """A tf.Module whose ``serve(x [None, 3], n)`` runs a tf.while_loop of n steps with a tf.cond inside (WHILE and
    IF subgraphs, nested control flow)."""

    class M(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable((np.eye(3) * 0.5 + 0.1).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x"),
                                      tf.TensorSpec([], tf.int32, name="n")])
        def serve(self, x, n):
            def body(i, acc):
                nxt = tf.matmul(acc, self.w) + 1.0
                acc = tf.cond(tf.reduce_max(nxt) > 50.0, lambda: nxt * 0.1, lambda: nxt)
                return i + 1, acc

            _, out = tf.while_loop(lambda i, a: i < n, body, [tf.constant(0), x])
            return {"out": out}

    return M()


@pytest.fixture(scope="session")
def tf():
    from liteconvert.frontends.tensorflow.quiet import import_tensorflow

    return import_tensorflow()


@pytest.fixture(scope="session")
def keras(tf):
    import keras

    return keras
