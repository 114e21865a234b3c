"""One declaration per TFLite builtin op that we emit.

Each declaration names the op's options table, its inputs (optional slots end with ``?``), and its version rule.
The runtime checks op versions: the writer takes the version from here and never guesses. A rule is a function
``Op -> int`` that reads the dtypes, ranks and options of the op, mirroring the runtime's version table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..ir import Op

VersionRule = Callable[[Op], int]


@dataclass(frozen=True)
class OpDecl:
    name: str
    options: str | None = None  # name of the options table in the BuiltinOptions union
    inputs: tuple[str, ...] = ()
    version: VersionRule = field(default=lambda op: 1)
    fusable_activation: bool = False  # has a fused_activation_function option


DECLS: dict[str, OpDecl] = {}


def declare(name: str, options: str | None = None, inputs: tuple[str, ...] = (),
            version: VersionRule | None = None, fusable_activation: bool = False) -> OpDecl:
    decl = OpDecl(name, options, inputs, version or (lambda op: 1), fusable_activation)
    DECLS[name] = decl
    return decl


def decl(kind: str) -> OpDecl:
    try:
        return DECLS[kind]
    except KeyError:
        raise KeyError(f"no TFLite declaration for op {kind}") from None


# -- helpers for version rules --------------------------------------------------------------------------------

def in_dtype(op: Op, i: int = 0) -> str | None:
    t = op.inputs[i] if i < len(op.inputs) else None
    return t.dtype if t is not None else None


def in_rank(op: Op, i: int = 0) -> int:
    t = op.inputs[i] if i < len(op.inputs) else None
    return (t.rank or 0) if t is not None else 0


def by_dtype(table: dict[str, int], index: int = 0, default: int = 1) -> VersionRule:
    """A version rule that depends only on the dtype of input ``index``."""
    return lambda op: table.get(in_dtype(op, index) or "", default)


def _broadcast_needs(op: Op) -> bool:
    a, b = op.inputs[0], op.inputs[1]
    return a is not None and b is not None and a.shape != b.shape


# -- declarations ------------------------------------------------------------------------------------------------
# Float rules first; quantized variants extend them (the rules already look at dtypes).

def _conv2d_version(op: Op) -> int:
    x, w = in_dtype(op, 0), in_dtype(op, 1)
    if op.attrs.get("_grouped"):
        return 6
    if x == "int16" and w == "int8":
        return 4
    if x == "int8" and w == "int8":
        return 3
    if x == "float32" and w == "int8":
        return 5 if op.attrs.get("_per_channel") else 2
    return 1


def _depthwise_version(op: Op) -> int:
    x, w = in_dtype(op, 0), in_dtype(op, 1)
    if x == "int16":
        return 5
    if x == "float32" and w == "int8":
        return 6 if op.attrs.get("_per_channel") else 4
    if x == "int8":
        return 3
    if op.attrs.get("dilation_w_factor", 1) != 1 or op.attrs.get("dilation_h_factor", 1) != 1:
        return 2
    return 1


def _fc_version(op: Op) -> int:
    x, w = in_dtype(op, 0), in_dtype(op, 1)
    if x == "int16" and w == "int16":
        return 7
    if len(op.inputs) == 2 or op.inputs[2] is None:
        return 6
    if op.attrs.get("keep_num_dims"):
        return 5
    if x == "int8" and w == "int8":
        return 4
    if x == "float32" and w == "int8":
        return 9 if op.attrs.get("asymmetric_quantize_inputs") else 3
    return 1


def _add_version(op: Op) -> int:
    d = in_dtype(op, 0)
    if d == "int16":
        return 3 if _broadcast_needs(op) and in_rank(op) > 4 else 3
    if d == "int64":
        return 4
    if d == "int8":
        return 2
    return 1


def _sub_version(op: Op) -> int:
    d = in_dtype(op, 0)
    if max(in_rank(op, 0), in_rank(op, 1)) > 4 and _broadcast_needs(op):
        return 5 if d not in ("int16",) else 5
    if d == "int64":
        return 4
    if d == "int16":
        return 3
    if d == "int8":
        return 2
    return 1


def _mul_version(op: Op) -> int:
    d = in_dtype(op, 0)
    if d == "int64":
        return 5
    if d == "int16":
        return 4
    if d == "int8":
        return 2
    return 1


def _div_version(op: Op) -> int:
    if in_dtype(op) == "int32" or (max(in_rank(op, 0), in_rank(op, 1)) > 4 and _broadcast_needs(op)):
        return 2
    return 1


def _pool_version(op: Op) -> int:
    return {"int8": 2, "int16": 3}.get(in_dtype(op) or "", 1)


def _transpose_version(op: Op) -> int:
    r, d = in_rank(op), in_dtype(op)
    if r > 5:
        return 6
    if d == "int16":
        return 5
    if r > 4:
        return 4
    return {"bool": 3, "int8": 2}.get(d or "", 1)


def _transpose_conv_version(op: Op) -> int:
    if op.attrs.get("fused_activation_function", "NONE") != "NONE":
        return 4
    if len(op.inputs) == 4 and op.inputs[3] is not None:
        return 3
    if in_dtype(op, 1) == "int8":
        return 2
    return 1


def _concat_version(op: Op) -> int:
    d = in_dtype(op)
    return {"uint32": 4, "int16": 3, "int8": 2}.get(d or "", 1)


def _reshape_version(op: Op) -> int:
    return {"int16": 2}.get(in_dtype(op) or "", 1)


def _mean_version(op: Op) -> int:
    return {"int16": 3, "int8": 2}.get(in_dtype(op) or "", 1)


def _softmax_version(op: Op) -> int:
    return {"int16": 3, "int8": 2}.get(in_dtype(op) or "", 1)


def _pad_version(op: Op) -> int:
    if in_rank(op) > 4:
        return 4
    return {"int16": 3, "int8": 2}.get(in_dtype(op) or "", 1)


def _resize_version(op: Op) -> int:
    if op.attrs.get("half_pixel_centers"):
        return 3
    return {"int8": 2, "int16": 4}.get(in_dtype(op) or "", 1)


def _resize_nn_version(op: Op) -> int:
    if op.attrs.get("half_pixel_centers") or op.attrs.get("align_corners"):
        return 3
    return {"int8": 2, "int16": 4}.get(in_dtype(op) or "", 1)


def _strided_slice_version(op: Op) -> int:
    d = in_dtype(op)
    if op.attrs.get("offset"):
        return 7
    if d == "string":
        return 5 if in_rank(op) <= 4 else 6
    if in_rank(op) > 4:
        return 4
    if d == "bool":
        return 3
    if d == "int8":
        return 2
    return 1


_int8_2 = by_dtype({"int8": 2})

declare("ADD", "AddOptions", ("x", "y"), _add_version, fusable_activation=True)
declare("SUB", "SubOptions", ("x", "y"), _sub_version, fusable_activation=True)
declare("MUL", "MulOptions", ("x", "y"), _mul_version, fusable_activation=True)
declare("DIV", "DivOptions", ("x", "y"), _div_version, fusable_activation=True)
declare("MAXIMUM", "MaximumMinimumOptions", ("x", "y"), by_dtype({"int8": 2, "int16": 4}))
declare("MINIMUM", "MaximumMinimumOptions", ("x", "y"), by_dtype({"int8": 2, "int16": 4}))
declare("SQUARED_DIFFERENCE", "SquaredDifferenceOptions", ("x", "y"), _int8_2)
declare("POW", "PowOptions", ("x", "y"))
declare("FLOOR_DIV", "FloorDivOptions", ("x", "y"), by_dtype({"float32": 2, "int16": 3}))
declare("FLOOR_MOD", "FloorModOptions", ("x", "y"), by_dtype({"int16": 2}))
declare("CONV_2D", "Conv2DOptions", ("input", "filter", "bias?"), _conv2d_version, fusable_activation=True)
declare("DEPTHWISE_CONV_2D", "DepthwiseConv2DOptions", ("input", "filter", "bias?"), _depthwise_version,
        fusable_activation=True)
declare("TRANSPOSE_CONV", "TransposeConvOptions", ("output_shape", "filter", "input", "bias?"),
        _transpose_conv_version, fusable_activation=True)
declare("FULLY_CONNECTED", "FullyConnectedOptions", ("input", "weights", "bias?"), _fc_version,
        fusable_activation=True)
declare("BATCH_MATMUL", "BatchMatMulOptions", ("x", "y"), by_dtype({"int8": 2, "int16": 3}))
declare("AVERAGE_POOL_2D", "Pool2DOptions", ("input",), _pool_version, fusable_activation=True)
declare("MAX_POOL_2D", "Pool2DOptions", ("input",), _pool_version, fusable_activation=True)
declare("CONCATENATION", "ConcatenationOptions", (), _concat_version, fusable_activation=True)
declare("RESHAPE", "ReshapeOptions", ("input", "shape?"), _reshape_version)
declare("SQUEEZE", "SqueezeOptions", ("input",))
declare("EXPAND_DIMS", "ExpandDimsOptions", ("input", "axis"))
declare("TRANSPOSE", "TransposeOptions", ("input", "perm"), _transpose_version)
declare("PAD", "PadOptions", ("input", "paddings"), _pad_version)
declare("PADV2", "PadV2Options", ("input", "paddings", "constant_values"), _pad_version)
declare("MIRROR_PAD", "MirrorPadOptions", ("input", "paddings"), by_dtype({"int8": 2, "int16": 3}))
declare("MEAN", "ReducerOptions", ("input", "axis"), _mean_version)
declare("SUM", "ReducerOptions", ("input", "axis"), by_dtype({"int8": 2, "int16": 3}))
declare("REDUCE_MAX", "ReducerOptions", ("input", "axis"), by_dtype({"int8": 2, "int16": 3}))
declare("REDUCE_MIN", "ReducerOptions", ("input", "axis"), by_dtype({"int8": 2, "int16": 3}))
declare("REDUCE_PROD", "ReducerOptions", ("input", "axis"), by_dtype({"int8": 2, "int16": 2}))
declare("SOFTMAX", "SoftmaxOptions", ("input",), _softmax_version)
declare("LOG_SOFTMAX", "LogSoftmaxOptions", ("input",), _int8_2)
declare("RELU", None, ("input",), by_dtype({"int8": 2, "int16": 3}))
declare("RELU6", None, ("input",), by_dtype({"int8": 2, "int16": 3}))
declare("RELU_N1_TO_1", None, ("input",))
declare("RELU_0_TO_1", None, ("input",))
declare("LEAKY_RELU", "LeakyReluOptions", ("input",), by_dtype({"int8": 2, "int16": 2}))
declare("PRELU", None, ("input", "alpha"))
declare("ELU", None, ("input",))
declare("LOGISTIC", None, ("input",), by_dtype({"int8": 2, "int16": 3}))
declare("TANH", None, ("input",), by_dtype({"int8": 2, "int16": 3}))
declare("HARD_SWISH", "HardSwishOptions", ("input",))
declare("GELU", "GeluOptions", ("input",), _int8_2)
declare("EXP", "ExpOptions", ("input",), by_dtype({"int8": 2, "int16": 2}))
declare("LOG", None, ("input",))
declare("SQRT", None, ("input",))
declare("RSQRT", None, ("input",), by_dtype({"int8": 2, "int16": 3}))
declare("SQUARE", "SquareOptions", ("input",))
declare("ABS", "AbsOptions", ("input",), by_dtype({"int8": 2, "int16": 3}))
declare("NEG", "NegOptions", ("input",), _int8_2)
declare("SIN", None, ("input",))
declare("COS", "CosOptions", ("input",))
declare("FLOOR", None, ("input",))
declare("CEIL", None, ("input",))
declare("ROUND", None, ("input",))
declare("SIGN", "SignOptions", ("input",), by_dtype({"int32": 2}))
declare("CAST", "CastOptions", ("input",))
declare("STRIDED_SLICE", "StridedSliceOptions", ("input", "begin", "end", "strides"), _strided_slice_version)
declare("SLICE", "SliceOptions", ("input", "begin", "size"), by_dtype({"int8": 2, "string": 3}))
declare("GATHER", "GatherOptions", ("params", "indices"), by_dtype({"int8": 2, "bool": 3}))
declare("SPLIT", "SplitOptions", ("axis", "input"), by_dtype({"int8": 2, "int32": 3}, index=1))
declare("SPLIT_V", "SplitVOptions", ("input", "size_splits", "axis"), _int8_2)
declare("PACK", "PackOptions", (), by_dtype({"int8": 2}))
declare("UNPACK", "UnpackOptions", ("input",), by_dtype({"int8": 2}))
declare("TILE", "TileOptions", ("input", "multiples"))
declare("BROADCAST_TO", "BroadcastToOptions", ("input", "shape"), lambda op: 2)
declare("SHAPE", "ShapeOptions", ("input",))
declare("FILL", "FillOptions", ("dims", "value"))
declare("RESIZE_BILINEAR", "ResizeBilinearOptions", ("input", "size"), _resize_version)
declare("RESIZE_NEAREST_NEIGHBOR", "ResizeNearestNeighborOptions", ("input", "size"), _resize_nn_version)
declare("DEPTH_TO_SPACE", "DepthToSpaceOptions", ("input",), _int8_2)
declare("SPACE_TO_DEPTH", "SpaceToDepthOptions", ("input",), _int8_2)
declare("SPACE_TO_BATCH_ND", "SpaceToBatchNDOptions", ("input", "block_shape", "paddings"), _int8_2)
declare("BATCH_TO_SPACE_ND", "BatchToSpaceNDOptions", ("input", "block_shape", "crops"), _int8_2)
declare("ARG_MAX", "ArgMaxOptions", ("input", "axis"), _int8_2)
declare("ARG_MIN", "ArgMinOptions", ("input", "axis"), _int8_2)
declare("L2_NORMALIZATION", "L2NormOptions", ("input",), _int8_2, fusable_activation=True)
declare("SELECT_V2", "SelectV2Options", ("cond", "x", "y"))
declare("LESS", "LessOptions", ("x", "y"))
declare("GREATER", "GreaterOptions", ("x", "y"))
declare("EQUAL", "EqualOptions", ("x", "y"))
declare("NOT_EQUAL", "NotEqualOptions", ("x", "y"))
declare("LESS_EQUAL", "LessEqualOptions", ("x", "y"))
declare("GREATER_EQUAL", "GreaterEqualOptions", ("x", "y"))
declare("LOGICAL_AND", "LogicalAndOptions", ("x", "y"))
declare("LOGICAL_OR", "LogicalOrOptions", ("x", "y"))
declare("LOGICAL_NOT", "LogicalNotOptions", ("x",))
declare("DEQUANTIZE", "DequantizeOptions", ("input",))
declare("QUANTIZE", "QuantizeOptions", ("input",))
declare("CUMSUM", "CumsumOptions", ("input", "axis"))
declare("ZEROS_LIKE", "ZerosLikeOptions", ("input",))
declare("RANGE", "RangeOptions", ("start", "limit", "delta"))
declare("WHILE", "WhileOptions", ())
declare("IF", "IfOptions", ())
declare("CUSTOM", None, ())
