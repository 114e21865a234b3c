"""TFLite's sparse tensor format: ``tflite.sparsity.densify`` against LiteRT's own DENSIFY kernel, on MediaPipe's
two sparse models and on hand-made block-sparse and column-major tensors written by our writer; hostile
sparsity parameters are one clear error."""

from __future__ import annotations

import os

import numpy as np
import pytest

from liteconvert.errors import InvalidModelError
from liteconvert.ir import Model, Op, Signature, Subgraph, Tensor
from liteconvert.tflite.reader import read_model
from liteconvert.tflite.schema import fb
from liteconvert.tflite.sparsity import densify
from liteconvert.tflite.writer import serialize

SPARSE_MODELS = ("pose_detection.tflite", "face_detection_full_range_sparse.tflite")


def _interpreter(data: bytes):
    """LiteRT without XNNPACK, which takes sparse convolutions over itself and never runs their DENSIFY."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    return Interpreter(model_content=data, experimental_preserve_all_tensors=True,
                       experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)


@pytest.mark.parametrize("name", SPARSE_MODELS)
def test_densify_matches_litert_on_mediapipe_models(name):
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "metadata"))
    from metadata_helpers import google_models

    path = next(p for p in google_models() if p.endswith(name))
    data = open(path, "rb").read()
    interp = _interpreter(data)
    interp.allocate_tensors()
    spec = interp.get_input_details()[0]
    interp.set_tensor(spec["index"], np.zeros(spec["shape"], spec["dtype"]))
    interp.invoke()
    m = read_model(data)
    objects = fb().ModelT.InitFromPackedBuf(data, 0).subgraphs[0].tensors
    sg = m.subgraphs[0]
    count = 0
    for op in sg.operators:
        if m.operator_codes[op.opcode_index].display_name != "DENSIFY":
            continue
        t = sg.tensors[op.inputs[0]]
        values = np.frombuffer(bytes(m.buffer_data(t.buffer)), np.dtype(t.dtype))
        got = densify(values, objects[op.inputs[0]].sparsity, tuple(t.shape))
        want = interp.get_tensor(op.outputs[0])
        assert got.dtype == want.dtype and np.array_equal(got, want), t.name
        assert np.count_nonzero(got) <= values.size < got.size  # really sparse
        count += 1
    assert count >= 38


# -- hand-made sparse tensors, written by our writer, densified by LiteRT --------------------------------------

def _vector(values: list[int]):
    v = fb().Int32VectorT()
    v.values = list(values)
    return v


def _dense_dim(size: int):
    d = fb().DimensionMetadataT()
    d.format, d.denseSize = fb().DimensionType.DENSE, size
    return d


def _csr_dim(segments: list[int], indices: list[int]):
    d = fb().DimensionMetadataT()
    d.format = fb().DimensionType.SPARSE_CSR
    d.arraySegmentsType = d.arrayIndicesType = fb().SparseIndexVector.Int32Vector
    d.arraySegments, d.arrayIndices = _vector(segments), _vector(indices)
    return d


def _params(order: list[int], block_map: list[int], dims: list) -> object:
    p = fb().SparsityParametersT()
    p.traversalOrder, p.blockMap, p.dimMetadata = order, block_map or None, dims
    return p


def _block_sparse(dense: np.ndarray, block: int) -> tuple[np.ndarray, object]:
    """A 2-D matrix in 1 x ``block`` blocks along its columns: rows dense, block columns CSR, blocks dense."""
    rows, cols = dense.shape
    segments, indices, values = [0], [], []
    for r in range(rows):
        for c in range(cols // block):
            chunk = dense[r, c * block:(c + 1) * block]
            if np.any(chunk):
                indices.append(c)
                values.extend(chunk)
        segments.append(len(indices))
    return np.asarray(values, dense.dtype), _params([0, 1, 2], [1], [_dense_dim(rows), _csr_dim(segments, indices),
                                                                    _dense_dim(block)])


def _column_major(dense: np.ndarray) -> tuple[np.ndarray, object]:
    """A 2-D matrix walked column first (traversal order [1, 0]): columns dense, rows CSR."""
    rows, cols = dense.shape
    segments, indices, values = [0], [], []
    for c in range(cols):
        for r in range(rows):
            if dense[r, c]:
                indices.append(r)
                values.append(dense[r, c])
        segments.append(len(indices))
    return np.asarray(values, dense.dtype), _params([1, 0], [], [_dense_dim(cols), _csr_dim(segments, indices)])


def _sparse_matrix(shape: tuple[int, int], block: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dense = rng.standard_normal(shape).astype(np.float32)
    mask = rng.uniform(size=(shape[0], shape[1] // block)) < 0.4
    return dense * np.repeat(mask, block, axis=1)


@pytest.mark.parametrize("layout", ["block 1x4", "column major"])
def test_densify_matches_litert_on_written_sparse_tensors(layout):
    dense = _sparse_matrix((6, 16), 4 if layout == "block 1x4" else 1)
    values, sparsity = _block_sparse(dense, 4) if layout == "block 1x4" else _column_major(dense)
    assert np.array_equal(densify(values, sparsity, dense.shape), dense)

    w = Tensor("w", "float32", dense.shape, data=values, sparsity=sparsity)
    wd, x, out = Tensor("w_dense", "float32", dense.shape), Tensor("x", "float32", dense.shape), \
        Tensor("out", "float32", dense.shape)
    sg = Subgraph("main", [x], [out], [Op("DENSIFY", [w], [wd]), Op("ADD", [x, wd], [out])])
    data = serialize(Model([sg], [Signature("serving_default", sg, {"x": x}, {"out": out})]))
    assert any(t.sparse for t in read_model(data).subgraphs[0].tensors)  # written sparse
    runner = _interpreter(data).get_signature_runner()
    xv = np.arange(dense.size, dtype=np.float32).reshape(dense.shape)
    np.testing.assert_array_equal(runner(x=xv)["out"], xv + dense)


@pytest.mark.parametrize("damage,needle", [
    ("index past the dimension", "an index outside dimension"),
    ("segments past the indices", "segments out of order or past the indices"),
    ("too few values", "values for"),
    ("bad traversal order", "traversal order"),
    ("huge shape", "a dense shape"),
])
def test_hostile_sparsity_is_a_clear_error(damage, needle):
    dense = _sparse_matrix((6, 16), 1)
    values, sparsity = _column_major(dense)
    shape = dense.shape
    csr = sparsity.dimMetadata[1]
    if damage == "index past the dimension":
        csr.arrayIndices.values[0] = 99
    elif damage == "segments past the indices":
        csr.arraySegments.values[-1] = 10_000
    elif damage == "too few values":
        values = values[:-1]
    elif damage == "bad traversal order":
        sparsity.traversalOrder = [0, 0]
    else:
        shape = (1 << 20, 1 << 20)
    with pytest.raises(InvalidModelError, match=needle) as e:
        densify(values, sparsity, shape, "tensor 'w'")
    assert "Fix:" in str(e.value) and "tensor 'w'" in str(e.value)

