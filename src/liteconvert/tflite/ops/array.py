"""Shape and layout ops: reshapes, transposes, padding, slicing, gathering, splitting and joining, filling."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...ir import Op
from . import ANY, FIL, F, NoFold, QuantSpec, declare
from . import versions as v

# These move values without rescaling them: a quantized output keeps its input's scale and zero point.
_SAME = QuantSpec(int16=True, same_scale=True)
_SAME8 = QuantSpec(same_scale=True)  # int8 kernels only (no int16 one: 16x8 leaves the op float)


def _reshape(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    shape = op.outputs[0].shape
    if len(xs) > 1:
        shape = tuple(int(d) for d in xs[1].reshape(-1))
    return [xs[0].reshape(shape)]


def _to_output_shape(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    return [xs[0].reshape(op.outputs[0].shape)]


def _expand_dims(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.expand_dims(xs[0], int(xs[1].reshape(-1)[0]))]


def _transpose(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.transpose(xs[0], [int(p) for p in xs[1]])]


def _concat(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.concatenate(xs, axis=op.attrs.get("axis", 0))]


def _gather(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    if op.attrs.get("batch_dims", 0):
        raise NoFold
    return [np.take(xs[0], xs[1], axis=op.attrs.get("axis", 0))]


def _slice(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    x, begin, size = xs
    idx = tuple(slice(int(b), None if int(s) == -1 else int(b) + int(s)) for b, s in zip(begin, size, strict=True))
    return [x[idx]]


def _strided_slice(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    x, begin, end, strides = xs
    a = op.attrs
    if a.get("ellipsis_mask", 0) or a.get("new_axis_mask", 0) or a.get("offset", False):
        raise NoFold
    idx: list[Any] = []
    shrink = a.get("shrink_axis_mask", 0)
    for i in range(len(begin)):
        b = None if a.get("begin_mask", 0) >> i & 1 else int(begin[i])
        e = None if a.get("end_mask", 0) >> i & 1 else int(end[i])
        if shrink >> i & 1:
            idx.append(int(begin[i]))
        else:
            idx.append(slice(b, e, int(strides[i])))
    return [np.asarray(x[tuple(idx)])]


def _pack(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.stack(xs, axis=op.attrs.get("axis", 0))]


def _shape(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.asarray(xs[0].shape, dtype=op.outputs[0].dtype)]


def _fill(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.full([int(d) for d in xs[0]], xs[1], dtype=op.outputs[0].dtype)]


def _range(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.arange(xs[0], xs[1], xs[2]).astype(op.outputs[0].dtype)]


def _tile(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.tile(xs[0], [int(m) for m in xs[1]])]


def _broadcast_to(op: Op, xs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.broadcast_to(xs[0], [int(d) for d in xs[1]]).copy()]


declare("RESHAPE", "ReshapeOptions", ("input", "shape?"), kernel_dtypes=ANY, reference=_reshape,
        quant=_SAME)  # one version only: the runtime registers no v2
declare("SQUEEZE", "SqueezeOptions", ("input",), v.by_dtype({"string": 2}), reference=_to_output_shape,
        quant=_SAME)
declare("EXPAND_DIMS", "ExpandDimsOptions", ("input", "axis"), reference=_expand_dims, quant=_SAME)
declare("TRANSPOSE", "TransposeOptions", ("input", "perm"), v.transpose_version, kernel_dtypes=ANY,
        reference=_transpose, quant=_SAME)
declare("PAD", "PadOptions", ("input", "paddings"), v.pad_version, kernel_dtypes=FIL, quant=_SAME)
declare("PADV2", "PadV2Options", ("input", "paddings", "constant_values"), v.pad_version, quant=_SAME)
declare("MIRROR_PAD", "MirrorPadOptions", ("input", "paddings"), v.int16_3_int8_2, quant=_SAME)
declare("CONCATENATION", "ConcatenationOptions", (), v.concat_version, kernel_dtypes=FIL, reference=_concat,
        quant=_SAME)  # has a fused_activation_function option, which the kernel refuses unless NONE
declare("STRIDED_SLICE", "StridedSliceOptions", ("input", "begin", "end", "strides"), v.strided_slice_version,
        kernel_dtypes=ANY, reference=_strided_slice, quant=_SAME)
declare("SLICE", "SliceOptions", ("input", "begin", "size"), v.slice_version, reference=_slice, quant=_SAME)
declare("GATHER", "GatherOptions", ("params", "indices"), v.gather_version, kernel_dtypes=FIL, reference=_gather,
        quant=_SAME)
declare("SPLIT", "SplitOptions", ("axis", "input"), v.by_dtype({"int16": 4, "int32": 3, "int8": 2}, index=1),
        data_input=1, quant=_SAME)
declare("SPLIT_V", "SplitVOptions", ("input", "size_splits", "axis"), v.int8_2, quant=_SAME)
declare("PACK", "PackOptions", (), v.pack_version, reference=_pack, quant=_SAME)
declare("UNPACK", "UnpackOptions", ("input",), v.unpack_version, quant=_SAME)
declare("TILE", "TileOptions", ("input", "multiples"), v.by_dtype({"int8": 3, "string": 2}), kernel_dtypes=ANY,
        reference=_tile, quant=_SAME)
declare("BROADCAST_TO", "BroadcastToOptions", ("input", "shape"), v.by_dtype({"int8": 3, "int16": 3}, default=2),
        reference=_broadcast_to, quant=_SAME)
declare("SHAPE", "ShapeOptions", ("input",), reference=_shape)
declare("FILL", "FillOptions", ("dims", "value"), v.fill_version, reference=_fill)
declare("RANGE", "RangeOptions", ("start", "limit", "delta"), v.by_dtype({"int64": 2}), reference=_range)
declare("DEPTH_TO_SPACE", "DepthToSpaceOptions", ("input",), v.int8_2, quant=_SAME8)
declare("SPACE_TO_DEPTH", "SpaceToDepthOptions", ("input",), v.int8_2, quant=_SAME8)
declare("SPACE_TO_BATCH_ND", "SpaceToBatchNDOptions", ("input", "block_shape", "paddings"), v.space_batch_version,
        quant=_SAME)
declare("BATCH_TO_SPACE_ND", "BatchToSpaceNDOptions", ("input", "block_shape", "crops"), v.space_batch_version,
        quant=_SAME)
# A sparse constant (Tensor.sparsity) made dense at run time (float32, float16, int8). No reference: folding it
# would undo the sparse storage the model was written with; the quantization pipelines densify on purpose
# (liteconvert.tflite.sparsity, the densify_constants pass).
declare("DENSIFY", "DensifyOptions", ("input",), kernel_dtypes=F)
