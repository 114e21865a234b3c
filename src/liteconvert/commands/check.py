"""``liteconvert check``: can every op of a model run on the standard LiteRT runtime? Writes no model.

Exit codes (besides the CLI-wide 1 load failure, 2 bad command line, 3 input not found):

====  ==================================================================
 0    converts as is (LiteRT builtin ops only)
 10   converts with ``--allow-select-tf-ops`` (needs the Flex delegate)
 11   converts with ``--allow-custom-ops`` (needs your custom kernels)
 12   does not convert with any flags (e.g. a ``tf.py_function``)
====  ==================================================================
"""

from __future__ import annotations

import argparse
import sys

from ..errors import InvalidOptionError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check", help="evaluate a model: which ops run on LiteRT builtins, which need Select TF or custom ops",
        description="Evaluate a model without converting it: one row per distinct source op with its count, "
                    "status and LiteRT op(s), where problems come from and what to do. Exit code: 0 converts "
                    "as is, 10 needs --allow-select-tf-ops, 11 needs --allow-custom-ops, 12 does not convert.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", nargs="?", help="SavedModel directory, .keras file or .h5 file")
    p.add_argument("--saved_model_dir", "--saved-model-dir", dest="saved_model_dir", help=argparse.SUPPRESS)
    p.add_argument("--keras_model_file", "--keras-model-file", dest="keras_model_file", help=argparse.SUPPRESS)
    p.add_argument("--signature-keys", "--signature_keys", dest="signature_keys",
                   help="comma-separated SavedModel signature keys (default: all)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..converter import TFLiteConverter, _converter_for

    sources = [s for s in (args.source, args.saved_model_dir, args.keras_model_file) if s]
    if len(sources) != 1:
        raise InvalidOptionError("give exactly one model. Fix: liteconvert check SRC")
    keys = [k for k in (args.signature_keys or "").split(",") if k] or None
    if args.keras_model_file:
        conv = TFLiteConverter.from_keras_file(sources[0])
    elif args.saved_model_dir:
        conv = TFLiteConverter.from_saved_model(sources[0], keys)
    else:
        conv = _converter_for(sources[0], keys)
    report = conv.check()
    sys.stdout.write(report.to_json() + "\n" if args.json else report.to_text())
    sys.stdout.flush()
    return report.exit_code
