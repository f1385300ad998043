"""Scan outputs without Ray or models: rows survive crashes, resume reads them back, one writer at a time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import facetrust
from facetrust.scan import OutputInUseError, columns, open_store, output_format, read_results
from facetrust.scan.rows import error_row
from facetrust.scan.runner import CorpusScan


def _row(n: int) -> dict:
    return error_row(f"/corpus/file{n}.mp4", f"/corpus/file{n}.mp4|{n}|{n}", "CorruptMediaError", f"bad {n}")


@pytest.mark.parametrize("name", ["results.parquet", "results.jsonl"])
def test_rows_written_are_read_back_and_resume_from_them(tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    with open_store(out, rows_per_part=2) as store:
        assert store.finished() == {}
        for n in range(5):
            store.write(_row(n))
    rows = read_results(out)
    assert [r["path"] for r in rows] == [f"/corpus/file{n}.mp4" for n in range(5)]
    assert list(rows[0]) == list(columns()) and columns()[:2] == ("path", "verdict")
    assert json.loads(rows[3]["report"])["error"] == {"type": "CorruptMediaError", "message": "bad 3"}
    with open_store(out) as store:  # a second run sees them all as done
        assert set(store.finished()) == {_row(n)["input_key"] for n in range(5)}
        assert store.finished()[_row(2)["input_key"]]["error_type"] == "CorruptMediaError"
    if name.endswith(".parquet"):  # a folder of parts that pyarrow reads as one table, journal hidden
        import pyarrow.parquet as pq

        assert sorted(p.name for p in out.iterdir()) == ["part-000000.parquet", "part-000001.parquet",
                                                         "part-000002.parquet"]
        assert pq.read_table(out).num_rows == 5


_CRASH = """
import os, sys
from pathlib import Path
from facetrust.scan import open_store
from facetrust.scan.rows import error_row
store = open_store(Path(sys.argv[1]), rows_per_part=1000)
for n in range(3):
    store.write(error_row(f"/c/{n}.mp4", f"/c/{n}.mp4|1|1", "CorruptMediaError", "bad"))
    print(n, flush=True)
os.kill(os.getpid(), 9)  # SIGKILL: no close, no flush, no clean-up
"""


@pytest.mark.parametrize("name", ["results.parquet", "results.jsonl"])
def test_a_killed_writer_loses_no_finished_row(tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    done = subprocess.run([sys.executable, "-c", _CRASH, str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == -9 and done.stdout.split() == ["0", "1", "2"]
    # the rows are in the journal (Parquet: nothing was moved into a part yet), and the lock died with it
    assert [r["path"] for r in read_results(out)] == ["/c/0.mp4", "/c/1.mp4", "/c/2.mp4"]
    with open_store(out) as store:
        assert len(store.finished()) == 3
        store.write(_row(9))
    assert len(read_results(out)) == 4
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        assert pq.read_table(out).num_rows == 4  # the journalled rows became a part when it was reopened


def test_a_torn_last_line_is_dropped_and_appending_goes_on(tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    out.write_text(json.dumps(_row(0)) + "\n" + json.dumps(_row(1))[:40], encoding="utf-8")
    with open_store(out) as store:
        assert list(store.finished()) == [_row(0)["input_key"]]
        store.write(_row(2))
    assert [r["path"] for r in read_results(out)] == ["/corpus/file0.mp4", "/corpus/file2.mp4"]


@pytest.mark.parametrize("name", ["results.parquet", "results.jsonl"])
def test_a_second_writer_is_refused(tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    with open_store(out):
        with pytest.raises(OutputInUseError, match="another scan"):
            open_store(out)
    open_store(out).close()  # free again once the first is closed


def test_bad_output_names_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(facetrust.ConfigError, match=r"\.parquet .* or \.jsonl"):
        output_format(tmp_path / "results.csv")
    (tmp_path / "taken.parquet").write_text("a file, not a folder")
    with pytest.raises(facetrust.ConfigError, match="not a folder"):
        open_store(tmp_path / "taken.parquet")
    with pytest.raises(facetrust.ConfigError, match="does not exist"):
        open_store(tmp_path / "missing" / "results.jsonl")


def test_overwrite_starts_fresh_but_never_deletes_a_foreign_folder(tmp_path: Path) -> None:
    out = tmp_path / "results.parquet"
    with open_store(out) as store:
        store.write(_row(0))
    with open_store(out, overwrite=True) as store:
        assert store.finished() == {}
    foreign = tmp_path / "photos.parquet"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(facetrust.ConfigError, match="refusing to delete"):
        open_store(foreign, overwrite=True)
    assert (foreign / "holiday.jpg").exists()


def test_scan_settings_are_checked_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(facetrust.UnknownNameError, match="frames"):
        CorpusScan(tmp_path / "r.jsonl", frame=8)
    with pytest.raises(facetrust.ConfigError, match="workers"):
        CorpusScan(tmp_path / "r.jsonl", workers=-1)
    with pytest.raises(facetrust.ConfigError, match="cannot be combined"):
        CorpusScan(tmp_path / "r.jsonl", workers=0, address="auto")


def test_resuming_with_another_key_kind_is_refused(tmp_path: Path) -> None:
    media = tmp_path / "a.mp4"
    media.write_bytes(b"not really a video")
    out = tmp_path / "r.jsonl"
    with open_store(out) as store:
        store.write(error_row(str(media), "sha256:" + "0" * 64, "UnsupportedMediaError", "x"))
    with pytest.raises(facetrust.ConfigError, match="--hash"):
        CorpusScan(out, workers=0).run([media])
