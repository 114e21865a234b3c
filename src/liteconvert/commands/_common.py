"""Argument handling shared by the subcommands that take a source model (``convert``, ``check``)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..errors import InvalidOptionError


def add_source_arguments(p: argparse.ArgumentParser) -> None:
    """SRC, ``tflite_convert``'s ``--saved_model_dir`` / ``--keras_model_file``, and ``--signature-keys``."""
    p.add_argument("source", nargs="?", help="SavedModel directory, .keras file or .h5 file")
    p.add_argument("--saved_model_dir", "--saved-model-dir", dest="saved_model_dir", help=argparse.SUPPRESS)
    p.add_argument("--keras_model_file", "--keras-model-file", dest="keras_model_file", help=argparse.SUPPRESS)
    p.add_argument("--saved_model_tag_set", dest="tags", help="comma-separated SavedModel tags")
    p.add_argument("--signature-keys", "--signature_keys", dest="signature_keys", nargs="+", metavar="KEY",
                   help="SavedModel signature keys, comma- or space-separated (default: all; signatures that "
                        "compute the same thing, like Keras's serve and serving_default, count once)")


def signature_keys(values: list[str] | None) -> list[str] | None:
    """``--signature-keys a,b`` or ``--signature-keys a b`` as a list; an empty list is refused."""
    if values is None:
        return None
    keys: list[str] = []
    for v in values:
        for k in v.split(","):
            k = k.strip()
            if k and k not in keys:
                keys.append(k)
    if not keys:
        raise InvalidOptionError("--signature-keys names no signature. Fix: give at least one key "
                                 "(--signature-keys serving_default), or drop the flag to convert all")
    return keys


def source_converter(args: argparse.Namespace, command: str) -> tuple[Any, str]:
    """The converter for the one source model given, and its path."""
    from ..converter import TFLiteConverter, _converter_for

    sources = [s for s in (args.source, args.saved_model_dir, args.keras_model_file) if s]
    if not sources and args.signature_keys and os.path.exists(args.signature_keys[-1]):
        raise InvalidOptionError(f"{args.signature_keys[-1]} was read as a signature key. Fix: put the model "
                                 f"first (liteconvert {command} SRC --signature-keys KEY ...), or separate keys "
                                 "with commas")
    if len(sources) != 1:
        raise InvalidOptionError(f"give exactly one model: SRC, --saved_model_dir or --keras_model_file. "
                                 f"Fix: liteconvert {command} SRC{' -o OUT.tflite' if command == 'convert' else ''}")
    src = sources[0]
    keys = signature_keys(args.signature_keys)
    tags = [t for t in (args.tags or "").split(",") if t] or None
    if args.keras_model_file:
        if os.path.isdir(src):
            raise InvalidOptionError(f"--keras_model_file {src} is a directory (a SavedModel?). Fix: pass it "
                                     "with --saved_model_dir, or name a .keras/.h5 file")
        if keys:
            raise InvalidOptionError("--signature-keys applies to SavedModel directories only. Fix: drop it for "
                                     "a Keras file")
        return TFLiteConverter.from_keras_file(src), src
    if args.saved_model_dir:
        if os.path.exists(src) and not os.path.isdir(src):
            raise InvalidOptionError(f"--saved_model_dir {src} is a file, not a SavedModel directory. Fix: pass "
                                     "a .keras/.h5 file with --keras_model_file")
        return TFLiteConverter.from_saved_model(src, keys, tags), src
    if tags:
        if not os.path.isdir(src):
            raise InvalidOptionError("--saved_model_tag_set applies to SavedModel directories only. Fix: drop it")
        return TFLiteConverter.from_saved_model(src, keys, tags), src
    return _converter_for(src, keys), src
