"""Build an ONNX graph equivalent to a parsed dlib `anet_type` network.

Each dlib layer maps to ONNX operators with the same arithmetic:

* input: float32 chips (N, 3, rows, cols), RGB pixel values 0-255 (what the generic
  `OnnxEmbedder` feeds with mean 0, std 1), then (x - avg) * 1/256 inside the graph as dlib's
  `input_rgb_image_sized` does (the division by 256 is exact in float32, so it matches bit for
  bit), which keeps the file self-contained: no preprocessing constants live outside it;
* `con_` followed by `affine_`: one Conv with the affine folded in (W * gamma, b * gamma + beta);
  dlib's padding and stride come from the file, output size 1 + (in + 2p - k) / s in both;
* `relu_` -> Relu, `max_pool_` -> MaxPool, `avg_pool_` -> AveragePool (no padding in this net),
  `avg_pool_everything` -> GlobalAveragePool;
* tags and skips re-route tensors; `add_prev_` -> Add, after zero-padding both inputs at the end
  of each dimension to the larger shape, because dlib's `add_prev_` output takes the maximum of
  each dimension and treats missing elements as 0 (the down-sampling blocks add a 32-channel
  shortcut to a 64-channel branch, and at 8x8 -> 3x3 / 4x4 a smaller branch to a larger shortcut);
* `fc_` (no bias) -> Flatten + MatMul with the (num_inputs, num_outputs) weights, as dlib's gemm.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from simkyc.models.dlib_onnx.parser import DlibNet, Layer

__all__ = ["INPUT_NAME", "OPSET", "OUTPUT_NAME", "build_onnx"]

INPUT_NAME = "chips"
OUTPUT_NAME = "descriptors"
OPSET = 17

Shape = tuple[int, int, int]  # C, H, W


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n}"

    def const(self, prefix: str, value: np.ndarray) -> str:  # type: ignore[type-arg]
        name = self.name(prefix)
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], prefix: str, **attrs: Any) -> str:
        out = self.name(prefix)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out


def _conv_out(size: int, k: int, stride: int, pad: int) -> int:
    return 1 + (size + 2 * pad - k) // stride


def _pad_to(b: _Builder, x: str, shape: Shape, target: Shape) -> str:
    if shape == target:
        return x
    # ONNX pads: begins for N, C, H, W then ends; dlib keeps elements at the start, zeros at the end
    ends = [t - s for s, t in zip(shape, target, strict=True)]
    pads = np.array([0, 0, 0, 0, 0, *ends], dtype=np.int64)
    return b.node("Pad", [x, b.const("pads", pads)], "pad", mode="constant")


def build_onnx(net: DlibNet) -> onnx.ModelProto:
    """The ONNX model (opset 17): RGB pixels as float (N, 3, H, W) -> dlib's raw 128-d descriptors."""
    spec = net.input
    b = _Builder()
    avg = np.array(spec.avg_rgb, dtype=np.float32).reshape(1, 3, 1, 1)
    x = b.node("Sub", [INPUT_NAME, b.const("avg_rgb", avg)], "centre")
    x = b.node("Mul", [x, b.const("inv256", np.array(1.0 / 256.0, dtype=np.float32))], "scale")
    shape: Shape = (3, spec.rows, spec.cols)
    tags: dict[int, tuple[str, Shape]] = {}
    ops = net.ops
    i = 0
    while i < len(ops):
        op, layer = ops[i]
        if op.kind == "tag":
            tags[op.args[0]] = (x, shape)
        elif op.kind == "skip":
            x, shape = tags[op.args[0]]
        elif op.kind == "add_prev":
            other, other_shape = tags[op.args[0]]
            target: Shape = (
                max(shape[0], other_shape[0]),
                max(shape[1], other_shape[1]),
                max(shape[2], other_shape[2]),
            )
            x = b.node("Add", [_pad_to(b, x, shape, target), _pad_to(b, other, other_shape, target)], "add")
            shape = target
        elif op.kind == "con":
            assert layer is not None
            nxt = ops[i + 1][1] if i + 1 < len(ops) and ops[i + 1][0].kind == "affine" else None
            x, shape = _conv(b, x, shape, layer, nxt)
            if nxt is not None:
                i += 1
        elif op.kind == "affine":  # not after a conv: a per-channel scale and shift
            assert layer is not None
            g = layer.arrays["gamma"].reshape(1, -1, 1, 1)
            x = b.node("Mul", [x, b.const("gamma", g)], "affine_mul")
            x = b.node("Add", [x, b.const("beta", layer.arrays["beta"].reshape(1, -1, 1, 1))], "affine_add")
        elif op.kind == "relu":
            x = b.node("Relu", [x], "relu")
        elif op.kind in ("max_pool", "avg_pool"):
            assert layer is not None
            x, shape = _pool(b, x, shape, layer)
        elif op.kind == "fc":
            assert layer is not None
            x = b.node("Flatten", [x], "flatten", axis=1)
            w = layer.arrays["weights"]
            if w.shape[0] != shape[0] * shape[1] * shape[2]:
                raise ValueError(f"fc expects {w.shape[0]} inputs, the layer below gives {shape}")
            x = b.node("MatMul", [x, b.const("fc_w", np.ascontiguousarray(w))], "fc")
            if "biases" in layer.arrays:
                x = b.node("Add", [x, b.const("fc_b", layer.arrays["biases"])], "fc_bias")
            shape = (w.shape[1], 1, 1)
        else:
            raise ValueError(f"no ONNX mapping for dlib layer {op.kind}")
        i += 1
    out_dim = shape[0]
    b.nodes[-1].output[0] = OUTPUT_NAME
    graph = helper.make_graph(
        b.nodes,
        "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", 3, spec.rows, spec.cols])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", out_dim])],
        b.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="simkyc")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _conv(b: _Builder, x: str, shape: Shape, con: Layer, affine: Layer | None) -> tuple[str, Shape]:
    w = con.arrays["filters"].astype(np.float32)
    bias = con.arrays["biases"].astype(np.float32)
    if affine is not None:
        g, beta = affine.arrays["gamma"], affine.arrays["beta"]
        w = (w * g.reshape(-1, 1, 1, 1)).astype(np.float32)
        bias = (bias * g + beta).astype(np.float32)
    p = con.params
    kh, kw, sy, sx, py, px = p["nr"], p["nc"], p["stride_y"], p["stride_x"], p["pad_y"], p["pad_x"]
    if w.shape[1] != shape[0]:
        raise ValueError(f"conv expects {w.shape[1]} input channels, the layer below gives {shape[0]}")
    y = b.node(
        "Conv",
        [x, b.const("conv_w", w), b.const("conv_b", bias)],
        "conv",
        kernel_shape=[kh, kw],
        strides=[sy, sx],
        pads=[py, px, py, px],
    )
    return y, (w.shape[0], _conv_out(shape[1], kh, sy, py), _conv_out(shape[2], kw, sx, px))


def _pool(b: _Builder, x: str, shape: Shape, layer: Layer) -> tuple[str, Shape]:
    p = layer.params
    if p["nr"] == 0 and p["nc"] == 0:  # avg_pool_everything / max_pool_everything
        op = "GlobalAveragePool" if layer.kind == "avg_pool" else "GlobalMaxPool"
        return b.node(op, [x], layer.kind), (shape[0], 1, 1)
    kh, kw, sy, sx, py, px = p["nr"], p["nc"], p["stride_y"], p["stride_x"], p["pad_y"], p["pad_x"]
    if layer.kind == "avg_pool" and (py or px):
        raise ValueError("padded average pooling is not supported (dlib and ONNX count padding differently)")
    y = b.node(
        "MaxPool" if layer.kind == "max_pool" else "AveragePool",
        [x],
        layer.kind,
        kernel_shape=[kh, kw],
        strides=[sy, sx],
        pads=[py, px, py, px],
    )
    return y, (shape[0], _conv_out(shape[1], kh, sy, py), _conv_out(shape[2], kw, sx, px))
