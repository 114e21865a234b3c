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

import contextlib
import dataclasses
import os
import tempfile
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
    "ArchiveFile",
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
    "clean_member_name",
    "decode",
    "describe",
    "encode",
    "extract",
    "from_dict",
    "is_schema_form",
    "min_parser_version",
    "model_io",
    "prepare",
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


def _resolve(buf: Any, metadata: MetadataLike, files: Mapping[str, bytes | str] | None,
             io: tuple[list[TensorSpec], list[TensorSpec]] | None = None) -> tuple[bytes, dict]:
    """The metadata flatbuffer and the associated files to pack, checked against the model (``buf``: a model
    flatbuffer, or None with ``io`` its first subgraph's inputs and outputs)."""
    from . import container

    extra = {k: (v.encode("utf-8") if isinstance(v, str) else bytes(v)) for k, v in (files or {}).items()}
    inputs, outputs = io if io is not None else model_io(buf)
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
                            f"{type(metadata).__name__}. Fix: build it with liteconvert.metadata.ModelMetadata")
    for name, data in extra.items():
        packed.setdefault(name, data)
        if packed[name] != data:
            raise MetadataError(f"associated file {name!r} is given twice with different contents. Fix: give each "
                                "file once")
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
    if missing and buf is not None:  # carried over from the archive the model already has
        for info in container.zip_members(buf):
            if info.filename in missing and info.filename not in packed:
                packed[info.filename] = container.read_member(buf, info)
        missing = [n for n in needed if n not in packed]
    if missing:
        raise MetadataError(f"the metadata names associated file(s) {missing} that were not given. Fix: pass them "
                            "(e.g. --labels FILE or --file FILE)")
    for name in packed:
        if clean_member_name(name) != name:
            raise MetadataError(f"associated file name {name!r} is not a plain relative name. Fix: name it like "
                                "labels.txt or dir/labels.txt")
    return encode(md), packed


def prepare(metadata: MetadataLike, model: Any, files: Mapping[str, bytes | str] | None = None,
            ) -> tuple[bytes, dict[str, bytes]]:
    """The ``TFLITE_METADATA`` buffer and the associated files for an IR model about to be written (the
    converter's ``metadata`` option): checked against its first subgraph's inputs and outputs."""
    sg = model.subgraphs[0] if model.subgraphs else None

    def spec(t: Any) -> TensorSpec:
        return TensorSpec(t.name, tuple(t.shape) if t.shape is not None else (), t.dtype)

    io = ([spec(t) for t in sg.inputs], [spec(t) for t in sg.outputs]) if sg is not None else ([], [])
    return _resolve(None, metadata, files, io)


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


@dataclasses.dataclass(frozen=True)
class ArchiveFile:
    """One associated file as ``metadata show`` reports it, read within bounds: its declared size, its first
    bytes, and its SHA-256 when it is small enough to hash."""

    name: str
    size: int
    head: bytes
    sha256: str | None


def describe(model: Source, preview: int = 64 << 10, hash_limit: int = 64 << 20,
             ) -> tuple[dict[str, Any] | None, list[ArchiveFile]]:
    """The metadata (schema form, or None) and the associated files, inflating at most ``preview`` bytes of each
    (and all of a file only to hash it, up to ``hash_limit`` bytes): safe on any archive."""
    import hashlib

    from . import container

    with container.open_model(model) as buf:
        raw = container.metadata_bytes(buf)
        md = decode(raw) if raw is not None else None
        files = []
        for info in container.zip_members(buf):
            digest = hashlib.sha256() if info.file_size <= hash_limit else None
            with container.open_member(buf, info) as f:
                head = f.read(preview)
                if digest is not None:
                    digest.update(head)
                    while chunk := f.read(1 << 20):
                        digest.update(chunk)
            files.append(ArchiveFile(info.filename, info.file_size, head,
                                     digest.hexdigest() if digest is not None else None))
    return md, files


# Caps of what ``extract`` writes, unless raised (``--max-file-size`` / ``--max-total-size``).
MAX_FILE_SIZE = 256 << 20
MAX_TOTAL_SIZE = 1 << 30


def clean_member_name(name: str) -> str | None:
    """``name`` as a plain relative path (``a/b.txt``; ``./`` and empty parts dropped, ``\\`` read as ``/``), or
    None when it cannot be one: nothing left, a ``..`` part, absolute, a drive letter, NUL or other control
    characters."""
    if not name or any(ord(c) < 32 or c == "\x7f" for c in name):
        return None
    norm = name.replace("\\", "/")
    raw = norm.split("/")
    if norm.startswith("/") or (len(raw[0]) >= 2 and raw[0][1] == ":") or ".." in raw:
        return None
    parts = [p for p in raw if p not in ("", ".")]
    return "/".join(parts) if parts else None


def safe_member_path(directory: str, name: str) -> str | None:
    """Where archive member ``name`` may be written inside ``directory``, or None when it would leave it."""
    clean = clean_member_name(name)
    if clean is None:
        return None
    root = os.path.realpath(directory)
    parts = clean.split("/")
    # Folders on the way are resolved (a symlinked folder must not lead outside); the file itself is not: a
    # symlink in its place is replaced (with --overwrite), never written through.
    parent = os.path.realpath(os.path.join(root, *parts[:-1]))
    target = os.path.join(parent, parts[-1])
    if os.path.commonpath([root, parent]) != root or target == root:
        return None
    return target


def extract(model: Source, directory: str | os.PathLike[str], max_file_size: int = MAX_FILE_SIZE,
            max_total_size: int = MAX_TOTAL_SIZE, overwrite: bool = False) -> list[str]:
    """Write the model's associated files into ``directory``; returns the paths written.

    All or nothing: every member is checked first (a name that is not a plain relative path, climbs out of
    ``directory`` or appears twice; a declared size over ``max_file_size``, or a total over ``max_total_size``;
    an existing file or symlink in the way, unless ``overwrite``; the model itself as a target), then each is
    streamed to a temporary file beside its target, counted against the caps, and only when all are complete are
    they renamed into place. On any failure nothing is left behind, not even the directories it created.
    Symlinks are never followed: with ``overwrite`` a symlink in the way is replaced, not written through.
    """
    from . import container

    directory = os.fspath(directory)
    if os.path.lexists(directory) and not os.path.isdir(directory):
        raise MetadataError(f"{directory} exists and is not a directory. Fix: give -d a directory (it is "
                            "created if missing)")
    with container.open_model(model) as buf:
        members = container.zip_members(buf)
        plan = _plan_extraction(members, directory, max_file_size, max_total_size, overwrite,
                                model if isinstance(model, (str, os.PathLike)) else None)
        if not plan:
            return []
        created = _make_dirs(directory, {os.path.dirname(t) for _, t in plan})
        temps: list[tuple[str, str]] = []
        done = False
        try:
            total = 0
            for info, target in plan:
                fd, tmp = tempfile.mkstemp(prefix=".liteconvert-", suffix=".part", dir=os.path.dirname(target))
                temps.append((tmp, target))
                with os.fdopen(fd, "wb") as out, container.open_member(buf, info) as f:
                    written = 0
                    while True:
                        chunk = f.read(1 << 20)
                        if not chunk:
                            break
                        written += len(chunk)
                        total += len(chunk)
                        if written > min(info.file_size, max_file_size) or total > max_total_size:
                            raise MetadataError(f"associated file {info.filename!r} inflates past its cap. Fix: "
                                                "the archive is damaged or hostile; nothing was written")
                        out.write(chunk)
                    os.fchmod(out.fileno(), 0o644)
            for tmp, target in temps:
                os.replace(tmp, target)
            temps.clear()
            done = True
        except OSError as e:
            raise MetadataError(f"cannot write into {directory}: {(e.strerror or str(e)).lower()}. Fix: check the "
                                "directory and the free space; nothing was written") from None
        finally:
            for tmp, _ in temps:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            if not done:
                for d in sorted(created, key=len, reverse=True):
                    with contextlib.suppress(OSError):
                        os.rmdir(d)
    return [t for _, t in plan]


def _plan_extraction(members: list[Any], directory: str, max_file_size: int, max_total_size: int, overwrite: bool,
                     model_path: Any) -> list[tuple[Any, str]]:
    bad, dupes, seen = [], [], {}
    plan = []
    for info in members:
        name = info.filename
        target = safe_member_path(directory, name)
        if target is None:
            bad.append(name)
            continue
        key = target.casefold()  # two names one case-insensitive file system would merge
        if key in seen:
            dupes.append(name)
            continue
        seen[key] = name
        plan.append((info, target))
    if bad:
        raise MetadataError(f"refusing to extract {[n for n in bad][:5]}: not a plain relative name, or one that "
                            f"would write outside {directory}. Fix: the archive is damaged or hostile; nothing was "
                            "written")
    if dupes:
        raise MetadataError(f"refusing to extract: the archive holds {dupes[:5]} more than once. Fix: the archive is "
                            "damaged or hostile; nothing was written")
    folders = {os.path.dirname(t).casefold() for _, t in plan}
    clash = [i.filename for i, t in plan if any(f == t.casefold() or f.startswith(t.casefold() + os.sep)
                                                for f in folders)]
    if clash:
        raise MetadataError(f"refusing to extract: {clash[:5]} is both a file and a folder in the archive. Fix: the "
                            "archive is damaged or hostile; nothing was written")
    big = [i for i, _ in plan if i.file_size > max_file_size]
    if big:
        raise MetadataError(f"associated file {big[0].filename!r} would be {big[0].file_size:,} bytes, over the "
                            f"{max_file_size:,}-byte cap. Fix: if you trust the model, raise the cap with "
                            "--max-file-size; nothing was written")
    total = sum(i.file_size for i, _ in plan)
    if total > max_total_size:
        raise MetadataError(f"the associated files would take {total:,} bytes, over the {max_total_size:,}-byte "
                            "cap. Fix: if you trust the model, raise the cap with --max-total-size; nothing was "
                            "written")
    for info, target in plan:
        if os.path.lexists(target):
            if os.path.isdir(target) and not os.path.islink(target):
                raise MetadataError(f"cannot extract {info.filename!r}: {target} is a directory. Fix: extract into "
                                    "an empty directory; nothing was written")
            if model_path is not None and os.path.exists(target) and os.path.samefile(target, model_path):
                raise MetadataError(f"refusing to extract {info.filename!r}: it would overwrite the model itself "
                                    f"({target}). Fix: extract into another directory; nothing was written")
            if not overwrite:
                what = "a symlink" if os.path.islink(target) else "a file"
                raise MetadataError(f"cannot extract {info.filename!r}: {target} already exists ({what}). Fix: "
                                    "extract into an empty directory, or pass --overwrite; nothing was written")
    return plan


def _make_dirs(root: str, dirs: set[str]) -> list[str]:
    """Create ``root`` and ``dirs`` (all inside it, symlinks already resolved); return those created."""
    created = []
    for d in sorted({os.path.abspath(root), *dirs}, key=len):
        parts = []
        cur = d
        while not os.path.isdir(cur):
            parts.append(cur)
            cur = os.path.dirname(cur)
        for p in reversed(parts):
            try:
                os.mkdir(p)
            except OSError as e:
                for c in reversed(created):
                    with contextlib.suppress(OSError):
                        os.rmdir(c)
                raise MetadataError(f"cannot create {p}: {(e.strerror or str(e)).lower()}. Fix: extract into a "
                                    "directory you can write to") from None
            created.append(p)
    return created
