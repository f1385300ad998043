"""``facetrust demo`` end to end with the bundled default detector: four files made; photos decided right, videos never contradicted, each fake scored well above its real."""

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
    by_name = {name: next(line for line in lines if name in line) for name in DEMO_FILES}
    # the photos are decided correctly; the videos are never contradicted (UNCERTAIN is allowed there)
    assert by_name["astronaut_real.jpg"].rstrip().endswith("(as expected)"), result.stdout
    assert " REAL " not in by_name["astronaut_selfblended.jpg"], result.stdout
    assert "wrong" not in result.stdout
    assert " FAKE " not in by_name["astronaut_real.mp4"] and " REAL " not in by_name["astronaut_selfblended.mp4"]
    probability = {}
    for name, line in by_name.items():
        tokens = line.split()
        probability[name] = float(tokens[tokens.index(name) + 2])  # name, verdict, probability
    assert probability["astronaut_selfblended.jpg"] > probability["astronaut_real.jpg"] + 0.3
    assert probability["astronaut_selfblended.mp4"] > probability["astronaut_real.mp4"] + 0.3
    for name in DEMO_FILES:
        assert (out_dir / name).is_file(), name
        assert sum(name in line for line in lines) == 1
