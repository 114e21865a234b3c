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

from ._common import add_source_arguments, source_converter


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check", help="evaluate a model: which ops run on LiteRT builtins, which need Select TF or custom ops",
        description="Evaluate a model without converting it: one row per distinct source op with its count, "
                    "status and LiteRT op(s), where problems come from and what to do. Exit code: 0 converts "
                    "as is, 10 needs --allow-select-tf-ops, 11 needs --allow-custom-ops, 12 does not convert.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_source_arguments(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    conv, _ = source_converter(args, "check")
    report = conv.check()
    sys.stdout.write(report.to_json() + "\n" if args.json else report.to_text())
    sys.stdout.flush()
    return report.exit_code
