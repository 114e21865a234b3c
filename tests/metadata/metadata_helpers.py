"""Helpers shared by the metadata tests: Google-made .tflite files, parsed-model comparison, side environments."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from conftest import ROOT

CACHE = os.path.join(ROOT, ".cache")
WHEELS = os.path.join(CACHE, "wheels")
VENVS = os.path.join(CACHE, "venvs")
MEDIAPIPE_WHEEL_GLOB = "mediapipe-0.10.14-cp311-*.whl"
MEDIAPIPE_MODELS = os.path.join(CACHE, "mediapipe-0.10.14")


def mediapipe_wheel() -> str | None:
    """The cached mediapipe==0.10.14 cp311 wheel, downloaded with pip when missing (None when that fails)."""
    found = sorted(glob.glob(os.path.join(WHEELS, MEDIAPIPE_WHEEL_GLOB)))
    if found:
        return found[0]
    os.makedirs(WHEELS, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "mediapipe==0.10.14", "--python-version",
           "3.11", "--only-binary=:all:", "--platform", "manylinux2014_x86_64", "-d", WHEELS]
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    except (subprocess.SubprocessError, OSError):
        return None
    found = sorted(glob.glob(os.path.join(WHEELS, MEDIAPIPE_WHEEL_GLOB)))
    return found[0] if found else None


def google_models() -> list[str]:
    """The 14 Google-made .tflite files of mediapipe==0.10.14 (extracted once); skips when unavailable."""
    files = sorted(glob.glob(os.path.join(MEDIAPIPE_MODELS, "mediapipe", "modules", "**", "*.tflite"),
                           recursive=True))
    if len(files) >= 14:
        return files
    wheel = mediapipe_wheel()
    if wheel is None:
        pytest.skip("mediapipe==0.10.14 wheel is not cached and pip could not download it")
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            if name.startswith("mediapipe/modules/") and name.endswith(".tflite"):
                zf.extract(name, MEDIAPIPE_MODELS)
    return sorted(glob.glob(os.path.join(MEDIAPIPE_MODELS, "mediapipe", "modules", "**", "*.tflite"),
                            recursive=True))


def _plain(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, bytes):
        return obj
    if isinstance(obj, (list, tuple)):
        return [_plain(x) for x in obj]
    if hasattr(obj, "__dict__"):
        return {k: _plain(v) for k, v in vars(obj).items()}
    return obj


def model_meaning(data: bytes) -> dict:
    """Everything a model says, parsed with LiteRT's schema bindings, without its TFLITE_METADATA entry.

    Buffers are resolved to their bytes (inline or at ``offset/size`` in the file), so the same model stored at
    another place in the file compares equal; the TFLITE_METADATA buffer is left out of the buffer list.
    """
    from ai_edge_litert import schema_py_generated as fb

    m = fb.ModelT.InitFromPackedBuf(bytearray(data), 0)
    md_buffers = {e.buffer for e in (m.metadata or []) if e.name in (b"TFLITE_METADATA", "TFLITE_METADATA")}
    buffers = []
    for i, b in enumerate(m.buffers or []):
        if i in md_buffers:
            continue
        if b.offset > 1:
            buffers.append(("external", bytes(data[b.offset:b.offset + b.size])))
        else:
            buffers.append(("inline", None if b.data is None else bytes(np.asarray(b.data, np.uint8))))
    m.buffers = None
    meta = [(e.name, e.buffer) for e in (m.metadata or []) if e.buffer not in md_buffers]
    m.metadata = None
    # Buffer indices shift only if the metadata buffer sat before them; map them to list positions.
    index = {}
    pos = 0
    for i in range(len(buffers) + len(md_buffers)):
        if i in md_buffers:
            continue
        index[i] = pos
        pos += 1
    for sg in m.subgraphs or []:
        for t in sg.tensors or []:
            t.buffer = index.get(t.buffer, t.buffer)
    return {"model": _plain(m), "buffers": buffers, "metadata": [(n, index.get(b, b)) for n, b in meta]}


def venv_python(name: str) -> str:
    return os.path.join(VENVS, name, "bin", "python")


def ensure_venv(name: str, steps: list[list[str]], probe: str) -> str:
    """A Python 3.11 virtual environment under .cache/venvs/NAME built with pip ``steps``; skips when it cannot be
    built here, saying why. ``probe`` is Python code that must run in it."""
    py = venv_python(name)

    def works() -> bool:
        return os.path.exists(py) and subprocess.run([py, "-c", probe], capture_output=True,
                                                     timeout=300).returncode == 0

    if works():
        return py
    base = "/usr/bin/python3.11" if os.path.exists("/usr/bin/python3.11") else None
    if base is None:
        pytest.skip(f"{name}: needs a Python 3.11 interpreter at /usr/bin/python3.11 for its side environment")
    log = []
    try:
        subprocess.run([base, "-m", "venv", os.path.join(VENVS, name)], check=True, capture_output=True)
        for step in steps:
            r = subprocess.run([py, "-m", "pip", "install", "-q", *step], capture_output=True, text=True,
                               timeout=1800)
            log.append(r.stderr[-2000:])
            if r.returncode:
                pytest.skip(f"{name}: 'pip install {' '.join(step)}' failed: {r.stderr.strip()[-400:]}")
    except (subprocess.SubprocessError, OSError) as e:
        pytest.skip(f"{name}: could not build the side environment: {e}")
    if not works():
        r = subprocess.run([py, "-c", probe], capture_output=True, text=True)
        pytest.skip(f"{name}: environment built but '{probe}' fails: {r.stderr.strip()[-400:]}")
    return py
