"""Extracted real and fake crops as a training source: index reading, splits, clips, datasets and weights."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from facetrust.errors import ConfigError, CorruptMediaError, InputError, MediaNotFoundError
from facetrust.extract import INDEX_COLUMNS
from facetrust.synthesis import DegradeConfig
from facetrust.training.dataset import to_tensor
from facetrust.training.sources import ExtractedCrops, LabelledClips, LabelledCrops, balanced_weights
from tests_helpers import astronaut_variants

STORE, SIZE, MARGIN = 80, 64, 1.3
STORE_MARGIN = MARGIN * STORE / SIZE  # an extraction at the store's margin and size needs no resizing
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
OFF = DegradeConfig(downscale_p=0, blur_p=0, motion_blur_p=0, noise_p=0, h264_p=0, jpeg_p=0)
NO_NOISE = DegradeConfig(downscale_p=1, blur_p=1, motion_blur_p=1, noise_p=0, h264_p=1, jpeg_p=1)

# (item, label, method, group, split, kind, frame_index, person): written in this (shuffled) order
ROWS = [
    ("realvid", "real", "real", "g1", "train", "video", 10, 0),
    ("realvid", "real", "real", "g1", "train", "video", 2, 0),
    ("realvid", "real", "real", "g1", "train", "video", 9, 0),
    ("realvid", "real", "real", "g1", "train", "video", 0, 1),
    ("realvid", "real", "real", "g1", "train", "video", 4, 0),
    ("swapvid", "fake", "Deepfakes", "g1", "train", "video", 3, 0),
    ("swapvid", "fake", "Deepfakes", "g1", "train", "video", 1, 0),
    ("faceimg", "fake", "FaceSwap", "g2", "test", "image", 0, 0),
    ("realimg", "real", "real", "g3", "", "image", 0, 0),
    ("fakeimg", "fake", "NeuralTextures", "g4", "", "image", 0, 0),
    ("fakeimg2", "fake", "NeuralTextures", "g3", "", "image", 0, 0),
    ("odd", "", "", "g5", "", "image", 0, 0),  # no real/fake label: left out
]


def _write_extraction(out: Path, margin: float = STORE_MARGIN, side: int = STORE) -> Path:
    """A `facetrust extract` folder in miniature: index.csv with INDEX_COLUMNS, JPEG crops, extract.json."""
    pictures = astronaut_variants(len(ROWS))
    rows = []
    for n, (item, label, method, group, split, kind, frame, person) in enumerate(ROWS):
        crop = f"crops/{item}/{frame:06d}_p{person}.jpg"
        (out / crop).parent.mkdir(parents=True, exist_ok=True)
        image = cv2.resize(pictures[n], (side, side), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(out / crop), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        rows.append({
            "item": item, "path": f"/data/{item}.mp4", "label": label, "method": method, "group": group,
            "split": split, "kind": kind, "frame_index": frame, "timestamp": frame / 25, "person": person,
            "x1": 1, "y1": 1, "x2": 9, "y2": 9, "face_score": 0.99, "crop": crop,
        })
    with (out / "index.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=INDEX_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    (out / "extract.json").write_text(json.dumps({"options": {"crop_size": side, "crop_margin": margin}}))
    return out


@pytest.fixture
def crops(tmp_path: Path) -> ExtractedCrops:
    return ExtractedCrops.open(_write_extraction(tmp_path / "ext"))


def _options(**kwargs: object) -> dict:
    return {"input_size": SIZE, "mean": MEAN, "std": STD, "train": True, "seed": 1, "store_size": STORE,
            "crop_margin": MARGIN, **kwargs}


def test_open_reads_labels_methods_and_splits(crops: ExtractedCrops) -> None:
    assert len(crops) == len(ROWS) - 1 and crops.margin == pytest.approx(STORE_MARGIN)
    assert crops.labels.tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 0, 1, 1]
    assert crops.methods[5] == "Deepfakes" and crops.methods[0] == "real" and crops.groups[7] == "g2"
    assert crops.indices("train").tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert crops.indices(["test", ""]).tolist() == [7, 8, 9, 10]
    assert crops.indices("train", kind="image").tolist() == []
    image = crops.load(7)
    assert image.dtype == np.uint8 and image.shape == (STORE, STORE, 3)


def test_open_refuses_what_is_not_an_extraction(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nowhere"):
        ExtractedCrops.open(tmp_path / "nowhere")
    folder = tmp_path / "partial"
    folder.mkdir()
    (folder / "index.csv").write_text("item,path,label,crop\nx,/a.mp4,real,crops/x.jpg\n")
    with pytest.raises(InputError, match=r"partial.*lacks the column\(s\) method, group, split"):
        ExtractedCrops.open(folder)


def test_load_names_a_missing_or_broken_crop(crops: ExtractedCrops) -> None:
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 255
    cv2.imwrite(str(crops.directory / crops.rows[0]["crop"]), cv2.cvtColor(red, cv2.COLOR_RGB2BGR))
    assert crops.load(0)[..., 0].min() > 200 and crops.load(0)[..., 2].max() < 50  # RGB, not BGR
    (crops.directory / crops.rows[1]["crop"]).write_bytes(b"not a jpeg")
    with pytest.raises(CorruptMediaError, match="000002_p0.jpg"):
        crops.load(1)
    (crops.directory / crops.rows[2]["crop"]).unlink()
    with pytest.raises(MediaNotFoundError, match="000009_p0.jpg"):
        crops.load(2)


def test_clips_follow_item_person_and_frame_order(crops: ExtractedCrops) -> None:
    videos = crops.indices("train", kind="video")
    # realvid person 0 at frames 2, 4, 9, 10 (rows 1, 4, 2, 0); person 1 alone; swapvid frames 1, 3
    assert crops.clips(videos, 2) == [[1, 4], [2, 0], [3, 3], [6, 5]]
    assert crops.clips(videos, 3) == [[1, 4, 2], [3, 3, 3], [6, 6, 5]]  # tail dropped, short tracks padded


def test_with_splits_fills_only_the_missing_splits_by_group(crops: ExtractedCrops) -> None:
    split = crops.with_splits((0.5, 0.5, 0.0), seed=0)
    assert split.splits[:8] == crops.splits[:8] and crops.splits[8] == ""  # the original is unchanged
    assert all(s in ("train", "val") for s in split.splits[8:])
    assert split.splits[8] == split.splits[10]  # realimg and fakeimg2 share group g3
    assert crops.with_splits((0.5, 0.5, 0.0), seed=0).splits == split.splits


def test_labelled_crops_items_and_determinism(crops: ExtractedCrops) -> None:
    data = LabelledCrops(crops, np.arange(len(crops)), **_options(degradations=NO_NOISE))
    image, label = data[5]
    assert image.shape == (3, SIZE, SIZE) and image.dtype == torch.float32
    assert label.dtype == torch.float32 and float(label) == 1.0 and float(data[0][1]) == 0.0
    assert torch.equal(data[5][0], image)
    data.epoch = 1
    assert not torch.equal(data[5][0], image)
    fixed = LabelledCrops(crops, np.arange(len(crops)), **_options(train=False))
    before = fixed[5][0]
    fixed.epoch = 4
    assert torch.equal(fixed[5][0], before)


def test_labelled_crops_cut_like_the_store(crops: ExtractedCrops, tmp_path: Path) -> None:
    # extracted at the store's margin and size: the centre cut is exactly the store's
    data = LabelledCrops(crops, np.arange(len(crops)), **_options(train=False, degradations=OFF))
    edge = (STORE - SIZE) // 2
    expected = to_tensor(np.ascontiguousarray(crops.load(3)[edge : edge + SIZE, edge : edge + SIZE]), MEAN, STD)
    assert torch.equal(data[3][0], expected)
    # extracted at the inference margin (the default): the whole crop, resized, with no room for jitter
    tight = ExtractedCrops.open(_write_extraction(tmp_path / "tight", margin=MARGIN, side=96))
    resized = cv2.resize(tight.load(3), (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    jittered = LabelledCrops(tight, np.arange(len(tight)), **_options(degradations=OFF))
    for epoch in range(4):
        jittered.epoch = epoch
        out = jittered[3][0]
        assert torch.equal(out, to_tensor(resized, MEAN, STD)) or torch.equal(
            out, to_tensor(np.ascontiguousarray(resized[:, ::-1]), MEAN, STD))
    loose = ExtractedCrops.open(_write_extraction(tmp_path / "loose", margin=1.0))
    with pytest.raises(ConfigError, match="margin"):
        LabelledCrops(loose, np.arange(3), **_options())


def test_labelled_clips_are_consistent_in_time(crops: ExtractedCrops) -> None:
    videos = crops.indices("train", kind="video")
    data = LabelledClips(crops, crops.clips(videos, 3), **_options(degradations=NO_NOISE))
    clip, label = data[1]  # realvid person 1: one crop, padded to 3
    assert clip.shape == (3, 3, SIZE, SIZE) and float(label) == 0.0 and float(data[2][1]) == 1.0
    assert torch.equal(clip[0], clip[1]) and torch.equal(clip[1], clip[2])
    assert torch.equal(data[1][0], clip)
    calls: list[int] = []

    def record(frames: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        calls.append(len(frames))
        return frames

    LabelledClips(crops, [[7, 7], [1, 4]], **_options(augment=record))[1]
    assert calls == [2]
    with pytest.raises(ConfigError, match="same label"):
        LabelledClips(crops, [[0, 5]], **_options())


def test_balanced_weights_even_out_classes_and_methods() -> None:
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    methods = ["real"] * 6 + ["a", "a", "a", "b"]
    weights = balanced_weights(labels, methods)
    assert weights[labels == 0].sum() == pytest.approx(weights[labels == 1].sum())
    assert weights[6:9].sum() == pytest.approx(weights[9])
    assert weights.mean() == pytest.approx(1.0)
    plain = balanced_weights(labels)
    assert plain[labels == 1].sum() == pytest.approx(plain[labels == 0].sum()) and plain[6] == plain[9]
    with pytest.raises(ConfigError, match="no fake samples"):
        balanced_weights(np.zeros(4, np.int64))
    with pytest.raises(ConfigError, match="no real samples"):
        balanced_weights(np.ones(4, np.int64), ["a"] * 4)
