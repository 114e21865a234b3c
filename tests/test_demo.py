"""The README's main job: `liteconvert demo` builds, converts, verifies in LiteRT and reports."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT

from liteconvert.verify import run_tflite


def test_demo_command(tmp_path):
    out = tmp_path / "demo.tflite"
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
    res = subprocess.run([sys.executable, "-m", "liteconvert", "demo", "-o", str(out)], capture_output=True,
                         text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    lines = res.stdout.splitlines()
    assert lines[1] == "signature: serving_default"
    assert lines[2] == "  input  image: shape [-1, 32, 32, 3] float32"
    assert lines[3] == "  output probs: shape [-1, 10] float32"
    assert lines[4].startswith("ops (11): CONV_2D v1 x3, DEPTHWISE_CONV_2D v1 x2")
    assert "verdict: OK - LiteRT output matches Keras" in lines
    err = float(next(x for x in lines if x.startswith("max abs error")).rsplit(" ", 1)[1])
    assert err <= 1e-5
    probs = run_tflite(out.read_bytes(), {"image": __import__("numpy").zeros((2, 32, 32, 3), "float32")})["probs"]
    assert probs.shape == (2, 10)
