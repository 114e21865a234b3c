"""The ``liteconvert`` command line.

Subcommands live in ``liteconvert.commands`` (one module each). Every failure is one line on stderr,
``liteconvert: error: <problem>. Fix: <what to do>``, and a non-zero exit:

====  ===========================================================
 0    success
 1    conversion failed (unsupported ops, invalid model, ...)
 2    bad command line (unknown flag, bad flag value, missing argument)
 3    input not found
====  ===========================================================

``liteconvert check`` adds its own codes for what a model needs (10, 11, 12; see ``commands/check.py``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

SUBCOMMANDS = ["convert", "check", "inspect", "metadata", "demo"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_FOUND = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        sys.stderr.write(f"liteconvert: error: {message}. Fix: see 'liteconvert {self._sub()}--help'.\n")
        sys.exit(EXIT_USAGE)

    def _sub(self) -> str:
        parts = self.prog.split()
        return (" ".join(parts[1:]) + " ") if len(parts) > 1 else ""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="liteconvert", description="Convert TensorFlow/Keras models to LiteRT (.tflite).")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"liteconvert {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f".commands.{name}", __package__).add_parser(sub)
    return parser


def _tflite_convert_style(argv: list[str]) -> list[str]:
    """``tflite_convert`` flags with no subcommand (``--saved_model_dir`` etc.) mean ``convert``."""
    legacy = ("--saved_model_dir", "--keras_model_file", "--output_file")
    if argv and any(a.split("=")[0] in legacy for a in argv) and argv[0].startswith("-"):
        return ["convert", *argv]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    args_list = _tflite_convert_style(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    args = parser.parse_args(args_list)
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_USAGE
    from .errors import ConversionError, InvalidOptionError, SourceNotFoundError

    try:
        return int(args.run(args) or 0)
    except SourceNotFoundError as e:
        _fail(str(e))
        return EXIT_NOT_FOUND
    except InvalidOptionError as e:
        _fail(str(e))
        return EXIT_USAGE
    except ConversionError as e:
        _fail(str(e))
        return EXIT_FAILED
    except KeyboardInterrupt:
        _fail("interrupted")
        return 130


def _fail(message: str) -> None:
    line = " ".join(message.split())
    sys.stderr.write(f"liteconvert: error: {line}\n")


if __name__ == "__main__":
    sys.exit(main())
