"""Dataset extraction: crops cut as `detect` cuts them, every skip recorded with its reason, resumable."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from facetrust.datasets import index_dataset
from facetrust.errors import ConfigError
from facetrust.extract import ExtractOptions, extract_dataset
from tests_helpers import write_generic_dataset


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_extract_writes_crops_index_and_reasons(tmp_path: Path, media_dir: Path) -> None:
    index = index_dataset("generic", write_generic_dataset(tmp_path / "data", media_dir))
    out = tmp_path / "out"
    seen: list[dict] = []
    summary = extract_dataset(index, out, ExtractOptions(frames=4, crop_size=64), on_item=seen.append)
    assert summary.items == 5 and summary.failed == 1 and len(seen) == 5
    rows = read_csv(out / "index.csv")
    assert summary.crops == len(rows) and rows
    # every crop exists, is a 64-px JPEG and carries its item's label and method
    import cv2

    for row in rows:
        image = cv2.imread(str(out / row["crop"]))
        assert image is not None and image.shape[:2] == (64, 64)
    by_path = {Path(r["path"]).name: r for r in rows}
    assert by_path["clip two.mp4"]["label"] == "fake" and by_path["clip two.mp4"]["method"] == "swap"
    assert by_path["photo.jpg"]["label"] == "real" and by_path["photo.jpg"]["kind"] == "image"
    skipped = read_csv(out / "skipped.csv")
    reasons = {(Path(r["path"]).name, r["reason"]) for r in skipped}
    assert ("empty scene.mp4", "no_face") in reasons
    assert ("broken.mp4", "CorruptMediaError") in reasons
    assert summary.skipped["CorruptMediaError"] == 1


def test_extract_resumes_and_refuses_other_settings(tmp_path: Path, media_dir: Path) -> None:
    index = index_dataset("generic", write_generic_dataset(tmp_path / "data", media_dir))
    out = tmp_path / "out"
    first = extract_dataset(index, out, ExtractOptions(frames=2, crop_size=64))
    parts = sorted((out / "parts").iterdir())
    stamp = {p.name: p.stat().st_mtime_ns for p in parts}
    # one part lost, as if interrupted: only that item is redone
    parts[0].unlink()
    second = extract_dataset(index, out, ExtractOptions(frames=2, crop_size=64))
    assert second.done_before == 4 and second.extracted == 1 and second.crops == first.crops
    assert all(p.stat().st_mtime_ns == stamp[p.name] for p in parts[1:])
    with pytest.raises(ConfigError, match="other settings"):
        extract_dataset(index, out, ExtractOptions(frames=3, crop_size=64))


def test_extract_in_parallel_matches_serial(tmp_path: Path, media_dir: Path) -> None:
    index = index_dataset("generic", write_generic_dataset(tmp_path / "data", media_dir))
    serial = extract_dataset(index, tmp_path / "a", ExtractOptions(frames=2, crop_size=64))
    parallel = extract_dataset(index, tmp_path / "b", ExtractOptions(frames=2, crop_size=64), workers=2)
    assert (serial.crops, serial.failed, serial.skipped) == (parallel.crops, parallel.failed, parallel.skipped)
    settings = json.loads((tmp_path / "b" / "extract.json").read_text())
    assert settings["options"]["crop_size"] == 64


def test_bad_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="crop_size"):
        ExtractOptions(crop_size=8)
    with pytest.raises(ConfigError, match="crop_margin"):
        ExtractOptions(crop_margin=0.5)
