"""DatasetItem / DatasetIndex: validation, counts, filter, the CSV round trip and the ``csv`` adapter."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from facetrust.datasets import (
    CSV_COLUMNS,
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    DatasetIndex,
    DatasetItem,
    detect_layout,
    index_dataset,
    media_kind,
)
from facetrust.errors import ConfigError, InputError, UnknownNameError


def item(
    name: str, label: str = "real", group: str = "g", method: str | None = None, **kw: object
) -> DatasetItem:
    method = method or ("real" if label == "real" else "Deepfakes")
    return DatasetItem(Path("/d") / name, label, "video", group, method, **kw)  # type: ignore[arg-type]


def test_extensions_match_the_media_stage() -> None:
    from facetrust.media import IMAGE_EXTENSIONS as MEDIA_IMAGES
    from facetrust.media import VIDEO_EXTENSIONS as MEDIA_VIDEOS

    assert (IMAGE_EXTENSIONS, VIDEO_EXTENSIONS) == (MEDIA_IMAGES, MEDIA_VIDEOS)
    assert (media_kind("a/B.JPEG"), media_kind("c.mkv"), media_kind("d.txt"), media_kind("e")) == (
        "image",
        "video",
        None,
        None,
    )


def test_item_validation() -> None:
    with pytest.raises(ConfigError, match="label"):
        item("a.mp4", label="REAL")
    with pytest.raises(ConfigError, match="absolute"):
        DatasetItem(Path("rel.mp4"), "real", "video", "g", "real")
    with pytest.raises(ConfigError, match="method of a real item"):
        item("a.mp4", method="camera")
    with pytest.raises(ConfigError, match="group"):
        item("a.mp4", group="")
    fake = item("b.mp4", "fake", source="000| 003 |")
    assert fake.sources == ("000", "003") and item("a.mp4").sources == ()
    assert len({fake, item("b.mp4", "fake", source="000| 003 |")}) == 1  # hashable despite the extra dict
    assert fake != item("b.mp4", "fake", source="000| 003 |", extra={"x": "1"})


def test_counts_filter_and_summary() -> None:
    items = (
        item("a.mp4", split="train"),
        item("b.mp4", "fake", split="train"),
        item("c.mp4", "fake", method="FaceSwap", group="h"),
    )
    index = DatasetIndex("toy", Path("/d"), items, ((Path("/d/x.mp4"), "file not found"),))
    assert index.counts() == {"fake": 2, "real": 1}
    assert index.counts("split") == {"train": 2, "unsplit": 1}
    assert index.counts("group") == {"g": 2, "h": 1}
    with pytest.raises(UnknownNameError, match="Did you mean 'method'"):
        index.counts("methd")
    fakes = index.filter(label="fake")
    assert [i.path.name for i in fakes] == ["b.mp4", "c.mp4"] and fakes.skipped == index.skipped
    assert len(index.filter(split="unsplit")) == 1
    assert len(index.filter(method=["real", "FaceSwap"], where=lambda i: i.path.name != "a.mp4")) == 1
    assert index.summary() == "toy: 3 items (fake 2, real 1) in /d; splits: train 2, unsplit 1; 1 skipped"


def test_csv_round_trip(tmp_path: Path, touch: Callable[..., Path]) -> None:
    root = touch(tmp_path / "data", ["real/a b.mp4", "fake/FaceSwap/c.png", "fake/d.mp4"])
    items = (
        DatasetItem(
            root / "real/a b.mp4", "real", "video", "id:1", "real", "train", extra={"method": "camera"}
        ),
        DatasetItem(
            root / "fake/FaceSwap/c.png", "fake", "image", "id:1", "FaceSwap", "test", "a b|x", {"k": "ü"}
        ),
        DatasetItem(root / "fake/d.mp4", "fake", "video", "d", "fake"),
    )
    index = DatasetIndex("mine", root, items, ((root / "gone.mp4", "file not found"),))
    file = index.to_csv(tmp_path / "out" / "index.csv")
    lines = file.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(CSV_COLUMNS)
    assert lines[1].startswith("../data/real/a b.mp4,real,video,id:1,real,train,,")
    back = DatasetIndex.from_csv(file, name="mine")
    assert back.items == items and back.skipped == ()
    assert [i.extra for i in back.items] == [i.extra for i in items]
    assert index_dataset("csv", file).items == items


def test_csv_adapter_accepts_manifest_columns_and_skips_bad_rows(
    tmp_path: Path, touch: Callable[..., Path]
) -> None:
    root = touch(tmp_path / "data", ["real/a.jpg", "real/b.mp4", "fake/c.mp4", "fake/d.jpg", "fake/e.bin"])
    (root / "manifest.csv").write_text(
        "path,label,kind,source,group,method\n"
        "real/a.jpg,real,image,CelebA,celeba_id:1,camera\n"
        "real/b.mp4,0,,,,\n"
        "fake/c.mp4,1,video,ghost,,GHOST face swap\n"
        "fake/d.jpg,FAKE,image,,,\n"
        "fake/missing.jpg,fake,image,,,\n"
        "fake/c.mp4,fake,video,,,\n"
        "real/a.jpg,maybe,image,,,\n"
        "fake/e.bin,fake,,,,\n"
        "fake/e.bin,fake,sound,,,\n"
        ",real,,,,\n",
        encoding="utf-8",
    )
    assert detect_layout(root) == "csv"
    index = index_dataset("auto", root)
    assert index.name == "csv" and index.root == root / "manifest.csv"
    got = [(i.path.name, i.label, i.kind, i.group, i.method, i.extra) for i in index.items]
    assert got == [
        ("a.jpg", "real", "image", "celeba_id:1", "real", {"source": "CelebA", "method": "camera"}),
        ("b.mp4", "real", "video", "b", "real", {}),
        ("c.mp4", "fake", "video", "c", "GHOST face swap", {"source": "ghost"}),
        ("d.jpg", "fake", "image", "d", "fake", {}),
    ]
    assert [reason for _, reason in index.skipped] == [
        "line 6: file not found",
        "line 7: duplicate of line 4",
        "line 8: unknown label 'maybe' (expected real/fake or 0/1)",
        "line 9: cannot tell image from video by the extension '.bin'; add a kind column",
        "line 10: unknown kind 'sound' (expected image or video)",
        "line 11: empty path",
    ]
    unchecked = index_dataset("csv", root, check_files=False)
    assert len(unchecked) == 5


def test_bad_csv_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("file,class\na.jpg,real\n")
    with pytest.raises(InputError, match=r"bad.csv lacks the column\(s\) path, label \(found: file, class\)"):
        index_dataset("csv", bad)
    bad.write_bytes(b"path,label\n\xff\xfe.jpg,real\n")
    with pytest.raises(InputError, match="not UTF-8"):
        index_dataset("csv", bad)
    (tmp_path / "other.csv").write_text("path,label\n")
    with pytest.raises(InputError, match="no manifest.csv \\(found bad.csv, other.csv\\)"):
        index_dataset("csv", tmp_path)
    with pytest.raises(ConfigError, match="no such CSV file"):
        DatasetIndex.from_csv(tmp_path / "absent.csv")
