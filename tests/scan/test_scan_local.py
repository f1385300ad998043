"""Scans in this process (``workers=0``): the per-file function the Ray workers run, rows like ``detect
--csv``, error rows, resuming, Ctrl-C, ``--hash`` and the CLI's exit codes."""

from __future__ import annotations

import csv
import json
import shutil
import traceback
from pathlib import Path

import pytest
from typer.testing import CliRunner

from facetrust.cli.main import app
from facetrust.scan import CorpusScan, analyze_file, read_results, scan_corpus

FRAMES = 4  # frames per video: enough for a verdict, fast

runner = CliRunner()


def run(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        "".join(traceback.format_exception(*result.exc_info)) + result.output
    )
    return result


@pytest.fixture
def corpus(tmp_path: Path, media_dir: Path) -> Path:
    """Two face clips, a clip without a face, a photo, a text file named .mp4 and a cut-off video."""
    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    shutil.copy(media_dir / "face clip.mp4", root / "face.mp4")
    shutil.copy(media_dir / "two people.mp4", root / "sub" / "two people.mp4")
    shutil.copy(media_dir / "no face.mp4", root / "sub" / "no face.mp4")
    shutil.copy(media_dir / "astronaut photo ü.jpg", root / "photo ü.jpg")
    shutil.copy(media_dir / "notes.mp4", root / "notes.mp4")
    shutil.copy(media_dir / "truncated.mp4", root / "truncated.mp4")
    return root


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_analyze_file_gives_a_row_for_good_and_bad_files(media_dir: Path) -> None:
    good = analyze_file(str(media_dir / "face clip.mp4"), "k1", {"frames": FRAMES})
    assert good["verdict"] in {"REAL", "FAKE", "UNCERTAIN"} and good["error_type"] is None
    assert good["people"] == 1 and good["frames_sampled"] == FRAMES and good["input_key"] == "k1"
    assert json.loads(good["report"])["verdict"] == good["verdict"]
    bad = analyze_file(str(media_dir / "notes.mp4"), "k2", {"frames": FRAMES})
    assert bad["verdict"] is None and bad["error_type"] == "UnsupportedMediaError"
    assert "not an image or video" in bad["error_message"]
    missing = analyze_file(str(media_dir / "gone.mp4"), "k3", {"frames": FRAMES})
    assert missing["error_type"] == "MediaNotFoundError" and missing["size"] is None


@pytest.mark.slow
def test_rows_match_detect_csv(corpus: Path, tmp_path: Path) -> None:
    summary = scan_corpus(_files(corpus), tmp_path / "r.parquet", workers=0, frames=FRAMES)
    assert (summary.inputs, summary.analysed, summary.failed, summary.skipped) == (6, 6, 2, 0)
    assert summary.errors == {"UnsupportedMediaError": 1, "CorruptMediaError": 1}
    assert summary.verdicts.get("NO_FACE") == 1
    rows = {Path(r["path"]): r for r in read_results(tmp_path / "r.parquet")}
    detect = run("detect", str(corpus), "--frames", str(FRAMES), "--csv", str(tmp_path / "d.csv"))
    assert detect.exit_code == 1  # two files failed there too
    with (tmp_path / "d.csv").open(newline="", encoding="utf-8") as handle:
        expected = {Path(r["path"]).absolute(): r for r in csv.DictReader(handle)}
    assert set(rows) == set(expected)
    for path, row in rows.items():
        for column, value in expected[path].items():
            if column == "path":
                continue
            mine = row[column]
            assert ("" if mine is None else str(mine)) == value, (path, column)


def test_ctrl_c_keeps_finished_rows_and_the_next_run_resumes(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    seen: list[str] = []

    def stop_after_two(row: dict) -> None:
        seen.append(row["path"])
        if len(seen) == 2:
            raise KeyboardInterrupt

    job = CorpusScan(out, workers=0, frames=FRAMES)
    with pytest.raises(KeyboardInterrupt):
        job.run(_files(corpus), on_row=stop_after_two)
    assert job.summary.interrupted and job.summary.analysed == 2 and job.summary.remaining == 4
    assert [r["path"] for r in read_results(out)] == seen
    again = scan_corpus(_files(corpus), out, workers=0, frames=FRAMES)
    assert (again.skipped, again.analysed) == (2, 4)
    assert sorted(r["path"] for r in read_results(out)) == sorted(str(p.absolute()) for p in _files(corpus))


def test_changed_files_are_analysed_again_and_hash_follows_content(corpus: Path, tmp_path: Path) -> None:
    files = [corpus / "face.mp4", corpus / "notes.mp4"]
    scan_corpus(files, tmp_path / "by path.jsonl", workers=0, frames=FRAMES)
    scan_corpus(files, tmp_path / "by hash.jsonl", workers=0, frames=FRAMES, by_content=True)
    moved = corpus / "renamed.mp4"
    (corpus / "face.mp4").rename(moved)
    by_path = scan_corpus([moved, files[1]], tmp_path / "by path.jsonl", workers=0, frames=FRAMES)
    assert (by_path.skipped, by_path.analysed) == (1, 1)  # a new path is a new file
    by_hash = scan_corpus([moved, files[1]], tmp_path / "by hash.jsonl", workers=0, frames=FRAMES, by_content=True)
    assert (by_hash.skipped, by_hash.analysed) == (2, 0)  # same bytes: already done
    files[1].write_text("other text now\n" * 30)  # new size and time: analysed again
    assert scan_corpus(files[1:], tmp_path / "by path.jsonl", workers=0, frames=FRAMES).analysed == 1


def test_cli_scan_in_process_exit_codes_and_summary(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    first = run("scan", str(corpus / "face.mp4"), str(corpus / "notes.mp4"), "--out", str(out), "--workers", "0",
                "--frames", str(FRAMES))
    assert first.exit_code == 1, first.output  # one file failed
    assert "analysed 2 file(s)" in first.stderr and "UnsupportedMediaError 1" in first.stderr
    assert len(read_results(out)) == 2
    second = run("scan", str(corpus / "face.mp4"), "--out", str(out), "--workers", "0")
    assert second.exit_code == 0 and "nothing to analyse" in second.stderr and "1 file(s) skipped" in second.stderr
    assert run("scan", str(corpus), "--out", str(tmp_path / "r.csv")).exit_code == 2
    assert run("scan", str(tmp_path / "nothing*.mp4"), "--out", str(out)).exit_code == 2
    assert run("scan", str(corpus), "--out", str(out), "--detector", "defualt").exit_code == 2
    assert run("scan", str(corpus), "--out", str(out), "--workers", "0", "--address", "auto").exit_code == 2
