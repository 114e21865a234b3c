"""The built-in example: build a small Keras CNN in code, convert it, run it in LiteRT and report."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def build_model() -> Any:
    """A small image classifier touching the common layers (conv, batch norm, depthwise, pooling, dense)."""
    from .frontends.tensorflow.quiet import import_tensorflow, silenced

    import_tensorflow()
    with silenced():
        import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((32, 32, 3), name="image")
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same")(inp)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU(6.0)(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(32, 1, activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.SeparableConv2D(32, 3, padding="same", activation="swish")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    out = keras.layers.Dense(10, activation="softmax", name="probs")(x)
    model = keras.Model(inp, out, name="demo_cnn")
    rng = np.random.default_rng(0)
    for layer in model.layers:  # non-degenerate batch-norm statistics, so the check means something
        if isinstance(layer, keras.layers.BatchNormalization):
            for w in layer.weights:
                w.assign(rng.uniform(0.5, 1.5, w.shape).astype("float32"))
    return model


@dataclass
class DemoReport:
    signature: str
    inputs: dict[str, tuple[list[int], str]]
    outputs: dict[str, tuple[list[int], str]]
    ops: dict[str, int]
    size: int
    max_abs_error: dict[str, float] = field(default_factory=dict)
    convert_seconds: float = 0.0
    batches: list[int] = field(default_factory=list)

    def text(self) -> str:
        lines = [f"liteconvert demo: converted a Keras CNN in {self.convert_seconds:.2f} s",
                 f"signature: {self.signature}"]
        lines += [f"  input  {n}: shape {s} {d}" for n, (s, d) in self.inputs.items()]
        lines += [f"  output {n}: shape {s} {d}" for n, (s, d) in self.outputs.items()]
        lines.append(f"ops ({sum(self.ops.values())}): " + ", ".join(f"{k} x{v}" for k, v in self.ops.items()))
        lines.append(f"size: {self.size:,} bytes")
        errs = ", ".join(f"{n} {e:.2e}" for n, e in self.max_abs_error.items())
        lines.append(f"max abs error vs Keras (batches {self.batches}): {errs}")
        ok = all(e <= 1e-5 for e in self.max_abs_error.values())
        lines.append("verdict: " + ("OK - LiteRT output matches Keras" if ok else "MISMATCH"))
        return "\n".join(lines)

    @property
    def ok(self) -> bool:
        return all(e <= 1e-5 for e in self.max_abs_error.values())


def run_demo(output_path: str | None = None) -> DemoReport:
    from .converter import TFLiteConverter
    from .files import write_atomic
    from .inspect import inspect_model
    from .verify import random_inputs, run_tflite, signature_specs

    if output_path:
        from .files import check_output

        check_output(output_path)  # before the work, not after it
    model = build_model()
    start = time.perf_counter()
    data = TFLiteConverter.from_keras_model(model).convert()
    seconds = time.perf_counter() - start
    if output_path:
        write_atomic(output_path, data)
    summary = inspect_model(data)
    specs = signature_specs(data)
    errors: dict[str, float] = {}
    batches = [1, 4]
    for batch in batches:
        inputs = random_inputs(specs, batch=batch, seed=batch)
        got = run_tflite(data, inputs)
        ref = np.asarray(model(inputs["image"], training=False))
        err = float(np.max(np.abs(got["probs"] - ref)))
        errors["probs"] = max(errors.get("probs", 0.0), err / max(1.0, float(np.max(np.abs(ref)))))
    sig = summary["signatures"][0]
    return DemoReport(
        signature=sig["key"],
        inputs={t["name"]: (t["shape"], t["dtype"]) for t in sig["inputs"]},
        outputs={t["name"]: (t["shape"], t["dtype"]) for t in sig["outputs"]},
        ops={f"{o['op']} v{o['version']}": o["count"] for o in summary["ops"]},
        size=len(data),
        max_abs_error=errors,
        convert_seconds=seconds,
        batches=batches,
    )

