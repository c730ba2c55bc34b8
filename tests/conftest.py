"""Shared fixtures: where the real development data lives, and skips when it is absent."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from simkyc.store import Database, KeyRing, open_database
from simkyc.store.testing import pg_reachable, pg_schema_url

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """`../shared/data` beside the checkout, or `SIMKYC_SHARED_DATA`."""
    env = os.environ.get("SIMKYC_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


# Skip reasons that mean "a test tool is not installed" (not "the data is absent" or "no PostgreSQL").
TOOL_SKIPS = (
    "Chromium not found",
    "ffmpeg not installed",
    "playwright",
    "Noto CJK font",
    "face_recognition",
    "rapidocr_onnxruntime",
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """With SIMKYC_REQUIRE_TOOLS=1 (set by scripts/test.sh once its tools are installed) a skip for a
    missing tool fails the test instead: the README's commands must run every test."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not report.skipped or os.environ.get("SIMKYC_REQUIRE_TOOLS") != "1":
        return
    reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if any(tool in reason for tool in TOOL_SKIPS):
        report.outcome = "failed"
        report.longrepr = f"a test tool is missing although scripts/test.sh checked for it: {reason}"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = shared_data_dir()
    if not (root / "faces" / "pairs.csv").is_file():
        pytest.skip(f"real data not found at {root} (set SIMKYC_SHARED_DATA)")
    return root


@pytest.fixture(scope="session")
def faces_dir(shared_data: Path) -> Path:
    return shared_data / "faces"


@pytest.fixture(scope="session")
def videos_dir(shared_data: Path) -> Path:
    return shared_data / "videos"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database on SQLite, and on PostgreSQL when SIMKYC_TEST_PG_URL is reachable."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'simkyc.db'}"
        return
    reason = pg_reachable()
    if reason:
        pytest.skip(reason)
    with pg_schema_url() as url:
        yield url


@pytest.fixture
def keys() -> KeyRing:
    return KeyRing.generate()


@pytest.fixture
def db(db_url: str, keys: KeyRing) -> Iterator[Database]:
    database = open_database(db_url, keys)
    yield database
    database.dispose()
