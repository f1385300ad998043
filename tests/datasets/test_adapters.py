"""The dataset adapters on tiny synthetic trees: counts, labels, methods, groups, splits, skipped entries,
layout detection and the errors for bad names, missing roots and unknown layouts."""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from facetrust.datasets import DATASETS, DatasetIndex, DatasetItem, detect_layout, index_dataset
from facetrust.errors import ConfigError, InputError, UnknownNameError

SHARED = Path("/work/shared/data")


def by_name(index: DatasetIndex) -> dict[str, DatasetItem]:
    return {item.path.name: item for item in index.items}


def reasons(index: DatasetIndex) -> dict[str, str]:
    return {path.name: reason for path, reason in index.skipped}


def test_registry_lists_the_adapters() -> None:
    assert DATASETS.names() == ["celebdf", "csv", "dfdc", "ffpp", "generic"]


# FaceForensics++


def test_ffpp_counts_methods_and_pair_groups(ffpp_root: Path) -> None:
    index = index_dataset("ffpp", ffpp_root)
    assert index.name == "ffpp" and index.root == ffpp_root
    assert index.counts() == {"fake": 7, "real": 7}
    assert index.counts("method") == {"DeepFakeDetection": 1, "Deepfakes": 3, "FaceSwap": 3, "real": 7}
    items = {(i.method, i.path.stem): i for i in index.items}
    pair = {i.path.stem for i in index.items if i.group == "ffpp:000_003"}
    assert pair == {"000", "003", "000_003", "003_000"}
    assert items[("real", "004")].group == "ffpp:004"
    fake = items[("Deepfakes", "000_003")]
    assert (fake.label, fake.kind, fake.source, fake.sources) == ("fake", "video", "000|003", ("000", "003"))
    assert fake.extra == {"compression": "c23"}
    dfd = items[("DeepFakeDetection", "01_02__meeting_serious__YVGY8LOK")]
    assert dfd.group == items[("real", "01__meeting_serious")].group == "ffpp:actor01"
    assert dfd.source == "01__meeting_serious" and dfd.extra["source_group"] == "ffpp:actor02"
    assert reasons(index) == {"notes_final.mp4": reasons(index)["notes_final.mp4"]}
    assert "FaceForensics++ pattern" in reasons(index)["notes_final.mp4"]


def test_ffpp_official_splits_follow_the_pairs(ffpp_root: Path) -> None:
    index = index_dataset("ffpp", ffpp_root)
    split = {(i.method, i.path.stem): i.split for i in index.items}
    assert split[("real", "000")] == split[("real", "003")] == split[("FaceSwap", "003_000")] == "train"
    assert split[("real", "001")] == split[("Deepfakes", "001_002")] == "val"
    assert split[("real", "004")] is None and split[("real", "01__meeting_serious")] is None
    assert index.counts("split") == {"train": 6, "unsplit": 4, "val": 4}


def test_ffpp_without_split_files_has_no_split(ffpp_root: Path, tmp_path: Path) -> None:
    for file in (ffpp_root / "splits").iterdir():
        file.unlink()
    index = index_dataset("ffpp", ffpp_root)
    assert {i.split for i in index.items} == {None}
    # groups now come from the fake names alone
    assert {i.path.stem for i in index.items if i.group == "ffpp:001_002"} == {"001", "002", "001_002"}


def test_ffpp_options(ffpp_root: Path) -> None:
    c40 = index_dataset("ffpp", ffpp_root, compression="c40")
    assert [(i.method, i.path.name, i.extra["compression"]) for i in c40.items] == [
        ("Deepfakes", "000_003.mp4", "c40")
    ]
    only = index_dataset("ffpp", ffpp_root, methods=["FaceSwap"])
    assert only.counts("method") == {"FaceSwap": 3, "real": 7}
    with pytest.raises(UnknownNameError, match="Did you mean 'FaceSwap'"):
        index_dataset("ffpp", ffpp_root, methods="Faceswap")
    with pytest.raises(UnknownNameError, match="Did you mean 'c23'"):
        index_dataset("ffpp", ffpp_root, compression="c32")
    with pytest.raises(UnknownNameError, match="Did you mean 'compression'"):
        index_dataset("ffpp", ffpp_root, compresion="c23")


def test_ffpp_errors(ffpp_root: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no FaceForensics\+\+ raw videos \(compressions found: c23, c40\)"):
        index_dataset("ffpp", ffpp_root, compression="raw")
    (ffpp_root / "splits" / "val.json").write_text('{"not": "pairs"}')
    with pytest.raises(InputError, match="val.json: expected a list"):
        index_dataset("ffpp", ffpp_root)
    with pytest.raises(ConfigError, match="splits_dir .* does not exist"):
        index_dataset("ffpp", ffpp_root, splits_dir=tmp_path / "nowhere")
    with pytest.raises(InputError, match="original_sequences"):
        index_dataset("ffpp", tmp_path / "ffpp" / "splits")


# Celeb-DF


def test_celebdf_counts_groups_and_sources(celebdf_root: Path) -> None:
    index = index_dataset("celebdf", celebdf_root)
    assert index.counts() == {"fake": 3, "real": 5}
    assert index.counts("method") == {"Celeb-synthesis": 3, "real": 5}
    items = by_name(index)
    assert items["id0_0001.mp4"].group == "celebdf:id0"
    assert items["00171.mp4"].group == "celebdf:yt00171"
    fake = items["id0_id1_0001.mp4"]
    assert (fake.group, fake.source, fake.extra) == (
        "celebdf:id0",
        "id0_0001",
        {"source_group": "celebdf:id1"},
    )


def test_celebdf_test_list_gives_splits_and_skipped(celebdf_root: Path) -> None:
    index = index_dataset("celebdf", celebdf_root)
    test = {i.path.name for i in index.items if i.split == "test"}
    assert test == {"00170.mp4", "id1_0000.mp4", "id1_id0_0000.mp4"}
    assert index.counts("split") == {"test": 3, "train": 5}
    why = reasons(index)
    assert set(why) == {"strange.mp4", "List_of_testing_videos.txt", "id9_id1_0003.mp4"}
    assert "line 4" in why["id9_id1_0003.mp4"] and "not found" in why["id9_id1_0003.mp4"]
    assert why["List_of_testing_videos.txt"].startswith("line 5:")
    (celebdf_root / "List_of_testing_videos.txt").unlink()
    assert {i.split for i in index_dataset("celebdf", celebdf_root).items} == {None}


def test_celebdf_warns_when_the_list_disagrees(celebdf_root: Path, caplog: pytest.LogCaptureFixture) -> None:
    (celebdf_root / "List_of_testing_videos.txt").write_text("0 Celeb-real/id0_0000.mp4\n")
    with caplog.at_level(logging.WARNING, logger="facetrust.datasets"):
        index = index_dataset("celebdf", celebdf_root)
    assert by_name(index)["id0_0000.mp4"].label == "real"
    assert "the folder says real" in caplog.text


# DFDC


def test_dfdc_groups_follow_the_original(dfdc_root: Path) -> None:
    index = index_dataset("dfdc", dfdc_root)
    assert index.counts() == {"fake": 2, "real": 2}
    assert index.counts("method") == {"dfdc": 2, "real": 2}
    assert index.counts("split") == {"train": 4}
    items = by_name(index)
    assert {n for n, i in items.items() if i.group == "dfdc:aaa"} == {"aaa.mp4", "bbb.mp4", "ccc.mp4"}
    assert items["ccc.mp4"].source == "aaa.mp4"
    assert items["ccc.mp4"].extra == {"part": "dfdc_train_part_1"}
    why = reasons(index)
    assert why["gone.mp4"] == "listed in dfdc_train_part_0/metadata.json but not found"
    assert "unknown label 'MAYBE'" in why["eee.mp4"]


def test_dfdc_single_folder_and_bad_json(dfdc_root: Path) -> None:
    part = dfdc_root / "dfdc_train_part_0"
    assert detect_layout(part) == "dfdc"
    assert index_dataset("dfdc", part).counts() == {"fake": 1, "real": 1}
    (part / "metadata.json").write_text("{broken")
    with pytest.raises(InputError, match="metadata.json is not valid JSON"):
        index_dataset("dfdc", dfdc_root)


# generic folders


def test_generic_labels_methods_splits_and_skipped(generic_root: Path) -> None:
    index = index_dataset("generic", generic_root)
    assert index.counts() == {"fake": 4, "real": 3}
    assert index.counts("method") == {"FaceSwap": 2, "fake": 2, "real": 3}
    assert index.counts("kind") == {"image": 3, "video": 4}
    items = by_name(index)
    assert items["f.webp"].split == "train" and items["g.avi"].label == "fake"
    assert items["a.mp4"].split is None and items["a.mp4"].group == "a"
    assert reasons(index) == {
        "loose.jpg": "not under a real/ or fake/ folder",
        "notes.txt": "not an image or video extension (.txt)",
        "h.png": "both real/ and fake/ in its path",
    }
    parent = index_dataset("generic", generic_root, group_by="parent")
    assert by_name(parent)["d.png"].group == "sub"
    with pytest.raises(ConfigError, match="group_by"):
        index_dataset("generic", generic_root, group_by="identity")


def test_generic_needs_label_folders(tmp_path: Path, touch: Callable[..., Path]) -> None:
    touch(tmp_path / "flat", ["a.jpg", "b.mp4"])
    with pytest.raises(InputError, match="no folder named real/ or fake/"):
        index_dataset("generic", tmp_path / "flat")


# detection and errors


def test_detect_layout_of_each_tree(
    ffpp_root: Path, celebdf_root: Path, dfdc_root: Path, generic_root: Path, tmp_path: Path
) -> None:
    csv_file = tmp_path / "list.csv"
    csv_file.write_text("path,label\n")
    assert detect_layout(ffpp_root) == "ffpp"
    assert detect_layout(celebdf_root) == "celebdf"
    assert detect_layout(dfdc_root) == "dfdc"
    assert detect_layout(generic_root) == "generic"
    assert detect_layout(csv_file) == "csv"
    assert index_dataset("auto", celebdf_root).name == "celebdf"
    assert len(index_dataset("auto", generic_root)) == 7


def test_unknown_adapter_suggests_close_names(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError) as info:
        index_dataset("celebfd", tmp_path)
    assert info.value.close_matches == ["celebdf"]
    assert "Did you mean 'celebdf'?" in str(info.value) and "auto" in str(info.value)


def test_missing_root_names_path_and_layout(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError, match=rf"{missing} does not exist; expected a Celeb-DF folder"):
        index_dataset("celebdf", missing)
    with pytest.raises(ConfigError, match=f"{missing} does not exist.*ffpp: a FaceForensics"):
        index_dataset("auto", missing)


def test_folder_matching_no_layout(tmp_path: Path, touch: Callable[..., Path]) -> None:
    root = touch(tmp_path / "stuff", ["a/b.jpg", "notes.txt"])
    with pytest.raises(InputError, match="matches no known dataset layout.*generic: folders named real/"):
        detect_layout(root)
    with pytest.raises(InputError, match="has none of Celeb-real/"):
        index_dataset("celebdf", root)
    with pytest.raises(InputError, match="no metadata.json"):
        index_dataset("dfdc", root)


# the shared data (skipped where it is absent)


@pytest.mark.skipif(not (SHARED / "dev" / "videos").is_dir(), reason="shared data not present")
def test_shared_data() -> None:
    dev = index_dataset("generic", SHARED / "dev" / "videos")
    assert dev.counts() == {"fake": 15, "real": 22} and not dev.skipped
    manifest = index_dataset("csv", SHARED / "manifest.csv")
    with (SHARED / "manifest.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(manifest) + len(manifest.skipped) == len(rows)
    assert set(manifest.counts()) == {"real", "fake"}
    assert set(manifest.counts("kind")) == {"image", "video"}
    assert all("source" in item.extra for item in manifest.items)
