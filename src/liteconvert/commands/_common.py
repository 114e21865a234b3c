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


QUANTIZE_MODES = ("dynamic", "float16", "int8", "int16x8")


def add_quantize_arguments(p: argparse.ArgumentParser) -> None:
    """The optimization flag family: ``--quantize`` and what calibration and the report need."""
    g = p.add_argument_group("quantization")
    g.add_argument("--quantize", choices=QUANTIZE_MODES, help="post-training quantization: dynamic (int8 weights), "
                   "float16 (weights), int8 (full integer; needs --representative-data unless the model is "
                   "quantization-aware trained), int16x8 (16-bit activations, int8 weights; needs "
                   "--representative-data)")
    g.add_argument("--representative-data", metavar="FILE.npz|FILE.npy|DIR",
                   help="calibration samples: an .npz with one array per input (keyed by input name, samples along "
                        "the first axis), one .npy for a one-input model, a folder of .npy files named after "
                        "the inputs, or a folder of images (.jpg, .png, ...) for a model with one image input")
    add_image_norm_argument(g)
    g.add_argument("--io-type", choices=("float32", "int8", "uint8", "int16"), default=None,
                   help="the model's input and output type (default float32; int8/uint8 with --quantize int8, int16 "
                        "with --quantize int16x8)")
    g.add_argument("--calibration-samples", type=int, metavar="N", help="use at most N samples")
    g.add_argument("--dynamic-min-elements", type=int, default=None, metavar="N",
                   help="with --quantize dynamic: weights of fewer than N elements stay float (default 1024, as "
                        "Google's converter; 0 quantizes them all)")
    g.add_argument("--calibration", choices=("minmax", "percentile", "mse"), default=None,
                   help="how activation ranges are chosen from the samples (default: percentile for int8, minmax "
                        "for int16x8)")
    g.add_argument("--integer-only", action="store_true",
                   help="every op must be integer (TFLITE_BUILTINS_INT8): an op with no integer kernel is an error "
                        "naming it, instead of a float fallback")
    g.add_argument("--keep-float", nargs="+", default=[], metavar="NAME",
                   help="source layers, nodes or tensors to leave in float")
    g.add_argument("--keep-float-worst", type=int, default=0, metavar="N",
                   help="quantize, then quantize again with the N ops that add the most error (the report's "
                        "'added' column) in float")
    g.add_argument("--report", nargs="?", const="-", default=None, metavar="FILE",
                   help="print the per-op quantization report; with FILE.html or FILE.json also write it there")


def add_image_norm_argument(g: Any) -> None:
    g.add_argument("--image-norm", nargs=2, metavar=("MEAN", "STD"), default=None,
                   help="with a folder of images: a float input gets (pixel - MEAN) / STD, pixels 0-255 (e.g. 0 255 "
                        "for [0, 1], 127.5 127.5 for [-1, 1]; per channel: 123.7,116.3,103.5 58.4,57.1,57.4). "
                        "Default: the normalization in the model's TFLite metadata")


_IMAGE_NORM_ALONE = ("--image-norm applies to a folder of images given as --representative-data. Fix: drop it, or "
                     "add --representative-data DIR")


def load_representative_data(args: argparse.Namespace) -> Any:
    """``--representative-data`` (with ``--image-norm`` for a folder of images); None when not given."""
    from ..quantize import data, images

    if not args.representative_data:
        if args.image_norm:
            raise InvalidOptionError(_IMAGE_NORM_ALONE)
        return None
    norm = images.parse_norm(args.image_norm) if args.image_norm else None
    return data.load(args.representative_data, norm)


def set_integer_ops(conv: Any, mode: str, integer_only: bool, io_type: str | None) -> None:
    """The op sets for ``--quantize int16x8`` (with the float builtins unless integer only) or ``--integer-only``
    int8, and the interface type ``--io-type``."""
    from ..config import OpsSet

    if mode == "int16x8":
        sets = [OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        conv.target_spec.supported_ops = sets if integer_only else [*sets, OpsSet.TFLITE_BUILTINS]
    elif integer_only:
        if mode != "int8":
            raise InvalidOptionError("--integer-only needs --quantize int8 or int16x8")
        conv.target_spec.supported_ops = [OpsSet.TFLITE_BUILTINS_INT8]
    if io_type:
        conv.inference_input_type = conv.inference_output_type = io_type


def apply_quantize(conv: Any, args: argparse.Namespace) -> None:
    """Map the quantization flags onto the converter's tf.lite attributes."""
    from ..config import Optimize

    mode = args.quantize
    calibrated = mode in ("int8", "int16x8")
    if mode is None:
        extra = [f for f, v in (("--representative-data", args.representative_data), ("--io-type", args.io_type),
                                ("--image-norm", args.image_norm),
                                ("--integer-only", args.integer_only), ("--keep-float", args.keep_float),
                                ("--keep-float-worst", args.keep_float_worst), ("--report", args.report),
                                ("--dynamic-min-elements", args.dynamic_min_elements is not None))
                 if v and v != "float32"]
        if extra:
            raise InvalidOptionError(f"{', '.join(extra)} only apply with --quantize. Fix: add --quantize "
                                     "dynamic|float16|int8|int16x8")
        return
    conv.optimizations = [Optimize.DEFAULT]
    if mode == "float16":
        conv.target_spec.supported_types = ["float16"]
    if calibrated:
        dataset = load_representative_data(args)
        if dataset is not None:
            conv.representative_dataset = dataset
        elif mode == "int8":
            # no data: only a quantization-aware-trained model (its ranges are in the graph) can be int8; any
            # other is one error from the driver, once the model is read, naming --representative-data
            conv.target_spec.supported_types = ["int8"]
    elif args.representative_data:
        raise InvalidOptionError(f"--representative-data does not apply to --quantize {mode}. Fix: drop it, or use "
                                 "--quantize int8")
    elif args.image_norm:
        raise InvalidOptionError(_IMAGE_NORM_ALONE)
    set_integer_ops(conv, mode, args.integer_only, args.io_type)
    if args.calibration_samples is not None:
        if args.calibration_samples < 1:
            raise InvalidOptionError("--calibration-samples must be at least 1")
        conv.calibration_samples = args.calibration_samples
    if args.calibration:
        conv.calibration = args.calibration
    if args.dynamic_min_elements is not None:
        if mode != "dynamic":
            raise InvalidOptionError(f"--dynamic-min-elements applies to --quantize dynamic, not {mode}. Fix: drop it")
        conv.dynamic_min_elements = args.dynamic_min_elements
    conv.keep_float = list(args.keep_float)
    conv.keep_float_worst = args.keep_float_worst
    conv.report = args.report is not None


def emit_report(conv: Any, args: argparse.Namespace) -> None:
    """Print the quantization report and write it where ``--report FILE`` says."""
    import sys

    report = conv.quantization_report
    if args.report is None or report is None:
        return
    sys.stdout.write(report.to_text())
    if args.report != "-":
        from ..files import write_atomic

        text = report.to_html() if args.report.lower().endswith((".html", ".htm")) else report.to_json()
        write_atomic(args.report, text.encode("utf-8"))
        sys.stdout.write(f"wrote {args.report}\n")
