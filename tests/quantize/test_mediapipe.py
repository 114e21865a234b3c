"""Every MediaPipe model (the 14 that ../shared/models.md's package ships) through full integer quantization,
int8 (float and uint8 interfaces) and 16x8, the way ``liteconvert quantize`` reaches it: each result loads and
runs in LiteRT (XNNPACK included), keeps the source's input and output tensor names, and --verify's comparison
runs. (Random inputs are not faces or hands: the errors are reported, not judged, except that they are finite.)
The one model whose custom ops LiteRT has no kernel for here is one clear error."""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np
import pytest
from conftest import ROOT

import liteconvert
from liteconvert.errors import InvalidModelError
from liteconvert.tflite.reader import read_model
from liteconvert.verify import make_interpreter

sys.path.insert(0, os.path.join(ROOT, "tests", "metadata"))

MODES = ["int8", "int16x8", "int8-uint8"]


def _models() -> list[str]:
    from metadata_helpers import google_models

    return google_models()


def _convert(path: str, mode: str) -> tuple[liteconvert.TFLiteConverter, bytes]:
    conv = liteconvert.TFLiteConverter.from_tflite(path)
    conv.optimizations = [liteconvert.Optimize.DEFAULT]
    m = read_model(open(path, "rb").read())  # (LiteRT cannot load a model whose custom ops it lacks)
    inputs = [m.subgraphs[0].tensors[i] for i in m.subgraphs[0].inputs]
    rng = np.random.default_rng(0)

    def rep():
        for _ in range(8):
            yield [rng.uniform(-1, 1, t.shape).astype(t.dtype) for t in inputs]

    conv.representative_dataset = rep
    if mode == "int16x8":
        conv.target_spec.supported_ops = [
            liteconvert.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
            liteconvert.OpsSet.TFLITE_BUILTINS]
    if mode == "int8-uint8":
        conv.inference_input_type = conv.inference_output_type = "uint8"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return conv, conv.convert()


def _names(model) -> tuple[list[str], list[str]]:
    it = make_interpreter(model)
    return [d["name"] for d in it.get_input_details()], [d["name"] for d in it.get_output_details()]


def test_every_mediapipe_model_quantizes_and_runs():
    results = []
    for path in _models():
        name = os.path.basename(path)
        for mode in MODES:
            if name == "face_landmark_with_attention.tflite":
                with pytest.raises(InvalidModelError, match="Landmarks2TransformMatrix"):
                    _convert(path, mode)
                continue
            conv, data = _convert(path, mode)
            assert _names(data) == _names(path), (name, mode)
            report = conv.verify(data)  # runs both in LiteRT on the representative samples
            assert np.isfinite(report.worst), (name, mode)
            results.append((name, mode, len(data), report.worst))
    print("\n" + "\n".join(f"{n:42} {m:11} {size:>9,} B  worst relative error {w:.3f}" for n, m, size, w in results))
    assert len(results) == 13 * len(MODES)
