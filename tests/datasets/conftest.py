"""Tiny dataset trees in each supported layout, made of empty files (adapters never open media)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

Touch = Callable[..., Path]


def touch_files(root: Path, names: Iterable[str], text: str = "") -> Path:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def touch() -> Touch:
    """``touch(root, names, text="")``: create the files ``names`` under ``root`` and return ``root``."""
    return touch_files


@pytest.fixture
def ffpp_root(tmp_path: Path) -> Path:
    """YouTube pairs (000, 003) and (001, 002) plus a lone 004, two methods, the DeepFakeDetection actors,
    a c40 copy of one method, split files covering the two pairs, and one badly named file."""
    root = tmp_path / "ffpp"
    yt = "original_sequences/youtube/c23/videos"
    actors = "original_sequences/actors/c23/videos"
    names = [f"{yt}/{v}.mp4" for v in ("000", "001", "002", "003", "004")]
    names += [f"{actors}/01__meeting_serious.mp4", f"{actors}/02__walking.mp4"]
    for method in ("Deepfakes", "FaceSwap"):
        names += [
            f"manipulated_sequences/{method}/c23/videos/{v}.mp4" for v in ("000_003", "003_000", "001_002")
        ]
    names += ["manipulated_sequences/Deepfakes/c40/videos/000_003.mp4"]
    names += ["manipulated_sequences/DeepFakeDetection/c23/videos/01_02__meeting_serious__YVGY8LOK.mp4"]
    names += ["manipulated_sequences/FaceSwap/c23/videos/notes_final.mp4"]  # bad name
    names += ["manipulated_sequences/FaceSwap/c23/videos/readme.txt"]  # not a video: ignored
    touch_files(root, names)
    (root / "splits").mkdir()
    (root / "splits" / "train.json").write_text(json.dumps([["000", "003"]]))
    (root / "splits" / "val.json").write_text(json.dumps([["002", "001"]]))
    (root / "splits" / "test.json").write_text(json.dumps([]))
    return root


@pytest.fixture
def celebdf_root(tmp_path: Path) -> Path:
    """Two identities, two YouTube clips, three fakes, a test list with a missing entry and a bad line."""
    root = tmp_path / "Celeb-DF-v2"
    touch_files(
        root,
        [
            "Celeb-real/id0_0000.mp4",
            "Celeb-real/id0_0001.mp4",
            "Celeb-real/id1_0000.mp4",
            "YouTube-real/00170.mp4",
            "YouTube-real/00171.mp4",
            "Celeb-synthesis/id0_id1_0000.mp4",
            "Celeb-synthesis/id1_id0_0000.mp4",
            "Celeb-synthesis/id0_id1_0001.mp4",
            "Celeb-synthesis/strange.mp4",
        ],
    )
    (root / "List_of_testing_videos.txt").write_text(
        "1 YouTube-real/00170.mp4\n"
        "1 Celeb-real/id1_0000.mp4\n"
        "0 Celeb-synthesis/id1_id0_0000.mp4\n"
        "0 Celeb-synthesis/id9_id1_0003.mp4\n"
        "not a valid line\n"
        "\n"
    )
    return root


@pytest.fixture
def dfdc_root(tmp_path: Path) -> Path:
    """Two parts; a fake whose original lies in the other part, a missing file and an unknown label."""
    root = tmp_path / "dfdc"
    touch_files(root, ["dfdc_train_part_0/aaa.mp4", "dfdc_train_part_0/bbb.mp4", "dfdc_train_part_1/ccc.mp4"])
    touch_files(root, ["dfdc_train_part_1/ddd.mp4", "dfdc_train_part_1/eee.mp4"])
    (root / "dfdc_train_part_0" / "metadata.json").write_text(
        json.dumps(
            {
                "aaa.mp4": {"label": "REAL", "split": "train", "original": None},
                "bbb.mp4": {"label": "FAKE", "split": "train", "original": "aaa.mp4"},
                "gone.mp4": {"label": "FAKE", "split": "train", "original": "aaa.mp4"},
            }
        )
    )
    (root / "dfdc_train_part_1" / "metadata.json").write_text(
        json.dumps(
            {
                "ccc.mp4": {"label": "FAKE", "split": "train", "original": "aaa.mp4"},
                "ddd.mp4": {"label": "REAL", "split": "train", "original": None},
                "eee.mp4": {"label": "MAYBE", "split": "train", "original": None},
            }
        )
    )
    return root


@pytest.fixture
def generic_root(tmp_path: Path) -> Path:
    """real/ and fake/ at several depths, a train/ folder, and entries that must be skipped."""
    root = tmp_path / "mixed"
    touch_files(
        root,
        [
            "videos/real/a.mp4",
            "videos/real/b.MOV",
            "videos/fake/c.mp4",
            "fake/FaceSwap/sub/d.png",
            "fake/FaceSwap/e.jpg",
            "train/Real/f.webp",
            "train/FAKE/g.avi",
            "loose.jpg",  # outside any label folder
            "real/notes.txt",  # not media
            "real/fake/h.png",  # both labels
            ".hidden/real/i.png",  # hidden: ignored
            "real/.DS_Store",  # hidden: ignored
        ],
    )
    return root
