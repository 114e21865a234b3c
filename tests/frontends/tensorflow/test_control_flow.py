"""Functional control flow: tf.cond -> IF and tf.while_loop -> WHILE, with their functions as subgraphs.

Each model is converted from a SavedModel (the recommended path) and from a concrete function, runs in LiteRT
and matches TensorFlow on inputs that take each branch and on several trip counts; Google's converter runs on
the same models side by side.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, max_error, tolerance, while_cond_module

import liteconvert
from liteconvert.tflite.reader import read_model
from liteconvert.verify import run_tflite


@pytest.fixture(scope="module")
def cond_module(tf):
    class M(tf.Module):
        def __init__(self):
            super().__init__()
            rng = np.random.default_rng(0)
            self.w = tf.Variable(rng.standard_normal((4, 4)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def serve(self, x):
            # The ReLU sits inside a branch: Google's converter drops it (the issue this test pins).
            y = tf.cond(tf.reduce_sum(x) > 0.0, lambda: tf.nn.relu(tf.matmul(x, self.w) - 0.5), lambda: x * -2.0)
            return {"y": y}

    return M()


@pytest.fixture(scope="module")
def while_module(tf):
    return while_cond_module(tf)


def _save(tf, module, path):
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return str(path)


def _ops(data: bytes) -> dict[str, int]:
    return {k: v for (k, _), v in read_model(data).op_histogram().items()}


def test_cond_becomes_if_and_keeps_the_branch_relu(tf, cond_module, tmp_path):
    path = _save(tf, cond_module, tmp_path / "cond")
    for data in (liteconvert.TFLiteConverter.from_saved_model(path).convert(),
                 liteconvert.TFLiteConverter.from_concrete_functions([cond_module.serve.get_concrete_function()],
                                                                     cond_module).convert()):
        info = read_model(data)
        assert len(info.subgraphs) == 3 and _ops(data).get("IF") == 1, _ops(data)
        then_ops = {info.operator_codes[op.opcode_index].name for sg in info.subgraphs[1:] for op in sg.operators}
        assert "FULLY_CONNECTED" in then_ops or "RELU" in then_ops
        rng = np.random.default_rng(1)
        for sign in (1.0, -1.0):  # each branch
            x = (np.abs(rng.standard_normal((3, 4))) * sign).astype(np.float32)
            want = cond_module.serve(tf.constant(x))["y"].numpy()
            got = run_tflite(data, {"x": x})["y"]
            assert_close(got, want, what=f"branch {sign}")
            if sign > 0:
                assert (want == 0).any() and (got == 0).any()  # the ReLU clipped something, in both


def test_cond_side_by_side_with_google(tf, cond_module, tmp_path):
    """Google's converter also makes an IF; the numbers are what matters (the ReLU in the branch)."""
    path = _save(tf, cond_module, tmp_path / "cond")
    ours = liteconvert.TFLiteConverter.from_saved_model(path).convert()
    theirs = tf.lite.TFLiteConverter.from_saved_model(path).convert()
    x = np.abs(np.random.default_rng(2).standard_normal((2, 4))).astype(np.float32)
    want = cond_module.serve(tf.constant(x))["y"].numpy()
    err_ours = assert_close(run_tflite(ours, {"x": x})["y"], want)
    err_theirs = max_error(run_tflite(theirs, {"x": x})["y"], want)
    assert err_ours <= err_theirs + tolerance(want), (err_ours, err_theirs)


def test_while_loop_matches_tf_for_several_trip_counts(tf, while_module, tmp_path):
    path = _save(tf, while_module, tmp_path / "loop")
    data = liteconvert.TFLiteConverter.from_saved_model(path).convert()
    assert _ops(data).get("WHILE") == 1 and _ops(data).get("IF") == 1, _ops(data)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    for n in (0, 1, 3, 7, 12):
        want = while_module.serve(tf.constant(x), tf.constant(n, tf.int32))["out"].numpy()
        got = run_tflite(data, {"x": x, "n": np.int32(n)})["out"]
        assert_close(got, want, what=f"{n} iterations")


def test_while_loop_cli_and_check(tf, while_module, tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    path = _save(tf, while_module, tmp_path / "loop")
    env = {"PYTHONPATH": f"{ROOT}/src", "PATH": "/usr/bin:/bin"}
    out = tmp_path / "loop.tflite"
    res = subprocess.run([sys.executable, "-m", "liteconvert", "convert", path, "-o", str(out), "--verify"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    report = liteconvert.check(path)
    assert report.converts_as_is, report.to_text()
    rows = {r.op_type: r for r in report.rows}
    assert "WHILE" in rows["While"].litert_ops or "WHILE" in rows.get("StatelessWhile", rows["While"]).litert_ops


def test_stateless_cond_after_frozen_weights_stays_an_if(tf, tmp_path):
    """A tf.cond whose branches read no variable (StatelessIf) on a value computed from frozen weights: Grappler's
    function inlining used to lower it to v1 Switch / Merge, which has no LiteRT form, so the model was refused
    (Google's converter converts it). From a concrete function and a SavedModel, both branches, and the CLI."""
    from conftest import run_cli

    class M(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(np.random.default_rng(4).standard_normal((4, 4)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32, name="x")])
        def serve(self, x):
            y = tf.matmul(x, self.w)
            return {"y": tf.cond(tf.reduce_sum(y) > 0.0, lambda: tf.nn.relu(y), lambda: y * 2.0)}

    m = M()
    path = _save(tf, m, tmp_path / "scond")
    theirs = tf.lite.TFLiteConverter.from_saved_model(path).convert()
    for data in (liteconvert.TFLiteConverter.from_saved_model(path).convert(),
                 liteconvert.TFLiteConverter.from_concrete_functions([m.serve.get_concrete_function()], m).convert()):
        assert _ops(data).get("IF") == 1, _ops(data)
        rng = np.random.default_rng(5)
        branches = set()
        for _ in range(12):
            x = rng.standard_normal((1, 4)).astype(np.float32)
            want = m.serve(tf.constant(x))["y"].numpy()
            branches.add(bool(np.sum(x @ m.w.numpy()) > 0))
            assert_close(run_tflite(data, {"x": x})["y"], want)
            assert max_error(run_tflite(theirs, {"x": x})["y"], want) <= tolerance(want)
        assert branches == {True, False}
    out = tmp_path / "scond.tflite"
    res = run_cli("convert", path, "-o", str(out), "--verify")
    assert res.returncode == 0 and res.stdout.startswith("verified:"), res.stderr
