"""`facetrust eval` / `benchmark` / `extract` / `ensemble` end to end on a tiny generated dataset."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from facetrust.cli.main import app
from facetrust.datasets import index_dataset
from facetrust.evaluation.runner import evaluate_detector
from tests_helpers import write_generic_dataset


@pytest.fixture()
def dataset(tmp_path: Path, media_dir: Path) -> Path:
    return write_generic_dataset(tmp_path / "data", media_dir)


def test_evaluate_detector_scores_what_it_can_and_counts_the_rest(
    dataset: Path, tiny_detector: Path, tmp_path: Path
) -> None:
    index = index_dataset("generic", dataset)
    result = evaluate_detector(str(tiny_detector), index, tmp_path / "eval", frames=4, n_bootstrap=50)
    assert result.items == 5 and result.scored == 3
    assert result.not_scored == {"CorruptMediaError": 1, "NO_FACE": 1}
    assert result.video is not None and result.video.n == 3 and result.video.n_fake == 1
    assert result.frame is not None and result.frame.n >= 3
    out = tmp_path / "eval"
    for name in ("metrics.json", "metrics.md", "predictions.csv", "video_roc.png", "frame_reliability.png"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["scored"] == 3 and metrics["video"]["n"] == 3
    with (out / "predictions.csv").open(encoding="utf-8") as handle:
        rows = {Path(r["path"]).name: r for r in csv.DictReader(handle)}
    assert rows["broken.mp4"]["error"].startswith("CorruptMediaError") and rows["broken.mp4"]["fake_probability"] == ""
    assert rows["empty scene.mp4"]["verdict"] == "NO_FACE"


def test_cli_eval_benchmark_extract_and_ensemble(dataset: Path, tiny_detector: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["eval", str(tiny_detector), str(dataset), "--out", str(tmp_path / "e"),
                                 "--frames", "2", "--bootstrap", "20"])
    assert result.exit_code == 0, result.output
    assert "Video level" in result.output and (tmp_path / "e" / "metrics.md").is_file()

    result = runner.invoke(app, ["ensemble", "pair", str(tiny_detector), str(tiny_detector.with_name("x.json")),
                                 "--out", str(tmp_path / "ens")])
    assert result.exit_code == 1  # the second member does not exist: a weights error, nothing written
    assert not (tmp_path / "ens" / "pair.json").exists()
    copy = tmp_path / "copy"
    copy.mkdir()
    for item in tiny_detector.parent.iterdir():
        shutil.copy(item, copy / item.name)
    result = runner.invoke(app, ["ensemble", "pair", str(tiny_detector), str(copy / tiny_detector.name),
                                 "--out", str(tmp_path / "ens")])
    assert result.exit_code == 0, result.output
    import facetrust

    pair = facetrust.load_detector(str(tmp_path / "ens" / "pair.json"))
    assert pair.ensemble.members[0].startswith("..") and len(pair.members) == 2  # stored relative to the file
    result = runner.invoke(app, ["benchmark", str(dataset), "-d", str(tiny_detector), "--frames", "2",
                                 "--out", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert "| detector" in result.output and (tmp_path / "b" / "benchmark.md").is_file()

    result = runner.invoke(app, ["extract", str(dataset), "--out", str(tmp_path / "x"), "--frames", "2",
                                 "--crop-size", "64"])
    assert result.exit_code == 1  # one corrupt item: reported, the others extracted
    assert "crops from 5 items" in result.output and (tmp_path / "x" / "index.csv").is_file()


def test_cli_dataset_usage_errors(tmp_path: Path, tiny_detector: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["eval", str(tiny_detector), str(tmp_path / "missing"), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "missing" in result.output
    result = runner.invoke(app, ["eval", str(tiny_detector), str(tmp_path), "--adapter", "celebdff",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 2 and "celebdf" in result.output
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "a.mp4").write_bytes(b"")
    (tmp_path / "fake").mkdir()
    result = runner.invoke(app, ["eval", "no_such_detector", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no_such_detector" in result.output
