"""OnnxEmbedder with a tiny ONNX model the test builds: preprocessing and normalisation as declared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from simkyc.core.faces.types import Embedder
from simkyc.errors import ModelError
from simkyc.models.onnx_embedder import OnnxEmbedder

SIZE = 8
DIM = 6


def _weights() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(3 * SIZE * SIZE, DIM)).astype(np.float32)


def _build(path: Path, *, batch: int | str = "N") -> Path:
    """Flatten(NCHW image) @ W: a linear 'embedder' whose output we can compute by hand."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, SIZE, SIZE])
    y = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [batch, DIM])
    w = numpy_helper.from_array(_weights(), name="W")
    nodes = [
        helper.make_node("Flatten", ["input"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "W"], ["embedding"]),
    ]
    graph = helper.make_graph(nodes, "tiny", [x], [y], initializer=[w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _reference(chip: np.ndarray, *, bgr: bool, mean: float, std: float) -> np.ndarray:
    img = chip[:, :, ::-1] if bgr else chip
    x = ((img.astype(np.float32) - mean) / std).transpose(2, 0, 1).reshape(1, -1)
    v = (x @ _weights())[0]
    return v / np.linalg.norm(v)


def _chip(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)


@pytest.mark.parametrize("bgr", [False, True])
def test_embedding_matches_hand_computation(tmp_path: Path, bgr: bool) -> None:
    emb = OnnxEmbedder(
        _build(tmp_path / "tiny.onnx"),
        input_size=(SIZE, SIZE),
        color_order="BGR" if bgr else "RGB",
        mean=(127.5,) * 3,
        std=(128.0,) * 3,
        name="tiny",
        version="1",
    )
    assert isinstance(emb, Embedder) and emb.dim == DIM
    chip = _chip(1)
    got = emb.embed(chip)
    assert np.allclose(got, _reference(chip, bgr=bgr, mean=127.5, std=128.0), atol=1e-5)
    assert np.linalg.norm(got) == pytest.approx(1.0, abs=1e-6)


def test_colour_order_matters(tmp_path: Path) -> None:
    path = _build(tmp_path / "tiny.onnx")
    kw = {"input_size": (SIZE, SIZE), "name": "tiny", "version": "1"}
    rgb = OnnxEmbedder(path, color_order="RGB", **kw).embed(_chip(2))  # type: ignore[arg-type]
    bgr = OnnxEmbedder(path, color_order="BGR", **kw).embed(_chip(2))  # type: ignore[arg-type]
    assert not np.allclose(rgb, bgr, atol=1e-3)


@pytest.mark.parametrize("batch", ["N", 1])
def test_batch_equals_single_with_dynamic_or_fixed_batch(tmp_path: Path, batch: int | str) -> None:
    emb = OnnxEmbedder(
        _build(tmp_path / "tiny.onnx", batch=batch), input_size=(SIZE, SIZE), name="t", version="1"
    )
    chips = [_chip(s) for s in range(3)]
    out = emb.embed_batch(chips)
    assert out.shape == (3, DIM)
    assert np.allclose(out[1], emb.embed(chips[1]), atol=1e-5)


def test_chips_of_another_size_are_resized(tmp_path: Path) -> None:
    emb = OnnxEmbedder(_build(tmp_path / "tiny.onnx"), input_size=(SIZE, SIZE), name="t", version="1")
    big = np.random.default_rng(3).integers(0, 256, (150, 150, 3), dtype=np.uint8)
    assert emb.embed(big).shape == (DIM,)


def test_missing_or_corrupt_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError):
        OnnxEmbedder(tmp_path / "absent.onnx", input_size=(SIZE, SIZE), name="t", version="1")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError):
        OnnxEmbedder(bad, input_size=(SIZE, SIZE), name="t", version="1")
