"""One declaration per TFLite op holds what we know about it, and folding, fusion, kernel checks and version
rules read it (no second table anywhere)."""

from __future__ import annotations

import ast
import os

import numpy as np
from conftest import ROOT

from liteconvert.ir import Op, QuantParams, Tensor, const
from liteconvert.tflite.ops import DECLS, decl, fold, kernel_limitation
from liteconvert.tflite.schema import builtin_names, fb


def test_every_declaration_is_a_real_builtin_with_real_options():
    names = set(builtin_names().values())
    s = fb()
    for name, d in DECLS.items():
        assert name in names, name
        if d.options:
            assert hasattr(s.BuiltinOptions, d.options) and hasattr(s, d.options + "T"), (name, d.options)
        for f in d.subgraphs:
            assert d.options and hasattr(getattr(s, d.options + "T")(), _camel(f)), (name, f)


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def test_quantization_constraints():
    assert decl("SOFTMAX").quant.fixed_output["int8"] == (1 / 256, -128)
    assert decl("LOGISTIC").quant.fixed_output["int16"] == (1 / 32768, 0)
    assert decl("TANH").quant.fixed_output["int8"] == (1 / 128, 0)
    for same in ("RESHAPE", "CONCATENATION", "MAX_POOL_2D", "TRANSPOSE", "GATHER", "PAD"):
        assert decl(same).quant.same_scale, same
    for weighted, axis in (("CONV_2D", 0), ("DEPTHWISE_CONV_2D", 3), ("FULLY_CONNECTED", 0)):
        q = decl(weighted).quant
        assert q.weights == 1 and q.weight_axis == axis and q.bias == 2 and q.int16
    assert decl("WHILE").quant is None and not decl("WHILE").pure


def test_fused_activation_only_where_the_kernel_applies_it():
    assert decl("CONV_2D").fused_activation and decl("ADD").fused_activation
    assert not decl("CONCATENATION").fused_activation  # has the option; the kernel refuses anything but NONE


def test_folding_uses_the_declared_reference():
    a, b, out = const("a", np.arange(4, dtype=np.float32)), const("b", np.float32(2)), Tensor("o", "float32", (4,))
    assert fold(Op("MUL", [a, b], [out])) and np.array_equal(out.data, np.arange(4) * 2)
    out2 = Tensor("o2", "float32", (4,))
    assert not fold(Op("SIN", [a], [out2]))  # declared without a reference: left for the runtime
    q = Tensor("q", "int8", (4,), quant=QuantParams(np.array([0.1]), np.array([0])))
    assert not fold(Op("RESHAPE", [const("qa", np.arange(4, dtype=np.int8)), const("s", np.array([4], np.int32))],
                       [q]))  # quantized values are not numpy's to fold


def test_kernel_dtypes_come_from_the_declaration():
    x = Tensor("x", "int64", (3,))
    assert "FLOOR_DIV kernel takes float32, int32" in kernel_limitation(Op("FLOOR_DIV", [x, x], [x]))
    assert kernel_limitation(Op("ADD", [x, x], [x])) is None
    f = Tensor("f", "float64", (3,))
    assert "not float64" in kernel_limitation(Op("SQRT", [f], [f]))


def test_version_rules_read_real_ir_facts():
    x, y = Tensor("x", "float32", (1, 8)), Tensor("y", "float32", (1, 4))
    w = const("w", np.ones((4, 8), np.int8))
    fc = Op("FULLY_CONNECTED", [x, w, None], [y])
    assert decl("FULLY_CONNECTED").version(fc) == 3  # hybrid, per tensor
    w.quant = QuantParams(np.full(4, 0.1, np.float32), np.zeros(4, np.int64))
    assert decl("FULLY_CONNECTED").version(fc) == 12  # per channel, read off the tensor
    wf = const("wf", np.ones((4, 8), np.float32))
    sparse = Op("FULLY_CONNECTED", [x, wf, None], [y])
    wf.sparsity = object()
    assert decl("FULLY_CONNECTED").version(sparse) == 8  # Tensor.sparsity, not a private attribute
    img = Tensor("img", "float32", (1, 5, 5, 8))
    grouped = Op("CONV_2D", [img, const("g", np.ones((8, 3, 3, 4), np.float32))], [Tensor("o", "float32",
                                                                                           (1, 5, 5, 8))])
    assert decl("CONV_2D").version(grouped) == 6


def test_no_second_table_of_op_facts():
    """No module outside tflite/ops keeps per-op sets of kinds that a declaration should hold (the old
    _FUSE_ACT_INTO, KERNEL_DTYPES, EVALUATORS)."""
    src = os.path.join(ROOT, "src", "liteconvert")
    offenders = []
    for dirpath, _, files in os.walk(src):
        if os.path.join("tflite", "ops") in dirpath:
            continue
        for f in files:
            if not f.endswith(".py"):
                continue
            path = os.path.join(dirpath, f)
            tree = ast.parse(open(path).read())
            for node in ast.walk(tree):
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict) and len(node.value.keys) > 8:
                    keys = [k.value for k in node.value.keys if isinstance(k, ast.Constant)]
                    if sum(1 for k in keys if k in DECLS) > 8:
                        offenders.append(f"{os.path.relpath(path, ROOT)}:{node.lineno}")
    assert not offenders, offenders
