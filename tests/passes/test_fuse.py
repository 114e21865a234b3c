"""The IR and the passes on hand-built graphs (no TensorFlow): invariants, dump, fusion rules, folding."""

from __future__ import annotations

import numpy as np
import pytest

from liteconvert.ir import InvariantError, Model, Op, Signature, Subgraph, Tensor, check_invariants, const, dump
from liteconvert.passes import PassContext, run_pipeline
from liteconvert.tflite.writer import serialize
from liteconvert.verify import run_tflite


def _conv_model(follow: list[tuple[str, object]]) -> tuple[Model, np.ndarray, np.ndarray]:
    """x -> CONV_2D(1x1, 3->4, zero bias) -> the ops in ``follow`` (kind, constant or None)."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 1, 1, 3)).astype(np.float32)
    x = Tensor("x", "float32", (-1, 5, 5, 3))
    y = Tensor("conv", "float32", (-1, 5, 5, 4))
    sg = Subgraph("main", [x])
    sg.ops.append(Op("CONV_2D", [x, const("w", w), const("b", np.zeros(4, np.float32))], [y],
                     dict(padding="VALID", stride_w=1, stride_h=1)))
    cur = y
    for i, (kind, c) in enumerate(follow):
        out = Tensor(f"t{i}", "float32", (-1, 5, 5, 4))
        ins = [cur] if c is None else [cur, const(f"c{i}", np.asarray(c, np.float32))]
        sg.ops.append(Op(kind, ins, [out]))
        cur = out
    sg.outputs = [cur]
    model = Model([sg], [Signature("serving_default", sg, {"x": x}, {"y": cur})])
    check_invariants(model)
    return model, w, rng.standard_normal((2, 5, 5, 3)).astype(np.float32)


def _reference(x: np.ndarray, w: np.ndarray, follow: list[tuple[str, object]]) -> np.ndarray:
    y = np.einsum("nhwc,oc->nhwo", x, w[:, 0, 0, :])
    for kind, c in follow:
        if kind == "RELU":
            y = np.maximum(y, 0)
        elif kind == "RELU6":
            y = np.clip(y, 0, 6)
        else:
            y = {"MUL": np.multiply, "ADD": np.add, "SUB": np.subtract, "DIV": np.divide}[kind](y, c)
    return y


@pytest.mark.parametrize("follow,expected_ops", [
    ([("MUL", [1.0, 2.0, 0.5, -1.0]), ("ADD", [0.1, 0.2, 0.3, 0.4]), ("RELU6", None)], ["CONV_2D"]),
    ([("DIV", [2.0, 4.0, 1.0, 8.0]), ("SUB", 0.25), ("RELU", None)], ["CONV_2D"]),
    ([("ADD", 1.0), ("MUL", 3.0)], ["CONV_2D"]),
    # A scale after the activation cannot fold into the weights (a negative scale flips the ReLU): left alone.
    ([("RELU", None), ("MUL", [1.0, 2.0, 3.0, 4.0])], ["CONV_2D", "MUL"]),
])
def test_fusion_matches_reference(follow, expected_ops):
    model, w, x = _conv_model(follow)
    run_pipeline(model, ctx=PassContext(check=True))
    assert [op.kind for op in model.subgraphs[0].ops] == expected_ops
    got = run_tflite(serialize(model), {"x": x})["y"]
    np.testing.assert_allclose(got, _reference(x, w, follow), rtol=1e-5, atol=1e-5)


def test_fused_activation_recorded():
    model, _, _ = _conv_model([("ADD", [0.1, 0.2, 0.3, 0.4]), ("RELU6", None)])
    run_pipeline(model)
    (op,) = model.subgraphs[0].ops
    assert op.attrs["fused_activation_function"] == "RELU6"
    np.testing.assert_allclose(op.inputs[2].data, [0.1, 0.2, 0.3, 0.4])


def test_transpose_pair_cancels_and_identity_arithmetic_drops():
    x = Tensor("x", "float32", (2, 3, 4))
    a = Tensor("a", "float32", (4, 2, 3))
    b = Tensor("b", "float32", (2, 3, 4))
    c = Tensor("c", "float32", (2, 3, 4))
    d = Tensor("d", "float32", (2, 3, 4))
    sg = Subgraph("main", [x], [d], [
        Op("TRANSPOSE", [x, const("p", np.array([2, 0, 1], np.int32))], [a]),
        Op("TRANSPOSE", [a, const("q", np.array([1, 2, 0], np.int32))], [b]),
        Op("MUL", [b, const("one", np.ones((), np.float32))], [c]),
        Op("RELU", [c], [d]),
    ])
    model = Model([sg], [Signature("s", sg, {"x": x}, {"d": d})])
    run_pipeline(model, ctx=PassContext(check=True))
    assert [op.kind for op in sg.ops] == ["RELU"] and sg.ops[0].inputs[0] is x


def test_constant_folding_through_chain():
    x = Tensor("x", "float32", (3,))
    s = Tensor("s", "float32", (3,))
    r = Tensor("r", "float32", (3,))
    y = Tensor("y", "float32", (3,))
    sg = Subgraph("main", [x], [y], [
        Op("ADD", [const("v", np.array([3.0, 8.0, 15.0], np.float32)), const("one", np.float32(1.0))], [s]),
        Op("RSQRT", [s], [r]),
        Op("MUL", [x, r], [y]),
    ])
    model = Model([sg], [Signature("s", sg, {"x": x}, {"y": y})])
    run_pipeline(model, ctx=PassContext(check=True))
    assert [op.kind for op in sg.ops] == ["MUL"]
    np.testing.assert_allclose(sg.ops[0].inputs[1].data, [0.5, 1 / 3, 0.25], rtol=1e-6)


def test_invariants_catch_errors():
    x = Tensor("x", "float32", (2,))
    y = Tensor("y", "float32", (2,))
    sg = Subgraph("main", [x], [y], [Op("RELU", [y], [y])])
    with pytest.raises(InvariantError, match="before it is defined"):
        check_invariants(Model([sg]))
    sg = Subgraph("main", [x], [y], [Op("RELU", [x], [y]), Op("RELU", [x], [y])])
    with pytest.raises(InvariantError, match="more than one producer"):
        check_invariants(Model([sg]))
    bad = Tensor("c", "float32", (3,), data=np.zeros(2, np.float32))
    sg = Subgraph("main", [x], [y], [Op("ADD", [x, bad], [y])])
    with pytest.raises(InvariantError, match="shape"):
        check_invariants(Model([sg]))


def test_dump_is_deterministic_and_readable():
    model, _, _ = _conv_model([("RELU", None)])
    text = dump(model)
    assert text == dump(model)
    assert "CONV_2D(%0, %1:const, %2:const)" in text
    assert "signature serving_default [main] (x=x) -> (y=t0)" in text
