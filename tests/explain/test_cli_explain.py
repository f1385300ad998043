"""``facetrust explain``: panels and arrays written, one line per face, errors and exit codes as ``detect``."""

from __future__ import annotations

import traceback
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from facetrust.cli.main import app

runner = CliRunner()


def run(*args: str):
    result = runner.invoke(app, ["explain", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        "".join(traceback.format_exception(*result.exc_info)) + result.output)
    return result


def test_writes_a_panel_and_an_array_per_face(tmp_path: Path, media_dir: Path, tiny_detector: Path) -> None:
    out = tmp_path / "panels"
    result = run(str(media_dir / "face clip.mp4"), "--detector", str(tiny_detector), "--frames", "6",
                 "--faces", "2", "--out", str(out), "--npy")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("person 1  frame") for line in lines)
    pngs, arrays = sorted(out.glob("*.png")), sorted(out.glob("*.npy"))
    assert len(pngs) == 2 and len(arrays) == 2
    assert Image.open(pngs[0]).size[0] == 3 * 64  # crop | heatmap | overlay
    heatmap = np.load(arrays[0])
    assert heatmap.shape == (64, 64) and heatmap.dtype == np.float32 and 0 <= heatmap.min() <= heatmap.max() <= 1


def test_bad_input_exits_1_with_the_error_named(media_dir: Path, tiny_detector: Path, tmp_path: Path) -> None:
    for name, error in (("notes.mp4", "UnsupportedMediaError"), ("missing.jpg", "MediaNotFoundError"),
                        ("empty.mp4", "EmptyMediaError")):
        result = run(str(media_dir / name), "--detector", str(tiny_detector), "--out", str(tmp_path / "x"))
        assert result.exit_code == 1, result.output
        assert error in result.stdout and "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_usage_errors_exit_2_before_any_analysis(media_dir: Path, tmp_path: Path) -> None:
    photo = str(media_dir / "astronaut photo ü.jpg")
    result = run(photo, "--method", "gradcm")
    assert result.exit_code == 2 and "Did you mean 'gradcam'" in result.stderr
    assert run(photo, "--method", "gradcam", "--samples", "5").exit_code == 2
    assert run(photo, "--detector", "defualt").exit_code == 2
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert run(photo, "--out", str(a_file)).exit_code == 2


def test_no_face_exits_0_with_nothing_written(media_dir: Path, tiny_detector: Path, tmp_path: Path) -> None:
    result = run(str(media_dir / "no face.mp4"), "--detector", str(tiny_detector), "--frames", "4",
                 "--out", str(tmp_path / "none"))
    assert result.exit_code == 0 and "no face to explain" in result.stderr
    assert not (tmp_path / "none").exists()
