"""Pair lists, the embedding cache and the chip-photo degradation, on the real dev lists."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simkyc.core.images import decode_image
from simkyc.eval.cache import EmbeddingCache, EmbedRecord, cache_key
from simkyc.eval.pairs import load_identities, load_pairs, unique_images
from simkyc.eval.run import Job, jobs_for_pairs, score_pairs
from simkyc.eval.systems import CHIP_SIZE, degrade_to_chip


def test_dev_pair_list_loads(faces_dir: Path) -> None:
    pairs = load_pairs(faces_dir / "pairs.csv")
    assert len(pairs) == 9026
    assert {p.same for p in pairs} == {True, False}
    assert all((faces_dir / p).is_file() for p in unique_images(pairs[:50]))
    ids = load_identities(faces_dir / "identities.csv")
    assert len({x.identity for x in ids}) > 100


def test_chip_condition_degrades_only_the_id_side(faces_dir: Path) -> None:
    pairs = load_pairs(faces_dir / "pairs.csv")[:3]
    jobs = jobs_for_pairs(pairs, condition="chip")
    assert Job(pairs[0].img_a, chip=True) in jobs and Job(pairs[0].img_b) in jobs
    data = (faces_dir / pairs[0].img_a).read_bytes()
    chip = decode_image(degrade_to_chip(data))
    assert chip.shape == (CHIP_SIZE[1], CHIP_SIZE[0], 3)


def test_cache_round_trip_and_key_depends_on_everything() -> None:
    cache = EmbeddingCache(None)
    t = np.arange(4, dtype=np.float32)
    key = cache_key("a.jpg", "d1", "sys/v1", "original")
    assert cache.get(key) is None
    cache.put(key, EmbedRecord(template=t, detector="x", findings=("BLURRY",), face_px=50.0))
    got = cache.get(key)
    assert got is not None and np.array_equal(got.template, t) and got.findings == ("BLURRY",)
    cache.put("k2", EmbedRecord(template=None, reason="NO_FACE"))
    missing = cache.get("k2")
    assert missing is not None and not missing.ok and missing.reason == "NO_FACE"
    variants = {
        cache_key("a.jpg", "d2", "sys/v1", "original"),
        cache_key("a.jpg", "d1", "sys/v2", "original"),
        cache_key("a.jpg", "d1", "sys/v1", "chip"),
        cache_key("b.jpg", "d1", "sys/v1", "original"),
    }
    assert key not in variants and len(variants) == 4


def test_failures_to_acquire_score_as_non_matches(faces_dir: Path) -> None:
    pairs = load_pairs(faces_dir / "pairs.csv")[:2]
    one = np.ones(2, np.float32) / np.sqrt(2)
    records = {j: EmbedRecord(template=one) for j in jobs_for_pairs(pairs)}
    records[Job(pairs[1].img_b)] = EmbedRecord(template=None, reason="NO_FACE")
    scored = score_pairs(pairs, records, condition="original")
    assert scored.scores[0] == np.float32(1.0) or abs(scored.scores[0] - 1.0) < 1e-6
    assert scored.failed.tolist() == [False, True] and scored.scores[1] == -np.inf
