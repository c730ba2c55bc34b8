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
from simkyc.search import SearchSettings, generation_settings, open_index

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
    # one index per embedder generation (issue 13): the current embedder's, then the previous one's
    name, dim = bootstrap.current_generation()
    for generation in (name, *(n for n, _ in bootstrap.older_generations())):
        assert f"{generation}: backend numpy" in result.output

    assert runner.invoke(app, ["index", "check"]).exit_code == 0

    stray = open_index(generation_settings(SearchSettings(), name, dim))  # a template the database lacks
    stray.add("t999", "i999", np.ones(dim, dtype=np.float32))
    stray.save()
    result = runner.invoke(app, ["index", "check"])
    assert result.exit_code == 1
    assert "extra 1" in result.output and "t999" in result.output

    result = runner.invoke(app, ["index", "rebuild"])
    assert result.exit_code == 0 and f"{name}: rebuilt 0 templates" in result.output
    assert runner.invoke(app, ["index", "check"]).exit_code == 0

    old_key = (home / "search.key").read_bytes()
    assert runner.invoke(app, ["index", "rotate-key"]).exit_code == 2  # needs --yes
    result = runner.invoke(app, ["index", "rotate-key", "--yes"])
    assert result.exit_code == 0, result.output
    assert (home / "search.key").read_bytes() != old_key
    assert runner.invoke(app, ["index", "stats"]).exit_code == 0  # the index was rebuilt under the new key
