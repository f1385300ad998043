"""grouped_split: no group (nor groups linked by a fake and its original) in two splits, shares, official
splits, determinism."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pytest

from facetrust.datasets import DatasetIndex, DatasetItem, grouped_split, index_dataset, link_groups
from facetrust.errors import ConfigError


def linked_index() -> DatasetIndex:
    """40 identities with 3 real clips each, and 60 fakes filed under their own groups whose source names a
    clip of another identity: only the source links tie a fake to that identity."""
    items = [
        DatasetItem(Path(f"/d/real/id{i}/clip{c}.mp4"), "real", "video", f"id{i}", "real")
        for i in range(40)
        for c in range(3)
    ]
    items += [
        DatasetItem(
            Path(f"/d/fake/f{k}.mp4"),
            "fake",
            "video",
            f"swap{k}",
            "FaceSwap",
            source=f"id{k % 40}/clip{k % 3}",
        )
        for k in range(60)
    ]
    return DatasetIndex("linked", Path("/d"), tuple(items))


def split_of(splits: dict[str, list[DatasetItem]]) -> dict[Path, str]:
    return {item.path: name for name, items in splits.items() for item in items}


def assert_no_group_crosses(splits: dict[str, list[DatasetItem]]) -> None:
    seen: dict[str, str] = {}
    for name, items in splits.items():
        for item in items:
            assert seen.setdefault(item.group, name) == name, (
                f"group {item.group} is in {seen[item.group]} and {name}"
            )


@pytest.mark.parametrize("seed", range(5))
def test_no_group_or_linked_group_crosses_splits(seed: int) -> None:
    index = linked_index()
    splits = grouped_split(index, seed=seed)
    assert_no_group_crosses(splits)
    where = split_of(splits)
    for item in index.filter(label="fake"):
        original = Path("/d/real") / f"{item.source}.mp4"
        assert where[item.path] == where[original]
    assert sum(map(len, splits.values())) == len(index) and len(where) == len(index)


def test_without_source_links_fakes_float_free() -> None:
    components = link_groups(linked_index().items, link_sources=False)
    assert len(set(components.values())) == 100
    assert len(set(link_groups(linked_index().items).values())) == 40


def test_shares_and_determinism() -> None:
    items = [DatasetItem(Path(f"/d/{i}.jpg"), "real", "image", f"g{i}", "real") for i in range(100)]
    splits = grouped_split(items, seed=3)
    assert {k: len(v) for k, v in splits.items()} == {"train": 80, "val": 10, "test": 10}
    assert split_of(grouped_split(items, seed=3)) == split_of(splits)
    assert split_of(grouped_split(items, seed=4)) != split_of(splits)
    shuffled = items[:]
    random.Random(1).shuffle(shuffled)
    assert split_of(grouped_split(shuffled, seed=3)) == split_of(splits)  # input order does not matter
    two = grouped_split(items, (0.7, 0.3), names=("fit", "holdout"))
    assert {k: len(v) for k, v in two.items()} == {"fit": 70, "holdout": 30}


def test_official_splits_are_kept(celebdf_root: Path) -> None:
    index = index_dataset("celebdf", celebdf_root)
    splits = grouped_split(index)
    assert {k: len(v) for k, v in splits.items()} == {"train": 5, "val": 0, "test": 3}
    assert all(item.split == name for name, items in splits.items() for item in items)
    free = grouped_split(index, official=False, seed=1)
    assert_no_group_crosses(free)


def test_official_split_pulls_its_unsplit_group_along_and_warns_on_conflicts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    items = [
        DatasetItem(Path("/d/a.mp4"), "real", "video", "g", "real", "test"),
        DatasetItem(Path("/d/b.mp4"), "real", "video", "g", "real"),
        DatasetItem(Path("/d/c.mp4"), "real", "video", "h", "real", "train"),
        DatasetItem(Path("/d/d.mp4"), "real", "video", "h", "real", "val"),
        DatasetItem(Path("/d/e.mp4"), "real", "video", "h", "real"),
    ]
    with caplog.at_level(logging.WARNING, logger="facetrust.datasets"):
        where = split_of(grouped_split(items))
    assert where[Path("/d/b.mp4")] == "test"
    assert (where[Path("/d/c.mp4")], where[Path("/d/d.mp4")], where[Path("/d/e.mp4")]) == (
        "train",
        "val",
        "train",
    )
    assert "1 groups straddle the official splits" in caplog.text


def test_source_groups_link_identities(ffpp_root: Path) -> None:
    index = index_dataset("ffpp", ffpp_root)
    plain = link_groups(index.items)
    assert plain["ffpp:actor01"] != plain["ffpp:actor02"]
    strict = link_groups(index.items, link_source_groups=True)
    assert strict["ffpp:actor01"] == strict["ffpp:actor02"]
    for seed in range(3):
        splits = grouped_split(index, seed=seed, official=False, link_source_groups=True)
        assert_no_group_crosses(splits)
        where = {item.group: name for name, items in splits.items() for item in items}
        assert where["ffpp:actor01"] == where["ffpp:actor02"]


@pytest.mark.parametrize(
    ("fractions", "names", "match"),
    [
        ((0.5, 0.5), ("train", "val", "test"), "2 fractions for 3 split names"),
        ((0.8, 0.3, -0.1), ("train", "val", "test"), "non-negative and sum to 1"),
        ((0.5, 0.4), ("train", "val"), "sum to 1"),
        ((0.5, 0.5), ("train", "train"), "distinct"),
    ],
)
def test_bad_fractions(fractions: tuple[float, ...], names: tuple[str, ...], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        grouped_split(linked_index(), fractions, names=names)
