"""Op version rules: which version of a builtin an op needs, from the dtypes, ranks, quantization and options
of the op in the IR. The declarations (``liteconvert.tflite.ops``) name their rule; the writer takes the
version from there and never guesses. ``tests/tflite/test_writer.py`` pins the answers, and
``runtime_version.RELEASES`` must list every version a rule can return.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...ir import Op, Tensor

VersionRule = Callable[[Op], int]


# The rules below mirror the converter's op version table (GetBuiltinOperatorVersion in
# tensorflow/compiler/mlir/lite/tools/versioning/op_version.cc, checked 2026-11). Each rule tests the same
# conditions in the same order, so the first matching condition wins exactly as it does there. Every condition
# reads a real IR fact: dtypes, shapes, quantization parameters (per channel), ``Tensor.sparsity``, options.

def _tensor(ts: list[Tensor | None], i: int) -> Tensor | None:
    return ts[i] if 0 <= i < len(ts) else None


def in_dtype(op: Op, i: int = 0) -> str | None:
    t = _tensor(op.inputs, i)
    return t.dtype if t is not None else None


def out_dtype(op: Op, i: int = 0) -> str | None:
    t = _tensor(op.outputs, i)
    return t.dtype if t is not None else None


def in_rank(op: Op, i: int = 0) -> int:
    t = _tensor(op.inputs, i)
    return (t.rank or 0) if t is not None else 0


def max_in_rank(op: Op) -> int:
    return max((t.rank or 0 for t in op.inputs if t is not None), default=0)


def is_quantized(t: Tensor | None) -> bool:
    """The tensor carries affine quantization parameters."""
    return t is not None and t.quant is not None and np.size(t.quant.scale) > 0


def is_per_channel(t: Tensor | None) -> bool:
    """The tensor is quantized with one scale per channel (more than one scale)."""
    return is_quantized(t) and np.size(t.quant.scale) > 1  # type: ignore[union-attr]


def by_dtype(table: dict[str, int], index: int = 0, default: int = 1) -> VersionRule:
    """A version rule that depends only on the dtype of input ``index``."""
    return lambda op: table.get(in_dtype(op, index) or "", default)


def _broadcast_needs(op: Op) -> bool:
    """The two inputs have different shapes (the reference compares the dims vectors)."""
    if len(op.inputs) < 2:
        return False
    a, b = op.inputs[0], op.inputs[1]
    return a is not None and b is not None and a.shape != b.shape


def _broadcast_over_4d(op: Op) -> bool:
    return _broadcast_needs(op) and max_in_rank(op) > 4


def _types(op: Op, x: str, w: str, out: str) -> bool:
    """Input 0, input 1 and output 0 have these dtypes."""
    return in_dtype(op, 0) == x and in_dtype(op, 1) == w and out_dtype(op) == out


def _enum_set(op: Op, attr: str, unset: str) -> bool:
    """An enum option is present and not its default (given by name, as in the IR, or by value)."""
    value = op.attrs.get(attr)
    return value is not None and value != 0 and str(value).upper() != unset


def _activation(op: Op) -> bool:
    return _enum_set(op, "fused_activation_function", "NONE")


def _quantized_bias(op: Op) -> bool:
    return _enum_set(op, "quantized_bias_type", "FLOAT32")  # FLOAT32 (0) is the schema's "not set"


# -- version rules, one per op (or family) -------------------------------------------------------------------

def conv2d_version(op: Op) -> int:
    if _types(op, "int16", "int8", "int16") and _quantized_bias(op):
        return 8
    if _is_grouped_conv(op):
        return 6
    # The reference tests int16 activations *and* int16 filters for version 4 (a 16x8 conv falls through to 1
    # there). We keep 4 for any int16 activation: that is the version whose kernels brought int16 support
    # (runtime 2.3.0), so the model never claims to load on a runtime that cannot run it.
    if in_dtype(op, 0) == "int16" and in_dtype(op, 1) in ("int16", "int8") and out_dtype(op) == "int16":
        return 4
    if _types(op, "int8", "int8", "int8"):
        return 3
    if _types(op, "int8", "int4", "int8"):
        return 7
    if _types(op, "float32", "int8", "float32"):
        return 5 if is_per_channel(_tensor(op.inputs, 1)) else 2
    return 1


def _is_grouped_conv(op: Op) -> bool:
    """The filter's input channels (OHWI) differ from the input's: a grouped convolution."""
    x, w = _tensor(op.inputs, 0), _tensor(op.inputs, 1)
    if x is None or w is None or x.rank != 4 or w.rank != 4:
        return False
    assert x.shape is not None and w.shape is not None
    return x.shape[3] > 0 and w.shape[3] > 0 and x.shape[3] != w.shape[3]  # filter is OHWI


def depthwise_version(op: Op) -> int:
    # Same note as CONV_2D: the reference checks int16 filters; we give version 5 to any int16 activation.
    if in_dtype(op, 0) == "int16" and in_dtype(op, 1) in ("int16", "int8") and out_dtype(op) == "int16":
        return 5
    if _types(op, "float32", "int8", "float32"):
        return 6 if is_per_channel(_tensor(op.inputs, 1)) else 4
    if _types(op, "int8", "int8", "int8"):
        return 3
    if _types(op, "int8", "int4", "int8"):
        return 7
    if op.attrs.get("dilation_w_factor", 1) != 1 or op.attrs.get("dilation_h_factor", 1) != 1:
        return 2
    return 1


def fc_version(op: Op) -> int:
    w = _tensor(op.inputs, 1)
    if in_dtype(op, 1) == "int2":
        return 14
    if _types(op, "int16", "int4", "int16"):
        return 13
    if _types(op, "float32", "int8", "float32") and is_per_channel(w):
        return 12
    if _types(op, "int16", "int8", "int16") and _quantized_bias(op):
        return 11
    if w is not None and w.sparsity is not None:  # weights stored sparse (Tensor.sparsity)
        return 8
    # The reference gives a 16x8 FC (int16 activations, int8 weights) no version of its own (it falls through to
    # the int8 or float ones, so a model would claim to load on runtimes without int16 kernels); as for
    # CONV_2D, we give it 7, the version whose kernels brought int16 support (runtime 2.3.0).
    if in_dtype(op, 0) == "int16" and in_dtype(op, 1) in ("int16", "int8") and out_dtype(op) == "int16":
        return 7
    # Only a literal two-input op counts as "no bias": an omitted bias (index -1) keeps version 1, as the
    # reference converter writes for Dense(use_bias=False).
    if len(op.inputs) == 2:
        return 6
    if op.attrs.get("keep_num_dims"):
        return 5
    if _types(op, "int8", "int8", "int8"):
        return 4
    if _types(op, "int8", "int4", "int8"):
        return 10
    if _types(op, "float32", "int8", "float32"):
        return 9 if op.attrs.get("asymmetric_quantize_inputs") else 3
    if _enum_set(op, "weights_format", "DEFAULT"):  # SHUFFLED4X16INT8, the only other format
        return 2
    return 1


def add_version(op: Op) -> int:
    d = in_dtype(op, 0)
    if d == "float16":
        return 6
    if d == "int16" and not is_quantized(_tensor(op.inputs, 0)):
        return 5
    if d == "int64":
        return 4
    if d == "int16" and out_dtype(op) == "int16" and not op.attrs.get("pot_scale_int16", True):
        return 3
    if d == "int8":
        return 2
    return 1


def sub_version(op: Op) -> int:
    d = in_dtype(op, 0)
    if d == "int16" and out_dtype(op) == "int16" and not op.attrs.get("pot_scale_int16", True):
        return 5
    if d == "int64":
        return 4
    if _broadcast_over_4d(op):
        return 3
    if d == "int8":
        return 2
    return 1


def mul_version(op: Op) -> int:
    d = in_dtype(op, 0)
    if d == "float16":
        return 8
    if (d == "int16" and not is_quantized(_tensor(op.inputs, 0))) or d == "uint32":
        return 7
    if d == "complex64":
        return 6
    if d == "int64":
        return 5
    if d == "int16":
        return 4
    if _mul_rescale_at_least_one(op):
        return 3
    if d == "int8":
        return 2
    return 1


def _mul_rescale_at_least_one(op: Op) -> bool:
    a, b, out = _tensor(op.inputs, 0), _tensor(op.inputs, 1), _tensor(op.outputs, 0)
    if not (is_quantized(a) and is_quantized(b) and is_quantized(out)):
        return False
    s1, s2, so = (float(np.ravel(t.quant.scale)[0]) for t in (a, b, out))  # type: ignore[union-attr]
    return s1 != 0 and s2 != 0 and so != 0 and s1 * s2 / so >= 1.0


def div_version(op: Op) -> int:
    return 2 if _broadcast_over_4d(op) else 1


def max_min_version(op: Op) -> int:
    if in_dtype(op) == "int16" and out_dtype(op) == "int16":
        return 4
    if _broadcast_over_4d(op):
        return 3
    return 2 if in_dtype(op) == "int8" else 1


def pool_version(op: Op) -> int:
    if in_dtype(op) == "int16" and out_dtype(op) == "int16":
        return 3
    return 2 if in_dtype(op) == "int8" else 1


def int16_3_int8_2(op: Op) -> int:
    """SOFTMAX, MEAN, MIRROR_PAD, REDUCE_MAX, REDUCE_MIN, RELU6, RSQRT."""
    return {"int16": 3, "int8": 2}.get(in_dtype(op) or "", 1)


def logistic_tanh_version(op: Op) -> int:
    if in_dtype(op) == "int16" and out_dtype(op) == "int16":
        return 3
    return 2 if in_dtype(op) == "int8" else 1


def transpose_version(op: Op) -> int:
    r, d = in_rank(op), in_dtype(op)
    if r > 6 or d == "bfloat16":
        return 8
    if d == "int4":
        return 7
    if r > 5:
        return 6
    if d == "int16":
        return 5
    if r > 4:
        return 4
    return {"bool": 3, "int8": 2}.get(d or "", 1)


def transpose_conv_version(op: Op) -> int:
    # Inputs: output_shape, filter, input, bias?  The reference tests input 0 (the int32 output_shape) for int16,
    # so it never reaches version 5; we test the data input, the one the quantized-bias kernel is about.
    if (in_dtype(op, 2) == "int16" and in_dtype(op, 1) == "int8" and out_dtype(op) == "int16"
            and _quantized_bias(op)):
        return 5
    if _activation(op):
        return 4
    if len(op.inputs) == 4 and op.inputs[3] is not None:
        return 3
    if in_dtype(op, 1) == "int8":
        return 2
    return 1


def concat_version(op: Op) -> int:
    return {"int4": 5, "uint32": 4, "int16": 3, "int8": 2}.get(in_dtype(op) or "", 1)


def pad_version(op: Op) -> int:
    """PAD and PADV2."""
    if in_dtype(op) == "bool":
        return 5
    if in_rank(op) > 4:
        return 4
    return {"int16": 3, "int8": 2}.get(in_dtype(op) or "", 1)


def resize_version(op: Op) -> int:
    if in_dtype(op) == "int16":
        return 4
    if op.attrs.get("half_pixel_centers"):
        return 3
    return 2 if in_dtype(op) == "int8" else 1


def resize_nn_version(op: Op) -> int:
    if in_dtype(op) == "int16":
        return 4
    if op.attrs.get("half_pixel_centers") or op.attrs.get("align_corners"):
        return 3
    return 2 if in_dtype(op) == "int8" else 1


def strided_slice_version(op: Op) -> int:
    d = in_dtype(op)
    if op.attrs.get("offset"):
        return 8
    if d == "uint32":
        return 7
    if op.attrs.get("ellipsis_mask", 0) or op.attrs.get("new_axis_mask", 0):
        return 6
    if d == "string":
        return 5
    if in_rank(op) > 4:
        return 4
    return {"bool": 3, "int8": 2}.get(d or "", 1)


def slice_version(op: Op) -> int:
    d = in_dtype(op)
    if d == "int4":
        return 7
    if d == "uint32":
        return 6
    if in_rank(op) > 4:
        return 5
    return {"int16": 4, "string": 3, "int8": 2}.get(d or "", 1)


def gather_version(op: Op) -> int:
    d = in_dtype(op, 0)
    if d == "int4":
        return 7
    if in_dtype(op, 1) == "int16":
        return 6
    if op.attrs.get("batch_dims", 0):
        return 5
    return {"int16": 4, "bool": 3, "int8": 2}.get(d or "", 1)


def pack_version(op: Op) -> int:
    d = in_dtype(op)
    if d == "int8":
        return 2
    if d == "int16" and out_dtype(op) == "int16":
        return 3
    return 4 if d == "uint32" else 1


def unpack_version(op: Op) -> int:
    d = in_dtype(op)
    if d in ("int8", "uint8"):
        return 2
    if d == "bool":
        return 3
    if d == "int16" and out_dtype(op) == "int16":
        return 4
    return 5 if d in ("float16", "bfloat16") else 1


def space_batch_version(op: Op) -> int:
    """SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND."""
    if in_dtype(op) == "int16":
        return 4
    if in_rank(op) != 4:
        return 3
    return 2 if in_dtype(op) == "int8" else 1


def abs_version(op: Op) -> int:
    d = in_dtype(op)
    if d == "int32":
        return 5
    if d == "int16":
        return 3 if is_quantized(_tensor(op.inputs, 0)) else 4
    return 2 if d in ("int8", "uint8") else 1


def cast_version(op: Op) -> int:
    types = {in_dtype(op), out_dtype(op)}
    if types & {"int2", "uint4"}:
        return 8
    if "bfloat16" in types:
        return 7
    if in_dtype(op) == "int4" and out_dtype(op) == "float32":
        return 6
    if types & {"float64", "float16"}:
        return 5
    if "uint16" in types:
        return 4
    if "int8" in types:
        return 3
    return 2 if "uint32" in types else 1


def fill_version(op: Op) -> int:
    if len(op.inputs) >= 2:
        d = in_dtype(op, 1)
        if d == "float16":
            return 4
        if d in ("int8", "int16"):
            return 3
        if d in ("bool", "string"):
            return 2
    return 1


def dequantize_version(op: Op) -> int:
    d = in_dtype(op)
    if d == "uint4":
        return 8
    if d == "int2":
        return 7
    if d == "int4":
        return 6
    if d in ("int16", "float16"):
        return 3
    if d == "int8":
        return 5 if is_per_channel(_tensor(op.inputs, 0)) else 2
    return 1


def fake_quant_version(op: Op) -> int:
    return 2 if op.attrs.get("narrow_range") else 1


def quantize_version(op: Op) -> int:
    types = {in_dtype(op), out_dtype(op)}
    if "uint4" in types:
        return 5
    if "int4" in types:
        return 4
    if is_per_channel(_tensor(op.outputs, 0)):
        return 3
    return 2 if out_dtype(op) == "int16" else 1


def equal_version(op: Op) -> int:
    return {"int16": 5, "string": 3, "int8": 2}.get(in_dtype(op) or "", 1)


def not_equal_version(op: Op) -> int:
    return {"int16": 4, "string": 3, "int8": 2}.get(in_dtype(op) or "", 1)


def l2_norm_version(op: Op) -> int:
    return 2 if out_dtype(op) == "int8" else 1


def batch_matmul_version(op: Op) -> int:
    d = in_dtype(op)
    if d == "int16":
        return 3
    if d == "int8":
        return 2
    if _types(op, "float32", "int8", "float32") and op.attrs.get("asymmetric_quantize_inputs"):
        return 4
    return 1


int8_2 = by_dtype({"int8": 2})
int8_int16_2 = by_dtype({"int8": 2, "int16": 2})

