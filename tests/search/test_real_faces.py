"""Duplicate search on real faces: the same person under two IDs is found, a different person is not.

Templates come from the production pipeline (`simkyc.bootstrap.face_pipeline()`) on dev
images. The threshold is the policy's duplicate operating point resolved by the shipped
calibration; while no calibration file exists it falls back to the FMR 1e-4 point that
`benchmarks/search_scale.py` measured on 8.8 million real impostor pairs of the dev images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from search_builders import KEY_A, IndexFactory

from simkyc.search import ProtectedTransform, find_duplicates

FALLBACK_THRESHOLD = 0.9676  # FMR 1e-4 of dlib-resnet-v1 on the dev images (benchmarks/search_scale.py)

_CELEB = "asian_celeb_nz0001na/sample_images"
_FR = "face_recognition"
GALLERY = {  # one registered photo per identity
    "id-celeb-1": f"{_CELEB}/1/2832_1.jpg",
    "id-celeb-3": f"{_CELEB}/3/3_15.jpg",
    "id-celeb-7": f"{_CELEB}/7/7_14.jpg",
    "id-celeb-8": f"{_CELEB}/8/8_1.jpg",
    "id-celeb-9": f"{_CELEB}/9/9_15.jpg",
    "id-celeb-10": f"{_CELEB}/10/10_12.jpg",
    "id-obama": f"{_FR}/tests/test_images/obama.jpg",
    "id-biden": f"{_FR}/tests/test_images/biden.jpg",
    "id-harington": f"{_FR}/examples/knn_examples/train/kit_harington/john1.jpeg",
    "id-leslie": f"{_FR}/examples/knn_examples/train/rose_leslie/img1.jpg",
}
SAME_PERSON = {  # another photo of a registered person, presented under a new ID
    "id-celeb-8": f"{_CELEB}/8/8_25.jpg",
    "id-celeb-7": f"{_CELEB}/7/7_6.jpg",
}
NEVER_REGISTERED = [f"{_CELEB}/2/2_1.jpg", f"{_FR}/examples/lin-manuel-miranda.png"]


@pytest.fixture(scope="session")
def real_templates(faces_dir: Path) -> dict[str, npt.NDArray[np.float32]]:
    from simkyc import bootstrap
    from simkyc.core.images import decode_image

    pipeline = bootstrap.face_pipeline()
    paths = {*GALLERY.values(), *SAME_PERSON.values(), *NEVER_REGISTERED}
    return {p: pipeline.analyze(decode_image((faces_dir / p).read_bytes())).template for p in sorted(paths)}


@pytest.fixture(scope="session")
def real_transform(real_templates: dict[str, npt.NDArray[np.float32]]) -> ProtectedTransform:
    """A search transform of the production templates' size (the default embedder's, issue 13)."""
    dim = len(next(iter(real_templates.values())))
    return ProtectedTransform.from_key(KEY_A, dim=dim)


@pytest.fixture(scope="session")
def duplicate_threshold() -> float:
    from simkyc import bootstrap
    from simkyc.errors import ModelError

    try:
        return float(bootstrap.registration_thresholds().duplicate)
    except (ModelError, FileNotFoundError):
        return FALLBACK_THRESHOLD


def test_same_person_under_another_id_is_a_duplicate_and_strangers_are_not(
    make_index: IndexFactory,
    real_transform: ProtectedTransform,
    real_templates: dict[str, npt.NDArray[np.float32]],
    duplicate_threshold: float,
) -> None:
    index = make_index(real_transform)
    for n, (identity, path) in enumerate(GALLERY.items()):
        index.add(f"t{n}", identity, real_templates[path])
    index.save()

    for registered, photo in SAME_PERSON.items():
        found = find_duplicates(
            index, real_templates[photo], threshold=duplicate_threshold, identity_key="id-new-customer"
        )
        assert found, f"{registered}: the same face under a new ID was not found"
        assert found[0].identity_key == registered
        assert found[0].score >= duplicate_threshold
        # the person's own earlier registration is not a duplicate of themselves
        assert find_duplicates(
            index, real_templates[photo], threshold=duplicate_threshold, identity_key=registered
        ) == [c for c in found if c.identity_key != registered]

    for photo in NEVER_REGISTERED:
        assert (
            find_duplicates(index, real_templates[photo], threshold=duplicate_threshold, identity_key="id-x")
            == []
        )


def test_real_scores_survive_the_transform(
    real_transform: ProtectedTransform, real_templates: dict[str, npt.NDArray[np.float32]]
) -> None:
    rows = np.stack(list(real_templates.values()))
    np.testing.assert_allclose(real_transform(rows) @ real_transform(rows).T, rows @ rows.T, atol=1e-5)
