"""``facetrust serve`` as a command: it stays out of ``facetrust --help``'s import time, and refuses bad
settings before starting (exit 2) or a data folder another server holds (exit 1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from facetrust.cli.main import app as cli
from facetrust.service import ServiceSettings
from facetrust.service.app import create_app


def test_the_cli_imports_no_web_framework_until_serve_runs() -> None:
    code = ("import sys, facetrust.cli.main; "
            "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'sqlite3') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_help_lists_the_options() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in ("--port", "--host", "--api-key", "--data-dir", "--allow-root", "--workers", "--queue",
                   "--max-upload-mb", "--retention", "--max-attempts"):
        assert option in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--retention", "a while"], "is not a duration"),
    (["--api-key", " , "], "--api-key is empty"),
    (["--allow-root", "/no/such/folder"], "not a folder"),
    (["--log-level", "loud"], "--log-level loud"),
    (["--workers", "0"], "'--workers': Input should be greater than or equal to 1"),
    (["--port", "70000"], "'--port': Input should be less than or equal to 65535"),
])
def test_bad_settings_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["serve", "--data-dir", str(tmp_path), *args], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "jobs.sqlite3").exists()  # refused before anything was created


def test_a_data_folder_held_by_another_server_is_refused(tmp_path: Path) -> None:
    app = create_app(ServiceSettings(data_dir=tmp_path, warm_up=False), start_workers=False)
    try:
        result = CliRunner().invoke(cli, ["serve", "--data-dir", str(tmp_path)])
    finally:
        app.state.service.close()
    assert result.exit_code == 1 and "DataDirLockedError" in result.output
    assert "another facetrust serve" in result.output
