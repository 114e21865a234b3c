"""The keras.applications zoo, built offline (weights=None) with non-degenerate weights.

Shared by ``tests/test_zoo.py`` and ``benchmarks/bench.py``. Every architecture that the installed Keras has is
listed with the smallest input size it accepts (to keep runs fast) and whether it belongs to the fast default
test run.
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


# Minimum input sizes: most accept 32; the Inception family and Xception need 75/71.
ZOO: list[ZooEntry] = [
    ZooEntry("MobileNet", 32, fast=True),
    ZooEntry("MobileNetV2", 32, fast=True),
    ZooEntry("MobileNetV3Small", 32, fast=True),
    ZooEntry("MobileNetV3Large", 32),
    ZooEntry("ResNet50", 32, fast=True),
    ZooEntry("ResNet101", 32),
    ZooEntry("ResNet152", 32),
    ZooEntry("ResNet50V2", 32),
    ZooEntry("ResNet101V2", 32),
    ZooEntry("ResNet152V2", 32),
    ZooEntry("DenseNet121", 32),
    ZooEntry("DenseNet169", 32),
    ZooEntry("DenseNet201", 32),
    ZooEntry("EfficientNetB0", 32, fast=True),
    ZooEntry("EfficientNetB1", 32),
    ZooEntry("EfficientNetB2", 32),
    ZooEntry("EfficientNetB3", 32),
    ZooEntry("EfficientNetB4", 32),
    ZooEntry("EfficientNetB5", 32),
    ZooEntry("EfficientNetB6", 32),
    ZooEntry("EfficientNetB7", 32),
    ZooEntry("EfficientNetV2B0", 32),
    ZooEntry("EfficientNetV2B1", 32),
    ZooEntry("EfficientNetV2B2", 32),
    ZooEntry("EfficientNetV2B3", 32),
    ZooEntry("EfficientNetV2S", 32),
    ZooEntry("EfficientNetV2M", 32),
    ZooEntry("EfficientNetV2L", 32),
    ZooEntry("InceptionV3", 75),
    ZooEntry("InceptionResNetV2", 75),
    ZooEntry("Xception", 71),
    ZooEntry("NASNetMobile", 32),
    ZooEntry("NASNetLarge", 32),
    ZooEntry("ConvNeXtTiny", 32),
    ZooEntry("ConvNeXtSmall", 32),
    ZooEntry("ConvNeXtBase", 32),
    ZooEntry("ConvNeXtLarge", 32),
    ZooEntry("ConvNeXtXLarge", 32),
    ZooEntry("VGG16", 32, fast=True),
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


def randomize_batchnorm(model, seed: int = 0) -> None:
    """Give every BatchNormalization random statistics and affine parameters, so outputs are not degenerate."""
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
                    v = rng.uniform(0.6, 1.4, shape)
                else:  # beta
                    v = rng.normal(0.0, 0.2, shape)
                new.append(v.astype(np.float32))
            layer.set_weights(new)


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
    randomize_batchnorm(model, seed)
    return model
