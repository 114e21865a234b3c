"""``liteconvert check``: can every op of a model run on the standard LiteRT runtime? Writes no model.

Exit codes (besides the CLI-wide 1 load failure, 2 bad command line, 3 input not found):

====  ==================================================================
 0    converts as is (LiteRT builtin ops only)
 10   converts with ``--allow-select-tf-ops`` (needs the Flex delegate)
 11   converts with ``--allow-custom-ops`` (needs your custom kernels)
 12   does not convert with any flags (e.g. a ``tf.py_function``)
 13   with ``--quantize int8|int16x8 --integer-only``: converts, but some op has no integer kernel
====  ==================================================================

``--quantize int8`` (or ``int16x8``) adds what full integer quantization would make of each op: integer, or
float and why (no integer kernel, a final activation behind a float output, ...). It needs no calibration data:
kernels, not ranges, decide it.
"""

from __future__ import annotations

import argparse
import sys

from ._common import add_source_arguments, set_integer_ops, source_converter


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check", help="evaluate a model: which ops run on LiteRT builtins, which need Select TF or custom ops",
        description="Evaluate a model without converting it: one row per distinct source op with its count, "
                    "status and LiteRT op(s), where problems come from and what to do. Exit code: 0 converts "
                    "as is, 10 needs --allow-select-tf-ops, 11 needs --allow-custom-ops, 12 does not convert, 13 "
                    "(with --quantize and --integer-only) converts but not integer only.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_source_arguments(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--quantize", choices=("int8", "int16x8"), default=None,
                   help="also say which ops full integer quantization would leave in float, and why (no data needed)")
    p.add_argument("--io-type", choices=("float32", "int8", "uint8", "int16"), default=None,
                   help="with --quantize: the interface type (an integer one makes a final SOFTMAX integer too)")
    p.add_argument("--integer-only", action="store_true",
                   help="with --quantize: every op must be integer (exit code 13 if one cannot be)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import InvalidOptionError

    conv, _ = source_converter(args, "check")
    if args.quantize is None and (args.io_type or args.integer_only):
        raise InvalidOptionError("--io-type and --integer-only apply with --quantize. Fix: add --quantize int8 or "
                                 "--quantize int16x8")
    if args.quantize:
        from ..config import Optimize

        conv.optimizations = [Optimize.DEFAULT]
        conv.target_spec.supported_types = ["int8"]  # (full integer without data: check needs none)
        set_integer_ops(conv, args.quantize, args.integer_only, args.io_type)
    report = conv.check()
    sys.stdout.write(report.to_json() + "\n" if args.json else report.to_text())
    sys.stdout.flush()
    return report.exit_code
