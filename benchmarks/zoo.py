"""The keras.applications zoo, built offline (weights=None) with non-degenerate weights.

Shared by ``tests/frontends/tensorflow/test_zoo.py`` and ``benchmarks/bench.py``. Every architecture that the
installed Keras has is listed with the smallest input size it accepts (to keep runs fast) and whether it belongs
to the fast default test run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ZooEntry:
    name: str  # keras.applications attribute
    size: int  # input height = width (small, to keep runs fast)
    fast: bool = False  # in the default (CI) test run
    kwargs: tuple[tuple[str, object], ...] = ()
    # How BatchNorm statistics are drawn: "calibrated" (random around the statistics of random inputs) keeps the
    # output input-dependent; "random" (independent of the data) keeps the EfficientNets out of chaos.
    bn: str = "calibrated"
    # Whether the output varies with the input by far more than the error bound. At random weights the
    # EfficientNets and MobileNetV3s (with "random" statistics; "calibrated" ones make them chaotic: TF's own
    # eager and graph runs, and Google's converter's output, then differ from Keras by about the bound) and the
    # ConvNeXts barely depend on the input: their comparison still checks every op and constant, but not how the
    # input flows.
    sensitive: bool = True
    # Scale of the last BatchNorm of each residual branch (its gamma and beta), when not None. The deepest
    # EfficientNetV2s (over 60 residual blocks) are chaotic at random weights: float32 rounding differences grow
    # block after block, so TensorFlow's own eager and graph runs differ by 0.007 to 0.045. Shrinking each
    # residual branch (as SkipInit/Fixup initialisations do) keeps every block near the identity; then they agree
    # to 1e-8.
    residual_scale: float | None = None


# Minimum input sizes: most accept 32; the Inception family and Xception need 75/71.
ZOO: list[ZooEntry] = [
    ZooEntry("MobileNet", 32, fast=True),
    ZooEntry("MobileNetV2", 32, fast=True),
    ZooEntry("MobileNetV3Small", 32, fast=True, bn="random", sensitive=False),
    ZooEntry("MobileNetV3Large", 32, bn="random", sensitive=False),
    ZooEntry("ResNet50", 32, fast=True),
    ZooEntry("ResNet101", 32),
    ZooEntry("ResNet152", 32),
    ZooEntry("ResNet50V2", 32),
    ZooEntry("ResNet101V2", 32),
    ZooEntry("ResNet152V2", 32),
    ZooEntry("DenseNet121", 32),
    ZooEntry("DenseNet169", 32),
    ZooEntry("DenseNet201", 32),
    ZooEntry("EfficientNetB0", 32, fast=True, bn="random", sensitive=False),
    ZooEntry("EfficientNetB1", 32, bn="random", sensitive=False),
    ZooEntry("EfficientNetB2", 32, bn="random", sensitive=False),
    ZooEntry("EfficientNetB3", 32, bn="random", sensitive=False),
    ZooEntry("EfficientNetB4", 32, bn="random", sensitive=False),
    ZooEntry("EfficientNetB5", 32, bn="random", sensitive=False),
    ZooEntry("EfficientNetB6", 32, bn="random", sensitive=False),
    ZooEntry("EfficientNetB7", 32, bn="random", sensitive=False),
    ZooEntry("EfficientNetV2B0", 32, bn="random", sensitive=False),
    ZooEntry("EfficientNetV2B1", 32, bn="random", sensitive=False),
    ZooEntry("EfficientNetV2B2", 32, bn="random", sensitive=False),
    ZooEntry("EfficientNetV2B3", 32, bn="random", sensitive=False),
    ZooEntry("EfficientNetV2S", 32, sensitive=False, residual_scale=0.2),
    ZooEntry("EfficientNetV2M", 32, sensitive=False, residual_scale=0.2),
    ZooEntry("EfficientNetV2L", 32, sensitive=False, residual_scale=0.2),
    ZooEntry("InceptionV3", 75),
    ZooEntry("InceptionResNetV2", 75),
    ZooEntry("Xception", 71),
    ZooEntry("NASNetMobile", 32),
    ZooEntry("NASNetLarge", 32),
    ZooEntry("ConvNeXtTiny", 32, sensitive=False),
    ZooEntry("ConvNeXtSmall", 32, sensitive=False),
    ZooEntry("ConvNeXtBase", 32, sensitive=False),
    ZooEntry("ConvNeXtLarge", 32, sensitive=False),
    ZooEntry("ConvNeXtXLarge", 32, sensitive=False),
    ZooEntry("VGG16", 32),
    ZooEntry("VGG19", 32),
]

# The representative subset: one or two per family (what the issue lists), for quicker benchmark runs.
CORE = ["MobileNet", "MobileNetV2", "MobileNetV3Small", "MobileNetV3Large", "ResNet50", "ResNet50V2", "DenseNet121",
        "EfficientNetB0", "EfficientNetV2B0", "InceptionV3", "InceptionResNetV2", "Xception", "NASNetMobile",
        "ConvNeXtTiny", "VGG16"]


def available(keras) -> list[ZooEntry]:
    """The zoo entries the installed Keras has (RegNet and friends appear here when Keras adds them)."""
    return [e for e in ZOO if hasattr(keras.applications, e.name)]


def entry(name: str) -> ZooEntry:
    for e in ZOO:
        if e.name == name:
            return e
    raise KeyError(name)


def randomize_batchnorm(model, seed: int = 0, gamma: tuple[float, float] = (0.6, 1.4)) -> None:
    """Give every BatchNormalization random statistics and affine parameters, so outputs are not degenerate.

    The scale each BatchNorm applies, gamma / sqrt(variance), is drawn around 1: the activations of a deep
    network neither explode nor vanish, so float32 rounding stays small relative to them. Statistics calibrated
    on data (one training-mode pass) make deep random networks chaotic instead: TensorFlow's own eager and graph
    runs then differ by 0.3 on EfficientNetV2B3.
    """
    import keras

    rng = np.random.default_rng(seed)
    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            new = []
            for w in layer.weights:
                shape = tuple(w.shape)
                n = w.path if hasattr(w, "path") else w.name
                if "moving_variance" in n:
                    v = rng.uniform(0.5, 1.5, shape)
                elif "moving_mean" in n:
                    v = rng.normal(0.0, 0.2, shape)
                elif "gamma" in n:
                    v = rng.uniform(*gamma, shape)
                else:  # beta
                    v = rng.normal(0.0, 0.2, shape)
                new.append(v.astype(np.float32))
            layer.set_weights(new)


def calibrate_batchnorm(model, seed: int = 0, batch: int = 32) -> None:
    """Random BatchNorm parameters around the statistics the layer sees on random inputs.

    One training-mode pass with every momentum at 0 (and dropout off) sets each moving mean and variance to its
    batch statistics, layer after layer; they are then perturbed at random (mean by 0.2 std, variance by a
    factor in [0.5, 1.5]) and gamma and beta are random. Purely random statistics can shift activations off
    their scale so far that ReLUs saturate and the output no longer depends on the input (MobileNet at 32x32).
    """
    import keras

    rng = np.random.default_rng(seed)
    layers = list(_all_layers(model))
    bns = [lyr for lyr in layers if isinstance(lyr, keras.layers.BatchNormalization)]
    if not bns:
        return
    for lyr in bns:
        if lyr.gamma is not None:
            lyr.gamma.assign(rng.uniform(0.6, 1.4, tuple(lyr.gamma.shape)).astype(np.float32))
        if lyr.beta is not None:
            lyr.beta.assign(rng.normal(0.0, 0.2, tuple(lyr.beta.shape)).astype(np.float32))
    drops = [lyr for lyr in layers if isinstance(lyr, keras.layers.Dropout)]
    saved = [(lyr, lyr.momentum) for lyr in bns] + [(lyr, lyr.rate) for lyr in drops]
    for lyr in bns:
        lyr.momentum = 0.0
    for lyr in drops:
        lyr.rate = 0.0
    try:
        shape = tuple(model.inputs[0].shape[1:])
        model(np.random.default_rng(seed + 2).standard_normal((batch, *shape)).astype(np.float32), training=True)
    finally:
        for lyr, value in saved:
            if isinstance(lyr, keras.layers.BatchNormalization):
                lyr.momentum = value
            else:
                lyr.rate = value
    for lyr in bns:
        var, mean = np.asarray(lyr.moving_variance), np.asarray(lyr.moving_mean)
        lyr.moving_mean.assign((mean + rng.normal(0.0, 0.2, mean.shape) * np.sqrt(var)).astype(np.float32))
        lyr.moving_variance.assign((var * rng.uniform(0.5, 1.5, var.shape)).astype(np.float32))


def scale_residual_branches(model, scale: float, seed: int = 0) -> None:
    """Draw gamma in [0.5, 1.5] * ``scale`` and multiply beta by ``scale`` in the BatchNorm that ends each
    residual branch (Keras's ``<block>_project_bn`` where a ``<block>_add`` exists)."""
    rng = np.random.default_rng(seed + 4)
    layers = list(_all_layers(model))
    names = {lyr.name for lyr in layers}
    for lyr in layers:
        block = lyr.name[:-len("_project_bn")] if lyr.name.endswith("_project_bn") else None
        if block is None or f"{block}_add" not in names:
            continue
        gamma, beta, mean, var = lyr.get_weights()
        gamma = rng.uniform(0.5 * scale, 1.5 * scale, gamma.shape).astype(np.float32)
        lyr.set_weights([gamma, (beta * np.float32(scale)).astype(np.float32), mean, var])


def randomize_layer_scale(model, seed: int = 0) -> None:
    """ConvNeXt's LayerScale starts at 1e-6: its residual branches add nothing. Draw it in [0.1, 0.5]."""
    rng = np.random.default_rng(seed + 3)
    for lyr in _all_layers(model):
        if type(lyr).__name__ == "LayerScale":
            lyr.set_weights([rng.uniform(0.1, 0.5, w.shape).astype(np.float32) for w in lyr.get_weights()])


def spread_logits(model, seed: int = 0, target_std: float = 1.0) -> None:
    """Scale the classifier so its logits have a standard deviation of ``target_std`` on random inputs.

    Random (Glorot) weights through a deep network give tiny logits and a softmax that is almost uniform; a
    comparison of almost-constant outputs proves little. A much larger spread would also magnify float32
    rounding past the 1e-5 bound in the deepest models. The last layer with a kernel (Dense or 1x1 Conv2D) is
    followed only by reshapes before the softmax, so scaling its kernel and bias scales the logits.
    """
    import keras

    act_layer = model.layers[-1]
    kernel_layer = next((lyr for lyr in reversed(model.layers) if getattr(lyr, "kernel", None) is not None), None)
    if kernel_layer is None or getattr(act_layer, "activation", None) is None:
        return
    saved = act_layer.activation
    act_layer.activation = keras.activations.linear
    try:
        shape = tuple(model.inputs[0].shape[1:])
        x = np.random.default_rng(seed + 1).standard_normal((4, *shape)).astype(np.float32)
        logits = np.asarray(model(x, training=False))
    finally:
        act_layer.activation = saved
    std = float(logits.std())
    if not np.isfinite(std) or std == 0.0:
        return
    factor = target_std / std
    kernel_layer.set_weights([w * np.float32(factor) for w in kernel_layer.get_weights()])


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


def build(name: str, size: int | None = None, seed: int = 0):
    """Build a zoo model offline, with random weights and random BatchNorm statistics."""
    import keras

    e = entry(name)
    keras.utils.set_random_seed(seed)
    s = size or e.size
    model = getattr(keras.applications, name)(weights=None, input_shape=(s, s, 3), **dict(e.kwargs))
    if e.bn == "random":
        randomize_batchnorm(model, seed)
    else:
        calibrate_batchnorm(model, seed)
    if e.residual_scale is not None:
        scale_residual_branches(model, e.residual_scale, seed)
    randomize_layer_scale(model, seed)
    spread_logits(model, seed)
    return model
