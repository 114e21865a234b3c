"""Calibration from a folder of images (``--representative-data DIR`` holding ``.jpg`` / ``.png`` / ... files),
for a model with one image input.

Each image is decoded (Pillow, an optional dependency: ``pip install pillow``), converted to the input's channels
(RGB for 3, grayscale for 1), resized to the input's height and width (bilinear; an input with a dynamic height
and width takes each image at its own size) and laid out NHWC or NCHW as the input is. A float input gets
``(pixel - mean) / std`` per channel, with pixels 0-255: the normalization given (``--image-norm MEAN STD``), else
the one the model's TFLite metadata records (its input's ``NormalizationOptions``), else it is an error, since a
guessed normalization would calibrate every range wrong without a word. A uint8 input takes the pixels as they
are. Files are read in name order; ``--calibration-samples N`` decodes only the first N.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidOptionError

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
MAX_PIXELS = 64 << 20  # larger images are refused before decoding (a decompression bomb)
NORM_FIX = ("add --image-norm MEAN STD: pixels 0-255 become (pixel - MEAN) / STD, e.g. 0 255 for [0, 1], 127.5 "
            "127.5 for [-1, 1], 0 1 for raw pixels; per channel as 123.7,116.3,103.5 58.4,57.1,57.4")


def is_image(name: str) -> bool:
    return name.lower().endswith(SUFFIXES) and not name.startswith(".")


@dataclass(frozen=True)
class ImageFolder:
    """The images of a folder, decoded once the model's input is known."""

    path: str
    files: tuple[str, ...]
    normalization: tuple[tuple[float, ...], tuple[float, ...]] | None = None  # (mean, std), from --image-norm

    def samples(self, spec: Any, limit: int | None = None,
                normalization: tuple[Sequence[float], Sequence[float]] | None = None) -> list[list[np.ndarray]]:
        """One sample (a one-array list) per image for the input ``spec`` (a ``data.InputSpec``);
        ``normalization``: the model's own, used when none was given."""
        layout, channels = _layout(spec)
        dtype = np.dtype(spec.dtype)
        norm = self.normalization or normalization
        if dtype == np.float32:
            if norm is None:
                raise InvalidOptionError(f"calibrating on images needs the input normalization of '{spec.name}', "
                                         f"and the model records none. Fix: {NORM_FIX}")
            mean, std = (_per_channel(v, channels, what) for v, what in zip(norm, ("mean", "std"), strict=True))
        elif dtype == np.uint8:
            if self.normalization is not None:
                raise InvalidOptionError(f"--image-norm does not apply: input '{spec.name}' takes uint8 pixels as "
                                         "they are. Fix: drop --image-norm")
            mean = std = None
        else:
            raise InvalidOptionError(f"input '{spec.name}' takes {dtype} values, not image pixels (float32 or "
                                     "uint8). Fix: save the samples as an .npz")
        files = self.files[:limit] if limit is not None else self.files
        out = []
        for name in files:
            pixels = _decode(os.path.join(self.path, name), channels, _size(spec, layout))
            pixels = ((pixels - mean) / std).astype(np.float32) if mean is not None else pixels.astype(np.uint8)
            if layout == "NCHW":
                pixels = np.transpose(pixels, (2, 0, 1))
            out.append([np.ascontiguousarray(pixels[None])])
        return out


def folder(path: str, names: Sequence[str], norm: tuple[Sequence[float], Sequence[float]] | None,
           ) -> ImageFolder:
    images = sorted(n for n in names if is_image(n) and os.path.isfile(os.path.join(path, n)))
    if norm is not None:
        mean, std = (tuple(float(x) for x in v) for v in norm)
        if not mean or not std or any(s == 0 or not np.isfinite(s) for s in std) \
                or not all(np.isfinite(mean)):
            raise InvalidOptionError("--image-norm needs a finite MEAN and a finite, non-zero STD. Fix: " + NORM_FIX)
        norm = (mean, std)
    return ImageFolder(path, tuple(images), norm)  # type: ignore[arg-type]


def parse_norm(values: Sequence[str]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``--image-norm MEAN STD``, each one number or one per channel separated by commas."""
    try:
        mean, std = (tuple(float(x) for x in v.split(",")) for v in values)
    except ValueError:
        raise InvalidOptionError(f"--image-norm {' '.join(values)}: not numbers. Fix: {NORM_FIX}") from None
    return mean, std


def model_normalization(metadata: dict[str, Any] | None, index: int = 0,
                        ) -> tuple[list[float], list[float]] | None:
    """The ``NormalizationOptions`` (mean, std) that TFLite metadata (schema form) records for input ``index``
    of the first subgraph."""
    if not metadata:
        return None
    sgs = metadata.get("subgraph_metadata") or []
    inputs = (sgs[0].get("input_tensor_metadata") or []) if sgs else []
    if index >= len(inputs):
        return None
    for unit in inputs[index].get("process_units") or []:
        if unit.get("options_type") == "NormalizationOptions":
            opts = unit.get("options") or {}
            if opts.get("mean") and opts.get("std"):
                return list(opts["mean"]), list(opts["std"])
    return None


def _layout(spec: Any) -> tuple[str, int]:
    shape = tuple(spec.shape)
    if len(shape) == 4 and shape[3] in (1, 3):
        return "NHWC", shape[3]
    if len(shape) == 4 and shape[1] in (1, 3):
        return "NCHW", shape[1]
    raise InvalidOptionError(f"a folder of images calibrates an image input (NHWC or NCHW, 1 or 3 channels); input "
                             f"'{spec.name}' has shape {list(shape)}. Fix: save the samples as an .npz")


def _size(spec: Any, layout: str) -> tuple[int, int] | None:
    """(height, width) to resize to, or None for a dynamic height or width (each image at its own size)."""
    h, w = (spec.shape[1], spec.shape[2]) if layout == "NHWC" else (spec.shape[2], spec.shape[3])
    return (h, w) if h > 0 and w > 0 else None


def _per_channel(values: Sequence[float], channels: int, what: str) -> np.ndarray:
    v = np.asarray(values, np.float32).reshape(-1)
    if v.size == 1:
        return np.full(channels, v[0], np.float32)
    if v.size != channels:
        raise InvalidOptionError(f"the image normalization has {v.size} {what} values for {channels} channel(s). "
                                 f"Fix: give one value, or one per channel")
    if what == "std" and np.any(v == 0):
        raise InvalidOptionError("the image normalization's std is 0. Fix: " + NORM_FIX)
    return v


def _decode(path: str, channels: int, size: tuple[int, int] | None) -> np.ndarray:
    """An image as float32 pixels 0-255, (height, width, channels)."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise InvalidOptionError("calibrating on a folder of images needs Pillow, which is not installed. Fix: pip "
                                 "install pillow (or save the samples as an .npz)") from None
    from ..files import open_input

    with open_input(path, "calibration image") as f:
        try:
            with Image.open(f) as im:
                if im.width * im.height > MAX_PIXELS:
                    raise InvalidOptionError(f"calibration image {path} is {im.width}x{im.height}, over "
                                             f"{MAX_PIXELS >> 20} M pixels. Fix: make it smaller or remove it")
                if im.mode == "F":
                    raise InvalidOptionError(f"calibration image {path} holds floating-point pixels, whose scale "
                                             "is unknown. Fix: save the samples as an .npz instead")
                if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):  # 16-bit grayscale: onto 0-255
                    levels = np.asarray(im, np.float32) / np.float32(257.0)
                    im = Image.fromarray(levels, "F")
                else:
                    im = im.convert("RGB" if channels == 3 else "L")
                if size is not None and im.size != (size[1], size[0]):
                    im = im.resize((size[1], size[0]), Image.Resampling.BILINEAR)
                pixels = np.asarray(im, np.float32)
                if im.mode == "F" and channels == 3:
                    pixels = np.repeat(pixels[..., None], 3, axis=2)
        except InvalidOptionError:
            raise
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            raise InvalidOptionError(f"calibration image {path} cannot be decoded ({e}). Fix: remove it, or "
                                     "save it again as PNG or JPEG") from None
    return pixels.reshape(pixels.shape[0], pixels.shape[1], channels)
