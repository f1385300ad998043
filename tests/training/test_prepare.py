"""Crop preparation: manifest checks, and a cache that is re-used only when its recipe (data included) matches."""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from facetrust.errors import ConfigError, FacetrustError, InputError
from facetrust.training.config import TrainConfig
from facetrust.training.prepare import CropStore, _largest_face, prepare_crops, read_manifest
from facetrust.types import FaceBox
from tests_helpers import write_tiny_data_root

FIELDS = ["path", "label", "kind", "source", "group", "method"]


def _write_manifest(data: Path, rows: list[dict[str, str]], fields: list[str] = FIELDS) -> None:
    with (data / "manifest.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture
def tiny_data(tmp_path: Path) -> tuple[Path, list[dict[str, str]]]:
    """Three 240-px photos of one face (different crops and colours), as a data folder with manifest.csv."""
    data = tmp_path / "data"
    rows = write_tiny_data_root(data, photos=3)
    return data, rows


def _config(data: Path, cache: Path) -> TrainConfig:
    return TrainConfig(
        data_root=data, cache_dir=cache, input_size=64, crop_store_size=80, min_face_size=20, holdout_fraction=0.4
    )


def _prepared(caplog: pytest.LogCaptureFixture) -> bool:
    """True when the last prepare_crops call detected faces again, False when it re-used the store."""
    messages = [r.getMessage() for r in caplog.records if r.name == "facetrust.training.prepare"]
    caplog.clear()
    if any(m.startswith("re-using prepared crops") for m in messages):
        return False
    assert any(m.startswith("stored ") for m in messages), messages
    return True


def test_cache_is_reused_for_the_same_recipe_and_prepared_again_when_the_data_changes(
    tiny_data: tuple[Path, list[dict[str, str]]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="facetrust.training.prepare")
    data, rows = tiny_data
    cfg = _config(data, tmp_path / "cache")
    first = prepare_crops(cfg)
    assert _prepared(caplog) and len(first.rows) == 3
    assert first.recipe["manifest_sha256"] and first.recipe["data_root"] == str(data.resolve())
    assert "MtcnnDetector(" in first.recipe["face_detector"] and first.recipe["facetrust_version"]
    before = np.array(first.images)

    again = prepare_crops(cfg)
    assert not _prepared(caplog)
    np.testing.assert_array_equal(np.asarray(again.images), before)

    # same files, different manifest content (one photo dropped): prepared again
    _write_manifest(data, rows[:2])
    changed = prepare_crops(cfg)
    assert _prepared(caplog) and len(changed.rows) == 2
    # the store was replaced, not overwritten: the first store's memory map still reads its own crops
    np.testing.assert_array_equal(np.asarray(first.images), before)
    assert prepare_crops(cfg).rows == changed.rows and not _prepared(caplog)

    # a crop setting changes the recipe too
    prepare_crops(replace(cfg, min_face_size=21))
    assert _prepared(caplog)


def test_a_store_without_a_recipe_or_with_a_damaged_one_is_prepared_again(
    tiny_data: tuple[Path, list[dict[str, str]]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="facetrust.training.prepare")
    data, _ = tiny_data
    cfg = _config(data, tmp_path / "cache")
    prepare_crops(cfg)
    assert _prepared(caplog)
    (cfg.cache_dir / "recipe.json").write_text("{not json")
    prepare_crops(cfg)
    assert _prepared(caplog)
    assert isinstance(CropStore.open(cfg.cache_dir).recipe, dict)
    assert not list(cfg.cache_dir.glob("*.partial"))


def test_missing_manifest_is_a_config_error_naming_data_root(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"data_root: no manifest.csv in .*nowhere"):
        prepare_crops(_config(tmp_path / "nowhere", tmp_path / "cache"))
    assert not (tmp_path / "cache").exists()


def test_manifest_missing_a_column_is_an_input_error_naming_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _write_manifest(data, [{"path": "real/a.jpg", "label": "real", "kind": "image", "source": "t"}],
                    fields=["path", "label", "kind", "source"])
    with pytest.raises(InputError, match=r"manifest.csv lacks the column\(s\) group"):
        read_manifest(data)
    (data / "manifest.csv").write_bytes(b"path,label\n\xff\xfe\n")
    with pytest.raises(InputError, match="not UTF-8"):
        read_manifest(data)
    (data / "manifest.csv").write_text("")
    with pytest.raises(InputError, match="no header"):
        read_manifest(data)


def test_largest_face_needs_landmarks_size_and_confidence() -> None:
    points = np.zeros((5, 2), np.float32)
    small = FaceBox((0, 0, 30, 30), 0.99, points)
    big_without_landmarks = FaceBox((0, 0, 100, 100), 0.99, None)
    unsure = FaceBox((0, 0, 90, 90), 0.5, points)
    medium = FaceBox((0, 0, 60, 60), 0.95, points + 1)
    found = _largest_face([small, big_without_landmarks, unsure, medium], min_size=20)
    assert found is not None and found[0] is medium and found[1] is medium.landmarks
    assert _largest_face([small], min_size=40) is None


def test_resize_store_keeps_rows_and_recipe_and_scales_landmarks(tmp_path: Path) -> None:
    import cv2

    from facetrust.training.prepare import INDEX_FIELDS, resize_store

    source, out = tmp_path / "crops", tmp_path / "crops64"
    source.mkdir()
    images = np.zeros((2, 128, 128, 3), np.uint8)
    images[:, 40:88, 40:88] = 200  # a bright square: its centre stays at the centre of the copy
    np.save(source / "crops.npy", images)
    rows = [{"row": str(i), "path": f"v{i}.mp4", "kind": "video", "source": "s", "group": "g", "split": "train",
             "timestamp": "0.0", "face_size": "50", "landmarks": json.dumps([63.5, 63.5] * 5)} for i in range(2)]
    with (source / "index.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=INDEX_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    recipe = {"store_size": 128, "margin": 1.5, "seed": 0}
    (source / "recipe.json").write_text(json.dumps(recipe))
    small = resize_store(source, out, 64)
    assert small.images.shape == (2, 64, 64, 3)
    assert np.allclose(small.landmarks, 31.5)  # the centre pixel of 128 is the centre pixel of 64
    assert [r["path"] for r in small.rows] == ["v0.mp4", "v1.mp4"]
    assert small.recipe == {**recipe, "store_size": 64}
    expected = cv2.resize(images[0], (64, 64), interpolation=cv2.INTER_AREA)
    assert np.array_equal(small.images[0], expected)
    with pytest.raises(FacetrustError):
        resize_store(source, tmp_path / "bigger", 256)
    (source / "recipe.json").unlink()
    with pytest.raises(FacetrustError):
        resize_store(source, tmp_path / "again", 64)
