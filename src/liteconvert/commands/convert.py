"""``liteconvert convert``: a model to a .tflite file; also takes ``tflite_convert``'s flags."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import InvalidOptionError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert a SavedModel directory, .keras or .h5 file to .tflite",
                       description="Convert a model to LiteRT. Accepts tflite_convert's flags too.")
    p.add_argument("source", nargs="?", help="SavedModel directory, .keras file or .h5 file")
    p.add_argument("-o", "--output", "--output_file", dest="output", help="the .tflite file to write")
    p.add_argument("--signature-keys", "--signature_keys", dest="signature_keys",
                   help="comma-separated SavedModel signature keys (default: all)")
    p.add_argument("--saved_model_dir", "--saved-model-dir", dest="saved_model_dir", help=argparse.SUPPRESS)
    p.add_argument("--keras_model_file", "--keras-model-file", dest="keras_model_file", help=argparse.SUPPRESS)
    p.add_argument("--saved_model_tag_set", dest="tags", help="comma-separated SavedModel tags")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..converter import TFLiteConverter, _converter_for, write_atomic

    sources = [s for s in (args.source, args.saved_model_dir, args.keras_model_file) if s]
    if len(sources) != 1:
        raise InvalidOptionError("give exactly one model: SRC, --saved_model_dir or --keras_model_file. "
                                 "Fix: liteconvert convert SRC -o OUT.tflite")
    if not args.output:
        raise InvalidOptionError("no output file. Fix: add -o OUT.tflite (or --output_file)")
    keys = [k for k in (args.signature_keys or "").split(",") if k] or None
    src = sources[0]
    if args.keras_model_file:
        conv = TFLiteConverter.from_keras_file(src)
    elif args.saved_model_dir:
        tags = [t for t in (args.tags or "").split(",") if t] or None
        conv = TFLiteConverter.from_saved_model(src, keys, tags)
    else:
        conv = _converter_for(src, keys)
    data = conv.convert()
    write_atomic(args.output, data)
    if not args.quiet:
        sys.stdout.write(f"wrote {args.output} ({len(data):,} bytes)\n")
    return 0


def _exists(path: str) -> bool:
    return os.path.exists(path)
