"""The command line: conversion, tflite_convert's flags, and one-line errors with no output left behind."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest
from conftest import run_cli

from liteconvert.verify import make_interpreter, run_tflite

cli = run_cli


def assert_one_line_error(res: subprocess.CompletedProcess, code: int, *needles: str) -> None:
    assert res.returncode == code, (res.returncode, res.stdout, res.stderr)
    assert res.stdout == "", res.stdout
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("liteconvert: error: "), lines[0]
    for n in needles:
        assert n in lines[0], (n, lines[0])


@pytest.fixture(scope="module")
def saved_model(tf, tmp_path_factory):
    class M(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(np.linspace(-1, 1, 8, dtype=np.float32).reshape(4, 2))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def serve(self, x):
            return {"y": tf.nn.relu6(tf.matmul(x, self.w))}

    m = M()
    path = str(tmp_path_factory.mktemp("cli") / "sm")
    tf.saved_model.save(m, path, signatures={"serving_default": m.serve})
    return path


@pytest.fixture(scope="module")
def unsupported_model(tf, tmp_path_factory):
    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 3, 3], tf.float32, name="m")])
        def serve(self, m):
            return {"out": tf.linalg.det(m) + tf.reduce_sum(tf.math.lgamma(tf.abs(m) + 1.0), axis=[1, 2])}

    m = M()
    path = str(tmp_path_factory.mktemp("cli") / "unsupported")
    tf.saved_model.save(m, path, signatures={"serving_default": m.serve})
    return path


def test_convert_saved_model(saved_model, tmp_path):
    out = tmp_path / "m.tflite"
    res = cli("convert", saved_model, "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    assert res.stdout.startswith(f"wrote {out} (")
    x = np.ones((2, 4), np.float32)
    w = np.linspace(-1, 1, 8, dtype=np.float32).reshape(4, 2)
    np.testing.assert_allclose(run_tflite(out.read_bytes(), {"x": x})["y"], np.clip(x @ w, 0, 6), atol=1e-6)


def test_tflite_convert_flags(saved_model, keras, tmp_path):
    out = tmp_path / "legacy.tflite"
    res = cli("--saved_model_dir", saved_model, "--output_file", str(out), "--signature_keys", "serving_default")
    assert res.returncode == 0, res.stderr
    assert make_interpreter(out.read_bytes()).get_signature_list()["serving_default"]["outputs"] == ["y"]
    # --keras_model_file with a Keras 3 file (Google's tflite_convert fails on these).
    inp = keras.Input((5,), name="features")
    model = keras.Model(inp, keras.layers.Dense(3, activation="tanh", name="scores")(inp))
    path = tmp_path / "k.keras"
    model.save(path)
    out2 = tmp_path / "k.tflite"
    res = cli("convert", "--keras_model_file", str(path), "--output_file", str(out2))
    assert res.returncode == 0, res.stderr
    x = np.random.default_rng(0).standard_normal((2, 5)).astype(np.float32)
    np.testing.assert_allclose(run_tflite(out2.read_bytes(), {"features": x})["scores"], model(x), atol=1e-6)


def test_missing_path(tmp_path):
    out = tmp_path / "x.tflite"
    res = cli("convert", str(tmp_path / "nope"), "-o", str(out))
    assert_one_line_error(res, 3, "not found", "nope")
    assert not out.exists()


def test_not_a_model(tmp_path):
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    fake = tmp_path / "fake.h5"
    fake.write_bytes(b"\x00garbage" * 10)
    out = tmp_path / "x.tflite"
    assert_one_line_error(cli("convert", str(txt), "-o", str(out)), 1, "not a model", "Fix:")
    assert_one_line_error(cli("convert", str(fake), "-o", str(out)), 1, "cannot load Keras model", "Fix:")
    assert sorted(os.listdir(tmp_path)) == ["fake.h5", "notes.txt"]


def test_corrupt_saved_model(saved_model, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(saved_model, bad)
    (bad / "saved_model.pb").write_bytes(b"\x08\x01this is not a protobuf" * 7)
    out = tmp_path / "x.tflite"
    assert_one_line_error(cli("convert", str(bad), "-o", str(out)), 1, "cannot load SavedModel", "Fix:")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line_error(cli("convert", str(empty), "-o", str(out)), 1, "no saved_model.pb")
    assert not out.exists()


def test_damaged_variables(saved_model, tmp_path):
    """The index and object graph are intact but a weight's bytes are not: the checksum catches it on read."""
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(saved_model, bad)
    data = bad / "variables" / "variables.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[:16] = b"\xff" * 16
    data.write_bytes(bytes(raw))
    out = tmp_path / "x.tflite"
    assert_one_line_error(cli("convert", str(bad), "-o", str(out)), 1, "cannot read variable", "Fix:")
    assert not out.exists()


def test_wrong_signature_key(saved_model, tmp_path):
    out = tmp_path / "x.tflite"
    res = cli("convert", saved_model, "-o", str(out), "--signature-keys", "serving_default,predict")
    assert_one_line_error(res, 1, "'predict'", "available: serving_default")
    assert not out.exists()


def test_unsupported_ops_listed_at_once(unsupported_model, tmp_path):
    out = tmp_path / "x.tflite"
    res = cli("convert", unsupported_model, "-o", str(out))
    assert_one_line_error(res, 1, "MatrixDeterminant", "Lgamma")
    assert not out.exists()
    assert os.listdir(tmp_path) == []


def test_bad_flags(tmp_path):
    res = cli("convert", "--no-such-flag")
    assert res.returncode == 2 and len(res.stderr.splitlines()) == 1, res.stderr
    res = cli("convert", str(tmp_path))
    assert_one_line_error(res, 2, "no output file")


def test_output_directory_missing(saved_model, tmp_path):
    out = tmp_path / "missing" / "x.tflite"
    assert_one_line_error(cli("convert", saved_model, "-o", str(out)), 4, "output directory does not exist")


def test_convert_verify(saved_model, tmp_path):
    out = tmp_path / "v.tflite"
    res = cli("convert", saved_model, "-o", str(out), "--verify")
    assert res.returncode == 0, res.stderr
    first = res.stdout.splitlines()[0]
    assert first.startswith("verified: max abs error vs source: serving_default/y "), first
    assert float(first.rsplit(" ", 1)[1]) <= 1e-5
    assert out.exists()
