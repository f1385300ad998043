"""Scans on a real 2-CPU local Ray: a small folder, a corrupt file among good ones, resuming, a worker that dies,
and SIGTERM to the CLI (Ctrl-C in-process is in test_scan_local.py). Ray starts once for the module (a few seconds) and is shut down at its end."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

import pytest
from typer.testing import CliRunner

from facetrust.cli.main import app
from facetrust.scan import read_results, scan_corpus

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

FRAMES = 4
runner = CliRunner()


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def corpus(tmp_path: Path, media_dir: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    shutil.copy(media_dir / "face clip.mp4", root / "face.mp4")
    shutil.copy(media_dir / "no face.mp4", root / "sub" / "no face.mp4")
    shutil.copy(media_dir / "astronaut photo ü.jpg", root / "photo ü.jpg")
    shutil.copy(media_dir / "truncated.mp4", root / "corrupt.mp4")
    return root


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_two_workers_scan_a_folder_with_a_corrupt_file_and_resume(local_ray, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.parquet"
    result = runner.invoke(app, ["scan", str(corpus), "--out", str(out), "--workers", "2", "--frames", str(FRAMES)])
    assert isinstance(result.exception, SystemExit | None), "".join(traceback.format_exception(*result.exc_info))
    assert result.exit_code == 1, result.output  # the corrupt file failed; the others were analysed
    assert "on 2 Ray worker(s)" in result.stderr and "CorruptMediaError 1" in result.stderr
    rows = {Path(r["path"]).name: r for r in read_results(out)}
    assert set(rows) == {"face.mp4", "no face.mp4", "photo ü.jpg", "corrupt.mp4"}
    assert rows["corrupt.mp4"]["error_type"] == "CorruptMediaError" and rows["corrupt.mp4"]["verdict"] is None
    assert rows["no face.mp4"]["verdict"] == "NO_FACE"
    assert rows["face.mp4"]["verdict"] in {"REAL", "FAKE", "UNCERTAIN"} and rows["face.mp4"]["people"] == 1
    assert len({r["worker"] for r in rows.values()}) == 2  # both workers took files
    # a second run skips all four, and analyses only a file added since
    shutil.copy(corpus / "face.mp4", corpus / "sub" / "new.mp4")
    again = scan_corpus(_files(corpus), out, workers=2, frames=FRAMES)
    assert (again.skipped, again.analysed, again.failed) == (4, 1, 0)
    assert len(read_results(out)) == 5
    # a Ray the caller started is left running, with the workers' CPUs free again
    deadline = time.monotonic() + 10
    while local_ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert local_ray.is_initialized() and local_ray.available_resources().get("CPU", 0) == 2


class _CrashOn:
    """A worker that dies (as on a decoder crash) on files named crash*."""

    def __init__(self, options):
        from facetrust.scan.ray_backend import FileAnalyzer

        self.inner = FileAnalyzer(options)

    def ready(self) -> str:
        return self.inner.ready()

    def analyze(self, path: str, key: str) -> dict:
        if Path(path).name.startswith("crash"):
            os._exit(1)
        return self.inner.analyze(path, key)


def test_a_dead_worker_gives_an_error_row_and_is_replaced(local_ray, media_dir: Path, tmp_path: Path) -> None:
    from facetrust.scan.ray_backend import run_on_ray

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # this test module is not importable there
    shutil.copy(media_dir / "notes.mp4", tmp_path / "crash.mp4")
    # one worker, two files in flight: "b" waits behind the crash and must be retried, not failed
    todo = [(str(media_dir / "face clip.mp4"), "a"), (str(tmp_path / "crash.mp4"), "crash"),
            (str(media_dir / "one frame.mp4"), "b"), (str(media_dir / "no face.mp4"), "c")]
    rows: list[dict] = []
    run_on_ray(todo, {"frames": FRAMES}, rows.append, workers=1, actor_class=_CrashOn)
    by_key = {r["input_key"]: r for r in rows}
    assert sorted(by_key) == ["a", "b", "c", "crash"]  # every file has exactly one row
    assert by_key["crash"]["error_type"] == "WorkerDiedError"
    assert by_key["b"]["error_type"] is None and by_key["c"]["verdict"] == "NO_FACE"  # retried on a new worker


def test_sigterm_to_the_cli_keeps_finished_rows(corpus: Path, tmp_path: Path) -> None:
    """In a fresh process (its own Ray): SIGTERM once a row is written exits 143, with the row kept."""
    for n in range(4):
        shutil.copy(corpus / "face.mp4", corpus / f"copy {n}.mp4")
    out = tmp_path / "results.jsonl"
    command = [sys.executable, "-m", "facetrust.cli.main", "scan", str(corpus), "--out", str(out), "--workers", "1",
               "--frames", str(FRAMES)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (out.exists() and out.read_text().count("\n") >= 1):
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert "interrupted" in stderr and "run the same command again to resume" in stderr
    finished = read_results(out)
    assert 1 <= len(finished) < 8
