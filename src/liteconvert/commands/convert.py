"""``liteconvert convert``: a model to a .tflite file; also takes ``tflite_convert``'s flags."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import InvalidOptionError
from ..files import atomic_output, check_output
from ._common import add_quantize_arguments, add_source_arguments, apply_quantize, emit_report, source_converter


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert a SavedModel directory, .keras or .h5 file to .tflite",
                       description="Convert a model to LiteRT. Accepts tflite_convert's flags too.")
    add_source_arguments(p)
    p.add_argument("-o", "--output", "--output_file", dest="output", help="the .tflite file to write")
    p.add_argument("--allow-select-tf-ops", "--enable_select_tf_ops", dest="select_tf_ops", action="store_true",
                   help="emit ops with no builtin lowering as Select TF (Flex) ops; needs the Flex delegate")
    p.add_argument("--allow-custom-ops", "--allow_custom_ops", dest="custom_ops", action="store_true",
                   help="emit ops LiteRT cannot run as custom ops named after the source op (you supply kernels)")
    p.add_argument("--target_ops", dest="target_ops", help=argparse.SUPPRESS)  # tflite_convert: A,B op sets
    p.add_argument("--verify", action="store_true",
                   help="run the source model and the result in LiteRT on the same inputs (the first "
                        "representative samples after calibration, else random ones) and compare; on a mismatch "
                        "nothing is written")
    p.add_argument("--tolerance", type=float, default=None,
                   help="with --verify: largest max abs error allowed, relative to max(1, max|reference|) "
                        "(default 1e-4; 0.1 for a quantized model)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    add_quantize_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.output:
        raise InvalidOptionError("no output file. Fix: add -o OUT.tflite (or --output_file)")
    conv, src = source_converter(args, "convert")
    check_output(args.output, [src])  # before the conversion: never overwrite the source, fail fast
    _apply_op_sets(conv, args)
    apply_quantize(conv, args)
    return convert_and_write(conv, src, args)


def convert_and_write(conv: object, src: str, args: argparse.Namespace) -> int:
    """Convert, write atomically (verifying first with --verify), print warnings, the report and a summary."""
    import warnings

    from ..errors import ConversionError, ConversionWarning, UnsupportedOpsError

    with warnings.catch_warnings(record=True) as caught, atomic_output(args.output, [src]) as out:
        warnings.simplefilter("always", ConversionWarning)
        try:
            conv.convert_to_file(out)  # streamed: the model is never one bytes object in memory
        except UnsupportedOpsError as e:  # one line here; 'liteconvert check' prints the table
            raise ConversionError(e.summary) from None
        out.flush()
        if args.verify:  # on a mismatch the block raises and the temporary file goes: nothing is written
            _verify(conv, out.name, args)
    for w in caught:
        if issubclass(w.category, ConversionWarning):
            sys.stderr.write(f"liteconvert: warning: {' '.join(str(w.message).split())}\n")
    emit_report(conv, args)
    if not args.quiet:
        sys.stdout.write(f"wrote {args.output} ({os.path.getsize(args.output):,} bytes)\n")
    return 0


def _apply_op_sets(conv: object, args: argparse.Namespace) -> None:
    from ..converter import OpsSet

    sets = {o.strip().upper() for o in (getattr(args, "target_ops", None) or "").split(",") if o.strip()}
    unknown = sets - {o.value for o in OpsSet}
    if unknown:
        raise InvalidOptionError(f"--target_ops has unknown op set(s) {sorted(unknown)}. Fix: use "
                                 "TFLITE_BUILTINS,SELECT_TF_OPS")
    if sets - {"SELECT_TF_OPS"}:  # tflite_convert's --target_ops, integer op sets included
        conv.target_spec.supported_ops = {OpsSet[o] for o in sets}  # type: ignore[attr-defined]
    if getattr(args, "select_tf_ops", False) or "SELECT_TF_OPS" in sets:
        conv.target_spec.supported_ops = {*conv.target_spec.supported_ops,  # type: ignore[attr-defined]
                                          OpsSet.TFLITE_BUILTINS, OpsSet.SELECT_TF_OPS}
    if getattr(args, "custom_ops", False):
        conv.allow_custom_ops = True  # type: ignore[attr-defined]


def _verify(conv: object, data: str, args: argparse.Namespace) -> None:
    """Compare the result with the source model (on the representative samples after calibration, else on random
    inputs); raise (nothing written) on a mismatch."""
    from ..errors import ConversionError

    report = conv.verify(data)  # type: ignore[attr-defined]
    mode = getattr(args, "quantize", None)
    tolerance = args.tolerance if args.tolerance is not None else (0.1 if mode else 1e-4)
    if not report.ok(tolerance):
        if mode:  # quantization error, not a conversion bug: what to do about it
            fix = ("see which layers cost it with --report, keep them float with --keep-float-worst N, "
                   + ("or try --quantize int16x8; " if mode == "int8" else "") + "--tolerance accepts a larger "
                   "difference")
        else:
            fix = "report the model to the liteconvert developers; --tolerance accepts a larger difference"
        raise ConversionError(f"verification failed: {report.text()} (relative {report.worst:.2e} > "
                              f"{tolerance:g}); nothing written. Fix: {fix}")
    if not args.quiet:
        sys.stdout.write(f"verified: {report.text()}\n")
