"""Representative data: what calibration runs the float model on.

Accepted the ways Google's converter accepts it: ``representative_dataset`` is a callable returning an iterable
of samples, each a list of input arrays in signature order, a dict keyed by input name, or a ``(signature_key,
dict)`` tuple for a model with several signatures. From the command line, ``--representative-data`` names an
``.npz`` (one array per input, keyed by the input's name, or ``SIGNATURE/INPUT`` for another signature than the
first; samples along the first axis), one ``.npy`` (for a model with one input), a folder of ``.npy`` files
named after the inputs, or a folder of images for a model with one image input (``images.py``).
Every problem is one clear error: a missing input, a wrong shape or dtype, an empty set, object arrays (files
are never unpickled), NaN or Inf values.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidOptionError
from . import images
from .images import ImageFolder


@dataclass(frozen=True)
class InputSpec:
    name: str
    shape: tuple[int, ...]  # -1 for a dynamic dimension
    dtype: str


def _fix(what: str) -> str:
    return (f"{what}. Fix: give one sample per call as a list of arrays in the model's input order, or a dict "
            "keyed by input name")


def _check_array(name: str, value: Any, spec: InputSpec, index: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == object:
        raise InvalidOptionError(_fix(f"representative sample {index}, input '{name}': an object array"))
    want = np.dtype(spec.dtype)
    if arr.dtype != want:
        if arr.dtype.kind in "fiub" and want.kind in "fiub" and np.can_cast(arr.dtype, want, "same_kind"):
            arr = arr.astype(want)
        else:
            raise InvalidOptionError(f"representative sample {index}, input '{name}': dtype {arr.dtype}, the model "
                                     f"takes {want}. Fix: convert the data to {want}")
    if len(spec.shape) and arr.ndim == len(spec.shape) - 1:
        arr = arr[None]  # one sample without its batch axis
    if arr.ndim != len(spec.shape) or any(d >= 0 and d != a for d, a in zip(spec.shape, arr.shape, strict=True)):
        raise InvalidOptionError(f"representative sample {index}, input '{name}': shape {list(arr.shape)}, the "
                                 f"model takes {list(spec.shape)} (-1: any). Fix: give arrays of that shape")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise InvalidOptionError(f"representative sample {index}, input '{name}' holds NaN or Inf values. Fix: "
                                 "calibrate on real, finite data")
    return np.ascontiguousarray(arr)


def samples(dataset: Any, inputs: list[InputSpec], limit: int | None = None) -> list[dict[str, np.ndarray]]:
    """The representative samples of a one-signature model as ``{input name: array}`` dicts, checked against
    ``inputs``."""
    return samples_by_signature(dataset, {"": inputs}, "", limit)[""]


def samples_by_signature(dataset: Any, signatures: Mapping[str, list[InputSpec]], default: str,
                         limit: int | None = None, image_normalization: tuple[list[float], list[float]] | None = None,
                         ) -> dict[str, list[dict[str, np.ndarray]]]:
    """The representative samples per signature key, each checked against that signature's inputs.

    A sample is a list of arrays in input order, a dict keyed by input name, or (as Google's converter takes for
    a model with several signatures) a ``(signature_key, dict)`` tuple; untagged samples go to ``default``. A
    mapping of arrays (an ``.npz``) is split along the first axis, arrays keyed ``KEY/INPUT`` going to signature
    ``KEY``. ``limit`` caps the samples per signature. An :class:`ImageFolder` calibrates ``default``'s one image
    input (``image_normalization``: the model's own, used when the folder was given none). Signatures given no
    samples are absent from the result."""
    if dataset is None:
        raise InvalidOptionError("full-integer quantization needs representative data (a few hundred typical "
                                 "inputs) to measure the ranges of the activations. Fix: set "
                                 "converter.representative_dataset, or pass --representative-data FILE.npz")
    source = dataset() if callable(dataset) else dataset
    if isinstance(source, ImageFolder):
        inputs = signatures[default]
        if len(inputs) != 1:
            raise InvalidOptionError(f"a folder of images calibrates a model with one input; "
                                     f"{'signature ' + repr(default) if default else 'the model'} takes "
                                     f"{len(inputs)} ({', '.join(s.name for s in inputs)}). Fix: save the samples as "
                                     "an .npz, one array per input")
        source = source.samples(inputs[0], limit, image_normalization)
    if isinstance(source, Mapping):  # one dict of arrays with the samples along the first axis (an .npz)
        source = _split_by_signature(source, signatures, default)
    if not isinstance(source, Iterable) or isinstance(source, (str, bytes)):
        raise InvalidOptionError(_fix("representative_dataset did not give an iterable of samples"))
    several = len(signatures) > 1
    out: dict[str, list[dict[str, np.ndarray]]] = {}
    for index, sample in enumerate(source):
        if limit is not None and (all(len(out.get(k, ())) >= limit for k in signatures)
                                  or index >= 64 * limit * len(signatures)):  # (an endless source)
            break
        key, sample = _tagged(sample, signatures, default, index)
        if limit is not None and len(out.get(key, ())) >= limit:
            continue
        inputs = signatures[key]
        names = [s.name for s in inputs]
        where = f"representative sample {index}" + (f" (signature '{key}')" if several else "")
        if isinstance(sample, Mapping):
            missing = [n for n in names if n not in sample]
            extra = [k for k in sample if k not in names]
            if missing or extra:
                raise InvalidOptionError(_fix(f"{where} has inputs {sorted(map(str, sample))}, the "
                                              f"model takes {names}"))
            values = [sample[n] for n in names]
        else:
            values = list(sample) if isinstance(sample, (list, tuple)) else [sample]
            if len(values) != len(names):
                raise InvalidOptionError(_fix(f"{where} has {len(values)} arrays, the model "
                                              f"takes {len(names)} inputs ({', '.join(names)})"))
        out.setdefault(key, []).append(
            {s.name: _check_array(s.name, v, s, index) for s, v in zip(inputs, values, strict=True)})
    if not out:
        raise InvalidOptionError("the representative data holds no samples. Fix: give at least one (a few hundred "
                                 "typical inputs calibrate well)")
    return out


def _tagged(sample: Any, signatures: Mapping[str, list[InputSpec]], default: str, index: int) -> tuple[str, Any]:
    """``(signature key, sample)``: a ``(key, dict)`` tuple names its signature; anything else is ``default``'s."""
    if isinstance(sample, tuple) and len(sample) == 2 and isinstance(sample[0], str):
        key, inner = sample
        if key not in signatures:
            known = ", ".join(repr(k) for k in signatures if k)
            raise InvalidOptionError(f"representative sample {index} is for signature '{key}', which the "
                                     f"conversion does not have. Fix: tag samples with one of {known or 'no key'}")
        if not isinstance(inner, Mapping):
            raise InvalidOptionError(f"representative sample {index} for signature '{key}' is not a dict. Fix: "
                                     "yield (signature_key, {input name: array})")
        return key, inner
    return default, sample


def _split_by_signature(arrays: Mapping[str, Any], signatures: Mapping[str, list[InputSpec]],
                        default: str) -> list[Any]:
    """Samples from arrays keyed ``INPUT`` (the default signature's) or ``KEY/INPUT`` (signature ``KEY``'s)."""
    groups: dict[str, dict[str, Any]] = {}
    for name, value in arrays.items():
        key, _, rest = name.partition("/")
        if rest and key in signatures and key != default:
            groups.setdefault(key, {})[rest] = value
        else:
            prefix = f"{default}/"
            groups.setdefault(default, {})[name[len(prefix):] if default and name.startswith(prefix) else name] \
                = value
    out: list[Any] = []
    for key, group in groups.items():
        out.extend((key, s) if key != default else s for s in _split(group, signatures[key]))
    return out


def _split(arrays: Mapping[str, Any], inputs: list[InputSpec]) -> list[dict[str, np.ndarray]]:
    names = [s.name for s in inputs]
    if len(inputs) == 1 and names[0] not in arrays and len(arrays) == 1:
        arrays = {names[0]: next(iter(arrays.values()))}  # one input: any key
    missing = [n for n in names if n not in arrays]
    if missing:
        raise InvalidOptionError(f"the representative data has arrays {sorted(arrays)}, but no array for input(s) "
                                 f"{missing}. Fix: key one array per input by the input's name")
    counts = {len(np.asarray(arrays[n])) if np.ndim(arrays[n]) else 0 for n in names}
    if len(counts) != 1:
        raise InvalidOptionError("the representative arrays hold different numbers of samples. Fix: give each "
                                 "input's samples along the first axis, the same number for every input")
    n = counts.pop()
    return [{k: np.asarray(arrays[k])[i:i + 1] for k in names} for i in range(n)]


_NPY_MAGIC = b"\x93NUMPY"


def _load_npy(path: str) -> np.ndarray:
    with open(path, "rb") as f:
        if f.read(6) != _NPY_MAGIC:
            raise InvalidOptionError(f"{path} is not an .npy file. Fix: write it with numpy.save")
    return np.load(path, allow_pickle=False)


def load(path: str, image_norm: tuple[Sequence[float], Sequence[float]] | None = None,
         ) -> dict[str, np.ndarray] | ImageFolder:
    """Arrays from an ``.npz``, one ``.npy`` (a one-input model's samples) or a folder of ``.npy`` files named
    after the inputs (``allow_pickle=False``: never unpickled); or a folder of images (decoded once the model's
    input is known; ``image_norm``: (mean, std) for a float input)."""
    from ..files import check_input

    check_input(path, "representative data", directory=None)
    try:
        if os.path.isdir(path):
            names = os.listdir(path)
            files = sorted(f for f in names if f.endswith(".npy"))
            pictures = [f for f in names if images.is_image(f)]
            if files and pictures:
                raise InvalidOptionError(f"{path} holds both .npy files and images. Fix: keep one kind of sample "
                                         "in the folder")
            if pictures:
                found = images.folder(path, names, image_norm)
                if found.files:
                    return found
            if image_norm is not None:
                raise InvalidOptionError("--image-norm applies to a folder of images. Fix: drop it, or pass the "
                                         "folder")
            if not files:
                raise InvalidOptionError(f"{path} holds no .npy files or images. Fix: one .npy per input, named "
                                         f"after it, or image files ({', '.join(images.SUFFIXES)})")
            return {f[:-4]: _load_npy(os.path.join(path, f)) for f in files}
        if image_norm is not None:
            raise InvalidOptionError("--image-norm applies to a folder of images. Fix: drop it, or pass the folder")
        with open(path, "rb") as f:
            magic = f.read(6)
        if magic == _NPY_MAGIC:  # one array: the samples of a model's one input
            return {os.path.splitext(os.path.basename(path))[0]: _load_npy(path)}
        if not magic.startswith(b"PK"):
            raise InvalidOptionError(f"{path} is not an .npz or .npy file"
                                     f"{' (it is empty)' if not magic else ''}. Fix: write it with numpy.savez "
                                     "(one array per input, keyed by the input's name)")
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except InvalidOptionError:
        raise
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise InvalidOptionError(f"{path} holds object arrays, which would need unpickling; liteconvert never "
                                     "unpickles data. Fix: save numeric arrays only") from None
        raise InvalidOptionError(f"{path} is not a readable .npz or .npy ({e}). Fix: write it with numpy.savez")\
            from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise InvalidOptionError(f"cannot read {path}: {e}. Fix: write it with numpy.savez") from None
