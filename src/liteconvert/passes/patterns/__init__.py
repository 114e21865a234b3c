"""Pattern passes: what TensorFlow spells as several small ops, rewritten into the one LiteRT builtin. Every
pattern is an explicit op pattern whose constants are checked; nothing is identified by evaluating it on sample
points. One family per file:

- ``match.py``: what they share: the one rewrite loop (:func:`~.match.rewrite`: ops from last to first, a matcher
  returns the ops to remove and to insert), single-reader and constant checks, and the algebra that puts an
  element-wise region in canonical polynomial form so that every spelling of a function compares equal.
- ``activations.py``: ``fuse_clips`` (MAXIMUM/MINIMUM with scalar constants and RELU-family chains clamping to
  [0, inf), [0, 6], [-1, 1], [0, 1]: RELU, RELU6, RELU_N1_TO_1, RELU_0_TO_1) and ``fuse_activation_functions``
  (GELU in its erf, erfc and tanh forms, HARD_SWISH as x*relu6(x+3)/6 or x*relu_0_to_1(x/6+0.5), PRELU and
  LEAKY_RELU as relu(x) - alpha*relu(-x) and its equivalents, or max(x, alpha*x)).
- ``resize.py``: ``fuse_repeat_to_resize`` (Keras 3 UpSampling2D(nearest), a repeat on H then on W: RESHAPE,
  TILE, RESHAPE each) and ``merge_nearest_resizes``: one RESIZE_NEAREST_NEIGHBOR.
- ``conv.py``: ``fuse_dilated_conv``: SPACE_TO_BATCH_ND, convolution, BATCH_TO_SPACE_ND (with reshapes around a
  1-D convolution): one CONV_2D / DEPTHWISE_CONV_2D with dilation.
- ``dense.py``: ``fuse_tensordot``: Dense on a rank > 2 input (reshape, matmul, reshape with run-time shapes): one
  FULLY_CONNECTED with ``keep_num_dims``.
- ``channels.py``: ``hoist_through_reshape`` and ``distribute_over_concat``: a per-channel bias, scale or
  activation after the reshape of a 1-D convolution, or after the concatenation of a grouped convolution, moves
  up to the convolutions, where ``fuse_bias`` / ``fold_mul_into_weights`` / ``fuse_activation`` take it.
"""

from . import activations, channels, conv, dense, resize  # noqa: F401  (registering)
