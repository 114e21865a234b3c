"""Run a converted model in the LiteRT interpreter and compare it with reference outputs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import litert_refusal


@dataclass
class Comparison:
    name: str
    max_abs_error: float
    reference_scale: float

    @property
    def relative(self) -> float:
        return self.max_abs_error / max(1.0, self.reference_scale)


def make_interpreter(model: bytes | str | os.PathLike[str], num_threads: int = 1) -> Any:
    """A LiteRT interpreter for ``model`` (bytes or a path), created without the runtime's console chatter."""
    from ai_edge_litert.interpreter import Interpreter

    from ._console import silenced

    with silenced():
        if isinstance(model, (str, os.PathLike)):
            interp = Interpreter(model_path=os.fspath(model), num_threads=num_threads)
        else:
            interp = Interpreter(model_content=bytes(model), num_threads=num_threads)
        interp.allocate_tensors()
    return interp


@dataclass
class VerifyReport:
    """Per signature, the comparison of each output with the source model's."""

    signatures: dict[str, list[Comparison]] = field(default_factory=dict)

    @property
    def worst(self) -> float:
        return max((c.relative for cs in self.signatures.values() for c in cs), default=0.0)

    def ok(self, tolerance: float = 1e-5) -> bool:
        return self.worst <= tolerance

    def text(self) -> str:
        parts = [f"{key}/{c.name} {c.max_abs_error:.2e}" for key, cs in self.signatures.items() for c in cs]
        return "max abs error vs source: " + (", ".join(parts) or "nothing to compare")


def run_tflite(model: bytes | str | os.PathLike[str], inputs: Mapping[str, np.ndarray], signature: str | None = None,
               num_threads: int = 1) -> dict[str, np.ndarray]:
    """Run one signature of a ``.tflite`` model (bytes) on named inputs; returns named outputs."""
    interp = make_interpreter(model, num_threads)
    runner = interp.get_signature_runner(signature)
    out = runner(**{k: np.ascontiguousarray(v) for k, v in inputs.items()})
    return {k: np.array(v) for k, v in out.items()}


def compare(outputs: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray]) -> list[Comparison]:
    """Max abs error per output, with the reference's scale (max |reference|)."""
    result = []
    for name, ref in reference.items():
        got = outputs[name]
        ref = np.asarray(ref)
        if got.shape != ref.shape:
            raise AssertionError(f"output {name}: shape {got.shape} != reference {ref.shape}")
        err = float(np.max(np.abs(got.astype(np.float64) - ref.astype(np.float64)))) if ref.size else 0.0
        scale = float(np.max(np.abs(ref))) if ref.size else 0.0
        result.append(Comparison(name, err, scale))
    return result


def random_inputs(specs: Mapping[str, tuple[tuple[int, ...], str]], batch: int = 1, seed: int = 0,
                  dynamic_dim: int | None = None) -> dict[str, np.ndarray]:
    """Random inputs for ``{name: (shape_signature, dtype)}``: a dynamic first dim becomes ``batch``, other
    dynamic dims ``dynamic_dim`` (``batch`` when not given)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, (shape, dtype) in specs.items():
        other = batch if dynamic_dim is None else dynamic_dim
        concrete = [(batch if i == 0 else other) if d < 0 else d for i, d in enumerate(shape)]
        if np.dtype(dtype).kind == "f":
            out[name] = rng.standard_normal(concrete).astype(dtype)
        elif np.dtype(dtype).kind == "b":
            out[name] = rng.integers(0, 2, concrete).astype(bool)
        else:
            out[name] = rng.integers(0, 10, concrete).astype(dtype)
    return out


def signature_specs(model: bytes | str | os.PathLike[str], signature: str | None = None,
                    ) -> dict[str, tuple[tuple[int, ...], str]]:
    """``{input name: (shape_signature, dtype)}`` of a signature, as LiteRT reports it."""
    interp = make_interpreter(model)
    if signature is None and not interp.get_signature_list():  # no SignatureDefs: the model's inputs by name
        details = {d["name"]: d for d in interp.get_input_details()}
    else:
        details = interp.get_signature_runner(signature).get_input_details()
    return {name: (tuple(int(d) for d in d_["shape_signature"]), np.dtype(d_["dtype"]).name)
            for name, d_ in details.items()}


def interface_quantization(runner: Any) -> tuple[dict[str, tuple[Any, str]], dict[str, tuple[Any, str]]]:
    """The integer interface of a signature runner: ``{name: (QuantParams, dtype)}`` for its quantized inputs and
    outputs (empty for a float interface)."""
    from .quantize.params import fixed

    def quantized(details: Mapping[str, Any]) -> dict[str, tuple[Any, str]]:
        out = {}
        for name, d in details.items():
            scale, zero = d.get("quantization", (0.0, 0))
            if np.dtype(d["dtype"]).kind in "iu" and scale:
                out[name] = (fixed(float(scale), int(zero)), np.dtype(d["dtype"]).name)
        return out

    return quantized(runner.get_input_details()), quantized(runner.get_output_details())


def verify_frontend(frontend: Any, model: bytes | str | os.PathLike[str], batch: int = 2, dynamic_dim: int = 32,
                    seed: int = 0, samples: Mapping[str, list[dict[str, np.ndarray]]] | None = None,
                    ) -> VerifyReport:
    """Run the frontend's source model and the converted ``model`` (bytes or a path) in LiteRT on the same
    inputs, per signature; compare. The inputs: a calibrated signature's representative samples (up to 8, from
    ``samples``), else random ones. An integer interface (int8 / uint8 / int16 inputs and outputs) is fed the
    quantized inputs and read dequantized, while the source gets the float values; random values for a quantized
    input span its representable range."""
    from ._console import silenced
    from .quantize.params import dequantize, quantize

    loaded = frontend.load()  # loaded again: a conversion does not keep the source model alive
    report = VerifyReport()
    interp = None
    for key, reference in frontend.references(loaded).items():
        with litert_refusal(None, "--verify runs the result in LiteRT", _NO_RUN):
            interp = interp or make_interpreter(model)
            runner = interp.get_signature_runner(key)
        qin, qout = interface_quantization(runner)
        given = (samples or {}).get(key)
        if given:
            feeds = [dict(s) for s in given[:8]]
        else:
            specs = {n: (shape, "float32" if n in qin else dtype)
                     for n, (shape, dtype) in signature_specs(model, key).items()}
            feed = random_inputs(specs, batch=batch, seed=seed, dynamic_dim=dynamic_dim)
            rng = np.random.default_rng(seed + 1)
            for name, (q, dtype) in qin.items():
                info = np.iinfo(dtype)
                feed[name] = dequantize(rng.uniform(info.min, info.max, feed[name].shape), q)
            feeds = [feed]
        refs, gots = [], []
        for feed in feeds:
            with silenced(), litert_refusal(None, "--verify runs the source and the result in LiteRT", _NO_RUN):
                refs.append(reference(feed))
            ours = {n: quantize(v, qin[n][0], qin[n][1]) if n in qin else np.ascontiguousarray(v)
                    for n, v in feed.items()}
            with litert_refusal(None, "--verify runs the result in LiteRT", _NO_RUN):
                got = runner(**ours)
            gots.append({n: dequantize(v, qout[n][0]) if n in qout else np.array(v) for n, v in got.items()})
        report.signatures[key] = compare(_stack(gots), _stack(refs))
    return report


_NO_RUN = "drop --verify, and check the model where its custom kernels (or the Flex delegate) are registered"


def _stack(outputs: list[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Outputs of several runs, joined along the batch axis (one run: as they are)."""
    if len(outputs) == 1:
        return {k: np.asarray(v) for k, v in outputs[0].items()}
    return {k: np.concatenate([np.asarray(o[k]).reshape(1, *np.shape(o[k])) if np.ndim(o[k]) == 0
                               else np.asarray(o[k]) for o in outputs]) for k in outputs[0]}
