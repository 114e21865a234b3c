"""Select TF ops (Flex) and custom ops: which TF ops may run through the Flex delegate, and how such ops and
custom ops are encoded in a ``.tflite`` model.

Format facts (from LiteRT's Flex delegate, ``tensorflow/lite/delegates/flex``, and the MLIR exporter):

* a Flex op is a ``CUSTOM`` operator whose custom code is ``"Flex"`` + the TensorFlow op type
  (``FlexStringLower``);
* its custom options are a FlexBuffer *vector* of two *strings*: the TF op type, then the serialized
  ``NodeDef`` (the delegate reads ``v[0].AsString()`` and ``v[1].AsString()``, so the NodeDef must be stored as
  a FlexBuffer string, not a blob). The delegate fills attribute defaults itself and runs the op on CPU;
* the delegate only runs ops on an allowlist (``allowlisted_flex_ops.cc``). :data:`FLEX_ALLOWLIST` is the
  inference-relevant subset of that list (training, queue, checkpoint, reference and v1 control-flow ops are
  left out); an op outside it needs a custom op;
* a custom op (``allow_custom_ops``) has the TF op type as custom code and its attributes as a FlexBuffer map.
"""

from __future__ import annotations

from typing import Any

from flatbuffers import flexbuffers

FLEX_PREFIX = "Flex"

# Subset of tensorflow/lite/delegates/flex/allowlisted_flex_ops.cc (GetFlexAllowlist), inference ops only.
FLEX_ALLOWLIST: frozenset[str] = frozenset("""
Abs Add AddN AddV2 AdjustContrast AdjustContrastv2 AdjustHue AdjustSaturation All Any ApproximateEqual ArgMax
ArgMin Assert Atan Atan2 AudioSpectrogram AvgPool AvgPool3D BatchMatMul BatchMatMulV2 BatchMatrixDiag
BatchMatrixDiagPart BatchMatrixInverse BatchMatrixSetDiag BatchToSpace BatchToSpaceND BiasAdd BiasAddV1
Bincount Bitcast BitwiseAnd BitwiseOr BitwiseXor BroadcastArgs BroadcastTo Bucketize CTCBeamSearchDecoder
CTCGreedyDecoder Cast Ceil CheckNumerics CheckNumericsV2 CombinedNonMaxSuppression Complex ComplexAbs Concat
ConcatV2 Conj ConjugateTranspose Conv2D Conv2DBackpropInput Conv3D Conv3DBackpropInputV2 Cos Cosh
CropAndResize Cumprod Cumsum CumulativeLogsumexp DataFormatDimMap DataFormatVecPermute DecodeAndCropJpeg
DecodeBase64 DecodeBmp DecodeGif DecodeImage DecodeJpeg DecodePng DecodeRaw DecodeWav DenseBincount
DepthToSpace DepthwiseConv2dNative Dequantize Diag DiagPart Dilation2D Div DivNoNan DynamicPartition
DynamicStitch Einsum Elu Empty EmptyTensorList EncodeBase64 EncodeJpeg EncodePng EncodeWav EnsureShape Equal
Erf Exp ExpandDims ExtractImagePatches FFT FFT2D FFT3D FakeQuantWithMinMaxArgs FakeQuantWithMinMaxVars
FakeQuantWithMinMaxVarsPerChannel Fill Fingerprint Floor FloorDiv FloorMod FusedBatchNorm FusedBatchNormV2
FusedBatchNormV3 Gather GatherNd GatherV2 Greater GreaterEqual IFFT IFFT2D IFFT3D IRFFT IRFFT2D IRFFT3D
Identity IdentityN Imag ImageProjectiveTransformV2 ImageProjectiveTransformV3 InTopK InTopKV2 InplaceAdd
InplaceSub InplaceUpdate Inv Invert InvertPermutation IsFinite IsNan LRN LeakyRelu LeftShift Less LessEqual
LinSpace ListDiff Log LogSoftmax LogicalAnd LogicalNot LogicalOr MatMul MatrixDiag MatrixDiagPart
MatrixDiagPartV2 MatrixDiagPartV3 MatrixDiagV2 MatrixDiagV3 MatrixInverse MatrixSetDiag MatrixSetDiagV2
MatrixSetDiagV3 Max MaxPool MaxPool3D MaxPoolV2 MaxPoolWithArgmax Maximum Mean Mfcc Min Minimum MirrorPad Mul
MulNoNan Multinomial Neg NoOp NonMaxSuppression NonMaxSuppressionV2 NonMaxSuppressionV3 NonMaxSuppressionV4
NonMaxSuppressionV5 NonMaxSuppressionWithOverlaps NotEqual OneHot OnesLike Pack Pad PadV2 ParallelConcat
ParallelDynamicStitch ParseExample ParseExampleV2 ParseSequenceExample ParseSequenceExampleV2
ParseSingleExample ParseSingleSequenceExample PlaceholderWithDefault PopulationCount Pow PreventGradient Print
PrintV2 Prod QuantizeV2 RFFT RFFT2D RFFT3D RaggedBincount RaggedGather RaggedRange RaggedTensorToSparse
RaggedTensorToTensor RandomGamma RandomPoisson RandomPoissonV2 RandomStandardNormal RandomUniform
RandomUniformInt Range Rank Real RealDiv Reciprocal ReduceJoin RegexFullMatch RegexReplace Relu Relu6 Reshape
ResizeBilinear ResizeNearestNeighbor Reverse ReverseSequence ReverseV2 RightShift Roll Round Rsqrt
SampleDistortedBoundingBox SampleDistortedBoundingBoxV2 ScatterNd SegmentMax SegmentMean SegmentMin SegmentProd
SegmentSum Select SelectV2 Selu Shape ShapeN Sigmoid Sign Sin Sinh Size Slice Softmax Softplus Softsign
SpaceToBatch SpaceToBatchND SpaceToDepth SparseBincount SparseCross SparseCrossHashed SparseCrossV2
SparseFillEmptyRows SparseReshape SparseSegmentMean SparseSegmentMeanWithNumSegments SparseSegmentSqrtN
SparseSegmentSqrtNWithNumSegments SparseSegmentSum SparseSegmentSumWithNumSegments SparseToDense Split SplitV
Sqrt Square SquaredDifference Squeeze StatelessMultinomial StatelessRandomGammaV2
StatelessRandomGetKeyCounterAlg StatelessRandomNormal StatelessRandomNormalV2 StatelessRandomPoisson
StatelessRandomUniform StatelessRandomUniformFullInt StatelessRandomUniformFullIntV2 StatelessRandomUniformInt
StatelessRandomUniformIntV2 StatelessRandomUniformV2 StatelessSampleDistortedBoundingBox
StatelessTruncatedNormal StatelessTruncatedNormalV2 StaticRegexFullMatch StaticRegexReplace StopGradient
StridedSlice StringJoin StringLength StringLower StringSplit StringSplitV2 StringStrip StringToHashBucket
StringToHashBucketFast StringToHashBucketStrong Sub Substr Sum Tan Tanh TensorListConcat TensorListConcatLists
TensorListConcatV2 TensorListElementShape TensorListFromTensor TensorListGather TensorListGetItem
TensorListLength TensorListPopBack TensorListPushBack TensorListPushBackBatch TensorListReserve
TensorListResize TensorListScatter TensorListScatterIntoExistingList TensorListScatterV2 TensorListSetItem
TensorListSplit TensorListStack TensorScatterAdd TensorScatterMax TensorScatterMin TensorScatterSub
TensorScatterUpdate TensorStridedSliceUpdate Tile Timestamp TopK TopKV2 Transpose TruncateDiv TruncatedNormal
UnicodeDecode UnicodeDecodeWithOffsets UnicodeEncode UnicodeTranscode Unique UniqueV2 UniqueWithCounts
UniqueWithCountsV2 Unpack UnsortedSegmentMax UnsortedSegmentMin UnsortedSegmentProd UnsortedSegmentSum Where
Xdivy Xlog1py Xlogy ZerosLike
""".split())

# Ops that no op set can carry: their behaviour is not in the graph (Python callbacks).
NEVER_CONVERTIBLE: dict[str, str] = {
    "EagerPyFunc": "tf.py_function runs Python code, which is not part of the graph",
    "PyFunc": "tf.numpy_function / tf.py_func runs Python code, which is not part of the graph",
    "PyFuncStateless": "tf.numpy_function runs Python code, which is not part of the graph",
}


def is_flex_allowed(op_type: str) -> bool:
    return op_type in FLEX_ALLOWLIST


def clean_node_def(node_def: Any) -> Any:
    """A copy of a NodeDef as the Flex delegate wants it: op and attributes, no inputs, device or private
    (``_``-prefixed) attributes; the delegate adds attribute defaults and places the op on CPU."""
    from tensorflow.core.framework import node_def_pb2

    nd = node_def_pb2.NodeDef()
    nd.CopyFrom(node_def)
    del nd.input[:]
    nd.ClearField("device")
    for key in [k for k in nd.attr if k.startswith("_")]:
        del nd.attr[key]
    return nd


def flex_custom_options(node_def: Any) -> bytes:
    """The custom options of a Flex op: FlexBuffer vector [op type, serialized NodeDef], both strings."""
    nd = clean_node_def(node_def)
    b = flexbuffers.Builder()
    with b.Vector():
        b.String(nd.op)
        # The serialized proto is binary; it must still be a FlexBuffer STRING (the delegate calls AsString).
        b._WriteBlob(nd.SerializeToString(), append_zero=True, type_=flexbuffers.Type.STRING)
    return bytes(b.Finish())


def parse_flex_custom_options(data: bytes) -> tuple[str, bytes]:
    """Read back ``(op type, serialized NodeDef)``, checking the types the Flex delegate relies on."""
    root = flexbuffers.GetRoot(bytearray(data))
    if not root.IsVector:
        raise ValueError("Flex custom options are not a FlexBuffer vector")
    v = root.AsVector
    if len(v) != 2 or not (v[0].IsString and v[1].IsString):
        raise ValueError("Flex custom options must be a vector of two strings")
    return v[0].AsString, bytes(v[1].AsStringBytes)


def _attr_to_python(av: Any) -> Any:
    kind = av.WhichOneof("value")
    if kind == "s":
        try:
            return av.s.decode("utf-8")
        except UnicodeDecodeError:
            return bytes(av.s)
    if kind in ("i", "f", "b"):
        return getattr(av, kind)
    if kind == "type":
        from tensorflow.python.framework import dtypes

        return dtypes.as_dtype(av.type).name
    if kind == "shape":
        return [-1] if av.shape.unknown_rank else [int(d.size) for d in av.shape.dim]
    if kind == "func":
        return av.func.name
    if kind == "list":
        lst = av.list
        for field in ("s", "i", "f", "b"):
            items = list(getattr(lst, field))
            if items:
                return [x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in items]
        if lst.type:
            from tensorflow.python.framework import dtypes

            return [dtypes.as_dtype(t).name for t in lst.type]
        if lst.shape:
            return [[int(d.size) for d in s.dim] for s in lst.shape]
        return []
    return None  # tensors and placeholders are not carried


def custom_op_attributes(node_def: Any) -> dict[str, Any]:
    """The attributes of a node as plain Python values (what a custom op's options carry)."""
    attrs = {}
    for key in sorted(node_def.attr):
        if key.startswith("_"):
            continue
        value = _attr_to_python(node_def.attr[key])
        if value is not None:
            attrs[key] = value
    return attrs


def custom_op_options(node_def: Any) -> bytes:
    """The custom options of a custom op: a FlexBuffer map of its attributes (as the MLIR exporter writes)."""
    return bytes(flexbuffers.Dumps(custom_op_attributes(node_def)))
