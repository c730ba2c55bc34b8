"""Parse dlib's serialized face descriptor network (`dlib_face_recognition_resnet_model_v1.dat`).

The file is dlib's `serialize(anet_type)`, uncompressed. Its layout, read from dlib's
`dlib/dnn/core.h` and `layers.h`:

* `add_loss_layer`: version 1, the loss details (`"loss_metric_2"`, margin, distance
  threshold), then the network below it.
* `add_layer` (version 2): its subnetwork first (so the file descends to the input
  before any layer's parameters), then the layer's details, three bools and three
  scratch tensors. The `add_layer` that sits on the input layer has version 3 and
  serializes the input layer in place of a subnetwork, plus `sample_expansion_factor`.
* `add_tag_layer` / `add_skip_layer` (version 1): just the subnetwork. The tag id is
  a C++ template argument and is not stored, so the topology (which tag a skip or an
  `add_prev` refers to) comes from the network's C++ type: `anet_layout()` below
  spells out `anet_type` from dlib's `examples/dnn_face_recognition_ex.cpp`, and the
  parser checks the file against it layer by layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simkyc.models.dlib_onnx._stream import DlibFormatError, DlibStream, Tensor

__all__ = [
    "AnetOp",
    "DlibNet",
    "InputSpec",
    "Layer",
    "anet_layout",
    "parse_dlib_net",
]

_INPUT_LAYERS = ("input_rgb_image_sized", "input_rgb_image")


@dataclass(frozen=True, slots=True)
class InputSpec:
    """dlib's `input_rgb_image[_sized]`: x = (pixel - avg) / 256 per channel, planes in R, G, B order."""

    kind: str
    avg_rgb: tuple[float, float, float]  # float32 values, as dlib holds them
    rows: int
    cols: int


@dataclass(slots=True)
class Layer:
    """One computational layer as stored: its dlib type name, integer hyper-parameters and arrays.

    Arrays: con -> `filters` (O, I, kh, kw), `biases` (O,); affine -> `gamma`, `beta` (C,);
    fc -> `weights` (num_inputs, num_outputs) and optionally `biases`.
    """

    kind: str  # con, affine, relu, max_pool, avg_pool, add_prev, fc
    params: dict[str, int] = field(default_factory=dict)
    arrays: dict[str, Tensor] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Wrapper:
    """An `add_tag_layer` or `add_skip_layer` (indistinguishable on disk)."""


@dataclass(frozen=True, slots=True)
class AnetOp:
    """One step of the network's C++ type, bottom-up: a layer kind and its template arguments."""

    kind: str  # con, affine, relu, max_pool, avg_pool, add_prev, fc, tag, skip
    args: tuple[int, ...] = ()


@dataclass(slots=True)
class DlibNet:
    """The parsed network: input transform, then layers bottom-up paired with their place in `anet_type`."""

    input: InputSpec
    ops: list[tuple[AnetOp, Layer | None]]  # None for tag/skip
    loss: str
    margin: float
    distance_threshold: float


# --- anet_type, as written in dlib's examples/dnn_face_recognition_ex.cpp ------------------------


def _block(n: int, stride: int) -> list[AnetOp]:
    # block = BN<con<N,3,3,1,1,relu<BN<con<N,3,3,stride,stride,SUBNET>>>>>
    return [
        AnetOp("con", (n, 3, 3, stride, stride)),
        AnetOp("affine"),
        AnetOp("relu"),
        AnetOp("con", (n, 3, 3, 1, 1)),
        AnetOp("affine"),
    ]


def _ares(n: int) -> list[AnetOp]:
    # relu<add_prev1<block<N,affine,1,tag1<SUBNET>>>>
    return [AnetOp("tag", (1,)), *_block(n, 1), AnetOp("add_prev", (1,)), AnetOp("relu")]


def _ares_down(n: int) -> list[AnetOp]:
    # relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,affine,2,tag1<SUBNET>>>>>>>
    return [
        AnetOp("tag", (1,)),
        *_block(n, 2),
        AnetOp("tag", (2,)),
        AnetOp("skip", (1,)),
        AnetOp("avg_pool", (2, 2, 2, 2)),
        AnetOp("add_prev", (2,)),
        AnetOp("relu"),
    ]


def anet_layout() -> list[AnetOp]:
    """`anet_type` bottom-up (input excluded, loss excluded)."""
    ops = [
        AnetOp("con", (32, 7, 7, 2, 2)),
        AnetOp("affine"),
        AnetOp("relu"),
        AnetOp("max_pool", (3, 3, 2, 2)),
    ]
    ops += _ares(32) * 3  # alevel4
    ops += _ares_down(64) + _ares(64) * 3  # alevel3
    ops += _ares_down(128) + _ares(128) * 2  # alevel2
    ops += _ares_down(256) + _ares(256) * 2  # alevel1
    ops += _ares_down(256)  # alevel0
    ops += [AnetOp("avg_pool", (0, 0, 1, 1)), AnetOp("fc", (128, 0))]  # avg_pool_everything, fc_no_bias
    return ops


# --- the reader ---------------------------------------------------------------------------------


def _input_layer(s: DlibStream, kind: str) -> InputSpec:
    avg = (float(s.float32()), float(s.float32()), float(s.float32()))
    if kind == "input_rgb_image_sized":
        rows, cols = s.int_(), s.int_()
    else:
        rows = cols = 0
    return InputSpec(kind=kind, avg_rgb=avg, rows=rows, cols=cols)


def _details(s: DlibStream) -> Layer:
    start = s.pos
    name = s.string()
    if name == "con_4":
        params = s.tensor().ravel()
        num_filters, nr, nc = s.int_(), s.int_(), s.int_()
        stride_y, stride_x, pad_y, pad_x = s.int_(), s.int_(), s.int_(), s.int_()
        f_shape = s.alias_tensor()
        b_shape = s.alias_tensor()
        for _ in range(4):  # learning-rate and weight-decay multipliers
            s.float_()
        n_f = int(np.prod(f_shape))
        if n_f + int(np.prod(b_shape)) != params.size or f_shape[0] != num_filters:
            raise DlibFormatError(f"con_ at byte {start}: parameter sizes do not add up")
        return Layer(
            "con",
            {"num_filters": num_filters, "nr": nr, "nc": nc, "stride_y": stride_y, "stride_x": stride_x}
            | {"pad_y": pad_y, "pad_x": pad_x},
            {"filters": params[:n_f].reshape(f_shape), "biases": params[n_f:].copy()},
        )
    if name == "affine_":
        params = s.tensor().ravel()
        g_shape = s.alias_tensor()
        s.alias_tensor()  # beta has gamma's shape
        mode = s.int_()  # 0 CONV_MODE (one scale per channel), 1 FC_MODE
        n = int(np.prod(g_shape))
        if mode != 0 or 2 * n != params.size:
            raise DlibFormatError(
                f"affine_ at byte {start}: only CONV_MODE with per-channel scale is supported"
            )
        return Layer("affine", {"channels": n}, {"gamma": params[:n].copy(), "beta": params[n:].copy()})
    if name in ("max_pool_2", "avg_pool_2"):
        nr, nc, stride_y, stride_x, pad_y, pad_x = (s.int_() for _ in range(6))
        return Layer(
            name[:-2],
            {"nr": nr, "nc": nc, "stride_y": stride_y, "stride_x": stride_x, "pad_y": pad_y, "pad_x": pad_x},
        )
    if name == "relu_":
        return Layer("relu")
    if name == "add_prev_":
        return Layer("add_prev")
    if name == "fc_2":
        num_outputs, num_inputs = s.int_(), s.int_()
        params = s.tensor().ravel()
        w_shape = s.alias_tensor()
        b_shape = s.alias_tensor()
        bias_mode = s.int_()  # 0 FC_HAS_BIAS, 1 FC_NO_BIAS
        for _ in range(4):
            s.float_()
        n_w = int(np.prod(w_shape))
        arrays = {"weights": params[:n_w].reshape(w_shape[0], w_shape[1])}
        if bias_mode == 0:
            arrays["biases"] = params[n_w : n_w + int(np.prod(b_shape))].copy()
        return Layer(
            "fc", {"num_outputs": num_outputs, "num_inputs": num_inputs, "bias": int(bias_mode == 0)}, arrays
        )
    raise DlibFormatError(f"unsupported dlib layer {name!r} at byte {start}")


def _skip_state(s: DlibStream, *, tensors: int) -> None:
    for _ in range(
        3
    ):  # this_layer_setup_called, gradient_input_is_stale, get_output_and_gradient_input_disabled
        s.bool_()
    for _ in range(tensors):  # x_grad, cached_output, params_grad / grad_final: empty in a saved model
        s.tensor()


def _try_input_name(s: DlibStream) -> str | None:
    pos = s.pos
    try:
        name = s.string()
    except DlibFormatError:
        name = ""
    if name in _INPUT_LAYERS:
        return name
    s.pos = pos
    return None


def _subnet(s: DlibStream) -> tuple[InputSpec, list[Layer | Wrapper]]:
    """Read one `add_layer`/`add_tag_layer`/`add_skip_layer` and everything below it, iteratively.

    Returns the input spec and the items bottom-up.
    """
    pending: list[int] = []  # versions of the wrappers and layers whose details come after their subnet
    while True:
        version = s.int_()
        input_name = _try_input_name(s)
        if input_name is not None:  # add_layer<LAYER, INPUT_LAYER>
            if version not in (2, 3):
                raise DlibFormatError(f"unsupported input add_layer version {version}")
            spec = _input_layer(s, input_name)
            items: list[Layer | Wrapper] = [_details(s)]
            _skip_state(s, tensors=3)
            if version == 3:
                s.int_()  # sample_expansion_factor
            break
        if version not in (1, 2):
            raise DlibFormatError(f"unsupported layer version {version} at byte {s.pos}")
        pending.append(version)
    for version in reversed(pending):
        if version == 1:
            items.append(Wrapper())
        else:
            items.append(_details(s))
            _skip_state(s, tensors=3)
    return spec, items


def _match(layout: list[AnetOp], items: list[Layer | Wrapper]) -> list[tuple[AnetOp, Layer | None]]:
    if len(layout) != len(items):
        raise DlibFormatError(f"the file holds {len(items)} layers, anet_type has {len(layout)}")
    out: list[tuple[AnetOp, Layer | None]] = []
    for i, (op, item) in enumerate(zip(layout, items, strict=True)):
        if op.kind in ("tag", "skip"):
            if not isinstance(item, Wrapper):
                raise DlibFormatError(f"layer {i}: expected a {op.kind} layer, found {item}")
            out.append((op, None))
            continue
        if not isinstance(item, Layer) or item.kind != op.kind:
            raise DlibFormatError(f"layer {i}: expected {op.kind}, found {item}")
        p = item.params
        got: tuple[int, ...]
        if op.kind == "con":
            got = (p["num_filters"], p["nr"], p["nc"], p["stride_y"], p["stride_x"])
        elif op.kind in ("max_pool", "avg_pool"):
            got = (p["nr"], p["nc"], p["stride_y"], p["stride_x"])
        elif op.kind == "fc":
            got = (p["num_outputs"], p["bias"])
        else:
            got = ()
        if op.kind != "add_prev" and got != op.args and op.args:
            raise DlibFormatError(f"layer {i} ({op.kind}): file has {got}, anet_type has {op.args}")
        out.append((op, item))
    return out


def parse_dlib_net(data: bytes) -> DlibNet:
    """Parse the bytes of `dlib_face_recognition_resnet_model_v1.dat` into arrays and a checked topology.

    :raises DlibFormatError: the bytes are not this network in dlib's format.
    """
    if data[:2] == b"\x1f\x8b" or data[:3] == b"BZh":
        raise DlibFormatError("the model file is compressed; decompress it first")
    s = DlibStream(data)
    if s.int_() != 1:
        raise DlibFormatError("expected add_loss_layer version 1 at the start of the file")
    loss = s.expect_string("loss_metric_2")
    margin = float(s.float32())
    distance_threshold = float(s.float32())
    spec, items = _subnet(s)
    if not s.at_end:
        raise DlibFormatError(f"{len(data) - s.pos} unexpected bytes after the network")
    return DlibNet(
        input=spec,
        ops=_match(anet_layout(), items),
        loss=loss,
        margin=margin,
        distance_threshold=distance_threshold,
    )
