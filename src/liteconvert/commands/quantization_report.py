"""``liteconvert quantization-report``: a quantized .tflite against its float source, op by op."""

from __future__ import annotations

import argparse
import sys

from ..errors import InvalidOptionError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quantization-report", help="compare a quantized model with its float source, per op",
                       description="Run a float .tflite and its quantized version in LiteRT on the same samples and "
                                   "report each quantized op's output error (SNR, cosine), worst first.")
    p.add_argument("float_model", help="the float .tflite")
    p.add_argument("quantized_model", help="the quantized .tflite")
    p.add_argument("--representative-data", metavar="FILE.npz|DIR", help="samples (default: 16 random inputs)")
    from ._common import add_image_norm_argument

    add_image_norm_argument(p)
    p.add_argument("--samples", type=int, default=64, help="at most this many samples (default 64)")
    p.add_argument("--signature", metavar="KEY", help="the signature to compare (default: the first)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--html", metavar="FILE", help="also write an HTML page with a plot")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..files import read_input, write_atomic
    from ..quantization_report import build_report
    from ..verify import random_inputs, signature_specs

    float_bytes = read_input(args.float_model, "model")
    quant_bytes = read_input(args.quantized_model, "model")
    key = _signature(float_bytes, args.signature)
    from ..errors import litert_refusal
    from ..quantization_report import CANNOT_RUN_FIX

    with litert_refusal(None, "the report runs both models in LiteRT", CANNOT_RUN_FIX):
        specs = signature_specs(float_bytes, key)
    from ._common import load_representative_data

    dataset = load_representative_data(args)
    if dataset is not None:
        from ..quantize import data

        inputs = [data.InputSpec(n, tuple(shape), dtype) for n, (shape, dtype) in specs.items()]
        tag = key or ""
        samples = data.samples_by_signature(dataset, {tag: inputs}, tag, args.samples,
                                            _metadata_normalization(float_bytes, inputs))[tag]
    else:
        samples = [random_inputs(specs, batch=1, seed=i) for i in range(16)]
    report = build_report(float_bytes, quant_bytes, samples[:args.samples], signature=key)
    sys.stdout.write(report.to_json() + "\n" if args.json else report.to_text())
    if args.html:
        write_atomic(args.html, report.to_html().encode("utf-8"))
        if not args.json:
            sys.stdout.write(f"wrote {args.html}\n")
    return 0


def _signature(model: bytes, wanted: str | None) -> str | None:
    """``wanted``, checked against the model's signatures (default: the first; None if it has none)."""
    from ..tflite.reader import read_model

    keys = [s.key for s in read_model(model).signatures]
    if wanted is not None and wanted not in keys:
        raise InvalidOptionError(f"--signature {wanted}: the float model has {', '.join(keys) or 'no signatures'}. "
                                 "Fix: name one of those")
    return wanted or (keys[0] if keys else None)


def _metadata_normalization(model: bytes, inputs: list) -> tuple[list[float], list[float]] | None:
    """The normalization the float model's TFLite metadata records for its one input (for a folder of images)."""
    if len(inputs) != 1:
        return None
    from ..metadata import read
    from ..quantize.images import model_normalization

    return model_normalization(read(model)["metadata"])
