"""The writer streams: a small head of tables, then the constants, big lazy ones read in blocks as they are
written; the same bytes whatever the stream, and no weight held twice."""

from __future__ import annotations

import io

import numpy as np

from liteconvert.ir import LazyArray, Model, Op, Signature, Subgraph, Tensor, const
from liteconvert.tflite import writer
from liteconvert.tflite.reader import read_model
from liteconvert.verify import run_tflite


class CountingArray(LazyArray):
    """A lazy constant that records every read (axis, rows) it serves."""

    def __init__(self, value: np.ndarray, key: object = None):
        super().__init__(value.shape, value.dtype, key)
        self.value = value
        self.reads: list[tuple[int, int, int | None]] = []

    def read(self, axis: int = 0, start: int = 0, stop: int | None = None) -> np.ndarray:
        self.reads.append((axis, start, stop))
        index = [slice(None)] * self.value.ndim
        if self.value.ndim:
            index[axis] = slice(start, stop)
        return np.ascontiguousarray(self.value[tuple(index)])


def _fc_model(w: Tensor, w2: Tensor | None = None) -> Model:
    x = Tensor("x", "float32", (-1, w.shape[1]))
    y = Tensor("y", "float32", (-1, w.shape[0]))
    ops = [Op("FULLY_CONNECTED", [x, w, None], [y])]
    outs = [y]
    if w2 is not None:
        y2 = Tensor("y2", "float32", (-1, w2.shape[0]))
        ops.append(Op("FULLY_CONNECTED", [x, w2, None], [y2]))
        outs.append(y2)
    sg = Subgraph("main", [x], outs, ops)
    return Model([sg], [Signature("serving_default", sg, {"x": x}, {t.name: t for t in outs})])


class WriteOnly:
    """A stream with nothing but write(): no seek, no tell (a pipe, a socket)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, b: object) -> int:
        data = bytes(b)  # type: ignore[call-overload]
        self.parts.append(data)
        return len(data)


def test_lazy_weights_are_streamed_in_blocks(monkeypatch):
    rng = np.random.default_rng(0)
    value = rng.standard_normal((64, 32)).astype(np.float32)
    monkeypatch.setattr(writer, "BLOCK_BYTES", 1024)  # 8 rows of 128 bytes a block
    lazy = CountingArray(value)
    w = Tensor("w", "float32", value.shape, lazy=lazy)
    out = WriteOnly()
    n = writer.write_model(_fc_model(w), out, consume=True)
    data = b"".join(out.parts)
    assert n == len(data)
    assert lazy.reads and all(stop - start <= 8 for _, start, stop in lazy.reads) and len(lazy.reads) == 8
    assert w.lazy is None and not w.is_const  # released once written
    eager = writer.serialize(_fc_model(const("w", value)))
    assert data == eager  # the same bytes as from an in-memory constant
    x = rng.standard_normal((3, 32)).astype(np.float32)
    np.testing.assert_allclose(run_tflite(data, {"x": x})["y"], x @ value.T, rtol=1e-5, atol=1e-5)


def test_lazy_transforms_stream_too(monkeypatch):
    """A weight transposed and scaled (what lowering and BatchNorm folding do) is read through both, in blocks."""
    rng = np.random.default_rng(1)
    src = rng.standard_normal((32, 48)).astype(np.float32)  # TF's [in, out]
    scale = rng.uniform(0.5, 2, 48).astype(np.float32)
    monkeypatch.setattr(writer, "BLOCK_BYTES", 512)
    base = CountingArray(src)
    lazy = base.transposed((1, 0)).scaled(scale, 0)
    w = Tensor("w", "float32", lazy.shape, lazy=lazy)
    data = writer.serialize(_fc_model(w))
    assert all(axis == 1 for axis, _, _ in base.reads) and len(base.reads) > 1  # column blocks of the source
    x = rng.standard_normal((2, 32)).astype(np.float32)
    np.testing.assert_allclose(run_tflite(data, {"x": x})["y"], x @ (src * scale), rtol=1e-5, atol=1e-5)


def test_lazy_constants_with_one_key_share_a_buffer():
    value = np.ones((16, 8), np.float32)
    a = Tensor("a", "float32", value.shape, lazy=CountingArray(value, key=("ckpt", "v")))
    b = Tensor("b", "float32", value.shape, lazy=CountingArray(value, key=("ckpt", "v")))
    m = read_model(writer.serialize(_fc_model(a, b)))
    ta, tb = m.subgraphs[0].tensors[1], next(t for t in m.subgraphs[0].tensors if t.name == "b")
    assert ta.buffer == tb.buffer != 0


def test_weights_after_the_flatbuffer_stream_from_lazy_constants():
    value = np.arange(24 * 16, dtype=np.float32).reshape(24, 16) / 100
    w = Tensor("w", "float32", value.shape, lazy=CountingArray(value))
    data = writer.serialize(_fc_model(w), weights_after_flatbuffer=True)
    m = read_model(data)
    assert any(b.appended for b in m.buffers)
    x = np.ones((1, 16), np.float32)
    np.testing.assert_allclose(run_tflite(data, {"x": x})["y"], x @ value.T, rtol=1e-5)


def test_head_is_aligned_and_bytes_deterministic():
    value = np.random.default_rng(3).standard_normal((8, 4)).astype(np.float32)
    a = writer.serialize(_fc_model(const("w", value)))
    b = io.BytesIO()
    writer.write_model(_fc_model(const("w", value)), b)
    assert a == b.getvalue()
    m = read_model(a)
    for buf in m.buffers:
        if buf.size:
            assert buf.file_offset % writer.buffer_alignment(buf.size) == 0
