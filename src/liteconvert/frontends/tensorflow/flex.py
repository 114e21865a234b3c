"""Select TF ops (Flex) and custom ops: which TF ops may run through the Flex delegate, and how such ops and
custom ops are encoded in a ``.tflite`` model.

Format facts (from LiteRT's Flex delegate, ``tensorflow/lite/delegates/flex``, and the MLIR exporter):

* a Flex op is a ``CUSTOM`` operator whose custom code is ``"Flex"`` + the TensorFlow op type
  (``FlexStringLower``);
* its custom options are a FlexBuffer *vector* of two *strings*: the TF op type, then the serialized
  ``NodeDef`` (the delegate reads ``v[0].AsString()`` and ``v[1].AsString()``, so the NodeDef must be stored as
  a FlexBuffer string, not a blob). The delegate fills attribute defaults itself and runs the op on CPU;
* the delegate only runs ops on an allowlist (``allowlisted_flex_ops.cc``), :data:`FLEX_ALLOWLIST`; an op
  outside it needs a custom op;
* a custom op (``allow_custom_ops``) has the TF op type as custom code and its attributes as a FlexBuffer map.
"""

from __future__ import annotations

from typing import Any

from flatbuffers import flexbuffers

FLEX_PREFIX = "Flex"

# The Flex delegate's allowlist: GetFlexAllowlist() in tensorflow/compiler/mlir/lite/delegates/flex/
# allowlisted_flex_ops.cc (checked 2026-12 against TF 2.21: every name is a registered TensorFlow op, and the
# reference converter emits Flex ops for them, e.g. FlexMatrixDeterminant). Every op on it can be emitted as a
# Select TF op; an op outside it needs a custom op.
FLEX_ALLOWLIST: frozenset[str] = frozenset("""
Abort Abs Add AddN AddV2 AdjustContrast AdjustContrastv2 AdjustHue AdjustSaturation All Angle Any ApplyAdaMax
ApplyAdadelta ApplyAdagrad ApplyAdagradDA ApplyAdagradV2 ApplyAdam ApplyAddSign ApplyCenteredRMSProp ApplyFtrl
ApplyFtrlV2 ApplyGradientDescent ApplyMomentum ApplyPowerSign ApplyProximalAdagrad ApplyProximalGradientDescent
ApplyRMSProp ApproximateEqual ArgMax ArgMin AsString Assert Assign AssignAdd AssignAddVariableOp AssignSub
AssignSubVariableOp AssignVariableOp Atan Atan2 AudioSpectrogram AvgPool AvgPool3D AvgPool3DGrad AvgPoolGrad
BatchCholesky BatchDatasetV2 BatchMatMul BatchMatMulV2 BatchMatrixBandPart BatchMatrixDeterminant BatchMatrixDiag
BatchMatrixDiagPart BatchMatrixInverse BatchMatrixSetDiag BatchMatrixTriangularSolve
BatchNormWithGlobalNormalization BatchNormWithGlobalNormalizationGrad BatchToSpace BatchToSpaceND BiasAdd
BiasAddGrad BiasAddV1 Bincount Bitcast BitwiseAnd BitwiseOr BitwiseXor BroadcastArgs BroadcastGradientArgs
BroadcastTo Bucketize CTCBeamSearchDecoder CTCGreedyDecoder Case Cast Ceil CheckNumerics CheckNumericsV2 Cholesky
ClipByValue CombinedNonMaxSuppression Complex ComplexAbs Concat ConcatOffset ConcatV2 Conj ConjugateTranspose Const
ControlTrigger Conv2D Conv2DBackpropFilter Conv2DBackpropInput Conv3D Conv3DBackpropFilter Conv3DBackpropFilterV2
Conv3DBackpropInput Conv3DBackpropInputV2 Cos Cosh CropAndResize CropAndResizeGradBoxes CropAndResizeGradImage
Cumprod Cumsum CumulativeLogsumexp DataFormatDimMap DataFormatVecPermute DebugGradientIdentity
DebugGradientRefIdentity DecodeAndCropJpeg DecodeBase64 DecodeBmp DecodeGif DecodeImage DecodeJpeg DecodePaddedRaw
DecodePng DecodeRaw DecodeWav DeepCopy DeleteSessionTensor DenseBincount DenseToDenseSetOperation
DenseToSparseSetOperation DepthToSpace DepthwiseConv2dNative DepthwiseConv2dNativeBackpropFilter
DepthwiseConv2dNativeBackpropInput Dequantize DestroyResourceOp DestroyTemporaryVariable Diag DiagPart Dilation2D
Dilation2DBackpropFilter Dilation2DBackpropInput Div DivNoNan DynamicPartition DynamicStitch Einsum Elu EluGrad
Empty EmptyTensorList EmptyTensorMap EncodeBase64 EncodeJpeg EncodeJpegVariableQuality EncodePng EncodeWav
EnsureShape Enter Equal Erf Exit Exp ExpandDims ExtractImagePatches FFT FFT2D FFT3D FIFOQueue FIFOQueueV2
FakeQuantWithMinMaxArgs FakeQuantWithMinMaxArgsGradient FakeQuantWithMinMaxVars FakeQuantWithMinMaxVarsGradient
FakeQuantWithMinMaxVarsPerChannel FakeQuantWithMinMaxVarsPerChannelGradient FakeQueue Fill FilterDataset
FinalizeDataset Fingerprint FlatMapDataset Floor FloorDiv FloorMod FusedBatchNorm FusedBatchNormGrad
FusedBatchNormGradV2 FusedBatchNormGradV3 FusedBatchNormV2 FusedBatchNormV3 FusedPadConv2D FusedResizeAndPadConv2D
Gather GatherNd GatherV2 GetSessionHandle GetSessionHandleV2 GetSessionTensor Greater GreaterEqual HSVToRGB
HashTable HashTableV2 HistogramSummary IFFT IFFT2D IFFT3D IRFFT IRFFT2D IRFFT3D Identity IdentityN Imag
ImageProjectiveTransformV2 ImageProjectiveTransformV3 ImmutableConst InTopK InTopKV2 InitializeTable
InitializeTableFromDataset InitializeTableFromTextFile InitializeTableFromTextFileV2 InitializeTableV2 InplaceAdd
InplaceSub InplaceUpdate Inv InvGrad Invert InvertPermutation IsFinite IsNan IsVariableInitialized LRN LeakyRelu
LeakyReluGrad LeftShift Less LessEqual LinSpace ListDiff Log LogMatrixDeterminant LogSoftmax LogicalAnd LogicalNot
LogicalOr LookupTableExport LookupTableExportV2 LookupTableFind LookupTableFindV2 LookupTableImport
LookupTableImportV2 LookupTableInsert LookupTableInsertV2 LookupTableRemoveV2 LookupTableSize LookupTableSizeV2
LoopCond MapDataset MatMul MatrixBandPart MatrixDeterminant MatrixDiag MatrixDiagPart MatrixDiagPartV2
MatrixDiagPartV3 MatrixDiagV2 MatrixDiagV3 MatrixInverse MatrixSetDiag MatrixSetDiagV2 MatrixSetDiagV3
MatrixTriangularSolve Max MaxPool MaxPool3D MaxPool3DGrad MaxPool3DGradGrad MaxPoolGrad MaxPoolGradGrad
MaxPoolGradGradV2 MaxPoolGradV2 MaxPoolGradWithArgmax MaxPoolV2 MaxPoolWithArgmax Maximum Mean Merge MergeSummary
MergeV2Checkpoints Mfcc Min Minimum MirrorPad MirrorPadGrad ModelDataset Mul MulNoNan Multinomial
MutableDenseHashTable MutableDenseHashTableV2 MutableHashTable MutableHashTableOfTensors MutableHashTableOfTensorsV2
MutableHashTableV2 Neg NextIteration NoOp NonMaxSuppression NonMaxSuppressionV2 NonMaxSuppressionV3
NonMaxSuppressionV4 NonMaxSuppressionV5 NonMaxSuppressionWithOverlaps NotEqual OneHot OnesLike OptimizeDatasetV2
OptionalFromValue OptionalGetValue OptionalHasValue OptionalNone Pack Pad PadV2 PaddingFIFOQueue PaddingFIFOQueueV2
ParallelConcat ParallelDynamicStitch ParseExample ParseExampleV2 ParseSequenceExample ParseSequenceExampleV2
ParseSingleExample ParseSingleSequenceExample Placeholder PlaceholderV2 PlaceholderWithDefault PopulationCount Pow
PreventGradient Print PrintV2 Prod Qr QuantizeDownAndShrinkRange QuantizeV2 QuantizedAdd QuantizedAvgPool
QuantizedBatchNormWithGlobalNormalization QuantizedBiasAdd QuantizedConcat QuantizedConv2D QuantizedInstanceNorm
QuantizedMatMul QuantizedMaxPool QuantizedMul QuantizedRelu QuantizedRelu6 QuantizedReshape QuantizedResizeBilinear
QueueClose QueueCloseV2 QueueDequeue QueueDequeueMany QueueDequeueManyV2 QueueDequeueUpTo QueueDequeueUpToV2
QueueDequeueV2 QueueEnqueue QueueEnqueueMany QueueEnqueueManyV2 QueueEnqueueV2 QueueIsClosed QueueIsClosedV2
QueueSize QueueSizeV2 RFFT RFFT2D RFFT3D RGBToHSV RaggedBincount RaggedGather RaggedRange RaggedTensorFromVariant
RaggedTensorToSparse RaggedTensorToTensor RaggedTensorToVariant RaggedTensorToVariantGradient RandomGamma
RandomPoisson RandomPoissonV2 RandomShuffle RandomStandardNormal RandomUniform RandomUniformInt Range Rank ReadFile
ReadVariableOp Real RealDiv Reciprocal ReciprocalGrad Recv ReduceDataset ReduceJoin RefEnter RefExit RefIdentity
RefMerge RefNextIteration RefSelect RefSwitch RegexFullMatch RegexReplace Relu Relu6 Relu6Grad ReluGrad RemoteCall
RepeatDataset RequantizationRange Requantize Reshape ResizeBicubic ResizeBicubicGrad ResizeBilinear
ResizeBilinearGrad ResizeNearestNeighbor ResizeNearestNeighborGrad ResourceApplyAdaMax ResourceApplyAdadelta
ResourceApplyAdagrad ResourceApplyAdagradDA ResourceApplyAdagradV2 ResourceApplyAdam ResourceApplyAdamWithAmsgrad
ResourceApplyAddSign ResourceApplyCenteredRMSProp ResourceApplyFtrl ResourceApplyFtrlV2 ResourceApplyGradientDescent
ResourceApplyKerasMomentum ResourceApplyMomentum ResourceApplyPowerSign ResourceApplyProximalAdagrad
ResourceApplyProximalGradientDescent ResourceApplyRMSProp ResourceGather ResourceGatherNd ResourceScatterAdd
ResourceScatterDiv ResourceScatterMax ResourceScatterMin ResourceScatterMul ResourceScatterNdAdd
ResourceScatterNdMax ResourceScatterNdMin ResourceScatterNdSub ResourceScatterNdUpdate ResourceScatterSub
ResourceScatterUpdate ResourceSparseApplyAdadelta ResourceSparseApplyAdagrad ResourceSparseApplyAdagradDA
ResourceSparseApplyAdagradV2 ResourceSparseApplyCenteredRMSProp ResourceSparseApplyFtrl ResourceSparseApplyFtrlV2
ResourceSparseApplyKerasMomentum ResourceSparseApplyMomentum ResourceSparseApplyProximalAdagrad
ResourceSparseApplyProximalGradientDescent ResourceSparseApplyRMSProp ResourceStridedSliceAssign Restore
RestoreSlice RestoreV2 Reverse ReverseSequence ReverseV2 RightShift Roll Round Rsqrt RsqrtGrad
SampleDistortedBoundingBox SampleDistortedBoundingBoxV2 Save SaveSlices SaveV2 ScalarSummary ScatterNd ScatterNdAdd
ScatterNdMax ScatterNdMin ScatterNdNonAliasingAdd ScatterNdSub ScatterNdUpdate SegmentMax SegmentMean SegmentMin
SegmentProd SegmentSum Select SelectV2 Selu SeluGrad Send SerializeTensor Shape ShapeN ShardedFilename
ShardedFilespec Sigmoid SigmoidGrad Sign Sin Sinh Size Slice Softmax SoftmaxCrossEntropyWithLogits Softplus
SoftplusGrad Softsign SoftsignGrad SpaceToBatch SpaceToBatchND SpaceToDepth SparseAdd SparseApplyAdadelta
SparseApplyAdagrad SparseApplyAdagradDA SparseApplyAdagradV2 SparseApplyCenteredRMSProp SparseApplyFtrl
SparseApplyFtrlV2 SparseApplyMomentum SparseApplyProximalAdagrad SparseApplyProximalGradientDescent
SparseApplyRMSProp SparseBincount SparseCross SparseCrossHashed SparseCrossV2 SparseFillEmptyRows
SparseFillEmptyRowsGrad SparseReduceSum SparseReorder SparseReshape SparseSegmentMean SparseSegmentMeanGrad
SparseSegmentMeanWithNumSegments SparseSegmentSqrtN SparseSegmentSqrtNGrad SparseSegmentSqrtNWithNumSegments
SparseSegmentSum SparseSegmentSumGrad SparseSegmentSumWithNumSegments SparseSlice
SparseSoftmaxCrossEntropyWithLogits SparseTensorDenseMatMul SparseToDense SparseToSparseSetOperation Split SplitV
Sqrt SqrtGrad Square SquaredDifference Squeeze Stack StackClose StackCloseV2 StackPop StackPopV2 StackPush
StackPushV2 StackV2 StatelessMultinomial StatelessRandomGammaV2 StatelessRandomGammaV3 StatelessRandomGetAlg
StatelessRandomGetKeyCounter StatelessRandomGetKeyCounterAlg StatelessRandomNormal StatelessRandomNormalV2
StatelessRandomPoisson StatelessRandomUniform StatelessRandomUniformFullInt StatelessRandomUniformFullIntV2
StatelessRandomUniformInt StatelessRandomUniformIntV2 StatelessRandomUniformV2 StatelessSampleDistortedBoundingBox
StatelessTruncatedNormal StatelessTruncatedNormalV2 StaticRegexFullMatch StaticRegexReplace StopGradient
StridedSlice StridedSliceAssign StridedSliceGrad StringFormat StringJoin StringLength StringLower StringSplit
StringSplitV2 StringStrip StringToHashBucket StringToHashBucketFast StringToHashBucketStrong StringToNumber Sub
Substr Sum Switch SymbolicGradient TakeDataset TakeWhileDataset Tan Tanh TanhGrad TemporaryVariable TensorArray
TensorArrayClose TensorArrayCloseV2 TensorArrayCloseV3 TensorArrayConcat TensorArrayConcatV2 TensorArrayConcatV3
TensorArrayGather TensorArrayGatherV2 TensorArrayGatherV3 TensorArrayGrad TensorArrayGradV2 TensorArrayGradV3
TensorArrayGradWithShape TensorArrayPack TensorArrayRead TensorArrayReadV2 TensorArrayReadV3 TensorArrayScatter
TensorArrayScatterV2 TensorArrayScatterV3 TensorArraySize TensorArraySizeV2 TensorArraySizeV3 TensorArraySplit
TensorArraySplitV2 TensorArraySplitV3 TensorArrayUnpack TensorArrayV2 TensorArrayV3 TensorArrayWrite
TensorArrayWriteV2 TensorArrayWriteV3 TensorListConcat TensorListConcatLists TensorListConcatV2
TensorListElementShape TensorListFromTensor TensorListGather TensorListGetItem TensorListLength TensorListPopBack
TensorListPushBack TensorListPushBackBatch TensorListReserve TensorListResize TensorListScatter
TensorListScatterIntoExistingList TensorListScatterV2 TensorListSetItem TensorListSplit TensorListStack
TensorMapErase TensorMapHasKey TensorMapInsert TensorMapLookup TensorMapSize TensorMapStackKeys TensorScatterAdd
TensorScatterMax TensorScatterMin TensorScatterSub TensorScatterUpdate TensorSliceDataset TensorStridedSliceUpdate
Tile TileGrad Timestamp TopK TopKV2 Transpose TruncateDiv TruncatedNormal UnicodeDecode UnicodeDecodeWithOffsets
UnicodeEncode UnicodeTranscode Unique UniqueV2 UniqueWithCounts UniqueWithCountsV2 Unpack UnsortedSegmentJoin
UnsortedSegmentMax UnsortedSegmentMin UnsortedSegmentProd UnsortedSegmentSum UnwrapDatasetVariant UpperBound
VarHandleOp VarIsInitializedOp Variable VariableShape VariableV2 Where WrapDatasetVariant WriteFile Xdivy Xlog1py
Xlogy ZerosLike _Arg _ArrayToList _DeviceArg _DeviceRetval _FusedConv2D _HostCast _HostRecv _HostSend _ListToArray
_ParallelConcatStart _ParallelConcatUpdate _ReadVariablesOp _Recv _Retval _Send _SwitchN _VarHandlesOp
""".split())

# Also allowed by the delegate when the TensorFlow Text / SentencePiece op libraries are loaded (they are, if the
# model uses these ops at all: TensorFlow could not have loaded the graph otherwise).
FLEX_TEXT_ALLOWLIST: frozenset[str] = frozenset("""
CaseFoldUTF8 ConstrainedSequence MaxSpanningTree NormalizeUTF8 NormalizeUTF8WithOffsetsMap RegexSplitWithOffsets RougeL
SentenceFragments SentencepieceOp SentencepieceTokenizeOp SentencepieceTokenizeWithOffsetsOp SentencepieceDetokenizeOp
SentencepieceVocabSizeOp SplitMergeTokenizeWithOffsets TFText>NgramsStringJoin TFText>WhitespaceTokenizeWithOffsetsV2
TokenizerFromLogits UnicodeScriptTokenizeWithOffsets WhitespaceTokenizeWithOffsets WordpieceTokenizeWithOffsets
SentencepieceGetPieceSize SentencepiecePieceToId SentencepieceIdToPiece SentencepieceEncodeDense
SentencepieceEncodeSparse SentencepieceDecode
""".split())

# Ops that no op set can carry: their behaviour is not in the graph (Python callbacks).
NEVER_CONVERTIBLE: dict[str, str] = {
    "EagerPyFunc": "tf.py_function runs Python code, which is not part of the graph",
    "PyFunc": "tf.numpy_function / tf.py_func runs Python code, which is not part of the graph",
    "PyFuncStateless": "tf.numpy_function runs Python code, which is not part of the graph",
}


def is_flex_allowed(op_type: str) -> bool:
    return op_type in FLEX_ALLOWLIST or op_type in FLEX_TEXT_ALLOWLIST


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
