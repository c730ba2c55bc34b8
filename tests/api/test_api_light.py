"""The light challenge through the API: a policy that turns it on issues colours, the flash-sensitive
fallback waives them (and a supervisor confirms), frames carry their light stamps, and a registration
whose face answers the colours is APPROVED while the same clip without the answer is REJECTED."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from apikit import Api, jpeg, open_registration, second_app

from simkyc.core.liveness import Frame
from simkyc.core.liveness.light import LightColour, LightStep

LIGHT_POLICY = """version = "test-light-1"
[quota]
new_number_window_hours = 0
[liveness]
light = true
light_colours = 6
"""


@pytest.fixture(scope="module")
def lit(api: Api, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    policy = tmp_path_factory.mktemp("policy") / "policy.toml"
    policy.write_text(LIGHT_POLICY)
    with second_app(api, policy_file=policy) as app:
        yield app


def _frames_post(
    api: Api, reg_id: str, batch: list[tuple[bytes, float, int]], *, lights: str | None = None
) -> object:
    data = {"timestamps": json.dumps([t for _, t, _ in batch])}
    data["lights"] = lights if lights is not None else json.dumps([k for _, _, k in batch])
    return api.client.post(
        f"/api/registrations/{reg_id}/frames",
        headers=api.headers["demo-clerk"],
        data=data,
        files=[("frames", (f"{j}.jpg", jpg, "image/jpeg")) for j, (jpg, _, _) in enumerate(batch)],
    )


def test_the_policy_issues_colours_and_the_fallback_waives_them(
    lit: Api, face_a: tuple[bytes, bytes]
) -> None:
    opened = open_registration(lit, face_a[0])
    ch = opened["challenge"]
    steps = ch["light"]  # type: ignore[index]
    assert len(steps) == 8 and not ch["light_waived"]  # type: ignore[index]
    assert steps[0]["colour"] == "white" and steps[0]["rgb"] == "#ffffff" and steps[-1]["colour"] == "white"
    assert all(300 <= s["ms"] <= 450 for s in steps[1:-1])
    assert {s["rgb"] for s in steps[1:-1]} <= {
        "#ff0000",
        "#00ff00",
        "#0000ff",
        "#ffff00",
        "#ff00ff",
        "#00ffff",
    }

    waived = open_registration(lit, face_a[0], light_fallback=True)
    assert waived["challenge"]["light"] == [] and waived["challenge"]["light_waived"]  # type: ignore[index]
    audit = lit.client.get("/api/audit?limit=50", headers=lit.headers["demo-auditor"]).json()
    entry = next(e for e in audit if e["object"] == f"registration:{waived['id']}")
    assert entry["details"]["light_waived"] is True and entry["details"]["light_challenge"] is False


def test_frames_carry_light_stamps_and_bad_stamps_are_refused(lit: Api, face_a: tuple[bytes, bytes]) -> None:
    opened = open_registration(lit, face_a[0])
    reg_id, t0 = str(opened["id"]), float(opened["challenge"]["issued_at"]) + 0.5  # type: ignore[index]
    batch = [(face_a[1], t0 + 0.1 * i, i) for i in range(3)]
    for bad in ("[0, 1]", '["a", 1, 2]', "[0, 1, 99]", "[0, 1, -2]", "[true, 1, 2]", "{}", "[0, 1, 2.5]"):
        r = _frames_post(lit, reg_id, batch, lights=bad)
        assert r.status_code == 400, (bad, r.text)  # type: ignore[attr-defined]
        assert r.json()["reason"] == "INVALID_REQUEST"  # type: ignore[attr-defined]
    r = _frames_post(lit, reg_id, batch)
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]


def _tinted_run(lit: Api, portrait: bytes, real: object, *, tint: bool) -> dict[str, object]:
    """real.mov (turn right, turn left: the seed-17 challenge) streamed as the page does, its face lit
    by the issued colours when `tint`."""
    from simkyc.eval.light_media import page_stamps, tint_frames

    opened = open_registration(lit, portrait)
    ch = opened["challenge"]
    assert ch["actions"] == ["turn_right", "turn_left"]  # type: ignore[index]
    steps = tuple(LightStep(LightColour(s["colour"]), int(s["ms"])) for s in ch["light"])  # type: ignore[index]
    t0 = float(ch["issued_at"]) + 0.3  # type: ignore[index]
    frames = [Frame(img, t0 + off) for img, off in zip(real.frames, real.offsets, strict=True)]  # type: ignore[attr-defined]
    onset = t0 + 0.8
    frames = page_stamps(frames, steps, onset)
    if tint:
        frames = tint_frames(frames, real.landmarks, steps, onset, gain=0.3, delay_s=0.1)  # type: ignore[attr-defined]
    batch: list[tuple[bytes, float, int]] = [(jpeg(f.image, 85), f.timestamp, f.light) for f in frames]
    reg_id = str(opened["id"])
    for k in range(0, len(batch), 10):
        r = _frames_post(lit, reg_id, batch[k : k + 10])
        assert r.status_code == 200, r.text  # type: ignore[attr-defined]
        if r.json()["finished"]:  # type: ignore[attr-defined]
            break
    r = lit.client.post(f"/api/registrations/{reg_id}/finish", headers=lit.headers["demo-clerk"])
    assert r.status_code == 200, r.text
    out: dict[str, object] = r.json()
    return out


@pytest.mark.slow
def test_a_lit_face_is_approved_and_the_same_clip_unlit_is_rejected(
    lit: Api, live_clip: tuple[bytes, list[tuple[bytes, float]]], videos_dir: Path
) -> None:
    from simkyc.eval.liveness_light import source_clips

    real = source_clips(lit.ctx.liveness_models(), videos_dir)[0]
    portrait = live_clip[0]
    out = _tinted_run(lit, portrait, real, tint=True)
    assert out["status"] == "APPROVED", out
    # the session's other tests register this face under new IDs: cancel, so his template leaves 1:N
    r = lit.client.post(f"/api/numbers/{out['phone_number']}/cancel", headers=lit.headers["demo-supervisor"])
    assert r.status_code == 200, r.text
    out = _tinted_run(lit, portrait, real, tint=False)
    assert out["status"] == "REJECTED", out
    assert "SPOOF_NO_LIGHT_RESPONSE" in [r["code"] for r in out["reasons"]]  # type: ignore[attr-defined]


def test_a_logged_batch_keeps_its_light_stamps() -> None:
    """The capture log (any worker may replay it) carries the stamps; batches without stay as they were."""
    from simkyc.api.capture_store import decode_batch, encode_batch

    stamped = [(b"\xff\xd8one", 1.0, 0), (b"\xff\xd8two!", 1.1, -1)]
    assert decode_batch(encode_batch(stamped)) == stamped
    plain = [(b"\xff\xd8one", 1.0)]
    assert decode_batch(encode_batch(plain)) == plain
