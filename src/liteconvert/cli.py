"""The ``liteconvert`` command line.

Subcommands live in ``liteconvert.commands`` (one module each). Every failure is one line on stderr,
``liteconvert: error: <problem>. Fix: <what to do>``, and a non-zero exit, whatever went wrong: an error we
foresaw, or a bug (then the line says so; ``--debug`` or ``LITECONVERT_DEBUG=1`` adds the traceback).

====  ===========================================================
 0    success
 1    conversion failed (unsupported ops, invalid model, an input that is unreadable or not a regular file)
 2    bad command line (unknown flag, bad flag value, missing argument)
 3    input not found
 4    output cannot be written (or would overwrite an input); nothing was written
 5    internal error (a bug in liteconvert: please report it with the --debug output)
 130  interrupted
====  ===========================================================

``liteconvert check`` adds its own codes for what a model needs (10, 11, 12; see ``commands/check.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import traceback
import warnings
from collections.abc import Sequence

SUBCOMMANDS = ["convert", "quantize", "quantization_report", "check", "inspect", "metadata", "demo"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_OUTPUT, EXIT_INTERNAL = 0, 1, 2, 3, 4, 5
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141


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
    parser.add_argument("--debug", action="store_true",
                        help="on an error, also print the traceback (for bug reports); LITECONVERT_DEBUG=1 too")
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
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = bool(os.environ.get("LITECONVERT_DEBUG"))
    if "--debug" in args_list:  # accepted anywhere on the line
        debug = True
        args_list = [a for a in args_list if a != "--debug"]
    with warnings.catch_warnings():
        _route_warnings(debug)
        try:
            return _main(_tflite_convert_style(args_list), debug)
        except SystemExit as e:  # argparse: --help, --version, usage errors (already one line)
            return e.code if isinstance(e.code, int) else (0 if e.code is None else EXIT_USAGE)


def _main(args_list: list[str], debug: bool) -> int:
    from .errors import (
        ConversionError,
        InvalidOptionError,
        OutputError,
        SourceNotFoundError,
    )

    try:
        parser = build_parser()
        args = parser.parse_args(args_list)
        if not getattr(args, "run", None):
            parser.print_help()
            return EXIT_USAGE
        code = int(args.run(args) or 0)
        sys.stdout.flush()
        return code
    except ConversionError as e:
        if debug:
            traceback.print_exc()
        _fail(str(e))
        if isinstance(e, SourceNotFoundError):
            return EXIT_NOT_FOUND
        if isinstance(e, OutputError):
            return EXIT_OUTPUT
        return EXIT_USAGE if isinstance(e, InvalidOptionError) else EXIT_FAILED
    except KeyboardInterrupt:
        _fail("interrupted; nothing was written")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader of our output went away (| head): stop quietly
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except MemoryError:
        _fail("out of memory. Fix: close other programs, or convert on a machine with more memory")
        return EXIT_FAILED
    except OSError as e:  # an I/O error no check foresaw (a disk that fails, a file that vanished)
        if debug:
            traceback.print_exc()
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        _fail(f"I/O error{where}: {(e.strerror or str(e) or type(e).__name__).lower()}. Fix: check the files "
              "and the disk, then try again")
        return EXIT_FAILED
    except Exception as e:  # a bug: still one line, and the traceback on request
        if debug:
            traceback.print_exc()
        first = (str(e).strip().splitlines() or [""])[0][:200]
        _fail(f"internal error ({type(e).__name__}{': ' + first if first else ''}). Fix: this is a bug in "
              "liteconvert; re-run with --debug (or LITECONVERT_DEBUG=1) and report the traceback")
        return EXIT_INTERNAL


def _route_warnings(debug: bool) -> None:
    """Our own warnings as one line each; third-party ones (Keras, TensorFlow) only with --debug."""
    from .errors import ConversionWarning

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: object = None,
             line: str | None = None) -> None:
        if issubclass(category, ConversionWarning):
            sys.stderr.write(f"liteconvert: warning: {' '.join(str(message).split())}\n")
        elif debug:
            sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    warnings.simplefilter("default" if debug else "ignore")
    warnings.simplefilter("always", ConversionWarning)
    warnings.showwarning = show


def _fail(message: str) -> None:
    line = " ".join(message.split())
    sys.stderr.write(f"liteconvert: error: {line}\n")
    sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
