"""Scripts written for ``tf.lite`` keep working when the import changes to ``liteconvert``: each test runs the same
script against both converters (Google's is the yardstick, never our engine)."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
from conftest import ROOT, assert_close, save_two_signature_model

import liteconvert
from liteconvert.verify import make_interpreter


def _both(tf):
    return (("liteconvert", liteconvert.TFLiteConverter), ("google", tf.lite.TFLiteConverter))


def test_keras_export_savedmodel_has_one_default_signature(tf, keras, tmp_path):
    """model.export() writes 'serve' and 'serving_default'; both converters give the .tflite one signature, so
    get_signature_runner() without a key works."""
    inp = keras.Input((4,), name="x")
    model = keras.Model(inp, keras.layers.Dense(3, activation="tanh", name="y")(inp))
    path = str(tmp_path / "exported")
    model.export(path, verbose=False)
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    want = np.asarray(model(x))
    seen = {}
    for name, Converter in _both(tf):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = Converter.from_saved_model(path).convert()
        interp = make_interpreter(data)
        seen[name] = sorted(interp.get_signature_list())
        got = interp.get_signature_runner()(x=x)  # no key: only valid with one SignatureDef
        out = next(iter(got.values()))
        assert_close(out, want, what=name)
    assert seen["liteconvert"] == seen["google"] == ["serving_default"]


def test_keras_export_via_the_cli(keras, tmp_path):
    inp = keras.Input((4,), name="x")
    model = keras.Model(inp, keras.layers.Dense(3, name="y")(inp))
    path = str(tmp_path / "exported")
    model.export(path, verbose=False)
    out = tmp_path / "m.tflite"
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
    res = subprocess.run([sys.executable, "-m", "liteconvert", "convert", path, "-o", str(out)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    assert sorted(make_interpreter(out.read_bytes()).get_signature_list()) == ["serving_default"]


def test_savedmodel_with_two_signatures_keeps_both_like_google(tf, tmp_path):
    path = save_two_signature_model(tf, tmp_path / "two")
    keys = {}
    for name, Converter in _both(tf):
        keys[name] = sorted(make_interpreter(Converter.from_saved_model(path).convert()).get_signature_list())
    assert keys["liteconvert"] == keys["google"] == ["other", "serving_default"]


def test_metadata_is_an_attribute_without_tensorflow():
    """``import liteconvert; liteconvert.metadata.X`` works, like ``from liteconvert import metadata``; and no
    public subpackage imports TensorFlow."""
    code = ("import sys, liteconvert\n"
            "md = liteconvert.metadata.ImageClassifierMetadata(name='n', labels=['a', 'b'])\n"
            "liteconvert.passes, liteconvert.ir, liteconvert.tflite, liteconvert.errors, liteconvert.verify\n"
            "assert type(md).__name__ == 'ImageClassifierMetadata'\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'jax')]\n"
            "assert not bad, bad[:5]\n"
            "print('ok')\n")
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr
    assert "metadata" in dir(liteconvert)
