"""TFLite model metadata, written and read in pure Python.

Describe a model (name, description, version, author, license), its inputs (image or feature, color space,
normalization, value range) and outputs (labels, score calibration) in the standard TFLite metadata format: the
``M001`` flatbuffer of the metadata schema in a model buffer named by the ``TFLITE_METADATA`` entry, with the
associated files (labels, vocabularies) in an uncompressed zip appended to the model. Platform code generators,
the TFLite Task Library and MediaPipe Tasks read it.

>>> from liteconvert import metadata
>>> md = metadata.ImageClassifierMetadata(name="digits", input_norm=(127.5, 127.5), labels=["a", "b"])
>>> data = metadata.attach(model_bytes, md)              # or converter.metadata = md before convert()
>>> metadata.read(data)["metadata"]["name"]
'digits'

Attaching rewrites only a small head of the file and keeps the model's bytes as they are (see
:mod:`.container`); attaching again replaces the metadata.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .builder import (
    AssociatedFile,
    ImageClassifierMetadata,
    ModelMetadata,
    ScoreCalibration,
    TensorInfo,
    TensorSpec,
    from_dict,
)
from .container import METADATA_NAME, MetadataError
from .schema import MetadataSchemaError, associated_file_names, decode, encode, min_parser_version

__all__ = [
    "METADATA_NAME",
    "AssociatedFile",
    "ImageClassifierMetadata",
    "MetadataError",
    "MetadataSchemaError",
    "ModelMetadata",
    "ScoreCalibration",
    "TensorInfo",
    "TensorSpec",
    "attach",
    "attach_file",
    "decode",
    "encode",
    "extract",
    "from_dict",
    "is_schema_form",
    "min_parser_version",
    "model_io",
    "read",
    "remove",
    "safe_member_path",
]

Source = str | os.PathLike[str] | bytes | bytearray | memoryview
MetadataLike = ModelMetadata | Mapping[str, Any] | bytes

_SCHEMA_ONLY_KEYS = {"subgraph_metadata", "min_parser_version"}


def is_schema_form(d: Mapping[str, Any]) -> bool:
    """Whether a dict is the schema form (as :func:`read` returns it) rather than the builder form.

    The two agree on ``name description version author license``; the builder form alone has ``type``,
    ``inputs``, ``outputs``, the image-classifier fields, and associated files with a ``path`` or ``content``.
    """
    if _SCHEMA_ONLY_KEYS & set(d):
        return True
    if set(d) - {"name", "description", "version", "author", "license", "associated_files"}:
        return False
    return not any(isinstance(f, Mapping) and ("path" in f or "content" in f) for f in d.get("associated_files") or [])


def model_io(model: Any) -> tuple[list[TensorSpec], list[TensorSpec]]:
    """The first subgraph's inputs and outputs (name, shape signature, dtype) of model bytes or an mmap."""
    from ..tflite.schema import dtype_of, fb

    m = fb().Model.GetRootAs(model, 0)
    if m.SubgraphsLength() == 0:
        return [], []
    sg = m.Subgraphs(0)

    def spec(i: int) -> TensorSpec:
        t = sg.Tensors(i)
        shape = t.ShapeSignatureAsNumpy() if t.ShapeSignatureLength() else t.ShapeAsNumpy()
        dims = tuple(int(d) for d in shape) if not isinstance(shape, int) else ()
        return TensorSpec((t.Name() or b"").decode("utf-8", "replace"), dims, dtype_of(t.Type()))

    return ([spec(int(i)) for i in sg.InputsAsNumpy()] if sg.InputsLength() else [],
            [spec(int(i)) for i in sg.OutputsAsNumpy()] if sg.OutputsLength() else [])


def _resolve(buf: Any, metadata: MetadataLike, files: Mapping[str, bytes | str] | None) -> tuple[bytes, dict]:
    """The metadata flatbuffer and the associated files to pack, checked against the model."""
    from . import container

    extra = {k: (v.encode("utf-8") if isinstance(v, str) else bytes(v)) for k, v in (files or {}).items()}
    inputs, outputs = model_io(buf)
    if isinstance(metadata, (bytes, bytearray, memoryview)):
        md = decode(metadata)
        packed: dict[str, bytes] = {}
    elif isinstance(metadata, ModelMetadata):
        md, packed = metadata.build(inputs, outputs)
    elif isinstance(metadata, Mapping):
        if is_schema_form(metadata):
            md, packed = dict(metadata), {}
        else:
            md, packed = from_dict(metadata).build(inputs, outputs)
    else:
        raise MetadataError(f"metadata must be a ModelMetadata, a dict or metadata bytes, not "
                            f"{type(metadata).__name__}")
    for name, data in extra.items():
        packed.setdefault(name, data)
        if packed[name] != data:
            raise MetadataError(f"associated file {name!r} is given twice with different contents")
    for sg_index, sg in enumerate(md.get("subgraph_metadata") or []):
        if sg_index:
            break
        for key, specs in (("input_tensor_metadata", inputs), ("output_tensor_metadata", outputs)):
            n = len(sg.get(key) or [])
            if n and n != len(specs):
                raise MetadataError(f"the metadata describes {n} {key.split('_')[0]}s but the model has "
                                    f"{len(specs)}. Fix: describe each {key.split('_')[0]} once, in order")
    needed = associated_file_names(md)
    missing = [n for n in needed if n not in packed]
    if missing:
        old = container.read_zip(buf)
        for n in missing:
            if n in old:
                packed[n] = old[n]
        missing = [n for n in needed if n not in packed]
    if missing:
        raise MetadataError(f"the metadata names associated file(s) {missing} that were not given. Fix: pass them "
                            "(e.g. --labels FILE or --file FILE)")
    for name in packed:
        if not name or name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/"):
            raise MetadataError(f"associated file name {name!r} is not a plain relative name")
    return encode(md), packed


def attach(model: Source, metadata: MetadataLike, files: Mapping[str, bytes | str] | None = None) -> bytes:
    """Return the model with ``metadata`` (replacing any it had) and its associated files.

    ``metadata``: a :class:`ModelMetadata` (or :class:`ImageClassifierMetadata`), a dict in the builder form
    (see :func:`from_dict`) or in the schema form (what :func:`read` returns), or raw ``M001`` bytes.
    ``files``: extra associated files ``{name: bytes}`` (label files named by schema-form metadata).
    """
    import io

    from . import container

    with container.open_model(model) as buf:
        md, packed = _resolve(buf, metadata, files)
        out = io.BytesIO()
        container.write_model(buf, out, md, packed)
    return out.getvalue()


def attach_file(src: str | os.PathLike[str], dst: str | os.PathLike[str], metadata: MetadataLike,
                files: Mapping[str, bytes | str] | None = None) -> None:
    """Like :func:`attach` from file to file, streaming (a model over 2 GB is never held in memory)."""
    from . import container

    with container.open_model(src) as buf:
        md, packed = _resolve(buf, metadata, files)
    container.write_model_file(src, dst, md, packed)


def remove(model: Source) -> bytes:
    """The model without TFLite metadata or associated files.

    For a model we attached metadata to, that is the original model byte for byte (when it had none of its own).
    """
    import io

    from . import container

    with container.open_model(model) as buf:
        out = io.BytesIO()
        container.write_model(buf, out, None, None)
    return out.getvalue()


def read(model: Source) -> dict[str, Any]:
    """The metadata of a model as plain Python data.

    ``{"metadata": <schema form dict, or None>, "associated_files": {name: bytes}}``. The schema form is what
    ``flatc --json`` prints for the ``M001`` buffer (field names in snake_case, enums by name).
    """
    from . import container

    with container.open_model(model) as buf:
        raw = container.metadata_bytes(buf)
        files = container.read_zip(buf)
    return {"metadata": decode(raw) if raw is not None else None, "associated_files": files}


def safe_member_path(directory: str, name: str) -> str | None:
    """Where archive member ``name`` may be written inside ``directory``, or None when it would leave it."""
    if not name or "\0" in name:
        return None
    norm = name.replace("\\", "/")
    parts = norm.split("/")
    if norm.startswith("/") or (len(parts[0]) >= 2 and parts[0][1] == ":") or any(p in ("..",) for p in parts):
        return None
    parts = [p for p in parts if p not in ("", ".")]
    if not parts:
        return None
    root = os.path.realpath(directory)
    target = os.path.realpath(os.path.join(root, *parts))
    if os.path.commonpath([root, target]) != root or target == root:
        return None
    return target


def extract(model: Source, directory: str | os.PathLike[str]) -> list[str]:
    """Write the model's associated files into ``directory``; returns the paths written.

    Never writes outside ``directory``: a member whose name is absolute, has a drive, climbs with ``..`` or
    resolves (through symlinks) outside is refused, and nothing at all is written then.
    """
    directory = os.fspath(directory)
    files = read(model)["associated_files"]
    os.makedirs(directory, exist_ok=True)
    plan = []
    bad = []
    for name, data in files.items():
        target = safe_member_path(directory, name)
        if target is None:
            bad.append(name)
        else:
            plan.append((target, data))
    if bad:
        raise MetadataError(f"refusing to extract {bad}: the name would write outside {directory}")
    written = []
    for target, data in plan:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if safe_member_path(directory, os.path.relpath(target, os.path.realpath(directory))) != target:
            raise MetadataError(f"refusing to extract to {target}: it would leave {directory}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(target, flags, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        written.append(target)
    return written
