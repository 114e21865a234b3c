"""``liteconvert inspect``: signatures, ops and versions, sizes and metadata of a .tflite model."""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="show what is inside a .tflite model",
                       description="Show a .tflite model's signatures (names, shapes with -1 for dynamic dims, "
                                   "dtypes), op histogram with versions, tensor and buffer counts, size split "
                                   "into weights and graph, and metadata. Works on any LiteRT model.")
    p.add_argument("model", help="the .tflite file")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..inspect import format_report, inspect_model

    report = inspect_model(args.model)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        sys.stdout.write(format_report(report))
    return 0
