"""FaceMesh and the iris model via LiteRT on real photos: points on the face, stable tracking, eyes read."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest

from simkyc.core.images import decode_image
from simkyc.core.liveness.signals import eye_aspect_ratio, head_pose, inter_ocular
from simkyc.models.blazeface import BlazeFaceDetector
from simkyc.models.facemesh import EyeRefiner, FaceMeshLandmarker, Roi, roi_from_landmarks

PHOTOS = [
    "lfw/images/Abdullah_Gul/Abdullah_Gul_0013.jpg",
    "face_recognition/examples/obama-480p.jpg",
]


@cache
def models() -> tuple[BlazeFaceDetector, FaceMeshLandmarker, EyeRefiner]:
    return BlazeFaceDetector(), FaceMeshLandmarker(), EyeRefiner()


def _mesh(image: np.ndarray) -> tuple[np.ndarray, object]:
    det, mesh, _ = models()
    found = det.detect(image)
    assert len(found) == 1
    return mesh.from_detection(image, found[0]).points, found[0]


@pytest.mark.parametrize("rel", PHOTOS)
def test_mesh_points_lie_on_the_detected_face(faces_dir: Path, rel: str) -> None:
    image = decode_image((faces_dir / rel).read_bytes())
    points, detection = _mesh(image)
    assert points.shape == (468, 3)
    box = detection.box  # type: ignore[attr-defined]
    nose = points[1, :2]
    assert box.left < nose[0] < box.right and box.top < nose[1] < box.bottom
    # the mesh's eye corners agree with BlazeFace's eye keypoints to a fraction of the eye distance
    kp = detection.keypoints  # type: ignore[attr-defined]
    iod = inter_ocular(points)
    eyes = np.stack([points[[33, 133]].mean(0)[:2], points[[263, 362]].mean(0)[:2]])
    assert np.abs(eyes - kp[:2]).max() < 0.25 * iod


def test_tracking_from_its_own_points_is_stable(faces_dir: Path) -> None:
    image = decode_image((faces_dir / PHOTOS[0]).read_bytes())
    points, _ = _mesh(image)
    _, mesh, _ = models()
    again = mesh.track(image, mesh.track(image, points).points)
    drift = np.hypot(*(again.points[:, :2] - points[:, :2]).T).mean()
    assert again.score > 0.9
    assert drift < 0.05 * inter_ocular(points)


def test_tracking_follows_a_moved_face(faces_dir: Path) -> None:
    image = decode_image((faces_dir / PHOTOS[1]).read_bytes())
    points, _ = _mesh(image)
    _, mesh, _ = models()
    shift = np.float32([[1, 0, 12], [0, 1, -8]])
    moved = cv2.warpAffine(image, shift, (image.shape[1], image.shape[0]))
    tracked = mesh.track(moved, points)
    assert np.median(tracked.points[:, 0] - points[:, 0]) == pytest.approx(12, abs=2.5)
    assert np.median(tracked.points[:, 1] - points[:, 1]) == pytest.approx(-8, abs=2.5)


def test_no_face_in_the_region_scores_low() -> None:
    _, mesh, _ = models()
    wall = np.full((480, 640, 3), 180, dtype=np.uint8)
    assert mesh.landmarks(wall, Roi(320, 240, 200, 0.0)).score < 0.5


def test_roi_from_landmarks_is_a_square_about_the_face(faces_dir: Path) -> None:
    image = decode_image((faces_dir / PHOTOS[0]).read_bytes())
    points, _ = _mesh(image)
    roi = roi_from_landmarks(points)
    width = float(points[:, 0].max() - points[:, 0].min())
    assert 1.2 * width < roi.size < 2.0 * width
    assert abs(roi.angle) < 0.3


def test_eye_refiner_opens_and_closes_with_the_eyes(faces_dir: Path) -> None:
    image = decode_image((faces_dir / PHOTOS[1]).read_bytes())
    points, _ = _mesh(image)
    _, _, eyes = models()
    refined = eyes.refine(image, points)
    open_ear = float(np.mean(eye_aspect_ratio(refined)))
    assert 0.12 < open_ear < 0.5
    # paint both eyes shut with the skin colour just below them: the refined lids close
    shut = image.copy()
    for ring in ((33, 133, 159, 145), (263, 362, 386, 374)):
        xy = points[list(ring), :2]
        pad = np.array([2.0, 4.0])
        x0, y0 = xy.min(0) - pad
        x1, y1 = xy.max(0) + pad
        skin = image[int(y1) + 6, int((x0 + x1) / 2)].tolist()
        cv2.rectangle(shut, (int(x0), int(y0)), (int(x1), int(y1)), skin, -1)
        cv2.line(shut, (int(x0), int((y0 + y1) / 2)), (int(x1), int((y0 + y1) / 2)), (40, 30, 30), 2)
    closed_ear = float(np.mean(eye_aspect_ratio(eyes.refine(shut, points))))
    assert closed_ear < 0.6 * open_ear


def test_pose_of_a_frontal_photo_is_small(faces_dir: Path) -> None:
    image = decode_image((faces_dir / PHOTOS[1]).read_bytes())
    points, _ = _mesh(image)
    pose = head_pose(points, image.shape[:2])
    assert abs(pose.roll) < 10
