"""Activations: ReLU family, sigmoid, tanh, ELU, LeakyReLU, softplus, GELU's erf, softmax."""

from __future__ import annotations

import numpy as np

from ..importer import LowerCtx, Node
from ..registry import register

_SIMPLE = {"Relu": "RELU", "Relu6": "RELU6", "Sigmoid": "LOGISTIC", "Tanh": "TANH", "Elu": "ELU"}


@register(*_SIMPLE)
def simple(ctx: LowerCtx, node: Node) -> None:
    """Relu, Relu6, Sigmoid, Tanh, Elu -> RELU, RELU6, LOGISTIC, TANH, ELU."""
    ctx.emit(_SIMPLE[node.type], [node.inputs[0]], node.out())


@register("LeakyRelu")
def leaky_relu(ctx: LowerCtx, node: Node) -> None:
    """LeakyRelu -> LEAKY_RELU."""
    ctx.emit("LEAKY_RELU", [node.inputs[0]], node.out(), alpha=float(node.attr("alpha", 0.2)))


@register("Softplus")
def softplus(ctx: LowerCtx, node: Node) -> None:
    """Softplus -> relu(x) + log(1 + exp(-|x|)), stable for large |x|."""
    x = node.inputs[0]
    n = node.name

    def t(suffix: str):
        return ctx.tensor(f"{n}/{suffix}", x.dtype, x.shape)

    a, na, e, e1, lg, r = t("abs"), t("neg"), t("exp"), t("exp_plus_1"), t("log"), t("relu")
    ctx.emit("ABS", [x], a)
    ctx.emit("NEG", [a], na)
    ctx.emit("EXP", [na], e)
    ctx.emit("ADD", [e, ctx.const(np.ones((), dtype=x.dtype), n + "/one")], e1)
    ctx.emit("LOG", [e1], lg)
    ctx.emit("RELU", [x], r)
    ctx.emit("ADD", [r, lg], node.out())


@register("Softsign")
def softsign(ctx: LowerCtx, node: Node) -> None:
    """Softsign -> x / (1 + |x|)."""
    x = node.inputs[0]
    a = ctx.tensor(node.name + "/abs", x.dtype, x.shape)
    d = ctx.tensor(node.name + "/denominator", x.dtype, x.shape)
    ctx.emit("ABS", [x], a)
    ctx.emit("ADD", [a, ctx.const(np.ones((), dtype=x.dtype), node.name + "/one")], d)
    ctx.emit("DIV", [x, d], node.out())


@register("Selu")
def selu(ctx: LowerCtx, node: Node) -> None:
    """Selu -> scale * elu(x) with the negative part times alpha."""
    x = node.inputs[0]
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    n = node.name
    pos = ctx.tensor(n + "/pos", x.dtype, x.shape)
    neg_in = ctx.tensor(n + "/neg_in", x.dtype, x.shape)
    elu = ctx.tensor(n + "/elu", x.dtype, x.shape)
    negp = ctx.tensor(n + "/neg", x.dtype, x.shape)
    s = ctx.tensor(n + "/sum", x.dtype, x.shape)
    zero = ctx.const(np.zeros((), dtype=x.dtype), n + "/zero")
    ctx.emit("RELU", [x], pos)
    ctx.emit("MINIMUM", [x, zero], neg_in)
    ctx.emit("ELU", [neg_in], elu)
    ctx.emit("MUL", [elu, ctx.const(np.asarray(alpha, dtype=x.dtype), n + "/alpha")], negp)
    ctx.emit("ADD", [pos, negp], s)
    ctx.emit("MUL", [s, ctx.const(np.asarray(scale, dtype=x.dtype), n + "/scale")], node.out())


@register("Softmax", "LogSoftmax")
def softmax(ctx: LowerCtx, node: Node) -> None:
    """Softmax / LogSoftmax over the last axis -> SOFTMAX / LOG_SOFTMAX."""
    if node.type == "Softmax":
        ctx.emit("SOFTMAX", [node.inputs[0]], node.out(), beta=1.0)
    else:
        ctx.emit("LOG_SOFTMAX", [node.inputs[0]], node.out())


@register("Erf", "Erfc")
def erf(ctx: LowerCtx, node: Node) -> None:
    """Erf / Erfc -> ERF / ERFC placeholders: ``fuse_activation_functions`` turns the GELU around them into
    GELU; one left over has no LiteRT builtin and ``legalize`` reports it."""
    ctx.emit(node.type.upper(), [node.inputs[0]], node.out())
