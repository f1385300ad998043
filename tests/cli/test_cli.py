"""The CLI in-process: exit codes, output lines, JSON and CSV files, bad inputs among good ones."""

import csv
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from facetrust.cli.main import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture
def folder(tmp_path: Path, media_dir: Path) -> Path:
    """A folder (with a sub-folder) holding two good files and one corrupt file."""
    root = tmp_path / "inbox dir"
    (root / "sub ü").mkdir(parents=True)
    shutil.copy(media_dir / "astronaut photo ü.jpg", root / "photo.jpg")
    shutil.copy(media_dir / "face clip.mp4", root / "sub ü" / "clip 1.mp4")
    shutil.copy(media_dir / "truncated.mp4", root / "broken.mp4")
    (root / "readme.txt").write_text("not media, ignored by folder expansion")
    return root


def test_folder_with_one_corrupt_file(folder: Path, tiny_detector: Path, tmp_path: Path) -> None:
    out_json, out_csv = tmp_path / "out.json", tmp_path / "out.csv"
    result = run("detect", str(folder), "--detector", str(tiny_detector), "--frames", "4",
                 "--json", str(out_json), "--csv", str(out_csv))
    assert result.exit_code == 1, result.output
    results = json.loads(out_json.read_text())["results"]
    assert len(results) == 3
    by_name = {Path(r["path"]).name: r for r in results}
    assert by_name["broken.mp4"]["error"]["type"] in {"CorruptMediaError", "UnsupportedMediaError"}
    assert by_name["broken.mp4"]["verdict"] is None and by_name["broken.mp4"]["fake_probability"] is None
    for name in ("photo.jpg", "clip 1.mp4"):
        entry = by_name[name]
        assert entry["error"] is None
        for key in ("path", "verdict", "fake_probability", "threshold", "people", "frames_sampled",
                    "faces_found", "timings", "detector", "weights_sha256"):
            assert key in entry
        assert entry["verdict"] in {"REAL", "FAKE", "UNCERTAIN"}
        assert len(entry["people"]) == 1
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8")))
    assert len(rows) == 3 and {r["error_type"] for r in rows} - {""}
    assert "broken.mp4" in result.output and "ERROR" in result.output


def test_all_good_inputs_exit_zero_and_print_one_line_each(media_dir: Path, tiny_detector: Path) -> None:
    result = run("detect", str(media_dir / "astronaut photo ü.jpg"), str(media_dir / "face clip.mp4"),
                 "--detector", str(tiny_detector), "--frames", "4")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "person 1" in line]
    assert len(lines) == 2


def test_glob_pattern(media_dir: Path, tiny_detector: Path) -> None:
    result = run("detect", str(media_dir / "face*.mp4"), "--detector", str(tiny_detector), "--frames", "2")
    assert result.exit_code == 0, result.output
    assert "face clip.mp4" in result.output


def test_no_face_video_is_not_a_failure(media_dir: Path, tiny_detector: Path) -> None:
    result = run("detect", str(media_dir / "no face.mp4"), "--detector", str(tiny_detector))
    assert result.exit_code == 0 and "NO_FACE" in result.output


@pytest.mark.parametrize("name", ["empty.mp4", "notes.mp4", "missing file.mp4"])
def test_bad_single_inputs_exit_one_without_traceback(media_dir: Path, tiny_detector: Path, name: str) -> None:
    result = run("detect", str(media_dir / name), "--detector", str(tiny_detector))
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "Error" in result.output


def test_unknown_detector_is_a_usage_error(media_dir: Path) -> None:
    result = run("detect", str(media_dir / "face clip.mp4"), "--detector", "defualt")
    assert result.exit_code == 2
    assert "default" in result.output


def test_bad_options_are_usage_errors(media_dir: Path, tiny_detector: Path, tmp_path: Path) -> None:
    assert run("detect", str(media_dir / "face clip.mp4"), "--frames", "0").exit_code == 2
    assert run("detect", str(media_dir / "face clip.mp4"), "--frames", "301").exit_code == 2
    empty = tmp_path / "empty dir"
    empty.mkdir()
    assert run("detect", str(empty), "--detector", str(tiny_detector)).exit_code == 2


def test_altered_weights_are_refused(tiny_detector: Path, tmp_path: Path, media_dir: Path) -> None:
    copy = tmp_path / "w"
    shutil.copytree(tiny_detector.parent, copy)
    weights = copy / "tiny_random.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    result = run("detect", str(media_dir / "face clip.mp4"), "--detector", str(copy / "tiny_random.json"))
    assert result.exit_code == 1
    assert "WeightsError" in result.output and "checksum" in result.output


def test_models_lists_detectors() -> None:
    result = run("models")
    assert result.exit_code == 0
    assert "mtcnn" in result.output


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` × ``height`` pixels (its data is not there)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


def test_huge_header_is_refused_before_decoding(tmp_path: Path, tiny_detector: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_claiming(40000, 40000))
    out_json = tmp_path / "r.json"
    result = run("detect", str(bomb), "--detector", str(tiny_detector), "--json", str(out_json))
    assert result.exit_code == 1
    entry = json.loads(out_json.read_text())["results"][0]
    assert entry["error"]["type"] == "MediaTooLargeError" and entry["fake_probability"] is None


def test_one_pixel_image_is_no_face(media_dir: Path, tiny_detector: Path) -> None:
    result = run("detect", str(media_dir / "tiny.png"), "--detector", str(tiny_detector))
    assert result.exit_code == 0 and "NO_FACE" in result.output


def test_missing_weights_file_is_refused(tiny_detector: Path, tmp_path: Path, media_dir: Path) -> None:
    copy = tmp_path / "w"
    shutil.copytree(tiny_detector.parent, copy)
    (copy / "tiny_random.safetensors").unlink()
    result = run("detect", str(media_dir / "face clip.mp4"), "--detector", str(copy / "tiny_random.json"))
    assert result.exit_code == 1
    assert "WeightsError" in result.output and "Traceback" not in result.output
