"""Quality-aware abstention: answer RETRY instead of guessing on a poor capture.

An error-versus-reject curve (Grother and Tabassi, "Performance of biometric
quality measures", 2007) fixes the threshold first, then drops the comparisons
whose worse image has the lowest quality, a growing fraction at a time, and
reports the error rates of what is left. A useful quality measure makes FNMR
fall faster than the fraction rejected; a useless one leaves it flat (rejecting
at random removes errors only in proportion).

The quality of one image here is a single number from the pipeline's
measurements (`quality_score`): face size, sharpness, exposure and pose, each
mapped to [0, 1] against the limits `simkyc.core.faces.quality` uses, and the
worst of them kept, because one bad factor is enough to spoil a template.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["RejectCurve", "error_versus_reject", "flip_consistency", "quality_score", "rates_with_abstention"]

F64 = npt.NDArray[np.float64]


def _ramp(x: F64, lo: float, hi: float) -> F64:
    out: F64 = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return out


def quality_score(
    *,
    face_px: npt.ArrayLike,
    sharpness: npt.ArrayLike,
    brightness: npt.ArrayLike,
    yaw_deg: npt.ArrayLike,
) -> F64:
    """Scalar quality in [0, 1] per image: the worst of four ramps (1 = no concern).

    Ramps: face width 40 -> 120 px, Laplacian variance 4 -> 60 (log scale),
    mean grey level distance from mid-grey 100 -> 60, |yaw| 40 -> 10 degrees.
    """
    px = np.asarray(face_px, np.float64)
    sh = np.log(np.maximum(np.asarray(sharpness, np.float64), 1e-3))
    br = np.abs(np.asarray(brightness, np.float64) - 128.0)
    yaw = np.abs(np.asarray(yaw_deg, np.float64))
    parts = np.stack(
        [
            _ramp(px, 40.0, 120.0),
            _ramp(sh, float(np.log(4.0)), float(np.log(60.0))),
            1.0 - _ramp(br, 60.0, 100.0),
            1.0 - _ramp(yaw, 10.0, 40.0),
        ]
    )
    out: F64 = parts.min(axis=0)
    return out


def flip_consistency(templates: npt.ArrayLike, mirrored: npt.ArrayLike) -> F64:
    """Cosine between each template and its mirrored chip's template: a quality the embedder itself gives.

    A clear frontal face looks the same to the network mirrored; blur, a turned head,
    occlusion or a poor crop make the two disagree. Costs one extra embedding (the TTA flip).
    """
    a = np.asarray(templates, np.float64)
    b = np.asarray(mirrored, np.float64)
    out: F64 = np.einsum("nd,nd->n", a, b)
    return out


@dataclass(frozen=True, slots=True)
class RejectCurve:
    """Error rates of the comparisons kept after rejecting a fraction by quality, at one fixed threshold."""

    threshold: float
    rejected: F64  # fraction of genuine comparisons rejected
    fnmr: F64
    fmr: F64
    quality_cut: F64  # the pair quality below which comparisons were rejected
    n_genuine: int
    n_impostor: int


def error_versus_reject(
    genuine: npt.ArrayLike,
    genuine_quality: npt.ArrayLike,
    impostor: npt.ArrayLike,
    impostor_quality: npt.ArrayLike,
    *,
    threshold: float,
    fractions: npt.ArrayLike = (0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3),
) -> RejectCurve:
    """FNMR and FMR after rejecting the lowest-quality fraction of genuine comparisons.

    The quality cut for each fraction is set on the genuine comparisons (those are
    what a retry inconveniences) and applied to impostors alike. Pair quality is the
    lower of the two images' quality.
    """
    g, gq = np.asarray(genuine, np.float64), np.asarray(genuine_quality, np.float64)
    i, iq = np.asarray(impostor, np.float64), np.asarray(impostor_quality, np.float64)
    fr = np.asarray(fractions, np.float64)
    cuts = np.array([-np.inf if f <= 0 else float(np.quantile(gq, f)) for f in fr])
    fnmr = np.empty(len(fr))
    fmr = np.empty(len(fr))
    rej = np.empty(len(fr))
    for n, cut in enumerate(cuts):
        keep_g = gq > cut if np.isfinite(cut) else np.ones(len(g), bool)
        keep_i = iq > cut if np.isfinite(cut) else np.ones(len(i), bool)
        rej[n] = 1.0 - keep_g.mean() if len(g) else 0.0
        fnmr[n] = float(np.mean(g[keep_g] < threshold)) if keep_g.any() else float("nan")
        fmr[n] = float(np.mean(i[keep_i] >= threshold)) if keep_i.any() else float("nan")
    return RejectCurve(threshold, rej, fnmr, fmr, cuts, len(g), len(i))


def rates_with_abstention(
    genuine: npt.ArrayLike,
    genuine_retry: npt.ArrayLike,
    impostor: npt.ArrayLike,
    impostor_retry: npt.ArrayLike,
    *,
    threshold: float,
) -> dict[str, float]:
    """FMR/FNMR over the decided comparisons and the RETRY rates, for a boolean retry rule."""
    g, gr = np.asarray(genuine, np.float64), np.asarray(genuine_retry, bool)
    i, ir = np.asarray(impostor, np.float64), np.asarray(impostor_retry, bool)
    return {
        "retry_genuine": float(gr.mean()) if len(gr) else 0.0,
        "retry_impostor": float(ir.mean()) if len(ir) else 0.0,
        "fnmr": float(np.mean(g[~gr] < threshold)) if (~gr).any() else float("nan"),
        "fmr": float(np.mean(i[~ir] >= threshold)) if (~ir).any() else float("nan"),
        "n_genuine_decided": int((~gr).sum()),
        "n_impostor_decided": int((~ir).sum()),
    }
