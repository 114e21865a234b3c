"""Typed builders for TFLite metadata: a general form for any model and an image-classifier shortcut.

A builder knows nothing of flatbuffers: :meth:`ModelMetadata.build` turns it into the plain-Python schema form
(see :mod:`.schema`) plus the associated files it brings, given the model's input and output tensors (names and
shapes, used for defaults such as the image size and to check the label count).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..files import read_input
from .schema import ENUMS, MetadataSchemaError


@dataclass
class TensorSpec:
    """A model input or output as the builder sees it."""

    name: str
    shape: tuple[int, ...]
    dtype: str


@dataclass
class AssociatedFile:
    """A file that travels with the model (labels, vocabulary, calibration, readme).

    Give ``content`` (bytes or text) or ``path`` (read when built). ``type`` is an ``AssociatedFileType`` name.
    """

    name: str
    content: bytes | str | None = None
    path: str | os.PathLike[str] | None = None
    description: str | None = None
    type: str = "TENSOR_AXIS_LABELS"
    locale: str | None = None

    def data(self) -> bytes:
        if self.content is not None:
            return self.content.encode("utf-8") if isinstance(self.content, str) else bytes(self.content)
        if self.path is not None:
            return read_input(self.path, "associated file")
        raise MetadataSchemaError(f"associated file {self.name!r} has neither content nor path")

    def entry(self) -> dict[str, Any]:
        if self.type.upper() not in ENUMS["AssociatedFileType"]:
            raise MetadataSchemaError(f"associated file {self.name!r}: type {self.type!r} is not one of "
                                      f"{ENUMS['AssociatedFileType']}")
        e: dict[str, Any] = {"name": self.name}
        if self.description:
            e["description"] = self.description
        e["type"] = self.type.upper()
        if self.locale:
            e["locale"] = self.locale
        return e


@dataclass
class ScoreCalibration:
    """Sigmoid score calibration of a classifier output: per class ``(scale, slope, offset[, min_score])``
    (or None for ``default_score``), after the transform ``IDENTITY``, ``LOG`` or ``INVERSE_LOGISTIC``."""

    params: Sequence[Sequence[float] | None]
    transformation: str = "IDENTITY"
    default_score: float = 0.0
    file_name: str = "score_calibration.txt"

    def csv(self) -> bytes:
        lines = []
        for p in self.params:
            if p is not None and len(p) not in (3, 4):
                raise MetadataSchemaError("score calibration: each class needs 3 or 4 values "
                                          "(scale, slope, offset[, min_score]) or None")
            lines.append("" if p is None else ",".join(repr(float(v)) for v in p))
        return ("\n".join(lines) + "\n").encode()


def _labels_bytes(labels: Sequence[str]) -> bytes:
    for label in labels:
        if "\n" in label or "\r" in label:
            raise MetadataSchemaError(f"label {label!r} contains a line break")
    return ("\n".join(labels) + "\n").encode("utf-8")


@dataclass
class TensorInfo:
    """Metadata of one input or output tensor.

    ``content``: ``"image"`` (with ``color_space`` RGB or GRAYSCALE), ``"feature"`` or ``"bounding_box"``.
    ``normalization``: ``(mean, std)`` per channel (or one value for all), so that ``(x - mean) / std`` is what
    the model wants. ``value_range``: ``(min, max)`` of the tensor's values (the schema's ``Stats``).
    ``labels`` / ``labels_file``: class names along the last axis (a ``TENSOR_AXIS_LABELS`` file).
    """

    name: str | None = None
    description: str | None = None
    content: str = "feature"
    color_space: str | None = None
    normalization: tuple[Sequence[float] | float, Sequence[float] | float] | None = None
    value_range: tuple[Sequence[float] | float, Sequence[float] | float] | None = None
    labels: Sequence[str] | None = None
    labels_file: str | os.PathLike[str] | None = None
    labels_name: str | None = None
    score_calibration: ScoreCalibration | None = None
    score_threshold: float | None = None
    dimension_names: Sequence[str] | None = None
    associated_files: list[AssociatedFile] = field(default_factory=list)

    def build(self, spec: TensorSpec | None, files: dict[str, bytes], where: str) -> dict[str, Any]:
        tm: dict[str, Any] = {"name": self.name or (spec.name if spec else where)}
        if self.description:
            tm["description"] = self.description
        if self.dimension_names is not None:
            tm["dimension_names"] = list(self.dimension_names)
        kind = self.content.lower()
        if kind == "image":
            props: dict[str, Any] = {}
            cs = (self.color_space or "RGB").upper()
            if cs not in ENUMS["ColorSpaceType"]:
                raise MetadataSchemaError(f"{where}: color_space {self.color_space!r} is not one of "
                                          f"{ENUMS['ColorSpaceType']}")
            props["color_space"] = cs
            if spec is not None and len(spec.shape) == 4 and spec.shape[1] > 0 and spec.shape[2] > 0:
                props["default_size"] = {"width": int(spec.shape[2]), "height": int(spec.shape[1])}
            tm["content"] = {"content_properties_type": "ImageProperties", "content_properties": props}
        elif kind == "feature":
            tm["content"] = {"content_properties_type": "FeatureProperties", "content_properties": {}}
        elif kind in ("bounding_box", "boundingbox"):
            tm["content"] = {"content_properties_type": "BoundingBoxProperties", "content_properties": {}}
        else:
            raise MetadataSchemaError(f"{where}: content {self.content!r} must be 'image', 'feature' or "
                                      "'bounding_box'")
        units = []
        if self.normalization is not None:
            mean, std = (_floats(v) for v in self.normalization)
            if any(s == 0 for s in std):
                raise MetadataSchemaError(f"{where}: normalization std must not be 0")
            units.append({"options_type": "NormalizationOptions", "options": {"mean": mean, "std": std}})
        if self.score_calibration is not None:
            sc = self.score_calibration
            transform = sc.transformation.upper()
            if transform not in ENUMS["ScoreTransformationType"]:
                raise MetadataSchemaError(f"{where}: score transformation {sc.transformation!r} is not one of "
                                          f"{ENUMS['ScoreTransformationType']}")
            opts: dict[str, Any] = {"score_transformation": transform}
            if sc.default_score:
                opts["default_score"] = float(sc.default_score)
            units.append({"options_type": "ScoreCalibrationOptions", "options": opts})
        if self.score_threshold is not None:
            units.append({"options_type": "ScoreThresholdingOptions",
                          "options": {"global_score_threshold": float(self.score_threshold)}})
        if units:
            tm["process_units"] = units
        if self.value_range is not None:
            lo, hi = (_floats(v) for v in self.value_range)
            tm["stats"] = {"max": hi, "min": lo}
        entries = []
        if self.labels is not None or self.labels_file is not None:
            if self.labels is not None and self.labels_file is not None:
                raise MetadataSchemaError(f"{where}: give labels or labels_file, not both")
            if self.labels is not None:
                name, data = self.labels_name or "labels.txt", _labels_bytes(self.labels)
            else:
                assert self.labels_file is not None
                name = self.labels_name or os.path.basename(os.fspath(self.labels_file))
                data = read_input(self.labels_file, "labels file")
            try:
                count = len(data.decode("utf-8").splitlines())
            except UnicodeDecodeError:
                raise MetadataSchemaError(f"{where}: the labels file {self.labels_file} is not UTF-8 text") from None
            if spec is not None and spec.shape and spec.shape[-1] > 0 and count != spec.shape[-1]:
                raise MetadataSchemaError(f"{where}: {count} labels for an output of {spec.shape[-1]} classes "
                                          f"(shape {list(spec.shape)})")
            entries.append({"name": name, "description": "Labels for categories that the model can recognize.",
                            "type": "TENSOR_AXIS_LABELS"})
            _add_file(files, name, data, where)
        if self.score_calibration is not None:
            sc = self.score_calibration
            entries.append({"name": sc.file_name, "description": "Score calibration parameters.",
                            "type": "TENSOR_AXIS_SCORE_CALIBRATION"})
            _add_file(files, sc.file_name, sc.csv(), where)
        for af in self.associated_files:
            entries.append(af.entry())
            _add_file(files, af.name, af.data(), where)
        if entries:
            tm["associated_files"] = entries
        return tm


def _add_file(files: dict[str, bytes], name: str, data: bytes, where: str) -> None:
    if name in files and files[name] != data:
        raise MetadataSchemaError(f"{where}: two different associated files are named {name!r}")
    files[name] = data


def _floats(v: Sequence[float] | float) -> list[float]:
    if isinstance(v, (int, float)):
        return [float(v)]
    try:
        return [float(x) for x in v]
    except TypeError:
        raise MetadataSchemaError(f"expected a number or a list of numbers, got {v!r}") from None


@dataclass
class ModelMetadata:
    """Metadata of a whole model: the general form. ``inputs``/``outputs`` follow the order of the model's
    (first subgraph's) inputs and outputs; leave them empty to describe only the model."""

    name: str | None = None
    description: str | None = None
    version: str | None = None
    author: str | None = None
    license: str | None = None
    inputs: list[TensorInfo] = field(default_factory=list)
    outputs: list[TensorInfo] = field(default_factory=list)
    associated_files: list[AssociatedFile] = field(default_factory=list)

    def _tensors(self, inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec]
                 ) -> tuple[list[TensorInfo], list[TensorInfo]]:
        return list(self.inputs), list(self.outputs)

    def build(self, inputs: Sequence[TensorSpec] = (), outputs: Sequence[TensorSpec] = ()
              ) -> tuple[dict[str, Any], dict[str, bytes]]:
        """The schema-form dict and the associated files ``{name: bytes}``."""
        ins, outs = self._tensors(inputs, outputs)
        if ins or outs:  # the schema wants one entry per model input and output: describe the rest plainly
            ins = ins or [TensorInfo() for _ in inputs]
            outs = outs or [TensorInfo() for _ in outputs]
        for kind, given, specs in (("inputs", ins, inputs), ("outputs", outs, outputs)):
            if given and specs and len(given) != len(specs):
                raise MetadataSchemaError(f"{len(given)} {kind} described, but the model has {len(specs)} "
                                          f"({', '.join(s.name for s in specs)})")
        files: dict[str, bytes] = {}
        md: dict[str, Any] = {}
        for key in ("name", "description", "version"):
            if getattr(self, key):
                md[key] = getattr(self, key)
        if ins or outs:
            sg: dict[str, Any] = {}
            sg["input_tensor_metadata"] = [
                t.build(inputs[i] if i < len(inputs) else None, files, f"inputs[{i}]") for i, t in enumerate(ins)]
            sg["output_tensor_metadata"] = [
                t.build(outputs[i] if i < len(outputs) else None, files, f"outputs[{i}]")
                for i, t in enumerate(outs)]
            md["subgraph_metadata"] = [sg]
        for key in ("author", "license"):
            if getattr(self, key):
                md[key] = getattr(self, key)
        if self.associated_files:
            md["associated_files"] = [af.entry() for af in self.associated_files]
            for af in self.associated_files:
                _add_file(files, af.name, af.data(), "associated_files")
        return md, files


@dataclass
class ImageClassifierMetadata(ModelMetadata):
    """An image classifier: one image input normalized by ``input_norm=(mean, std)``, one score output
    with class ``labels`` (or a ``labels_file``), optionally calibrated.

    ``input_range`` is the pixel range before normalization (the input's recorded value range is that range
    normalized); ``score_range`` is the output's value range (``(0, 1)`` for probabilities).
    """

    input_norm: tuple[Sequence[float] | float, Sequence[float] | float] = (0.0, 1.0)
    labels: Sequence[str] | None = None
    labels_file: str | os.PathLike[str] | None = None
    color_space: str = "RGB"
    input_range: tuple[float, float] | None = (0.0, 255.0)
    score_range: tuple[float, float] | None = (0.0, 1.0)
    score_calibration: ScoreCalibration | None = None
    input_description: str = "Input image to be classified."
    output_description: str = "Probabilities of the labels respectively."

    def _tensors(self, inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec]
                 ) -> tuple[list[TensorInfo], list[TensorInfo]]:
        if self.inputs or self.outputs:
            return list(self.inputs), list(self.outputs)
        if len(inputs) > 1 or len(outputs) > 1:
            raise MetadataSchemaError(f"an image classifier has one input and one output; this model has "
                                      f"{len(inputs)} and {len(outputs)}. Fix: use ModelMetadata(inputs=..., "
                                      "outputs=...)")
        mean, std = (_floats(v) for v in self.input_norm)
        if any(s == 0 for s in std):
            raise MetadataSchemaError("input_norm: normalization std must not be 0")
        if len(mean) != len(std) and 1 not in (len(mean), len(std)):
            raise MetadataSchemaError(f"input_norm: {len(mean)} means but {len(std)} stds")
        value_range = None
        if self.input_range is not None:
            n = max(len(mean), len(std))
            mean_n = mean * n if len(mean) == 1 else mean
            std_n = std * n if len(std) == 1 else std
            lo = [(self.input_range[0] - m) / s for m, s in zip(mean_n, std_n, strict=True)]
            hi = [(self.input_range[1] - m) / s for m, s in zip(mean_n, std_n, strict=True)]
            value_range = (lo, hi)
        image = TensorInfo(name="image", description=self.input_description, content="image",
                           color_space=self.color_space, normalization=(mean, std), value_range=value_range)
        scores = TensorInfo(name="probability", description=self.output_description, content="feature",
                            value_range=self.score_range, labels=self.labels, labels_file=self.labels_file,
                            score_calibration=self.score_calibration)
        return [image], [scores]


def _tensor_from_dict(d: Mapping[str, Any], where: str) -> TensorInfo:
    d = dict(d)
    known = set(TensorInfo.__dataclass_fields__) | {"norm", "score_calibration"}
    unknown = sorted(set(d) - known)
    if unknown:
        raise MetadataSchemaError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    if "norm" in d:
        d["normalization"] = d.pop("norm")
    norm = d.get("normalization")
    if isinstance(norm, Mapping):
        d["normalization"] = (norm["mean"], norm["std"])
    vr = d.get("value_range")
    if isinstance(vr, Mapping):
        d["value_range"] = (vr["min"], vr["max"])
    sc = d.get("score_calibration")
    if isinstance(sc, Mapping):
        d["score_calibration"] = ScoreCalibration(**sc)
    d["associated_files"] = [AssociatedFile(**f) for f in d.get("associated_files") or []]
    return TensorInfo(**d)


def from_dict(d: Mapping[str, Any], base_dir: str | None = None) -> ModelMetadata:
    """The builder form from plain data (what ``liteconvert metadata set --from meta.json`` reads).

    Keys: ``name description version author license``, ``inputs``/``outputs`` (lists of :class:`TensorInfo`
    fields, ``normalization`` as ``{mean, std}`` or a pair, ``value_range`` as ``{min, max}`` or a pair,
    ``labels``, ``labels_file``...), ``associated_files`` (:class:`AssociatedFile` fields), or ``type:
    image_classifier`` with :class:`ImageClassifierMetadata`'s fields. Relative file paths count from ``base_dir``.
    """
    d = dict(d)

    def rel(p: Any) -> Any:
        return os.path.join(base_dir, p) if base_dir and isinstance(p, str) and not os.path.isabs(p) else p

    kind = str(d.pop("type", "general")).lower()
    files = [AssociatedFile(**{**f, "path": rel(f.get("path"))}) for f in d.pop("associated_files", None) or []]
    if kind == "image_classifier":
        known = set(ImageClassifierMetadata.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise MetadataSchemaError(f"unknown key(s) {unknown} for an image classifier; known: {sorted(known)}")
        if isinstance(d.get("input_norm"), Mapping):
            d["input_norm"] = (d["input_norm"]["mean"], d["input_norm"]["std"])
        if "labels_file" in d:
            d["labels_file"] = rel(d["labels_file"])
        if isinstance(d.get("score_calibration"), Mapping):
            d["score_calibration"] = ScoreCalibration(**d["score_calibration"])
        return ImageClassifierMetadata(associated_files=files, **d)
    if kind != "general":
        raise MetadataSchemaError(f"type {kind!r}: use 'general' or 'image_classifier'")
    ins = [_tensor_from_dict(t, f"inputs[{i}]") for i, t in enumerate(d.pop("inputs", None) or [])]
    outs = [_tensor_from_dict(t, f"outputs[{i}]") for i, t in enumerate(d.pop("outputs", None) or [])]
    for t in (*ins, *outs):
        t.labels_file = rel(t.labels_file)
        for af in t.associated_files:
            af.path = rel(af.path)
    known = {"name", "description", "version", "author", "license"}
    unknown = sorted(set(d) - known)
    if unknown:
        raise MetadataSchemaError(f"unknown key(s) {unknown}; known: {sorted(known | {'inputs', 'outputs', 'type'})}"
                                  " (or give the full schema form with 'subgraph_metadata')")
    return ModelMetadata(inputs=ins, outputs=outs, associated_files=files, **d)
