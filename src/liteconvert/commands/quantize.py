"""``liteconvert quantize``: quantize an existing float .tflite (ours, Google's, MediaPipe's), keeping its
signatures, metadata and associated files."""

from __future__ import annotations

import argparse

from ..errors import InvalidOptionError
from ..files import check_output
from ._common import add_quantize_arguments, apply_quantize


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quantize", help="quantize an existing float .tflite model",
                       description="Quantize a float .tflite model: dynamic range, float16, int8 or 16x8. Its "
                                   "signatures, TFLite metadata and associated files are kept.")
    p.add_argument("model", help="the float .tflite file")
    p.add_argument("-o", "--output", required=True, help="the .tflite file to write")
    p.add_argument("--verify", action="store_true",
                   help="run the original and the result in LiteRT on the same inputs (the first representative "
                        "samples after calibration, else random ones) and compare; on a mismatch "
                        "nothing is written")
    p.add_argument("--tolerance", type=float, default=None, help="with --verify (default 0.1, relative)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    add_quantize_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..converter import TFLiteConverter
    from .convert import convert_and_write

    if not args.quantize:
        raise InvalidOptionError("no quantization mode. Fix: add --quantize dynamic|float16|int8|int16x8")
    check_output(args.output, [args.model])
    conv = TFLiteConverter.from_tflite(args.model)
    apply_quantize(conv, args)
    return convert_and_write(conv, args.model, args)
