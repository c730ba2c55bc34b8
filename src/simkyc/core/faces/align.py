"""Five-point face alignment, ArcFace convention: where the points go, and the transform that puts them there.

Modern embedding networks (ArcFace, MobileFaceNet) are trained on 112x112 crops in
which the two eye centres, the nose tip and the mouth corners sit at fixed reference
positions (`ARCFACE_112`). A network fed crops aligned any other way (dlib's 150x150
chips, a plain square box) loses much of its accuracy, so an embedder of this family
gets its own alignment: five points from a landmark model (`five_from_68`,
`five_from_mesh`), then a similarity transform (`similarity_transform`, least squares
over all five points, as insightface does) or the vendor JavaScript's exact affine
through three of them (`affine_from_three`). The warp itself is done by the model
wrapper (`simkyc.models.arcface`); this module is pure numpy.

Point order everywhere: image-left eye, image-right eye, nose tip, image-left mouth
corner, image-right mouth corner (for an unmirrored photo, the subject's right eye first).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "ARCFACE_112",
    "FIVE_POINT_LAYOUT",
    "affine_from_three",
    "apply_affine",
    "five_from_68",
    "five_from_mesh",
    "mirror_five",
    "similarity_transform",
]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

ARCFACE_112: F64 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)
"""Reference positions in a 112x112 crop (insightface `arcface_dst`, faceplugin `REFERENCE_FACIAL_POINTS`)."""

FIVE_POINT_LAYOUT = "arcface5"
"""Name of this landmark layout, so consumers (quality's pose estimate) read the points right."""


def similarity_transform(src: npt.ArrayLike, dst: npt.ArrayLike = ARCFACE_112) -> F64:
    """The 2x3 rotation + uniform scale + translation that best maps `src` onto `dst` (least squares).

    Umeyama's closed form (1991), the estimate insightface and skimage use for ArcFace crops.
    Reflections are excluded. Raises ValueError for fewer than two distinct points.
    """
    s = np.asarray(src, dtype=np.float64)
    d = np.asarray(dst, dtype=np.float64)
    if s.shape != d.shape or s.ndim != 2 or s.shape[1] != 2 or len(s) < 2:
        raise ValueError(f"need matching (K, 2) point sets, K >= 2; got {s.shape} and {d.shape}")
    ms, md = s.mean(axis=0), d.mean(axis=0)
    sc, dc = s - ms, d - md
    var_s = float((sc**2).sum() / len(s))
    if var_s < 1e-12:
        raise ValueError("source points coincide")
    cov = dc.T @ sc / len(s)
    u, sig, vt = np.linalg.svd(cov)
    e = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        e[1, 1] = -1.0
    r = u @ e @ vt
    scale = float(np.trace(np.diag(sig) @ e)) / var_s
    m = np.zeros((2, 3))
    m[:, :2] = scale * r
    m[:, 2] = md - scale * (r @ ms)
    return m


def affine_from_three(src: npt.ArrayLike, dst: npt.ArrayLike = ARCFACE_112) -> F64:
    """The exact affine map taking the first three points of `src` (eyes, nose) to those of `dst`.

    What faceplugin's `warpAndCropFace` does (`cv.getAffineTransform` on three points); it
    ignores the mouth and may shear. Raises ValueError when the three points are collinear.
    """
    s = np.asarray(src, dtype=np.float64)[:3]
    d = np.asarray(dst, dtype=np.float64)[:3]
    a = np.hstack([s, np.ones((3, 1))])
    if abs(np.linalg.det(a)) < 1e-9:
        raise ValueError("the three points are collinear")
    out: F64 = np.asarray(np.linalg.solve(a, d).T, dtype=np.float64)
    return out


def apply_affine(m: npt.ArrayLike, points: npt.ArrayLike) -> F64:
    """(K, 2) points mapped by a 2x3 affine matrix."""
    mm = np.asarray(m, dtype=np.float64)
    p = np.asarray(points, dtype=np.float64)
    out: F64 = p @ mm[:, :2].T + mm[:, 2]
    return out


def five_from_68(points: npt.ArrayLike) -> F32:
    """Eye centres, nose tip, mouth corners from the 68-point iBUG layout, as faceplugin's `convert68pts5pts`.

    Eye centre = mean of the four eyelid points (37, 38, 40, 41 and 43, 44, 46, 47, 0-based),
    nose = point 30, each mouth corner = mean of its outer (48, 54) and inner (60, 64) corner.
    """
    p = np.asarray(points, dtype=np.float64).reshape(68, 2)
    out = np.stack(
        [
            p[[37, 38, 40, 41]].mean(axis=0),
            p[[43, 44, 46, 47]].mean(axis=0),
            p[30],
            p[[48, 60]].mean(axis=0),
            p[[54, 64]].mean(axis=0),
        ]
    )
    return out.astype(np.float32)


# FaceMesh (468 points): each eye's contour ring, the nose tip, the outer mouth corners
_MESH_EYE_IMAGE_LEFT = (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173)
_MESH_EYE_IMAGE_RIGHT = (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398)
_MESH_NOSE_TIP = 1
_MESH_MOUTH_LEFT, _MESH_MOUTH_RIGHT = 61, 291


def five_from_mesh(points: npt.ArrayLike) -> F32:
    """Eye centres (each eye's 16-point contour averaged), nose tip (1), mouth corners (61, 291): FaceMesh."""
    p = np.asarray(points, dtype=np.float64)[:, :2]
    if len(p) < 468:
        raise ValueError(f"need the 468 FaceMesh points, got {len(p)}")
    out = np.stack(
        [
            p[list(_MESH_EYE_IMAGE_LEFT)].mean(axis=0),
            p[list(_MESH_EYE_IMAGE_RIGHT)].mean(axis=0),
            p[_MESH_NOSE_TIP],
            p[_MESH_MOUTH_LEFT],
            p[_MESH_MOUTH_RIGHT],
        ]
    )
    return out.astype(np.float32)


def mirror_five(points: npt.ArrayLike, width: float) -> F32:
    """The five points of the horizontally mirrored image (x -> width - 1 - x, left/right swapped)."""
    p = np.asarray(points, dtype=np.float64).copy()
    p[:, 0] = width - 1.0 - p[:, 0]
    out: F32 = p[[1, 0, 2, 4, 3]].astype(np.float32)
    return out
