"""``liteconvert demo``: the built-in example end to end (build, convert, verify in LiteRT, report)."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="convert a built-in Keras CNN, verify it in LiteRT and print a report")
    p.add_argument("-o", "--output", help="also write the .tflite here")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    report = run_demo(args.output)
    sys.stdout.write(report.text() + "\n")
    if args.output:
        sys.stdout.write(f"wrote {args.output}\n")
    return 0 if report.ok else 1
