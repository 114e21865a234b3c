"""What to do about a TensorFlow op that does not map to LiteRT builtins: TF-specific advice for ``check``.

``liteconvert.check`` writes the generic part (limited dtypes and shapes, the flags that carry an op); this module
knows TensorFlow's ops: which ones have a builtin-friendly rewrite, which are string or random ops, which can
never run.
"""

from __future__ import annotations

from ..base import UNSUPPORTED
from .flex import NEVER_CONVERTIBLE

_STRING_PREFIXES = ("String", "Regex", "StaticRegex", "Substr", "Unicode", "ReduceJoin", "DecodeBase64",
                    "EncodeBase64", "AsString", "DecodeRaw", "DecodeJpeg", "DecodePng", "DecodeImage")

_RANDOM = {
    "RandomUniform": "RANDOM_UNIFORM", "RandomStandardNormal": "RANDOM_STANDARD_NORMAL",
    "Multinomial": "MULTINOMIAL", "RandomUniformInt": "RANDOM_UNIFORM", "TruncatedNormal": None,
    "StatelessRandomUniformV2": None, "StatelessRandomNormalV2": None, "StatelessRandomUniform": None,
    "StatelessRandomNormal": None, "StatelessTruncatedNormalV2": None, "RandomGamma": None,
    "RandomPoisson": None, "RandomPoissonV2": None,
}

# Ops with no LiteRT builtin where a rewrite with builtin-lowerable ops exists.
_REPLACEMENTS = {
    "MatrixDeterminant": "no LiteRT builtin computes a determinant. For a small fixed size write it out: 2x2 "
                         "a*d - b*c, 3x3 by cofactors (tf.gather / slicing, MUL, SUB, SUM are builtins)",
    "LogMatrixDeterminant": "no LiteRT builtin; for a small fixed size expand the determinant with slicing, MUL and "
                            "SUB, then take LOG of its absolute value",
    "MatrixInverse": "no LiteRT builtin; for a 2x2/3x3 matrix use the adjugate formula (slicing, MUL, SUB, DIV), "
                     "or precompute the inverse if the matrix is constant",
    "Cholesky": "no LiteRT builtin; precompute it if the matrix is constant",
    "Qr": "no LiteRT builtin; precompute it if the matrix is constant",
    "Svd": "no LiteRT builtin; precompute it if the matrix is constant",
    "SelfAdjointEigV2": "no LiteRT builtin; precompute it if the matrix is constant",
    "MatrixSolve": "no LiteRT builtin; for a fixed small system multiply by the precomputed inverse",
    "Cumprod": "for positive inputs tf.exp(tf.math.cumsum(tf.math.log(x), axis)) gives the same result with LOG, "
               "CUMSUM and EXP builtins; for a short fixed axis, a product of slices",
    "Einsum": "rewrite it with tf.matmul / tf.transpose / tf.reshape, which lower to BATCH_MATMUL, TRANSPOSE and "
              "RESHAPE",
    "Erf": "a lone erf has no builtin; for GELU use keras.activations.gelu(x, approximate=True) or tf.nn.gelu",
    "Lgamma": "no LiteRT builtin; if the argument is constant, precompute it",
    "Atan2": "no builtin in this converter; for angles use a polynomial approximation with builtins",
    "Bucketize": "compare against the boundaries (tf.cast(x[..., None] > boundaries, tf.int32) summed over the "
                 "last axis): GREATER, CAST and SUM are builtins",
}



def advice(op: str, status: str) -> str | None:
    """The op-specific advice for a TF op that is not builtin (None: no more than the generic advice)."""
    if op in NEVER_CONVERTIBLE:
        return ("a Python function can never be converted: its body is Python, not graph ops. Rewrite it with "
                "TensorFlow ops (then run check again), or run it outside the model, before or after inference.")
    if status == UNSUPPORTED:
        return (f"{op} handles resources or variants that LiteRT cannot hold. Export the inference function only "
                "(model.export() / a tf.function without training state) and check again.")
    if op.startswith(_STRING_PREFIXES):
        return ("LiteRT builtins do not process strings. Move string processing out of the model (tokenize in "
                "the app and feed integer ids).")
    if op in _RANDOM:
        builtin = _RANDOM[op]
        head = (f"LiteRT has the builtin {builtin} but this converter does not lower {op} yet. "
                if builtin else "no LiteRT builtin for this random op. ")
        return (head + "If it comes from a training-only layer (Dropout, GaussianNoise), export with "
                "training=False; else generate the noise in the app and pass it as a model input.")
    if op in _REPLACEMENTS:
        return _REPLACEMENTS[op] + "."
    return None
