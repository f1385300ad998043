"""``facetrust demo`` end to end with the bundled default detector: four files made, four verdicts as expected."""

import traceback
from pathlib import Path

import pytest
from typer.testing import CliRunner

from facetrust.cli.main import app

DEMO_FILES = ("astronaut_real.jpg", "astronaut_selfblended.jpg", "astronaut_real.mp4", "astronaut_selfblended.mp4")


@pytest.mark.slow
def test_demo_makes_four_files_and_gets_each_verdict_right(tmp_path: Path) -> None:
    out_dir = tmp_path / "demo out"
    result = CliRunner().invoke(app, ["demo", "--out", str(out_dir)])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        "".join(traceback.format_exception(*result.exc_info)) + result.output
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip() and not line.startswith("demo media in")]
    assert len(lines) == 4, result.stdout
    assert all(line.rstrip().endswith("(as expected)") for line in lines), result.stdout
    for name in DEMO_FILES:
        assert (out_dir / name).is_file(), name
        assert sum(name in line for line in lines) == 1
