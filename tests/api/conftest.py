"""One app on a fresh SQLite home per test session, seeded like a first `simkyc serve`, plus real
face photos from ../shared/data for the registration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apikit import Api, login
from fastapi.testclient import TestClient

from simkyc.api.app import create_app
from simkyc.cli._serve import first_run_setup
from simkyc.config import Settings
from simkyc.service import auth


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    home = tmp_path_factory.mktemp("simkyc-api")
    settings = Settings(
        home=home,
        max_request_mb=4.0,
        max_image_mb=1.0,
        platform_rate_per_s=5.0,
        platform_burst=20.0,
        lockout_failures=3,
        challenge_test_seed=17,
        captures_per_clerk=1000,  # the suite leaves many captures open; test_api_access.py tests the limits
        captures_per_outlet=1000,
    )
    app = create_app(settings)
    first = first_run_setup(app.state.ctx.db)
    assert first is not None
    outlet_b = int(
        str(
            auth.create_outlet(
                app.state.ctx.db, code="B-002", name="Outlet B", operator_id="DEMO", actor="test"
            )["id"]
        )
    )
    auth.create_user(
        app.state.ctx.db,
        username="clerk-b",
        password="clerk-b-password",
        role=auth.Role.CLERK,
        outlet_id=outlet_b,
        actor="test",
    )
    with TestClient(app) as client:
        headers = {name: login(client, name, pw) for _, name, pw in first.accounts}
        headers["clerk-b"] = login(client, "clerk-b", "clerk-b-password")
        yield Api(app, client, first, headers, outlet_b)


@pytest.fixture(scope="session")
def face_a(faces_dir: Path) -> tuple[bytes, bytes]:
    """Two photos of one person (ID photo, live frame)."""
    d = faces_dir / "lfw" / "images" / "Donald_Rumsfeld"
    first, second = sorted(d.glob("*.jpg"))[:2]
    return first.read_bytes(), second.read_bytes()


@pytest.fixture(scope="session")
def face_b(faces_dir: Path) -> bytes:
    """Another person."""
    return sorted((faces_dir / "lfw" / "images" / "Angelina_Jolie").glob("*.jpg"))[0].read_bytes()


@pytest.fixture(scope="session")
def live_clip(videos_dir: Path) -> tuple[bytes, list[tuple[bytes, float]]]:
    """real.mov as JPEG frames with their offsets, and one early frame as the ID portrait."""
    from apikit import jpeg

    from simkyc.service.liveness import read_video

    clip = read_video(videos_dir / "liveness_pyimagesearch_demo_ZubairCracksCode" / "real.mov")
    frames = [(jpeg(img, 85), off) for img, off in zip(clip.frames, clip.offsets, strict=True)]
    return jpeg(clip.frames[5]), frames
