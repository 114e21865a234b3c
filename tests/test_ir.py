"""The IR's invariant checker, on subgraphs that ops run (WHILE bodies, IF branches)."""

from __future__ import annotations

import numpy as np
import pytest

from liteconvert.ir import InvariantError, LazyArray, Model, Op, Signature, Subgraph, Tensor, check_invariants, const


def _if_model(then_out: str = "float32", cond_dtype: str = "bool") -> tuple[Model, Subgraph]:
    c, x = Tensor("c", cond_dtype, ()), Tensor("x", "float32", (2,))
    tx, ty = Tensor("tx", "float32", (2,)), Tensor("ty", then_out, (2,))
    ex, ey = Tensor("ex", "float32", (2,)), Tensor("ey", "float32", (2,))
    then = Subgraph("then", [tx], [ty], [Op("RELU", [tx], [ty])])
    other = Subgraph("else", [ex], [ey], [Op("NEG", [ex], [ey])])
    y = Tensor("y", "float32", (2,))
    main = Subgraph("main", [c, x], [y], [Op("IF", [c, x], [y], subgraphs={"then_subgraph_index": then,
                                                                              "else_subgraph_index": other})])
    return Model([main, then, other], [Signature("serving_default", main, {"c": c, "x": x}, {"y": y})]), then


def test_a_well_formed_if_passes():
    model, _ = _if_model()
    check_invariants(model)


def test_branch_interfaces_must_match_the_op():
    model, _ = _if_model(then_out="int32")
    with pytest.raises(InvariantError, match="branch then"):
        check_invariants(model)
    model, _ = _if_model(cond_dtype="float32")
    with pytest.raises(InvariantError, match="bool condition"):
        check_invariants(model)


def test_a_run_subgraph_must_be_in_the_model():
    model, then = _if_model()
    model.subgraphs.remove(then)
    with pytest.raises(InvariantError, match="not in the model"):
        check_invariants(model)


def test_while_interfaces_and_recursion():
    i = Tensor("i", "int32", ())
    ci, flag = Tensor("ci", "int32", ()), Tensor("flag", "bool", ())
    cond = Subgraph("cond", [ci], [flag], [Op("LESS", [ci, const("n", np.int32(3))], [flag])])
    bi, bo = Tensor("bi", "int32", ()), Tensor("bo", "int32", ())
    body = Subgraph("body", [bi], [bo], [Op("ADD", [bi, const("one", np.int32(1))], [bo])])
    o = Tensor("o", "int32", ())
    main = Subgraph("main", [i], [o], [Op("WHILE", [i], [o], subgraphs={"cond_subgraph_index": cond,
                                                                           "body_subgraph_index": body})])
    model = Model([main, cond, body], [Signature("s", main, {"i": i}, {"o": o})])
    check_invariants(model)
    body.outputs = [Tensor("stray", "float32", ())]
    with pytest.raises(InvariantError):
        check_invariants(model)
    body.outputs = [bo]
    # the body runs the loop again: recursion
    bo2 = Tensor("bo2", "int32", ())
    body.ops.append(Op("WHILE", [bo], [bo2], subgraphs={"cond_subgraph_index": cond, "body_subgraph_index": body}))
    body.outputs = [bo2]
    with pytest.raises(InvariantError, match="runs itself"):
        check_invariants(model)


def test_lazy_constants_are_checked_without_being_read():
    class Never(LazyArray):
        def read(self, axis: int = 0, start: int = 0, stop: int | None = None) -> np.ndarray:
            raise AssertionError("read")

    x, y = Tensor("x", "float32", (2, 3)), Tensor("y", "float32", (2, 4))
    w = Tensor("w", "float32", (4, 3), lazy=Never((4, 3), "float32"))
    sg = Subgraph("main", [x], [y], [Op("FULLY_CONNECTED", [x, w, None], [y])])
    check_invariants(Model([sg], []))
    assert w.is_const and w.is_lazy and w.size == 12
    bad = Tensor("b", "float32", (4, 3), lazy=Never((3, 4), "float32"))
    sg.ops[0].inputs[1] = bad
    with pytest.raises(InvariantError, match="shape"):
        check_invariants(Model([sg], []))
