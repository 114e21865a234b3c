"""The pattern passes on hand-built IR (no TensorFlow): every spelling of each function is fused into its LiteRT
builtin, and near-misses (a wrong constant, a clip bound off, an intermediate read elsewhere, a broadcast to a
bigger shape) are not. Numerics: the fused model runs in LiteRT against the unfused one (when that has only
builtin ops) or against numpy (ERF and ERFC are no builtins)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from conftest import assert_close

from liteconvert.ir import Model, Op, Signature, Subgraph, Tensor, check_invariants, const
from liteconvert.passes import PassContext, run_pipeline
from liteconvert.passes.patterns.activations import fuse_activation_functions
from liteconvert.passes.patterns.match import Poly, Rewrite, Site, close, decompose, fn, rewrite
from liteconvert.tflite.ops import DECLS
from liteconvert.tflite.writer import serialize
from liteconvert.verify import run_tflite

PIPELINE = [["fuse_clips", "fuse_activation_functions", "remove_dead_ops"]]
SQRT1_2 = np.float32(1 / math.sqrt(2))
SQRT2 = np.float32(math.sqrt(2))
K_TANH = np.float32(math.sqrt(2 / math.pi))
_erf = np.vectorize(math.erf, otypes=[np.float64])


class G:
    """A tiny graph builder: ``g = G((-1, 6)); y = g.MUL(g.x, 0.5)``; numbers become float32 constants."""

    def __init__(self, shape: tuple[int, ...] = (-1, 6), extra: tuple[int, ...] | None = None):
        self.x = Tensor("x", "float32", shape)
        self.inputs = [self.x]
        if extra is not None:
            self.y = Tensor("y", "float32", extra)
            self.inputs.append(self.y)
        self.ops: list[Op] = []

    def op(self, kind: str, *ins: object, shape: tuple[int, ...] | None = None, **attrs: object) -> Tensor:
        n = len(self.ops)
        args = [i if isinstance(i, Tensor) else const(f"c{n}_{j}", np.asarray(i, np.float32))
                for j, i in enumerate(ins)]
        if shape is None:
            shape = next(a.shape for a in args if not a.is_const)
        out = Tensor(f"t{n}_{kind.lower()}", "float32", shape)
        self.ops.append(Op(kind, args, [out], dict(attrs)))
        return out

    def __getattr__(self, kind: str) -> Callable[..., Tensor]:
        if not kind.isupper():
            raise AttributeError(kind)
        return lambda *ins, **kw: self.op(kind, *ins, **kw)

    def model(self, *outs: Tensor) -> Model:
        sg = Subgraph("main", list(self.inputs), list(outs), list(self.ops))
        model = Model([sg], [Signature("serving_default", sg, {t.name: t for t in self.inputs},
                                       {f"out{i}": t for i, t in enumerate(outs)})])
        check_invariants(model)
        return model


def _feeds(g: G, batch: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    out = {}
    for t in g.inputs:
        shape = tuple(batch if d < 0 else d for d in t.shape)
        v = rng.standard_normal(shape) * 4
        flat = v.reshape(-1)
        flat[:8] = [-3.0, 3.0, 0.0, -1.0, 1.0, 6.5, -6.5, 2.5][:flat.size]  # the kinks
        out[t.name] = v.astype(np.float32)
    return out


def _builtin_only(model: Model) -> bool:
    return all(op.kind in DECLS for _, op in model.all_ops())


def _kinds(model: Model) -> list[str]:
    return [op.kind for _, op in model.all_ops()]


def _fuse(g: G, out: Tensor, spec: list[list[str]] = PIPELINE) -> tuple[Model, dict, dict | None]:
    """Run the passes; return the model, the feeds and the unfused LiteRT outputs (None when not runnable)."""
    model = g.model(out)
    feeds = _feeds(g)
    before = run_tflite(serialize(model), feeds) if _builtin_only(model) else None
    run_pipeline(model, spec, PassContext(check=True))
    return model, feeds, before


def _assert_close(got: np.ndarray, ref: np.ndarray) -> None:
    assert_close(got, ref)


def _check(g: G, out: Tensor, kinds: list[str], ref: Callable[[np.ndarray], np.ndarray] | None = None,
           attrs: dict | None = None, spec: list[list[str]] = PIPELINE) -> Model:
    model, feeds, before = _fuse(g, out, spec)
    assert _kinds(model) == kinds
    if attrs is not None:
        assert model.subgraphs[0].ops[-1].attrs == attrs
    got = run_tflite(serialize(model), feeds)["out0"]
    if before is not None:
        _assert_close(got, before["out0"].astype(np.float64))
    if ref is not None:
        _assert_close(got, ref(feeds["x"].astype(np.float64)))
    return model


def _unchanged(g: G, out: Tensor, spec: list[list[str]] = PIPELINE) -> None:
    kinds = [op.kind for op in g.ops]
    model, feeds, before = _fuse(g, out, spec)
    assert _kinds(model) == kinds
    if before is not None:
        np.testing.assert_array_equal(run_tflite(serialize(model), feeds)["out0"], before["out0"])


# -- references ---------------------------------------------------------------------------------------------------

def gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def hard_swish(x: np.ndarray) -> np.ndarray:
    return x * np.clip(x + 3, 0, 6) / 6


def leaky(alpha: float | np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: np.where(x > 0, x, alpha * x)


# -- GELU -----------------------------------------------------------------------------------------------------------

def gelu_keras_erfc(g: G) -> Tensor:  # Keras 3 / tf.nn.gelu: 0.5 * x * erfc(-x / sqrt(2))
    return g.MUL(g.MUL(0.5, g.x), g.ERFC(g.MUL(g.NEG(g.x), SQRT1_2)))


def gelu_div_erf_half_last(g: G) -> Tensor:  # (x * (1 + erf(x / sqrt(2)))) * 0.5
    return g.MUL(g.MUL(g.x, g.ADD(1.0, g.ERF(g.DIV(g.x, SQRT2)))), 0.5)


def gelu_x_half_first(g: G) -> Tensor:  # x * 0.5 * (1 + erf(x * 0.7071))
    return g.MUL(g.MUL(g.x, 0.5), g.ADD(g.ERF(g.MUL(g.x, SQRT1_2)), 1.0))


def gelu_expanded_sum(g: G) -> Tensor:  # 0.5 x + 0.5 x erf(x / sqrt 2), the half read twice
    h = g.MUL(g.x, 0.5)
    return g.ADD(h, g.MUL(h, g.ERF(g.MUL(SQRT1_2, g.x))))


def gelu_jax(g: G) -> Tensor:  # jax.nn.gelu(approximate=False): x * (erf(x / sqrt2) + 1) / 2
    return g.DIV(g.MUL(g.x, g.ADD(g.ERF(g.DIV(g.x, SQRT2)), 1.0)), 2.0)


def gelu_erfc_negated_outside(g: G) -> Tensor:  # erfc(-(x * 0.7071)) * (x * 0.5)
    return g.MUL(g.ERFC(g.NEG(g.MUL(g.x, SQRT1_2))), g.MUL(g.x, 0.5))


def gelu_one_minus_erf_of_neg(g: G) -> Tensor:  # 0.5 * x * (1 - erf(-x / sqrt 2))
    return g.MUL(g.MUL(0.5, g.x), g.SUB(1.0, g.ERF(g.MUL(g.x, -SQRT1_2))))


def gelu_tanh_tf(g: G) -> Tensor:  # tf.nn.gelu(approximate=True): POW(x, 3)
    inner = g.MUL(K_TANH, g.ADD(g.x, g.MUL(0.044715, g.POW(g.x, 3.0))))
    return g.MUL(g.MUL(0.5, g.x), g.ADD(1.0, g.TANH(inner)))


def gelu_tanh_cube_by_mul(g: G) -> Tensor:  # x * x * x
    cube = g.MUL(g.MUL(g.x, g.x), g.x)
    return g.MUL(g.x, g.MUL(0.5, g.ADD(g.TANH(g.MUL(g.ADD(g.MUL(cube, 0.044715), g.x), K_TANH)), 1.0)))


def gelu_tanh_factored_square(g: G) -> Tensor:  # sqrt(2/pi) * x * (1 + 0.044715 * square(x))
    inner = g.MUL(g.MUL(K_TANH, g.x), g.ADD(1.0, g.MUL(0.044715, g.SQUARE(g.x))))
    return g.MUL(g.MUL(g.x, g.ADD(g.TANH(inner), 1.0)), 0.5)


def gelu_tanh_sigmoid(g: G) -> Tensor:  # x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3))
    inner = g.MUL(np.float32(2 * math.sqrt(2 / math.pi)), g.ADD(g.x, g.MUL(0.044715, g.POW(g.x, 3.0))))
    return g.MUL(g.x, g.LOGISTIC(inner))


@pytest.mark.parametrize("build", [gelu_keras_erfc, gelu_div_erf_half_last, gelu_x_half_first, gelu_expanded_sum,
                                   gelu_jax, gelu_erfc_negated_outside, gelu_one_minus_erf_of_neg])
def test_gelu_erf_spellings(build):
    g = G()
    _check(g, build(g), ["GELU"], gelu, {"approximate": False})


@pytest.mark.parametrize("build", [gelu_tanh_tf, gelu_tanh_cube_by_mul, gelu_tanh_factored_square,
                                   gelu_tanh_sigmoid])
def test_gelu_tanh_spellings(build):
    g = G((-1, 4, 3))
    _check(g, build(g), ["GELU"], gelu_tanh, {"approximate": True})


def test_gelu_of_a_computed_tensor_keeps_the_computation():
    g = G((-1, 6), extra=(-1, 6))
    s = g.ADD(g.x, g.y)
    h = g.MUL(0.5, s)
    out = g.ADD(g.MUL(h, g.ERFC(g.MUL(g.NEG(s), SQRT1_2))), g.x)  # gelu(x + y) + x
    model = g.model(out)
    feeds = _feeds(g)
    run_pipeline(model, PIPELINE, PassContext(check=True))
    assert _kinds(model) == ["ADD", "GELU", "ADD"]
    got = run_tflite(serialize(model), feeds)["out0"]
    x, y = (feeds[n].astype(np.float64) for n in ("x", "y"))
    _assert_close(got, gelu(x + y) + x)


def test_two_gelus_in_a_row_fuse_in_one_pass():
    g = G()
    h = g.MUL(g.MUL(0.5, g.x), g.ERFC(g.MUL(g.NEG(g.x), SQRT1_2)))
    out = g.MUL(g.MUL(0.5, h), g.ERFC(g.MUL(g.NEG(h), SQRT1_2)))
    model = g.model(out)
    feeds = _feeds(g)
    assert fuse_activation_functions(model, PassContext()) is True  # once: the maps stay current between matches
    check_invariants(model)
    assert _kinds(model) == ["GELU", "GELU"]
    _assert_close(run_tflite(serialize(model), feeds)["out0"], gelu(gelu(feeds["x"].astype(np.float64))))


def test_every_subgraph_is_visited():
    g1, g2 = G(), G((-1, 2, 3))
    out1, out2 = gelu_keras_erfc(g1), gelu_tanh_tf(g2)
    sg1 = Subgraph("main", [g1.x], [out1], g1.ops)
    sg2 = Subgraph("second", [g2.x], [out2], g2.ops)
    model = Model([sg1, sg2], [Signature("serving_default", sg1, {"x": g1.x}, {"out0": out1}),
                               Signature("second", sg2, {"x": g2.x}, {"out0": out2})])
    run_pipeline(model, PIPELINE, PassContext(check=True))
    assert [[op.kind for op in sg.ops] for sg in model.subgraphs] == [["GELU"], ["GELU"]]
    assert sg1.outputs == [out1] and sg2.outputs == [out2]


def gelu_half_045(g: G) -> Tensor:
    return g.MUL(g.MUL(0.45, g.x), g.ERFC(g.MUL(g.NEG(g.x), SQRT1_2)))


def gelu_scale_07(g: G) -> Tensor:
    return g.MUL(g.MUL(0.5, g.x), g.ERFC(g.MUL(g.NEG(g.x), 0.7)))


def gelu_one_plus_erf_wrong_offset(g: G) -> Tensor:  # 0.5 x (0.9 + erf(x/sqrt 2))
    return g.MUL(g.MUL(g.x, 0.5), g.ADD(g.ERF(g.MUL(g.x, SQRT1_2)), 0.9))


def gelu_erf_of_other_tensor(g: G) -> Tensor:  # 0.5 x (1 + erf(y / sqrt 2))
    return g.MUL(g.MUL(g.x, 0.5), g.ADD(g.ERF(g.MUL(g.y, SQRT1_2)), 1.0))


def gelu_erf_not_erfc(g: G) -> Tensor:  # 0.5 x erf(-x/sqrt2): the erfc spelling with ERF
    return g.MUL(g.MUL(0.5, g.x), g.ERF(g.MUL(g.NEG(g.x), SQRT1_2)))


@pytest.mark.parametrize("build", [gelu_half_045, gelu_scale_07, gelu_one_plus_erf_wrong_offset,
                                   gelu_erf_of_other_tensor, gelu_erf_not_erfc])
def test_gelu_erf_near_misses(build):
    g = G(extra=(-1, 6))
    _unchanged(g, build(g))


def gelu_tanh_cubic_004(g: G) -> Tensor:
    inner = g.MUL(K_TANH, g.ADD(g.x, g.MUL(0.04, g.POW(g.x, 3.0))))
    return g.MUL(g.MUL(0.5, g.x), g.ADD(1.0, g.TANH(inner)))


def gelu_tanh_scale_08(g: G) -> Tensor:
    inner = g.MUL(0.8, g.ADD(g.x, g.MUL(0.044715, g.POW(g.x, 3.0))))
    return g.MUL(g.MUL(0.5, g.x), g.ADD(1.0, g.TANH(inner)))


def gelu_tanh_square_not_cube(g: G) -> Tensor:
    inner = g.MUL(K_TANH, g.ADD(g.x, g.MUL(0.044715, g.POW(g.x, 2.0))))
    return g.MUL(g.MUL(0.5, g.x), g.ADD(1.0, g.TANH(inner)))


def quick_gelu(g: G) -> Tensor:  # x * sigmoid(1.702 x): not GELU
    return g.MUL(g.x, g.LOGISTIC(g.MUL(g.x, 1.702)))


def swish(g: G) -> Tensor:
    return g.MUL(g.x, g.LOGISTIC(g.x))


@pytest.mark.parametrize("build", [gelu_tanh_cubic_004, gelu_tanh_scale_08, gelu_tanh_square_not_cube, quick_gelu,
                                   swish])
def test_gelu_tanh_near_misses(build):
    g = G()
    _unchanged(g, build(g))


def test_gelu_whose_intermediate_is_read_elsewhere_is_not_fused():
    g = G()
    e = g.ERFC(g.MUL(g.NEG(g.x), SQRT1_2))
    out = g.MUL(g.MUL(0.5, g.x), e)
    other = g.MUL(e, 2.0)  # the erfc is read outside the region
    model = g.model(out, other)
    run_pipeline(model, PIPELINE, PassContext(check=True))
    assert _kinds(model) == ["NEG", "MUL", "ERFC", "MUL", "MUL", "MUL"]


def test_gelu_whose_intermediate_is_a_subgraph_output_is_not_fused():
    g = G()
    h = g.MUL(0.5, g.x)
    out = g.MUL(h, g.ERFC(g.MUL(g.NEG(g.x), SQRT1_2)))
    model = g.model(out, h)
    run_pipeline(model, PIPELINE, PassContext(check=True))
    assert "GELU" not in _kinds(model) and model.subgraphs[0].outputs == [out, h]


def test_gelu_broadcast_to_a_bigger_shape_is_not_fused():
    g = G((-1, 1))
    half = const("half_row", np.full((1, 6), 0.5, np.float32))  # 0.5, but of shape [1, 6]: the result is [-1, 6]
    h = g.op("MUL", g.x, half, shape=(-1, 6))
    out = g.op("MUL", h, g.ERFC(g.MUL(g.NEG(g.x), SQRT1_2)), shape=(-1, 6))
    _unchanged(g, out)


# -- HARD_SWISH -----------------------------------------------------------------------------------------------------

def hswish_keras(g: G) -> Tensor:  # x * (relu6(x + 3) * (1/6))
    return g.MUL(g.x, g.MUL(g.RELU6(g.ADD(g.x, 3.0)), np.float32(1 / 6)))


def hswish_div_last(g: G) -> Tensor:  # x * relu6(3 + x) / 6
    return g.DIV(g.MUL(g.RELU6(g.ADD(3.0, g.x)), g.x), 6.0)


def hswish_clip_form(g: G) -> Tensor:  # x * clip(x / 6 + 0.5, 0, 1), the clip spelled min/max
    return g.MUL(g.x, g.MAXIMUM(g.MINIMUM(g.ADD(g.MUL(g.x, np.float32(1 / 6)), 0.5), 1.0), 0.0))


def hswish_relu_0_to_1(g: G) -> Tensor:
    return g.MUL(g.RELU_0_TO_1(g.ADD(g.DIV(g.x, 6.0), 0.5)), g.x)


def hswish_clip_by_value_relu6(g: G) -> Tensor:  # x * clip(x + 3, 0, 6) / 6 with the clip as min then max
    return g.MUL(g.x, g.DIV(g.MAXIMUM(g.MINIMUM(g.ADD(g.x, 3.0), 6.0), 0.0), 6.0))


@pytest.mark.parametrize("build", [hswish_keras, hswish_div_last, hswish_clip_form, hswish_relu_0_to_1,
                                   hswish_clip_by_value_relu6])
def test_hard_swish_spellings(build):
    g = G((-1, 4, 3))
    _check(g, build(g), ["HARD_SWISH"], hard_swish, {})


def hswish_plus_29(g: G) -> Tensor:
    return g.MUL(g.x, g.MUL(g.RELU6(g.ADD(g.x, 2.9)), np.float32(1 / 6)))


def hswish_over_61(g: G) -> Tensor:
    return g.MUL(g.x, g.DIV(g.RELU6(g.ADD(g.x, 3.0)), 6.1))


def hard_sigmoid(g: G) -> Tensor:  # relu6(x + 3) / 6 alone
    return g.MUL(g.RELU6(g.ADD(g.x, 3.0)), np.float32(1 / 6))


def hswish_relu_not_relu6(g: G) -> Tensor:
    return g.MUL(g.x, g.MUL(g.RELU(g.ADD(g.x, 3.0)), np.float32(1 / 6)))


@pytest.mark.parametrize("build", [hswish_plus_29, hswish_over_61, hard_sigmoid, hswish_relu_not_relu6])
def test_hard_swish_near_misses(build):
    g = G()
    _unchanged(g, build(g))


# -- PRELU and LEAKY_RELU ---------------------------------------------------------------------------------------------

ALPHA = np.random.default_rng(1).uniform(0.05, 0.6, (4, 5, 3)).astype(np.float32)
ALPHA_C = np.asarray([0.1, 0.25, 0.4], np.float32)


def _prelu_alpha(model: Model) -> np.ndarray:
    op = model.subgraphs[0].ops[-1]
    assert op.kind == "PRELU" and op.inputs[1].dtype == "float32"
    return op.inputs[1].data


def test_prelu_keras_spelling_full_alpha():
    g = G((-1, 4, 5, 3))  # Keras: relu(x) + (-alpha) * relu(-x)
    out = g.ADD(g.RELU(g.x), g.MUL(-ALPHA, g.RELU(g.NEG(g.x))))
    model = _check(g, out, ["PRELU"], leaky(ALPHA.astype(np.float64)))
    np.testing.assert_array_equal(_prelu_alpha(model), ALPHA)


def test_prelu_keras_shared_axes():
    g = G((-1, 4, 5, 3))
    out = g.ADD(g.RELU(g.x), g.MUL(-ALPHA_C.reshape(1, 1, 3), g.RELU(g.NEG(g.x))))
    model = _check(g, out, ["PRELU"], leaky(ALPHA_C.astype(np.float64)))
    np.testing.assert_array_equal(_prelu_alpha(model), ALPHA_C.reshape(1, 1, 3))


def test_prelu_relu_minus_alpha_relu_neg_vector_alpha():
    g = G((-1, 4, 5, 3))  # relu(x) - alpha * relu(-x), alpha a channel vector
    out = g.SUB(g.RELU(g.x), g.MUL(g.RELU(g.NEG(g.x)), ALPHA_C))
    model = _check(g, out, ["PRELU"], leaky(ALPHA_C.astype(np.float64)))
    assert _prelu_alpha(model).shape == (1, 1, 3)


def test_prelu_alpha_shared_over_one_axis():
    alpha = np.random.default_rng(2).uniform(0.05, 0.6, (1, 5, 3)).astype(np.float32)
    g = G((-1, 4, 5, 3))
    out = g.ADD(g.RELU(g.x), g.MUL(-alpha, g.RELU(g.NEG(g.x))))
    model = _check(g, out, ["PRELU"], leaky(alpha.astype(np.float64)))
    np.testing.assert_array_equal(_prelu_alpha(model), alpha)


def test_prelu_max_plus_alpha_min():
    g = G((-1, 4, 5, 3))  # max(x, 0) + alpha * min(x, 0)
    out = g.ADD(g.MAXIMUM(g.x, 0.0), g.MUL(ALPHA_C, g.MINIMUM(g.x, 0.0)))
    _check(g, out, ["PRELU"], leaky(ALPHA_C.astype(np.float64)))


def test_prelu_as_maximum_of_x_and_alpha_x():
    g = G((-1, 4, 5, 3))
    out = g.MAXIMUM(g.MUL(g.x, ALPHA_C), g.x)
    _check(g, out, ["PRELU"], leaky(ALPHA_C.astype(np.float64)))


@pytest.mark.parametrize("alpha", [0.2, 0.01, 1.5])
def test_leaky_relu_from_the_prelu_spelling(alpha):
    g = G((-1, 4, 3))
    out = g.SUB(g.RELU(g.x), g.MUL(alpha, g.RELU(g.NEG(g.x))))
    model = _check(g, out, ["LEAKY_RELU"], leaky(float(np.float32(alpha))))
    assert model.subgraphs[0].ops[0].attrs["alpha"] == pytest.approx(alpha, rel=1e-6)


def test_leaky_relu_as_maximum():
    g = G()
    out = g.MAXIMUM(g.x, g.MUL(0.1, g.x))
    _check(g, out, ["LEAKY_RELU"], leaky(float(np.float32(0.1))), {"alpha": pytest.approx(0.1)})


def test_leaky_relu_as_minimum_with_slope_above_one():
    g = G()
    _check(g, g.MINIMUM(g.MUL(g.x, 3.0), g.x), ["LEAKY_RELU"], leaky(3.0), {"alpha": 3.0})


def test_leaky_relu_from_abs():
    g = G()  # 0.6 x + 0.4 |x| = leaky relu with alpha 0.2
    out = g.ADD(g.MUL(g.x, 0.6), g.MUL(0.4, g.ABS(g.x)))
    _check(g, out, ["LEAKY_RELU"], leaky(0.2), {"alpha": pytest.approx(0.2, rel=1e-6)})


def test_relu_from_x_minus_min():
    g = G()  # x - min(x, 0)
    _check(g, g.SUB(g.x, g.MINIMUM(g.x, 0.0)), ["RELU"], lambda x: np.maximum(x, 0))


def test_prelu_relus_of_different_tensors_is_not_fused():
    g = G((-1, 4, 5, 3), extra=(-1, 4, 5, 3))
    _unchanged(g, g.ADD(g.RELU(g.x), g.MUL(-ALPHA_C, g.RELU(g.NEG(g.y)))))


def test_prelu_not_unit_positive_slope_is_not_fused():
    g = G((-1, 4, 5, 3))  # 2 relu(x) - alpha relu(-x)
    _unchanged(g, g.ADD(g.MUL(2.0, g.RELU(g.x)), g.MUL(-ALPHA_C, g.RELU(g.NEG(g.x)))))


def test_prelu_whose_relu_is_read_elsewhere_is_not_fused():
    g = G((-1, 4, 5, 3))
    r = g.RELU(g.x)
    out = g.ADD(r, g.MUL(-ALPHA_C, g.RELU(g.NEG(g.x))))
    other = g.MUL(r, 2.0)
    model = g.model(out, other)
    run_pipeline(model, PIPELINE, PassContext(check=True))
    assert "PRELU" not in _kinds(model)


def test_prelu_alpha_along_the_batch_axis_is_not_fused():
    alpha = np.asarray([0.1, 0.3], np.float32).reshape(2, 1, 1, 1)
    g = G((2, 4, 5, 3))
    _unchanged(g, g.ADD(g.RELU(g.x), g.MUL(-alpha, g.RELU(g.NEG(g.x)))))


def test_prelu_alpha_broadcasting_to_a_bigger_shape_is_not_fused():
    alpha = np.full((1, 2, 4, 5, 3), 0.2, np.float32)
    g = G((-1, 4, 5, 3))
    neg = g.op("MUL", const("alpha5", -alpha), g.RELU(g.NEG(g.x)), shape=(1, 2, 4, 5, 3))
    out = g.op("ADD", g.RELU(g.x), neg, shape=(1, 2, 4, 5, 3))
    model = g.model(out)
    run_pipeline(model, PIPELINE, PassContext(check=True))
    assert "PRELU" not in _kinds(model) and "LEAKY_RELU" not in _kinds(model)


@pytest.mark.parametrize("alpha", [1.0, -0.5, 1.2])
def test_maximum_of_x_and_alpha_x_outside_0_1_is_not_leaky(alpha):
    g = G()
    _unchanged(g, g.MAXIMUM(g.x, g.MUL(alpha, g.x)))


def test_maximum_of_scaled_x_and_alpha_x_is_not_leaky():
    g = G()
    _unchanged(g, g.MAXIMUM(g.MUL(g.x, 2.0), g.MUL(0.1, g.x)))


def test_maximum_of_two_tensors_is_not_leaky():
    g = G(extra=(-1, 6))
    _unchanged(g, g.MAXIMUM(g.x, g.MUL(0.1, g.y)))


# -- clips ------------------------------------------------------------------------------------------------------------

CLIPS = [
    ("relu_as_max", lambda g: g.MAXIMUM(g.x, 0.0), "RELU", (0, None)),
    ("relu_as_max_const_first", lambda g: g.MAXIMUM(0.0, g.x), "RELU", (0, None)),
    ("relu6_min_max", lambda g: g.MINIMUM(g.MAXIMUM(g.x, 0.0), 6.0), "RELU6", (0, 6)),
    ("relu6_clip_by_value", lambda g: g.MAXIMUM(g.MINIMUM(g.x, 6.0), 0.0), "RELU6", (0, 6)),
    ("relu6_min_of_relu", lambda g: g.MINIMUM(g.RELU(g.x), 6.0), "RELU6", (0, 6)),
    ("n1_to_1", lambda g: g.MINIMUM(g.MAXIMUM(g.x, -1.0), 1.0), "RELU_N1_TO_1", (-1, 1)),
    ("n1_to_1_reversed", lambda g: g.MAXIMUM(-1.0, g.MINIMUM(1.0, g.x)), "RELU_N1_TO_1", (-1, 1)),
    ("0_to_1", lambda g: g.MAXIMUM(g.MINIMUM(g.x, 1.0), 0.0), "RELU_0_TO_1", (0, 1)),
    ("0_to_1_keras_relu_max_value", lambda g: g.MAXIMUM(g.MINIMUM(g.RELU(g.x), 1.0), 0.0), "RELU_0_TO_1", (0, 1)),
    ("0_to_1_min_of_relu6", lambda g: g.MINIMUM(g.RELU6(g.x), 1.0), "RELU_0_TO_1", (0, 1)),
    ("relu_of_relu", lambda g: g.RELU(g.RELU(g.x)), "RELU", (0, None)),
    ("relu6_redundant_bounds", lambda g: g.MAXIMUM(g.MINIMUM(g.MAXIMUM(g.x, -3.0), 6.0), 0.0), "RELU6", (0, 6)),
]


@pytest.mark.parametrize("build,kind,bounds", [c[1:] for c in CLIPS], ids=[c[0] for c in CLIPS])
def test_clips(build, kind, bounds):
    g = G((-1, 4, 3))
    _check(g, build(g), [kind], lambda x: np.clip(x, *bounds))


def test_clip_inside_a_longer_chain():
    g = G()  # min(max(min(x, 6), 0), 3): RELU6 then the MINIMUM by 3 stays
    _check(g, g.MINIMUM(g.MAXIMUM(g.MINIMUM(g.x, 6.0), 0.0), 3.0), ["RELU6", "MINIMUM"], lambda x: np.clip(x, 0, 3))


def test_clip_near_miss_bound_5_9_keeps_the_relu_only():
    g = G()
    _check(g, g.MINIMUM(g.MAXIMUM(g.x, 0.0), 5.9), ["RELU", "MINIMUM"], lambda x: np.clip(x, 0, np.float32(5.9)))


@pytest.mark.parametrize("c", [-1e13, 1e-3, -1e-3, 6.0])
def test_max_with_another_constant_is_not_relu(c):
    g = G()
    _unchanged(g, g.MAXIMUM(g.x, c))


def test_clip_whose_intermediate_is_read_elsewhere_fuses_only_the_rest():
    g = G()
    m = g.MINIMUM(g.x, 6.0)
    out = g.MAXIMUM(m, 0.0)
    model = g.model(out, g.ADD(m, 1.0))
    run_pipeline(model, PIPELINE, PassContext(check=True))
    assert _kinds(model) == ["MINIMUM", "RELU", "ADD"]


def test_clip_broadcast_to_a_bigger_shape_is_not_fused():
    g = G((2, 3))
    _unchanged(g, g.op("MAXIMUM", g.x, const("zero3", np.zeros((1, 1, 1), np.float32)), shape=(1, 2, 3)))


def test_clip_by_a_vector_bound_is_not_relu6():
    g = G((-1, 3))  # the MINIMUM by a vector stays; max(., 0) alone is RELU
    out = g.MAXIMUM(g.MINIMUM(g.x, np.asarray([6.0, 6.0, 6.0], np.float32)), 0.0)
    _check(g, out, ["MINIMUM", "RELU"], lambda x: np.clip(x, 0, 6), spec=[["fuse_clips", "remove_dead_ops"]])


# -- the algebra and the loop ------------------------------------------------------------------------------------------

def test_canonical_forms_agree_across_spellings():
    x = Poly.var()
    gelu_erf = 0.5 * x * (1.0 + fn("ERF", x * (1 / math.sqrt(2))))
    assert close(0.5 * x * fn("ERFC", -x * float(SQRT1_2)), gelu_erf)
    assert close((x * (1.0 + fn("ERF", x / float(SQRT2)))) * 0.5, gelu_erf)
    assert not close(0.45 * x * (1.0 + fn("ERF", x * (1 / math.sqrt(2)))), gelu_erf)
    assert close(x * x * x, x ** 3)
    assert close(x * fn("RELU6", x + 3.0) / 6.0, x * fn("RELU_0_TO_1", x / 6.0 + 0.5))
    assert close(fn("RELU", -x), fn("RELU", x) - x)
    assert close(fn("ABS", x), fn("RELU", x) + fn("RELU", -x))
    assert close(fn("LOGISTIC", 2.0 * x), 0.5 + 0.5 * fn("TANH", x))


def test_decompose_declines_a_second_input():
    g = G(extra=(-1, 6))
    out = g.ADD(g.MUL(g.x, 2.0), g.y)
    model = g.model(out)
    sg = model.subgraphs[0]
    site = Site(sg, sg.producers(), sg.consumers(), {t.uid for t in sg.outputs})
    assert decompose(site, out, g.x) is None
    found = decompose(site, g.ops[0].outputs[0], g.x)
    assert found is not None and close(found[0], 2.0 * Poly.var())


def test_rewrite_loop_refuses_to_orphan_a_reader():
    g = G()
    a = g.RELU(g.x)
    b = g.NEG(a)
    model = g.model(b, a)  # a is a subgraph output: removing RELU would orphan it

    def bad(site, root):
        if root.kind != "NEG":
            return None
        return Rewrite([root, site.producer(root.inputs[0])], [Op("NEG", [g.x], [root.outputs[0]])])

    assert rewrite(model, bad) is False
    assert _kinds(model) == ["RELU", "NEG"]
