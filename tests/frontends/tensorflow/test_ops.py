"""Per-op float coverage: a table of small cases, each converted by liteconvert, run in LiteRT and compared.

Every case is one small Keras model (Keras 3 layers with random, non-degenerate weights: BatchNormalization
moving statistics, gamma and beta included) or one ``tf.function``. Each converts once, runs through
``get_signature_runner`` at batch 1 and 4 on the same flatbuffer (the batch dimension stays dynamic), and must
match the source within ``1e-5 * max(1, max|reference|)``. Where the graph shape matters, the case also states
the op histogram it must produce and the fused activation of its ops. A case that is not supported yet is in
the table with the error it must raise, never skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from conftest import assert_close, op_histogram

import liteconvert
from liteconvert.errors import UnsupportedOpsError
from liteconvert.verify import random_inputs, run_tflite, signature_specs

BATCHES = (1, 4)


@dataclass
class Case:
    id: str
    build: Callable[[Any, Any], Any]  # (tf, keras) -> a Keras model, or a tf.function with an input_signature
    ops: dict[str, int] | None = None  # the exact op histogram
    fused: dict[str, str] = field(default_factory=dict)  # op kind -> fused activation on every op of that kind
    absent: tuple[str, ...] = ()  # op kinds that must not appear
    counts: dict[str, int] = field(default_factory=dict)  # op kinds that must appear exactly so often
    xla_reference: bool = False  # run the source with XLA (TensorFlow's CPU kernels lack some ops)
    raises: type[Exception] | None = None  # not supported yet: the error the conversion must raise
    match: str = ""  # ... and a regex its message must match


# -- model builders ---------------------------------------------------------------------------------------------

def randomize(model: Any, seed: int) -> Any:
    """Give every weight a random, non-degenerate value (BatchNorm variances and gammas positive)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        path = getattr(w, "path", w.name)
        shape = tuple(w.shape)
        if "variance" in path:
            value = rng.uniform(0.5, 2.0, shape)
        elif "gamma" in path:
            value = rng.uniform(0.5, 1.5, shape)
        else:
            value = rng.normal(0.0, 0.5, shape)
        w.assign(value.astype("float32"))
    return model


def seq(*shape: int | None, seed: int = 0) -> Callable[..., Callable[[Any, Any], Any]]:
    """``seq(6, 6, 3)(lambda nn: [nn.Conv2D(4, 3), ...])``: a functional model over Input(shape), batch dynamic."""

    def with_layers(layers: Callable[[Any], list[Any]]) -> Callable[[Any, Any], Any]:
        def build(tf: Any, keras: Any) -> Any:
            inp = keras.Input(shape)
            x = inp
            for layer in layers(keras.layers):
                x = layer(x)
            return randomize(keras.Model(inp, x), seed)

        return build

    return with_layers


def fn(*shapes: tuple[int | None, ...]) -> Callable[..., Callable[[Any, Any], Any]]:
    """``fn((None, 4, 3), (None, 1, 3))(lambda tf, x, y: ...)``: a tf.function with inputs x0, x1, ..."""

    def with_body(body: Callable[..., Any]) -> Callable[[Any, Any], Any]:
        def build(tf: Any, keras: Any) -> Any:
            specs = [tf.TensorSpec(s, tf.float32, name=f"x{i}") for i, s in enumerate(shapes)]
            return tf.function(lambda *args: body(tf, *args), input_signature=specs, autograph=False)

        return build

    return with_body


def two_inputs(shape_a: tuple[int, ...], shape_b: tuple[int, ...], merge: Callable[[Any], Any]):
    """A Keras model merging two inputs with a merge layer (broadcasting where the shapes differ)."""

    def build(tf: Any, keras: Any) -> Any:
        a, b = keras.Input(shape_a, name="a"), keras.Input(shape_b, name="b")
        return keras.Model([a, b], merge(keras.layers)([a, b]))

    return build


def mlp_block(tf: Any, keras: Any) -> Any:
    """A transformer MLP block on a [batch, tokens, features] input."""
    inp = keras.Input((5, 8))
    x = keras.layers.LayerNormalization()(inp)
    x = keras.layers.Dense(16, activation="gelu")(x)
    x = keras.layers.Dropout(0.1)(x)
    x = keras.layers.Dense(8)(x)
    return randomize(keras.Model(inp, keras.layers.Add()([inp, x])), 3)


def gelu_tanh_model(tf: Any, keras: Any) -> Any:
    inp = keras.Input((4, 3))
    return keras.Model(inp, keras.layers.Lambda(lambda x: keras.activations.gelu(x, approximate=True))(inp))


CASES: list[Case] = [
    # -- Dense / MatMul ------------------------------------------------------------------------------------------
    Case("dense_relu", seq(8)(lambda nn: [nn.Dense(5, activation="relu")]), {"FULLY_CONNECTED": 1},
         fused={"FULLY_CONNECTED": "RELU"}),
    Case("dense_no_bias", seq(8)(lambda nn: [nn.Dense(5, use_bias=False)]), {"FULLY_CONNECTED": 1}),
    Case("dense_relu6", seq(8)(lambda nn: [nn.Dense(5), nn.ReLU(6.0)]), {"FULLY_CONNECTED": 1},
         fused={"FULLY_CONNECTED": "RELU6"}),
    Case("dense_tanh_not_fused", seq(8)(lambda nn: [nn.Dense(5, activation="tanh")]),
         {"FULLY_CONNECTED": 1, "TANH": 1}, fused={"FULLY_CONNECTED": "NONE"}),
    Case("dense_sigmoid", seq(8)(lambda nn: [nn.Dense(5, activation="sigmoid")]),
         {"FULLY_CONNECTED": 1, "LOGISTIC": 1}),
    Case("dense_3d", seq(4, 6)(lambda nn: [nn.Dense(3, activation="relu")]), {"FULLY_CONNECTED": 1},
         fused={"FULLY_CONNECTED": "RELU"}),
    Case("dense_variable_length", seq(None, 8)(lambda nn: [nn.Dense(6, activation="relu6")]),
         {"FULLY_CONNECTED": 1}, fused={"FULLY_CONNECTED": "RELU6"}),
    Case("transformer_mlp_block", mlp_block, counts={"FULLY_CONNECTED": 2, "GELU": 1},
         absent=("SHAPE", "GATHER", "RESHAPE", "ERF", "ERFC")),
    Case("matmul_two_operands", fn((None, 3, 4), (None, 4, 5))(lambda tf, a, b: tf.matmul(a, b)),
         {"BATCH_MATMUL": 1}),
    Case("matmul_const_transposed", fn((None, 6))(
        lambda tf, x: tf.matmul(x, tf.constant(np.random.default_rng(1).normal(size=(5, 6)), tf.float32),
                                transpose_b=True)), {"FULLY_CONNECTED": 1}),
    # -- Conv2D: strides, dilations, SAME/VALID, groups ----------------------------------------------------------
    Case("conv2d_bias_relu6", seq(8, 8, 3)(lambda nn: [nn.Conv2D(4, 3, activation="relu6")]), {"CONV_2D": 1},
         fused={"CONV_2D": "RELU6"}),
    Case("conv2d_same_stride2", seq(7, 7, 3)(lambda nn: [nn.Conv2D(4, 3, strides=2, padding="same")]),
         {"CONV_2D": 1}),
    Case("conv2d_valid_stride21", seq(9, 8, 2)(lambda nn: [nn.Conv2D(3, (3, 2), strides=(2, 1))]), {"CONV_2D": 1}),
    Case("conv2d_dilated_same", seq(9, 9, 3)(lambda nn: [nn.Conv2D(4, 3, dilation_rate=2, padding="same",
                                                                  activation="relu")]),
         {"CONV_2D": 1}, fused={"CONV_2D": "RELU"}),
    Case("conv2d_dilated_valid", seq(9, 10, 3)(lambda nn: [nn.Conv2D(4, 3, dilation_rate=(2, 3))]), {"CONV_2D": 1}),
    Case("conv2d_dilated_dynamic_hw", seq(None, None, 3)(lambda nn: [nn.Conv2D(4, 3, dilation_rate=2,
                                                                               padding="same")]),
         {"CONV_2D": 1}),
    Case("depthwise_dilated_dynamic_hw", seq(None, None, 3)(lambda nn: [nn.DepthwiseConv2D(3, dilation_rate=2,
                                                                                           padding="same")]),
         {"DEPTHWISE_CONV_2D": 1}),
    Case("conv2d_groups", seq(6, 6, 4)(lambda nn: [nn.Conv2D(6, 3, groups=2, padding="same", activation="relu")]),
         {"SPLIT": 1, "CONV_2D": 2, "CONCATENATION": 1}, fused={"CONV_2D": "RELU"}),
    Case("conv2d_groups_equal_channels", seq(6, 6, 4)(lambda nn: [nn.Conv2D(8, 3, groups=4, padding="same"),
                                                                  nn.BatchNormalization()]),
         {"DEPTHWISE_CONV_2D": 1}),
    Case("conv2d_groups_batchnorm_relu6", seq(6, 6, 6)(lambda nn: [nn.Conv2D(6, 3, groups=3, use_bias=False),
                                                                   nn.BatchNormalization(), nn.ReLU(6.0)]),
         {"SPLIT": 1, "CONV_2D": 3, "CONCATENATION": 1}, fused={"CONV_2D": "RELU6"}),
    Case("conv1d_same_stride2", seq(11, 3)(lambda nn: [nn.Conv1D(4, 3, strides=2, padding="same")]),
         {"CONV_2D": 1, "RESHAPE": 2}),
    Case("conv1d_dilated_causal", seq(12, 3)(lambda nn: [nn.Conv1D(4, 3, dilation_rate=2, padding="causal",
                                                                 activation="relu")]),
         absent=("SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND")),
    Case("conv1d_groups", seq(9, 4)(lambda nn: [nn.Conv1D(6, 3, groups=2)]),
         {"RESHAPE": 2, "SPLIT": 1, "CONV_2D": 2, "CONCATENATION": 1}),
    Case("separable_conv1d", seq(9, 3)(lambda nn: [nn.SeparableConv1D(4, 3, padding="same", activation="relu")]),
         {"RESHAPE": 2, "DEPTHWISE_CONV_2D": 1, "CONV_2D": 1}, fused={"CONV_2D": "RELU"}),
    Case("conv1d_batchnorm_relu", seq(10, 3)(lambda nn: [nn.Conv1D(4, 3), nn.BatchNormalization(), nn.ReLU()]),
         {"CONV_2D": 1, "RESHAPE": 2}, fused={"CONV_2D": "RELU"}),
    Case("conv1d_dilated_same", seq(12, 3)(lambda nn: [nn.Conv1D(4, 3, dilation_rate=2, padding="same")]),
         absent=("SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND")),
    Case("conv2d_5x5_dilated_3_same", seq(12, 12, 2)(lambda nn: [nn.Conv2D(3, 5, dilation_rate=3, padding="same")]),
         {"CONV_2D": 1}),
    Case("space_to_batch_conv_explicit_padding", fn((None, 9, 9, 2))(lambda tf, x: tf.batch_to_space(
        tf.nn.conv2d(tf.space_to_batch_nd(x, [2, 2], [[1, 2], [2, 1]]),
                     tf.constant(np.random.default_rng(5).normal(size=(3, 3, 2, 3)), tf.float32), 1, "VALID"),
        [2, 2], [[0, 1], [1, 0]])), {"PAD": 1, "CONV_2D": 1}),
    Case("tf_conv2d_dilations_attr", fn((None, 9, 9, 2))(
        lambda tf, x: tf.nn.conv2d(x, tf.constant(np.random.default_rng(4).normal(size=(3, 3, 2, 3)), tf.float32),
                                   strides=1, padding="SAME", dilations=2)), {"CONV_2D": 1}),
    Case("conv2d_explicit_padding", fn((None, 6, 6, 2))(
        lambda tf, x: tf.nn.conv2d(x, tf.constant(np.random.default_rng(2).normal(size=(3, 3, 2, 3)), tf.float32),
                                   strides=1, padding=[[0, 0], [1, 2], [0, 1], [0, 0]])),
         {"PAD": 1, "CONV_2D": 1}),
    # -- DepthwiseConv2D / SeparableConv2D / Conv2DTranspose ------------------------------------------------------
    Case("depthwise_relu", seq(8, 8, 3)(lambda nn: [nn.DepthwiseConv2D(3, depth_multiplier=2, activation="relu")]),
         {"DEPTHWISE_CONV_2D": 1}, fused={"DEPTHWISE_CONV_2D": "RELU"}),
    Case("depthwise_same_stride2", seq(7, 7, 4)(lambda nn: [nn.DepthwiseConv2D(3, strides=2, padding="same")]),
         {"DEPTHWISE_CONV_2D": 1}),
    Case("depthwise_conv1d", seq(9, 3)(lambda nn: [nn.DepthwiseConv1D(3, depth_multiplier=2)]),
         {"RESHAPE": 2, "DEPTHWISE_CONV_2D": 1}),
    Case("pad_depthwise_stride2_batchnorm", seq(8, 8, 3)(lambda nn: [nn.ZeroPadding2D(1),
                                                                     nn.DepthwiseConv2D(3, strides=2),
                                                                     nn.BatchNormalization()]),
         {"PAD": 1, "DEPTHWISE_CONV_2D": 1}),
    Case("depthwise_dilated", seq(9, 9, 3)(lambda nn: [nn.DepthwiseConv2D(3, dilation_rate=2, padding="same")]),
         {"DEPTHWISE_CONV_2D": 1}),
    Case("separable_relu6", seq(8, 8, 3)(lambda nn: [nn.SeparableConv2D(5, 3, padding="same", activation="relu6")]),
         {"DEPTHWISE_CONV_2D": 1, "CONV_2D": 1}, fused={"CONV_2D": "RELU6", "DEPTHWISE_CONV_2D": "NONE"}),
    Case("conv2d_transpose_same", seq(5, 5, 3)(lambda nn: [nn.Conv2DTranspose(4, 3, strides=2, padding="same")]),
         absent=("ADD",)),
    Case("conv2d_transpose_output_padding", seq(4, 5, 3)(lambda nn: [nn.Conv2DTranspose(2, 3, strides=2,
                                                                                       output_padding=1)]),
         counts={"TRANSPOSE_CONV": 1}, absent=("ADD",)),
    Case("conv2d_transpose_dynamic_hw", seq(None, None, 3)(lambda nn: [nn.Conv2DTranspose(2, 3, strides=2,
                                                                                          padding="same")]),
         counts={"TRANSPOSE_CONV": 1}, absent=("ADD",)),
    Case("conv2d_transpose_batchnorm", seq(4, 4, 3)(lambda nn: [nn.Conv2DTranspose(4, 3, strides=2, padding="same"),
                                                                 nn.BatchNormalization()]),
         absent=("ADD", "MUL")),
    Case("conv2d_transpose_dilated", seq(5, 5, 3)(lambda nn: [nn.Conv2DTranspose(4, 3, dilation_rate=2)]),
         counts={"TRANSPOSE_CONV": 1}, absent=("ADD",), xla_reference=True),
    Case("conv2d_transpose_dilated_same", seq(5, 6, 3)(lambda nn: [nn.Conv2DTranspose(4, 3, dilation_rate=(2, 3),
                                                                                      padding="same")]),
         counts={"TRANSPOSE_CONV": 1}, absent=("ADD",), xla_reference=True),
    Case("conv2d_transpose_valid_relu", seq(4, 5, 2)(lambda nn: [nn.Conv2DTranspose(3, (3, 2), strides=(2, 1),
                                                                                  activation="relu")]),
         absent=("ADD", "RELU")),
    # -- BatchNormalization, folded into the preceding weights -----------------------------------------------------
    Case("conv2d_batchnorm", seq(8, 8, 3)(lambda nn: [nn.Conv2D(4, 3, use_bias=False), nn.BatchNormalization()]),
         {"CONV_2D": 1}),
    Case("conv2d_bias_batchnorm_relu", seq(8, 8, 3)(lambda nn: [nn.Conv2D(4, 3), nn.BatchNormalization(), nn.ReLU()]),
         {"CONV_2D": 1}, fused={"CONV_2D": "RELU"}),
    Case("depthwise_batchnorm_relu6", seq(8, 8, 3)(lambda nn: [nn.DepthwiseConv2D(3, use_bias=False),
                                                              nn.BatchNormalization(), nn.ReLU(6.0)]),
         {"DEPTHWISE_CONV_2D": 1}, fused={"DEPTHWISE_CONV_2D": "RELU6"}),
    Case("dense_3d_batchnorm", seq(4, 6)(lambda nn: [nn.Dense(5), nn.BatchNormalization()]),
         {"FULLY_CONNECTED": 1}),
    Case("dense_batchnorm", seq(8)(lambda nn: [nn.Dense(6), nn.BatchNormalization()]), {"FULLY_CONNECTED": 1}),
    Case("batchnorm_alone", seq(5, 5, 3)(lambda nn: [nn.BatchNormalization()]), {"MUL": 1, "ADD": 1}),
    # -- pooling ---------------------------------------------------------------------------------------------------
    Case("maxpool2d", seq(8, 8, 3)(lambda nn: [nn.MaxPooling2D(2)]), {"MAX_POOL_2D": 1}),
    Case("maxpool2d_same", seq(7, 7, 3)(lambda nn: [nn.MaxPooling2D(3, strides=2, padding="same")]),
         {"MAX_POOL_2D": 1}),
    Case("avgpool2d_same", seq(7, 7, 3)(lambda nn: [nn.AveragePooling2D(3, strides=2, padding="same")]),
         {"AVERAGE_POOL_2D": 1}),
    Case("conv2d_relu_maxpool", seq(8, 8, 3)(lambda nn: [nn.Conv2D(4, 3, activation="relu"), nn.MaxPooling2D()]),
         {"CONV_2D": 1, "MAX_POOL_2D": 1}, fused={"CONV_2D": "RELU"}),
    Case("maxpool2d_relu", seq(8, 8, 3)(lambda nn: [nn.MaxPooling2D(2), nn.ReLU()]), {"MAX_POOL_2D": 1},
         fused={"MAX_POOL_2D": "RELU"}),
    Case("maxpool1d", seq(10, 3)(lambda nn: [nn.MaxPooling1D(2)]), {"MAX_POOL_2D": 1, "RESHAPE": 2}),
    Case("avgpool1d_same", seq(9, 3)(lambda nn: [nn.AveragePooling1D(3, strides=2, padding="same")]),
         {"AVERAGE_POOL_2D": 1, "RESHAPE": 2}),
    Case("global_maxpool1d", seq(7, 3)(lambda nn: [nn.GlobalMaxPooling1D()]), {"REDUCE_MAX": 1}),
    Case("global_avgpool2d", seq(5, 6, 3)(lambda nn: [nn.GlobalAveragePooling2D()]), {"MEAN": 1}),
    Case("global_maxpool2d", seq(5, 6, 3)(lambda nn: [nn.GlobalMaxPooling2D()]), {"REDUCE_MAX": 1}),
    Case("global_avgpool1d_keepdims", seq(7, 3)(lambda nn: [nn.GlobalAveragePooling1D(keepdims=True)]),
         {"MEAN": 1}),
    # -- padding, reshapes, concatenation --------------------------------------------------------------------------
    Case("zero_padding2d", seq(5, 5, 2)(lambda nn: [nn.ZeroPadding2D(((1, 2), (0, 1)))]), {"PAD": 1}),
    Case("pad_constant_value", fn((None, 4, 3))(lambda tf, x: tf.pad(x, [[0, 0], [1, 1], [2, 0]],
                                                                       constant_values=1.5)), {"PADV2": 1}),
    Case("pad_reflect", fn((None, 4, 5, 2))(lambda tf, x: tf.pad(x, [[0, 0], [1, 2], [2, 1], [0, 0]],
                                                                   mode="REFLECT")), {"MIRROR_PAD": 1}),
    Case("flatten_dense", seq(3, 4, 2)(lambda nn: [nn.Flatten(), nn.Dense(5)]), counts={"FULLY_CONNECTED": 1}),
    Case("reshape", seq(6, 4)(lambda nn: [nn.Reshape((3, 8)), nn.Reshape((24,))]), {"RESHAPE": 1}),
    Case("cropping2d", seq(6, 6, 2)(lambda nn: [nn.Cropping2D(((1, 2), (0, 1)))])),
    Case("permute", seq(3, 4, 2)(lambda nn: [nn.Permute((2, 1, 3))]), {"TRANSPOSE": 1}),
    Case("concatenate", two_inputs((4, 4, 3), (4, 4, 2), lambda nn: nn.Concatenate()), {"CONCATENATION": 1}),
    Case("concatenate_axis1", two_inputs((3, 5), (2, 5), lambda nn: nn.Concatenate(axis=1)), {"CONCATENATION": 1}),
    # -- element-wise binary ops with broadcasting -------------------------------------------------------------------
    Case("add_broadcast", fn((None, 4, 1, 3), (None, 1, 5, 3))(lambda tf, a, b: a + b), {"ADD": 1}),
    Case("sub_broadcast", fn((None, 4, 5, 3), (None, 1, 1, 3))(lambda tf, a, b: a - b), {"SUB": 1}),
    Case("mul_broadcast", fn((None, 4, 1), (None, 1, 6))(lambda tf, a, b: a * b), {"MUL": 1}),
    Case("div_broadcast", fn((None, 4, 3), (None, 1, 3))(lambda tf, a, b: a / (tf.abs(b) + 0.5)),
         {"ABS": 1, "ADD": 1, "DIV": 1}),
    Case("maximum_broadcast", fn((None, 4, 3), (None, 4, 1))(lambda tf, a, b: tf.maximum(a, b)), {"MAXIMUM": 1}),
    Case("minimum_broadcast", fn((None, 2, 4, 3), (None, 3))(lambda tf, a, b: tf.minimum(a, b[:, None, None])),
         absent=("GATHER",)),
    Case("binary_with_constants", fn((None, 4, 3))(
        lambda tf, x: tf.minimum(tf.maximum((x - [0.5, 1.0, -1.0]) / [2.0, 4.0, 0.5] * 3.0, -1.5), [2.0, 1.0, 0.5])),
         absent=("DIV",)),
    Case("add_relu", two_inputs((4, 4, 3), (4, 4, 3), lambda nn: lambda xs: nn.ReLU()(nn.Add()(xs))), {"ADD": 1},
         fused={"ADD": "RELU"}),
    Case("keras_merge_layers", two_inputs((4, 3), (4, 3), lambda nn: lambda xs: nn.Maximum()([
        nn.Add()(xs), nn.Subtract()(xs), nn.Minimum()([nn.Multiply()(xs), nn.Average()(xs)])])),
         # Add and Average compute the same a + b: eliminate_common_subexpressions keeps one ADD
         {"ADD": 1, "SUB": 1, "MUL": 2, "MINIMUM": 1, "MAXIMUM": 2}),
    # -- reductions --------------------------------------------------------------------------------------------------
    Case("reduce_mean", fn((None, 4, 5))(lambda tf, x: tf.reduce_mean(x, axis=1)), {"MEAN": 1}),
    Case("reduce_sum_keepdims", fn((None, 4, 5, 2))(lambda tf, x: tf.reduce_sum(x, axis=[1, 2], keepdims=True)),
         {"SUM": 1}),
    Case("reduce_mean_keepdims_spatial", fn((None, 4, 5, 3))(
        lambda tf, x: x * tf.sigmoid(tf.reduce_mean(x, axis=[1, 2], keepdims=True))),
         {"MEAN": 1, "LOGISTIC": 1, "MUL": 1}),
    Case("reduce_min_prod", fn((None, 4, 3))(lambda tf, x: tf.reduce_min(x, axis=1) + tf.reduce_prod(x, axis=1)),
         {"REDUCE_MIN": 1, "REDUCE_PROD": 1, "ADD": 1}),
    Case("reduce_max_last", fn((None, 4, 5))(lambda tf, x: tf.reduce_max(x, axis=-1)), {"REDUCE_MAX": 1}),
    # -- softmax and activations -------------------------------------------------------------------------------------
    Case("softmax", seq(7)(lambda nn: [nn.Softmax()]), {"SOFTMAX": 1}),
    Case("softmax_4d", seq(3, 4, 5)(lambda nn: [nn.Softmax()]), {"SOFTMAX": 1}),
    Case("softmax_axis1", seq(5, 3)(lambda nn: [nn.Softmax(axis=1)])),
    Case("dense_softmax", seq(8)(lambda nn: [nn.Dense(4, activation="softmax")]),
         {"FULLY_CONNECTED": 1, "SOFTMAX": 1}),
    Case("relu", seq(4, 3)(lambda nn: [nn.Activation("relu")]), {"RELU": 1}),
    Case("relu6", seq(4, 3)(lambda nn: [nn.ReLU(6.0)]), {"RELU6": 1}),
    Case("clip_0_6", fn((None, 6))(lambda tf, x: tf.clip_by_value(x, 0.0, 6.0)), {"RELU6": 1}),
    Case("clip_n1_1", fn((None, 6))(lambda tf, x: tf.minimum(tf.maximum(x, -1.0), 1.0)), {"RELU_N1_TO_1": 1}),
    Case("clip_0_1", fn((None, 6))(lambda tf, x: tf.clip_by_value(x, 0.0, 1.0)), {"RELU_0_TO_1": 1}),
    Case("dense_clip_n1_1", fn((None, 6))(lambda tf, x: tf.clip_by_value(
        tf.matmul(x, tf.constant(np.random.default_rng(3).normal(size=(6, 4)), tf.float32)), -1.0, 1.0)),
         {"FULLY_CONNECTED": 1}, fused={"FULLY_CONNECTED": "RELU_N1_TO_1"}),
    Case("relu_max_value_1", seq(4, 3)(lambda nn: [nn.ReLU(max_value=1.0)])),
    Case("relu_threshold_slope", seq(4, 3)(lambda nn: [nn.ReLU(max_value=3.0, negative_slope=0.1, threshold=0.5)])),
    Case("leaky_relu", seq(4, 3)(lambda nn: [nn.LeakyReLU(negative_slope=0.3)]), {"LEAKY_RELU": 1}),
    Case("prelu", seq(4, 5, 3)(lambda nn: [nn.PReLU()]), {"PRELU": 1}),
    Case("prelu_shared_axes", seq(4, 5, 3)(lambda nn: [nn.PReLU(shared_axes=[1, 2])]), {"PRELU": 1}),
    Case("conv2d_prelu", seq(6, 6, 3)(lambda nn: [nn.Conv2D(4, 3), nn.PReLU(shared_axes=[1, 2])]),
         {"CONV_2D": 1, "PRELU": 1}),
    Case("elu", seq(4, 3)(lambda nn: [nn.ELU()]), {"ELU": 1}),
    Case("elu_alpha", seq(4, 3)(lambda nn: [nn.ELU(alpha=0.5)])),
    Case("sigmoid", seq(4, 3)(lambda nn: [nn.Activation("sigmoid")]), {"LOGISTIC": 1}),
    Case("tanh", seq(4, 3)(lambda nn: [nn.Activation("tanh")]), {"TANH": 1}),
    Case("swish", seq(4, 3)(lambda nn: [nn.Activation("swish")]), {"LOGISTIC": 1, "MUL": 1}),
    Case("hard_swish", seq(4, 3)(lambda nn: [nn.Activation("hard_swish")]), {"HARD_SWISH": 1}),
    Case("conv2d_hard_swish", seq(6, 6, 3)(lambda nn: [nn.Conv2D(4, 3), nn.Activation("hard_swish")]),
         {"CONV_2D": 1, "HARD_SWISH": 1}),
    Case("hard_swish_clip_form", fn((None, 6))(lambda tf, x: x * tf.clip_by_value(x / 6.0 + 0.5, 0.0, 1.0)),
         {"HARD_SWISH": 1}),
    Case("hard_sigmoid", seq(4, 3)(lambda nn: [nn.Activation("hard_sigmoid")]), absent=("DIV",)),
    Case("gelu_exact", seq(4, 3)(lambda nn: [nn.Activation("gelu")]), {"GELU": 1}),
    Case("gelu_tanh", gelu_tanh_model, {"GELU": 1}),
    Case("tf_gelu_exact", fn((None, 6))(lambda tf, x: tf.nn.gelu(x, approximate=False)), {"GELU": 1}),
    Case("tf_gelu_tanh", fn((None, 6))(lambda tf, x: tf.nn.gelu(x, approximate=True)), {"GELU": 1}),
    Case("conv2d_gelu", seq(6, 6, 3)(lambda nn: [nn.Conv2D(4, 3), nn.Activation("gelu")]), {"CONV_2D": 1, "GELU": 1}),
    Case("dense_gelu", seq(8)(lambda nn: [nn.Dense(6, activation="gelu")]), {"FULLY_CONNECTED": 1, "GELU": 1}),
    Case("gelu_of_sum", fn((None, 6), (None, 6))(lambda tf, a, b: tf.nn.gelu(a + b) + a),
         {"ADD": 2, "GELU": 1}),
    Case("leaky_relu_as_maximum", fn((None, 6))(lambda tf, x: tf.maximum(x, 0.1 * x)), {"LEAKY_RELU": 1}),
    Case("softplus", seq(4, 3)(lambda nn: [nn.Activation("softplus")])),
    Case("selu", seq(4, 3)(lambda nn: [nn.Activation("selu")])),
    Case("softsign", seq(4, 3)(lambda nn: [nn.Activation("softsign")])),
    Case("mish", seq(4, 3)(lambda nn: [nn.Activation("mish")])),
    Case("silu", seq(4, 3)(lambda nn: [nn.Activation("silu")]), {"LOGISTIC": 1, "MUL": 1}),
    Case("log_softmax", seq(5)(lambda nn: [nn.Activation("log_softmax")]), {"LOG_SOFTMAX": 1}),
    Case("dropout", seq(8)(lambda nn: [nn.Dense(6), nn.Dropout(0.5), nn.Dense(3)]), {"FULLY_CONNECTED": 2}),
    # -- resizing --------------------------------------------------------------------------------------------------
    Case("upsampling2d_nearest", seq(3, 4, 2)(lambda nn: [nn.UpSampling2D(2)]), {"RESIZE_NEAREST_NEIGHBOR": 1}),
    Case("upsampling2d_nearest_23", seq(3, 4, 2)(lambda nn: [nn.UpSampling2D((2, 3))]),
         {"RESIZE_NEAREST_NEIGHBOR": 1}),
    Case("conv2d_upsampling2d", seq(3, 3, 2)(lambda nn: [nn.Conv2D(3, 1, activation="relu"), nn.UpSampling2D(3)]),
         {"CONV_2D": 1, "RESIZE_NEAREST_NEIGHBOR": 1}),
    Case("upsampling2d_dynamic_hw", seq(None, None, 2)(lambda nn: [nn.UpSampling2D((2, 3))]),
         {"SHAPE": 1, "STRIDED_SLICE": 1, "MUL": 1, "RESIZE_NEAREST_NEIGHBOR": 1}),
    Case("upsampling1d", seq(3, 2)(lambda nn: [nn.UpSampling1D(2)])),
    Case("upsampling2d_bilinear", seq(3, 4, 2)(lambda nn: [nn.UpSampling2D(2, interpolation="bilinear")]),
         {"RESIZE_BILINEAR": 1}),
    Case("resize_bilinear", fn((None, 5, 4, 3))(lambda tf, x: tf.image.resize(x, (9, 7), method="bilinear")),
         {"RESIZE_BILINEAR": 1}),
    Case("resize_nearest", fn((None, 5, 4, 3))(lambda tf, x: tf.image.resize(x, (9, 7), method="nearest")),
         {"RESIZE_NEAREST_NEIGHBOR": 1}),
    Case("resize_bilinear_align_corners", fn((None, 5, 4, 3))(
        lambda tf, x: tf.compat.v1.image.resize_bilinear(x, (9, 7), align_corners=True)), {"RESIZE_BILINEAR": 1}),
    Case("resize_nearest_align_corners", fn((None, 5, 4, 3))(
        lambda tf, x: tf.compat.v1.image.resize_nearest_neighbor(x, (9, 7), align_corners=True)),
         {"RESIZE_NEAREST_NEIGHBOR": 1}),
    Case("keras_resizing_layer", seq(5, 4, 3)(lambda nn: [nn.Resizing(8, 6)]), {"RESIZE_BILINEAR": 1}),
    # -- not supported yet: listed with the error they raise ----------------------------------------------------------
    Case("erf_alone", fn((None, 6))(lambda tf, x: tf.math.erf(x)), raises=UnsupportedOpsError, match="ERF"),
    Case("erfc_alone", fn((None, 6))(lambda tf, x: tf.math.erfc(x)), raises=UnsupportedOpsError, match="ERFC"),
    Case("conv2d_channels_first", seq(3, 6, 6)(lambda nn: [nn.Conv2D(4, 3, data_format="channels_first")]),
         raises=UnsupportedOpsError, match="data_format NCHW"),
    Case("resize_area", fn((None, 6, 4, 3))(lambda tf, x: tf.image.resize(x, (3, 2), method="area")),
         raises=UnsupportedOpsError, match="ResizeArea"),
    Case("resize_bicubic", fn((None, 5, 4, 3))(lambda tf, x: tf.image.resize(x, (9, 7), method="bicubic")),
         raises=UnsupportedOpsError, match="ResizeBicubic"),
    Case("resize_bilinear_antialias", fn((None, 8, 8, 3))(
        lambda tf, x: tf.image.resize(x, (5, 5), method="bilinear", antialias=True)),
         raises=UnsupportedOpsError, match="ScaleAndTranslate"),
    Case("conv3d", seq(4, 4, 4, 2)(lambda nn: [nn.Conv3D(2, 3)]), raises=UnsupportedOpsError, match="Conv3D"),
]


# -- the harness -------------------------------------------------------------------------------------------------

def convert(source: Any, tf: Any) -> bytes:
    if isinstance(source, tf.types.experimental.GenericFunction):
        return liteconvert.TFLiteConverter.from_concrete_functions([source.get_concrete_function()]).convert()
    return liteconvert.TFLiteConverter.from_keras_model(source).convert()


def reference(source: Any, tf: Any, inputs: dict[str, np.ndarray], xla: bool = False) -> dict[str, np.ndarray]:
    if isinstance(source, tf.types.experimental.GenericFunction):
        out = source(*[inputs[f"x{i}"] for i in range(len(inputs))])
        return {f"output_{i}": np.asarray(o) for i, o in enumerate(tf.nest.flatten(out))}
    args = [inputs[t.name.split(":")[0]] for t in source.inputs]

    def call(*xs: Any) -> Any:
        return source(xs[0] if len(xs) == 1 else list(xs), training=False)

    out = (tf.function(call, jit_compile=True) if xla else call)(*args)
    return {n: np.asarray(o) for n, o in zip(source.output_names, tf.nest.flatten(out), strict=True)}


def fused_activations(data: bytes) -> dict[str, set[str]]:
    """``{op kind: {fused activation names}}`` of the ops that have a fused_activation_function option."""
    from ai_edge_litert import schema_py_generated as fb

    from liteconvert.tflite.schema import builtin_names

    acts = {v: k for k, v in vars(fb.ActivationFunctionType).items() if not k.startswith("_")}
    m = fb.ModelT.InitFromPackedBuf(data, 0)
    names = builtin_names()
    result: dict[str, set[str]] = {}
    for sg in m.subgraphs:
        for op in sg.operators or []:
            code = m.operatorCodes[op.opcodeIndex]
            kind = names[max(code.builtinCode, code.deprecatedBuiltinCode)]
            act = getattr(op.builtinOptions, "fusedActivationFunction", None)
            if act is not None:
                result.setdefault(kind, set()).add(acts[act])
    return result


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_op(case: Case, tf: Any, keras: Any) -> None:
    keras.utils.set_random_seed(0)
    source = case.build(tf, keras)
    if case.raises is not None:
        with pytest.raises(case.raises, match=case.match):
            convert(source, tf)
        return
    data = convert(source, tf)
    specs = signature_specs(data)
    for name, (shape, _) in specs.items():
        assert shape and shape[0] == -1, f"input {name}: batch dimension {shape} is not dynamic"
    for batch in BATCHES:
        inputs = random_inputs(specs, batch=batch, seed=batch)
        got = run_tflite(data, inputs)
        ref = reference(source, tf, inputs, case.xla_reference)
        assert set(got) == set(ref), f"outputs {sorted(got)} != reference outputs {sorted(ref)}"
        for name, r in ref.items():
            assert_close(got[name], r, what=f"batch {batch}, {name}")
    hist = op_histogram(data)
    if case.ops is not None:
        assert hist == case.ops
    for kind, n in case.counts.items():
        assert hist.get(kind, 0) == n, f"{kind}: {hist.get(kind, 0)} != {n} in {hist}"
    for kind in case.absent:
        assert kind not in hist, f"{kind} should have been fused or removed: {hist}"
    if case.fused:
        acts = fused_activations(data)
        for kind, act in case.fused.items():
            assert acts.get(kind) == {act}, f"{kind}: fused activations {acts.get(kind)} != {{{act}}}"
