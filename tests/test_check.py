"""``liteconvert check`` and the compatibility flags (Select TF ops, custom ops).

Models built to use: an unsupported linear-algebra op, a string op, a ``tf.py_function``, an int64 arithmetic
chain, a dynamic dimension feeding an op that needs a static shape; and zoo models that convert as is.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from conftest import run_cli

import liteconvert
from liteconvert.check import EXIT_CODES, CheckReport
from liteconvert.errors import ConversionWarning, UnsupportedOpsError


def row(report: CheckReport, op: str):
    found = [r for r in report.rows if r.op_type == op]
    assert found, f"{op} not in {[r.op_type for r in report.rows]}"
    return found[0]


def custom_ops(data: bytes) -> list[tuple[str, bytes]]:
    """(custom code, custom options) of every CUSTOM operator, read with LiteRT's schema bindings."""
    from ai_edge_litert import schema_py_generated as fb

    m = fb.ModelT.InitFromPackedBuf(data, 0)
    out = []
    for sg in m.subgraphs:
        for op in sg.operators or []:
            code = m.operatorCodes[op.opcodeIndex]
            if max(code.builtinCode, code.deprecatedBuiltinCode) == fb.BuiltinOperator.CUSTOM:
                cc = code.customCode.decode() if isinstance(code.customCode, bytes) else code.customCode
                out.append((cc, bytes(bytearray(op.customOptions)) if op.customOptions is not None else b""))
    return out


cli = run_cli


def save(tf, module, path) -> str:
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return str(path)


# -- models --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def det_model(tf, keras):
    """A Keras model whose Lambda layer 'det' uses tf.linalg.det (no LiteRT builtin; in the Flex allowlist)."""
    x = keras.Input(shape=(3, 3), name="m")
    d = keras.layers.Lambda(lambda t: tf.linalg.det(t)[:, None], name="det")(x)
    y = keras.layers.Dense(2, name="dense")(d)
    return keras.Model(x, y, name="det_model")


@pytest.fixture(scope="module")
def digamma_model(tf, keras):
    """A Keras model whose Lambda layer 'digamma' uses tf.math.digamma (no builtin, not in the Flex allowlist)."""
    x = keras.Input(shape=(3,), name="x")
    d = keras.layers.Lambda(lambda t: tf.math.digamma(tf.abs(t) + 1.0), name="digamma")(x)
    y = keras.layers.Dense(2, name="dense")(d)
    return keras.Model(x, y, name="digamma_model")


@pytest.fixture(scope="module")
def string_model(tf, tmp_path_factory):
    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="s"),
                                      tf.TensorSpec([None, 4], tf.float32, name="x")])
        def serve(self, s, x):
            return {"low": tf.strings.lower(s), "y": tf.nn.relu(x * 2.0)}

    return save(tf, M(), tmp_path_factory.mktemp("check") / "strings")


@pytest.fixture(scope="module")
def pyfunc_model(tf, tmp_path_factory):
    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def serve(self, x):
            y = tf.py_function(lambda t: np.sin(t.numpy()), [x], tf.float32)
            return {"y": tf.reshape(y, [-1, 4]) + 1.0}

    return save(tf, M(), tmp_path_factory.mktemp("check") / "pyfunc")


def int_chain(tf, dtype):
    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], dtype, name="n")])
        def serve(self, n):
            return {"q": (n * 3 + 1) // 2}

    return M()


@pytest.fixture(scope="module")
def int64_model(tf, tmp_path_factory):
    return save(tf, int_chain(tf, tf.int64), tmp_path_factory.mktemp("check") / "int64")


def size_model(tf, keras, shape, batch_size=None):
    """x / size(x): tf.size needs a static shape."""
    x = keras.Input(shape=shape, batch_size=batch_size, name="x")
    y = keras.layers.Lambda(lambda t: t / tf.cast(tf.size(t), tf.float32), name="normalize")(x)
    return keras.Model(x, y)


# -- check: one report per model -------------------------------------------------------------------------------

def test_linalg_op_needs_select_tf_ops(det_model):
    """tf.linalg.det has no builtin but is on the Flex delegate's allowlist: Select TF ops carry it, as in
    Google's converter (FlexMatrixDeterminant)."""
    report = liteconvert.TFLiteConverter.from_keras_model(det_model).check()
    r = row(report, "MatrixDeterminant")
    assert r.status == "select" and r.count == 1 and r.fallback == "select"
    assert r.nodes and r.nodes[0][1] == "det", r.nodes  # the Keras layer it comes from
    assert "2x2" in r.fix and "--allow-select-tf-ops" in r.fix and r.becomes() == "FlexMatrixDeterminant"
    assert row(report, "MatMul").status == "builtin"
    assert report.outcome == "select_tf_ops" and report.exit_code == EXIT_CODES["select_tf_ops"] == 10


def test_op_outside_the_flex_allowlist_needs_custom_op(digamma_model):
    report = liteconvert.TFLiteConverter.from_keras_model(digamma_model).check()
    r = row(report, "Digamma")
    assert r.status == "custom" and r.count == 1 and r.fallback == "custom"
    assert r.nodes and r.nodes[0][1] == "digamma", r.nodes
    assert "--allow-custom-ops" in r.fix
    assert report.outcome == "custom_ops" and report.exit_code == EXIT_CODES["custom_ops"] == 11
    assert report.flags() == ["--allow-custom-ops"]
    text = report.to_text()
    assert "needs a custom op" in text and "layer 'digamma'" in text and "Converts with --allow-custom-ops" in text


def test_every_flex_allowlisted_op_is_a_real_tf_op(tf):
    """The allowlist is data copied by hand: every name must be an op TensorFlow registers."""
    from tensorflow.python.framework import op_def_registry

    from liteconvert.frontends.tensorflow.flex import FLEX_ALLOWLIST

    assert len(FLEX_ALLOWLIST) > 700
    assert [n for n in sorted(FLEX_ALLOWLIST) if op_def_registry.get(n) is None] == []
    assert {"MatrixDeterminant", "MatrixInverse", "Einsum", "StringLower", "Cumprod"} <= FLEX_ALLOWLIST


def test_aliased_signatures_are_named_in_the_report(det_model, tmp_path):
    """Keras 3's export writes serve and serving_default for one function: converted once, both named."""
    path = str(tmp_path / "det")
    det_model.export(path, format="tf_saved_model", verbose=False)
    report = liteconvert.TFLiteConverter.from_saved_model(path, ["serving_default", "serve"]).check()
    r = row(report, "MatrixDeterminant")
    assert r.count == 1 and r.signatures == ["serving_default", "serve"], (r.count, r.signatures)
    assert "[in signatures serving_default, serve]" in " ".join(report.to_text().split())


def test_string_op_needs_select_tf_ops(string_model):
    report = liteconvert.check(string_model)
    r = row(report, "StringLower")
    assert r.status == "select" and r.becomes() == "FlexStringLower"
    assert "string processing out of the model" in r.fix and "--allow-select-tf-ops" in r.fix
    assert row(report, "Relu").status == "builtin" and row(report, "Relu").litert_ops == ["RELU (fused)"]
    assert report.outcome == "select_tf_ops" and report.exit_code == 10
    assert "Converts with --allow-select-tf-ops" in report.summary()


def test_py_function_never_converts(pyfunc_model):
    report = liteconvert.check(pyfunc_model)
    r = row(report, "EagerPyFunc")
    assert r.status == "unsupported" and r.fallback is None
    assert "never be converted" in r.fix and "Rewrite it with TensorFlow ops" in r.fix
    assert report.outcome == "not_convertible" and report.exit_code == 12
    # No flag makes it convertible.
    conv = liteconvert.TFLiteConverter.from_saved_model(pyfunc_model)
    conv.target_spec.supported_ops = [liteconvert.OpsSet.TFLITE_BUILTINS, liteconvert.OpsSet.SELECT_TF_OPS]
    conv.allow_custom_ops = True
    with pytest.raises(UnsupportedOpsError, match="EagerPyFunc"):
        conv.convert()


def test_int64_chain(int64_model, tf):
    report = liteconvert.check(int64_model)
    fd = row(report, "FloorDiv")
    assert fd.status == "limited" and fd.limitation == "dtype" and fd.litert_ops == ["FLOOR_DIV"]
    assert "int64" in fd.reasons[0] and "'n'" in fd.fix and "int32" in fd.fix
    assert row(report, "Mul").status == "builtin"  # LiteRT's MUL and ADD take int64
    assert any("'n'" in n and "int64" in n for n in report.notes)
    assert report.outcome == "select_tf_ops"  # FloorDiv is in the Flex allowlist
    # The advice works: the same chain in int32 converts as is and matches TensorFlow.
    m32 = int_chain(tf, tf.int32)
    conv = liteconvert.TFLiteConverter.from_concrete_functions([m32.serve.get_concrete_function()], m32)
    assert conv.check().converts_as_is
    from liteconvert.verify import run_tflite

    n = np.arange(-8, 8, dtype=np.int32).reshape(4, 4)
    got = run_tflite(conv.convert(), {"n": n})
    np.testing.assert_array_equal(next(iter(got.values())), (n * 3 + 1) // 2)


def test_float64_input(tf):
    w = np.ones((4, 2))

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float64, name="features")])
        def serve(self, x):
            return {"y": tf.matmul(x, w) + 1.0}

    m = M()
    report = liteconvert.TFLiteConverter.from_concrete_functions([m.serve.get_concrete_function()], m).check()
    r = row(report, "MatMul")
    assert r.status == "limited" and r.limitation == "dtype" and "float64" in r.reasons[0]
    assert "float32" in r.fix and "'features'" in r.fix
    assert any("'features'" in n and "float64" in n for n in report.notes)


def test_dynamic_dimension_blocks_op(tf, keras):
    report = liteconvert.check(size_model(tf, keras, (None, 4)))
    r = row(report, "Size")
    assert r.status == "limited" and r.limitation == "dynamic dimension"
    assert r.nodes[0][1] == "normalize"
    assert "static shape" in r.fix and "x [-1, -1, 4]" in r.fix
    assert not report.converts_as_is
    assert liteconvert.check(size_model(tf, keras, (6, 4), batch_size=2)).converts_as_is


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_check_keras_files(keras, tmp_path, ext):
    model = keras.Sequential([keras.Input((8,), name="x"), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    path = tmp_path / f"m{ext}"
    model.save(path)
    report = liteconvert.check(str(path))
    assert report.converts_as_is and report.exit_code == 0, report.to_text()
    assert row(report, "MatMul").litert_ops == ["FULLY_CONNECTED"]


def test_ops_with_builtin_replacements(tf):
    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([2, 4], tf.float32, name="x")])
        def serve(self, x):
            return {"y": tf.math.cumprod(x, axis=1) + tf.random.uniform([2, 4])}

    m = M()
    report = liteconvert.TFLiteConverter.from_concrete_functions([m.serve.get_concrete_function()], m).check()
    cum, rnd = row(report, "Cumprod"), row(report, "RandomUniform")
    assert cum.status == rnd.status == "select"
    assert "tf.math.cumsum(tf.math.log(x)" in cum.fix
    assert "RANDOM_UNIFORM" in rnd.fix and "training=False" in rnd.fix


ZOO = [
    ("MobileNetV2", dict(input_shape=(96, 96, 3), alpha=0.35)),
    ("ResNet50", dict(input_shape=(64, 64, 3))),
]


@pytest.mark.parametrize("name,kwargs", ZOO, ids=[z[0] for z in ZOO])
def test_zoo_converts_as_is(keras, name, kwargs):
    model = getattr(keras.applications, name)(weights=None, **kwargs)
    report = liteconvert.check(model)
    assert report.converts_as_is, report.to_text()
    assert report.exit_code == 0 and not report.problems
    assert {"CONV_2D"} <= {k for r in report.rows for k in r.litert_ops}
    assert report.summary().startswith("Converts as is")


# -- Select TF ops ---------------------------------------------------------------------------------------------

def test_select_tf_ops_emits_flex_ops_only_where_needed(string_model, tf):
    from tensorflow.core.framework import node_def_pb2

    from liteconvert.frontends.tensorflow.flex import parse_flex_custom_options

    conv = liteconvert.TFLiteConverter.from_saved_model(string_model)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    with pytest.warns(ConversionWarning, match="Flex delegate at run time.*select-tf-ops"):
        data = conv.convert()
    assert any("FlexStringLower" in w for w in conv.warnings)
    ours = custom_ops(data)
    assert [code for code, _ in ours] == ["FlexStringLower"]  # the RELU path stays builtin
    name, raw = parse_flex_custom_options(ours[0][1])
    nd = node_def_pb2.NodeDef.FromString(raw)
    assert name == nd.op == "StringLower" and not nd.input and not nd.device

    # The same structure as Google's converter writes (the format the Flex delegate reads).
    ref = tf.lite.TFLiteConverter.from_saved_model(string_model)
    ref.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    theirs = custom_ops(ref.convert())
    assert [code for code, _ in theirs] == ["FlexStringLower"]
    ref_name, ref_raw = parse_flex_custom_options(theirs[0][1])
    ref_nd = node_def_pb2.NodeDef.FromString(ref_raw)
    assert ref_name == name and ref_nd.op == nd.op
    assert set(ref_nd.attr) <= set(nd.attr) | {"_output_shapes"}, (set(ref_nd.attr), set(nd.attr))

    # The Python runtime has no Flex delegate: it names exactly what is missing.
    from ai_edge_litert.interpreter import Interpreter

    with pytest.raises(RuntimeError, match=r"Select TensorFlow op\(s\).*\(FlexStringLower\) failed to prepare"):
        Interpreter(model_content=data).allocate_tensors()


def test_flex_options_format():
    from flatbuffers import flexbuffers
    from tensorflow.core.framework import node_def_pb2

    from liteconvert.frontends.tensorflow.flex import flex_custom_options, parse_flex_custom_options

    nd = node_def_pb2.NodeDef(name="a/b", op="Cumprod", input=["x", "axis"], device="/GPU:0")
    nd.attr["exclusive"].b = True
    nd.attr["_class"].s = b"loc:@x"
    data = flex_custom_options(nd)
    v = flexbuffers.GetRoot(bytearray(data)).AsVector
    assert len(v) == 2 and v[0].IsString and v[1].IsString  # the delegate reads both with AsString()
    name, raw = parse_flex_custom_options(data)
    back = node_def_pb2.NodeDef.FromString(raw)
    assert name == back.op == "Cumprod" and back.attr["exclusive"].b
    assert not back.input and not back.device and "_class" not in back.attr


# -- custom ops -----------------------------------------------------------------------------------------------

def test_custom_op_reaches_the_kernel_lookup(digamma_model):
    from flatbuffers import flexbuffers

    conv = liteconvert.TFLiteConverter.from_keras_model(digamma_model)
    conv.allow_custom_ops = True
    with pytest.warns(ConversionWarning, match="custom ops \\(Digamma\\)"):
        data = conv.convert()
    ours = custom_ops(data)
    assert [code for code, _ in ours] == ["Digamma"]
    assert flexbuffers.Loads(bytearray(ours[0][1])) == {"T": "float32"}
    # A user-registered kernel is reachable: the runtime asks for exactly that name.
    from ai_edge_litert.interpreter import Interpreter

    with pytest.raises(RuntimeError, match=r"unresolved custom op: Digamma\."):
        Interpreter(model_content=data).allocate_tensors()


def test_allow_custom_ops_keeps_flex_allowlisted_ops_custom_only_when_asked(det_model):
    """With allow_custom_ops alone (no Select TF ops), an allowlisted op becomes a custom op, as in Google's."""
    conv = liteconvert.TFLiteConverter.from_keras_model(det_model)
    conv.allow_custom_ops = True
    with pytest.warns(ConversionWarning):
        data = conv.convert()
    assert [code for code, _ in custom_ops(data)] == ["MatrixDeterminant"]


def test_det_select_tf_ops_same_as_google(det_model, tf):
    """Drop-in: the same script, run against both converters, emits FlexMatrixDeterminant."""
    from tensorflow.core.framework import node_def_pb2

    from liteconvert.frontends.tensorflow.flex import parse_flex_custom_options

    results = {}
    for name, module in (("liteconvert", liteconvert), ("google", tf.lite)):
        conv = module.TFLiteConverter.from_keras_model(det_model)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results[name] = custom_ops(conv.convert())
    assert [c for c, _ in results["liteconvert"]] == [c for c, _ in results["google"]] == ["FlexMatrixDeterminant"]
    ours = node_def_pb2.NodeDef.FromString(parse_flex_custom_options(results["liteconvert"][0][1])[1])
    theirs = node_def_pb2.NodeDef.FromString(parse_flex_custom_options(results["google"][0][1])[1])
    assert ours.op == theirs.op == "MatrixDeterminant" and ours.attr["T"] == theirs.attr["T"]


# -- conversion errors use the same analysis --------------------------------------------------------------------

def test_convert_error_lists_every_op_as_a_table(tf, tmp_path):
    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 3, 3], tf.float32, name="m"),
                                      tf.TensorSpec([None], tf.string, name="s")])
        def serve(self, m, s):
            y = tf.ensure_shape(tf.py_function(lambda t: t, [m], tf.float32), [None, 3, 3])
            return {"d": tf.reduce_sum(tf.math.digamma(m) + y, axis=[1, 2]), "s": tf.strings.lower(s)}

    path = save(tf, M(), tmp_path / "mixed")
    with pytest.raises(UnsupportedOpsError) as info:
        liteconvert.convert(path)
    e = info.value
    assert {p.op_type for p in e.problems} == {"Digamma", "StringLower", "EagerPyFunc"}
    assert "\n" not in e.summary
    text = str(e)
    for needle in ("Digamma", "needs a custom op", "StringLower", "needs Select TF ops", "EagerPyFunc",
                   "unsupported", "where:", "fix:"):
        assert needle in text, needle
    # With Select TF ops the string op is carried; the rest are still listed together.
    with pytest.raises(UnsupportedOpsError) as info:
        liteconvert.convert(path, target_spec=_select_spec())
    assert {p.op_type for p in info.value.problems} == {"Digamma", "EagerPyFunc"}


def _select_spec():
    spec = liteconvert.TargetSpec()
    spec.supported_ops = {liteconvert.OpsSet.TFLITE_BUILTINS, liteconvert.OpsSet.SELECT_TF_OPS}
    return spec


# -- the command line --------------------------------------------------------------------------------------------

def test_cli_check_text_and_json(string_model, pyfunc_model):
    res = cli("check", string_model)
    assert res.returncode == 10, res.stderr
    assert res.stderr == ""
    assert res.stdout.startswith(f"liteconvert check: {string_model}\n")
    assert "StringLower" in res.stdout and "needs Select TF ops" in res.stdout and "FlexStringLower" in res.stdout
    res = cli("check", pyfunc_model, "--json")
    assert res.returncode == 12 and res.stderr == ""
    doc = json.loads(res.stdout)  # nothing but JSON on stdout
    assert doc["outcome"] == "not_convertible" and doc["exit_code"] == 12
    ops = {o["op"]: o for o in doc["ops"]}
    assert ops["EagerPyFunc"]["status"] == "unsupported" and ops["EagerPyFunc"]["fix"]


def test_cli_convert_flags(string_model, tmp_path):
    out = tmp_path / "m.tflite"
    res = cli("convert", string_model, "-o", str(out))
    assert res.returncode == 1 and "StringLower" in res.stderr and len(res.stderr.splitlines()) == 1
    assert not out.exists()
    res = cli("convert", "--saved_model_dir", string_model, "--output_file", str(out), "--enable_select_tf_ops")
    assert res.returncode == 0, res.stderr
    assert "liteconvert: warning:" in res.stderr and "Flex delegate" in res.stderr
    assert [c for c, _ in custom_ops(out.read_bytes())] == ["FlexStringLower"]


def test_options_accept_select_and_custom(tf):
    from liteconvert.frontends.tensorflow import TensorFlowFrontend

    conv = liteconvert.TFLiteConverter(TensorFlowFrontend(lambda: [], "x"), "x")
    conv.target_spec.supported_ops = [liteconvert.OpsSet.SELECT_TF_OPS]
    with pytest.raises(liteconvert.ConversionError, match="TFLITE_BUILTINS"):
        conv._config()
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, liteconvert.OpsSet.SELECT_TF_OPS]
    conv.allow_custom_ops = True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = conv._config()
    assert config.allow_select_tf_ops and config.allow_custom_ops
