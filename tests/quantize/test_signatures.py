"""Full-integer quantization of a model with several signatures, each with its own subgraph: samples tagged
``(signature_key, dict)`` as Google's converter takes them calibrate every signature (the same script runs
against both converters), an ``.npz`` keys another signature's arrays ``KEY/INPUT`` on the command line, and a
signature left without samples stays float with a warning (an error with integer-only ops)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import one_error_line, run_cli

import liteconvert
from liteconvert.errors import InvalidOptionError
from liteconvert.verify import make_interpreter

N = 48


@pytest.fixture(scope="module")
def two_signatures(tf, tmp_path_factory):
    """A SavedModel with signatures 'encode' (x -> relu(x W1)) and 'decode' (z -> tanh(z W2)), and samples."""
    rng = np.random.default_rng(0)

    class Codec(tf.Module):
        def __init__(self):
            self.w1 = tf.Variable(rng.normal(size=(8, 16)).astype(np.float32))
            self.w2 = tf.Variable(rng.normal(size=(16, 4)).astype(np.float32) * 0.3)

        @tf.function(input_signature=[tf.TensorSpec([1, 8], tf.float32, name="x")])
        def encode(self, x):
            return {"code": tf.nn.relu(tf.matmul(x, self.w1))}

        @tf.function(input_signature=[tf.TensorSpec([1, 16], tf.float32, name="z")])
        def decode(self, z):
            return {"out": tf.tanh(tf.matmul(z, self.w2))}

    m = Codec()
    path = str(tmp_path_factory.mktemp("codec") / "sm")
    tf.saved_model.save(m, path, signatures={"encode": m.encode, "decode": m.decode})
    xs = rng.normal(size=(N, 1, 8)).astype(np.float32)
    zs = np.abs(rng.normal(size=(N, 1, 16))).astype(np.float32) * 2
    ref = {"encode": np.concatenate([m.encode(x)["code"].numpy() for x in xs]),
           "decode": np.concatenate([m.decode(z)["out"].numpy() for z in zs])}
    return path, xs, zs, ref


def _tagged(xs, zs):
    def rep():
        for x, z in zip(xs, zs, strict=True):
            yield ("encode", {"x": x})
            yield ("decode", {"z": z})
    return rep


def _convert(converter_cls, tf, path, rep):
    c = converter_cls.from_saved_model(path, signature_keys=["encode", "decode"])
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = rep
    return c.convert()


def _run(data: bytes, key: str, name: str, batch: np.ndarray) -> np.ndarray:
    runner = make_interpreter(data).get_signature_runner(key)
    return np.concatenate([next(iter(runner(**{name: row}).values())) for row in batch])


def _subgraph_dtypes(data: bytes, key: str) -> set[str]:
    """Dtypes of the weights of the signature's subgraph's FULLY_CONNECTED ops."""
    from liteconvert.tflite.reader import read_model

    m = read_model(data)
    sig = next(s for s in m.signatures if s.key == key)
    sg = m.subgraphs[sig.subgraph]
    return {sg.tensors[op.inputs[1]].dtype for op in sg.operators
            if m.operator_codes[op.opcode_index].display_name == "FULLY_CONNECTED"}


def test_tagged_samples_calibrate_every_signature_like_google(tf, two_signatures):
    path, xs, zs, ref = two_signatures
    got = {}
    for name, cls in [("liteconvert", liteconvert.TFLiteConverter), ("google", tf.lite.TFLiteConverter)]:
        data = _convert(cls, tf, path, _tagged(xs, zs))
        got[name] = data
        for key in ("encode", "decode"):
            assert _subgraph_dtypes(data, key) == {"int8"}, (name, key)
    for key, inp, batch in [("encode", "x", xs), ("decode", "z", zs)]:
        scale = float(np.max(np.abs(ref[key])))
        ours = float(np.max(np.abs(_run(got["liteconvert"], key, inp, batch) - ref[key])))
        google = float(np.max(np.abs(_run(got["google"], key, inp, batch) - ref[key])))
        assert ours <= 0.08 * scale, (key, ours, scale)
        assert ours <= google * 1.25 + 1e-6, (key, ours, google)
    assert len(got["liteconvert"]) <= len(got["google"])


def test_untagged_samples_leave_other_signatures_float_with_a_warning(tf, two_signatures):
    path, xs, zs, ref = two_signatures
    c = liteconvert.TFLiteConverter.from_saved_model(path, signature_keys=["encode", "decode"])
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = lambda: ({"x": x} for x in xs)  # the first signature's inputs only
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = c.convert()
    assert any("'decode' got no representative samples" in str(w.message) for w in caught)
    assert _subgraph_dtypes(data, "encode") == {"int8"} and _subgraph_dtypes(data, "decode") == {"float32"}
    np.testing.assert_allclose(_run(data, "decode", "z", zs), ref["decode"], atol=1e-5)

    c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with pytest.raises(InvalidOptionError, match="'decode' got no representative samples"):
        c.convert()


@pytest.mark.parametrize("sample,needle", [
    (("decoder", {"z": np.zeros((1, 16), np.float32)}), "signature 'decoder', which the conversion does not have"),
    (("decode", [np.zeros((1, 16), np.float32)]), "for signature 'decode' is not a dict"),
    (("decode", {"x": np.zeros((1, 8), np.float32)}), "(signature 'decode') has inputs ['x'], the model takes ['z']"),
])
def test_bad_tagged_samples_are_one_clear_error(tf, two_signatures, sample, needle):
    path = two_signatures[0]
    c = liteconvert.TFLiteConverter.from_saved_model(path, signature_keys=["encode", "decode"])
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = lambda: iter([sample])
    with pytest.raises(InvalidOptionError) as e:
        c.convert()
    assert needle in str(e.value)


def test_cli_npz_keys_other_signatures_by_prefix(two_signatures, tmp_path):
    path, xs, zs, ref = two_signatures
    np.savez(tmp_path / "calib.npz", x=xs[:, 0], **{"decode/z": zs[:, 0]})
    out = tmp_path / "codec.tflite"
    res = run_cli("convert", path, "-o", str(out), "--signature-keys", "encode,decode", "--quantize", "int8",
                  "--representative-data", str(tmp_path / "calib.npz"))
    assert res.returncode == 0, res.stderr
    assert "warning" not in res.stderr
    data = out.read_bytes()
    for key, inp, batch in [("encode", "x", xs), ("decode", "z", zs)]:
        assert _subgraph_dtypes(data, key) == {"int8"}
        scale = float(np.max(np.abs(ref[key])))
        assert float(np.max(np.abs(_run(data, key, inp, batch) - ref[key]))) <= 0.08 * scale

    # the report, per signature; a signature the model lacks is one error line
    float_out = tmp_path / "float.tflite"
    assert run_cli("convert", path, "-o", str(float_out), "--signature-keys", "encode,decode").returncode == 0
    res = run_cli("quantization-report", str(float_out), str(out), "--signature", "decode", "--json")
    assert res.returncode == 0, res.stderr
    assert '"out"' in res.stdout
    res = run_cli("quantization-report", str(float_out), str(out), "--signature", "nope")
    one_error_line(res, 2, "--signature nope")
