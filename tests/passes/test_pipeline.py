"""The pass machinery: a registry by name, named pipelines that are plain lists, a context, fixed points."""

from __future__ import annotations

import numpy as np
import pytest

from liteconvert import passes
from liteconvert.config import ConversionConfig
from liteconvert.errors import InvalidOptionError
from liteconvert.ir import Model, Op, Signature, Subgraph, Tensor, const
from liteconvert.passes import PassContext, register_pass, run_pipeline


def _model() -> Model:
    x = Tensor("x", "float32", (2, 3))
    y, z = Tensor("y", "float32", (2, 3)), Tensor("z", "float32", (2, 3))
    sg = Subgraph("main", [x], [z], [
        Op("MUL", [x, const("one", np.float32(1.0))], [y]),
        Op("RELU", [y], [z]),
    ])
    return Model([sg], [Signature("serving_default", sg, {"x": x}, {"z": z})])


def test_float_pipeline_is_a_plain_editable_copy():
    p = passes.pipeline("float")
    assert isinstance(p, list) and all(isinstance(phase, list) for phase in p)
    assert "fold_constants" in p[0] and "fuse_bias" in p[1]
    p[0].clear()
    assert passes.pipeline("float")[0], "pipeline() must hand out a copy"
    every = {n for phase in passes.pipeline("float") for n in phase}
    assert every <= set(passes.passes()), every - set(passes.passes())


def test_every_pass_is_documented():
    for name, info in passes.passes().items():
        assert info.doc, f"pass {name} has no docstring"
    assert "bias" in passes.describe("fuse_bias")


def test_unknown_pass_fails_before_anything_runs():
    model = _model()
    with pytest.raises(InvalidOptionError, match=r"unknown pass.*no_such_pass"):
        run_pipeline(model, [["remove_identity_arithmetic", "no_such_pass"]])
    assert [op.kind for op in model.subgraphs[0].ops] == ["MUL", "RELU"]  # nothing ran
    with pytest.raises(InvalidOptionError, match="no pipeline named"):
        run_pipeline(model, "fastest")
    with pytest.raises(InvalidOptionError, match="list of phases"):
        run_pipeline(model, ["remove_identity_arithmetic"])  # a flat list: a common slip


def test_empty_pipeline_runs_nothing():
    model = _model()
    run_pipeline(model, [])
    assert [op.kind for op in model.subgraphs[0].ops] == ["MUL", "RELU"]
    run_pipeline(model, [["remove_identity_arithmetic"]])
    assert [op.kind for op in model.subgraphs[0].ops] == ["RELU"]


def test_registering_a_name_twice_is_an_error():
    passes.passes()
    with pytest.raises(ValueError, match="registered twice"):
        @register_pass(name="fuse_bias")
        def fuse_bias_again(model: Model, ctx: PassContext) -> bool:
            return False


def test_a_pass_receives_the_context_and_logs(monkeypatch):
    seen = {}

    def probe(model: Model, ctx: PassContext) -> bool:
        seen["config"], seen["stats"] = ctx.config, ctx.stats
        ctx.note("probe: looked")
        return False

    monkeypatch.setitem(passes.PASSES, "probe", passes.PassInfo("probe", probe, __name__))
    config = ConversionConfig(allow_custom_ops=True)
    ctx = run_pipeline(_model(), [["probe"]], PassContext(config=config, stats={"x": (0.0, 1.0)}))
    assert seen["config"] is config and seen["stats"] == {"x": (0.0, 1.0)}
    assert ctx.log == ["probe: looked"]


def test_a_phase_that_never_settles_says_so(monkeypatch):
    def restless(model: Model, ctx: PassContext) -> bool:
        return True  # claims a change every round

    monkeypatch.setitem(passes.PASSES, "restless", passes.PassInfo("restless", restless, __name__))
    ctx = run_pipeline(_model(), [["restless"]])
    assert len(ctx.log) == 1 and "did not reach a fixed point" in ctx.log[0]
    assert f"{passes.MAX_ITERATIONS} rounds" in ctx.log[0]


def test_passes_visit_loop_bodies_without_changing_their_interface():
    """A WHILE body is a subgraph like any other: its x*1 goes, its inputs and outputs stay."""
    i, x = Tensor("i", "int32", ()), Tensor("x", "float32", (3,))
    bi, bx = Tensor("bi", "int32", ()), Tensor("bx", "float32", (3,))
    bi2, bx1, bx2 = Tensor("bi2", "int32", ()), Tensor("bx1", "float32", (3,)), Tensor("bx2", "float32", (3,))
    body = Subgraph("body", [bi, bx], [bi2, bx2], [
        Op("ADD", [bi, const("one_i", np.int32(1))], [bi2]),
        Op("MUL", [bx, const("one_f", np.float32(1.0))], [bx1]),
        Op("MUL", [bx1, const("two", np.float32(2.0))], [bx2]),
    ])
    ci, cx, flag = Tensor("ci", "int32", ()), Tensor("cx", "float32", (3,)), Tensor("flag", "bool", ())
    cond = Subgraph("cond", [ci, cx], [flag], [Op("LESS", [ci, const("n", np.int32(3))], [flag])])
    oi, ox = Tensor("oi", "int32", ()), Tensor("ox", "float32", (3,))
    main = Subgraph("main", [i, x], [ox], [Op("WHILE", [i, x], [oi, ox],
                                                subgraphs={"cond_subgraph_index": cond,
                                                           "body_subgraph_index": body})])
    model = Model([main, cond, body], [Signature("serving_default", main, {"i": i, "x": x}, {"ox": ox})])
    run_pipeline(model, ctx=PassContext(check=True))
    assert [op.kind for op in body.ops] == ["ADD", "MUL"]
    assert len(body.inputs) == 2 and len(body.outputs) == 2
    from liteconvert.tflite.writer import serialize
    from liteconvert.verify import run_tflite

    got = run_tflite(serialize(model), {"i": np.int32(0), "x": np.arange(3, dtype=np.float32)})["ox"]
    np.testing.assert_array_equal(got, np.arange(3, dtype=np.float32) * 8)
