"""`simkyc index stats|check|rebuild|rotate-key` against a fresh SIMKYC_HOME (SQLite database)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from simkyc import bootstrap
from simkyc.cli import app
from simkyc.config import get_settings
from simkyc.search import open_index

runner = CliRunner()


def _clear() -> None:
    get_settings.cache_clear()
    bootstrap.keyring.cache_clear()
    bootstrap.database.cache_clear()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SIMKYC_HOME", str(tmp_path))
    for name in ("SIMKYC_SEARCH_BACKEND", "SIMKYC_SEARCH_KEY", "SIMKYC_DATABASE_URL", "SIMKYC_KEYS"):
        monkeypatch.delenv(name, raising=False)
    _clear()
    yield tmp_path
    _clear()


def test_stats_check_rebuild_rotate(home: Path) -> None:
    result = runner.invoke(app, ["index", "stats"])
    assert result.exit_code == 0, result.output
    assert "backend numpy" in result.output and "templates 0" in result.output

    assert runner.invoke(app, ["index", "check"]).exit_code == 0

    stray = open_index()  # a template the database does not know
    stray.add("t999", "i999", np.ones(128, dtype=np.float32))
    stray.save()
    result = runner.invoke(app, ["index", "check"])
    assert result.exit_code == 1
    assert "extra 1" in result.output and "t999" in result.output

    result = runner.invoke(app, ["index", "rebuild"])
    assert result.exit_code == 0 and "rebuilt: 0 templates" in result.output
    assert runner.invoke(app, ["index", "check"]).exit_code == 0

    old_key = (home / "search.key").read_bytes()
    assert runner.invoke(app, ["index", "rotate-key"]).exit_code == 2  # needs --yes
    result = runner.invoke(app, ["index", "rotate-key", "--yes"])
    assert result.exit_code == 0, result.output
    assert (home / "search.key").read_bytes() != old_key
    assert runner.invoke(app, ["index", "stats"]).exit_code == 0  # the index was rebuilt under the new key
