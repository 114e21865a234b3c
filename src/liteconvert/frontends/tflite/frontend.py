"""The TFLite frontend: an existing ``.tflite`` file as a source (``Frontend`` protocol), e.g. to quantize it.

``load`` verifies and opens the file and reads its extras (``frontend.extras``: the ``TFLITE_METADATA`` buffer,
associated files, description), which the caller attaches to what it writes; ``import_model`` reads it into the
IR, one :class:`NodeRecord` per operator (``node`` is ``"<subgraph index>:<op index>"``, ``layer`` the name of
its first output); ``references`` run the original file in LiteRT.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ...config import ConversionConfig
from ..base import BUILTIN, CUSTOM, SELECT, UNSUPPORTED, Imported, ModelInput, NodeRecord, Reference
from .importer import SignatureSpec, TFLiteExtras, TFLiteSource, open_tflite


class TFLiteFrontend:
    """``source``: a path or the file's bytes."""

    def __init__(self, source: str | os.PathLike[str] | bytes | bytearray | memoryview, label: str | None = None):
        self.source = source
        self.label = label or (os.fspath(source) if isinstance(source, (str, os.PathLike)) else "the model bytes")
        self.extras: TFLiteExtras | None = None  # set by load

    def load(self) -> TFLiteSource:
        loaded = open_tflite(self.source)
        self.extras = loaded.extras()
        return loaded

    def import_model(self, loaded: TFLiteSource, config: ConversionConfig, keep_going: bool = False) -> Imported:
        model, ops = loaded.build()
        sig = next((s.key for s in loaded.signatures if s.subgraph == 0), "")
        records: list[NodeRecord] = []
        for op in ops:
            rec = NodeRecord(op.op_type, op.node, op.layer, BUILTIN, (op.kind,), emitted="builtin", signature=sig)
            if op.problem:
                rec.status, rec.reason, rec.emitted, rec.litert = UNSUPPORTED, op.problem, None, ()
            elif op.kind == "CUSTOM":
                # the file already runs this op: it stays, whatever the compatibility flags say (they decide
                # what a conversion may add; there is nothing else to lower it to)
                flex = (op.custom_code or "").startswith("Flex")
                rec.status = SELECT if flex else CUSTOM
                rec.fallback = "select" if flex else "custom"
                rec.reason = f"the model runs {'Select TF op' if flex else 'custom op'} {op.custom_code}, kept as is"
                rec.emitted = "flex" if flex else "custom"
            records.append(rec)
        problems = [r.problem() for r in records if r.emitted is None]
        if problems:
            return Imported(None, records, problems)
        return Imported(model, records, [])

    def references(self, loaded: TFLiteSource) -> dict[str, Reference]:
        """The original file run in LiteRT, per signature (by tensor index when the file has no SignatureDefs)."""
        return {s.key: _Runner(loaded, s) for s in loaded.signatures}

    def inputs(self, loaded: TFLiteSource) -> list[ModelInput]:
        out = []
        for s in loaded.signatures:
            tensors = loaded.model.subgraphs[s.subgraph].tensors
            for name, i in s.inputs.items():
                t = tensors[i]
                out.append(ModelInput(s.key, name, t.dtype, tuple(t.shape_signature)))
        return out

    def aliases(self, loaded: TFLiteSource) -> dict[str, list[str]]:
        return {}

    def advice(self, op_type: str, status: str) -> str | None:
        return None


class _Runner:
    """Runs one signature of the original file in the LiteRT interpreter (made on first use)."""

    def __init__(self, loaded: TFLiteSource, spec: SignatureSpec):
        self.path = loaded.path
        self.data = None if loaded.path else loaded.buf
        self.spec = spec
        self._interp: Any = None

    def _interpreter(self) -> Any:
        if self._interp is None:
            from ai_edge_litert.interpreter import Interpreter

            from ..._console import silenced

            with silenced():
                if self.path:
                    self._interp = Interpreter(model_path=self.path)
                else:
                    self._interp = Interpreter(model_content=bytes(self.data))
        return self._interp

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        interp = self._interpreter()
        if not self.spec.synthesized:
            runner = interp.get_signature_runner(self.spec.key)
            out = runner(**{k: np.ascontiguousarray(v) for k, v in inputs.items()})
            return {k: np.array(v) for k, v in out.items()}
        # No SignatureDefs: the subgraph's inputs and outputs by tensor index.
        details = {d["index"]: d for d in interp.get_input_details()}
        for name, index in self.spec.inputs.items():
            value = np.ascontiguousarray(inputs[name])
            if tuple(details[index]["shape"]) != value.shape:
                interp.resize_tensor_input(index, list(value.shape))
        interp.allocate_tensors()
        for name, index in self.spec.inputs.items():
            interp.set_tensor(index, np.ascontiguousarray(inputs[name], dtype=details[index]["dtype"]))
        interp.invoke()
        return {name: np.array(interp.get_tensor(index)) for name, index in self.spec.outputs.items()}
