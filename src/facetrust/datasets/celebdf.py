"""Celeb-DF (v2) (``celebdf``): celebrity interviews, YouTube clips and their face swaps.

Layout::

    Celeb-real/id0_0000.mp4            # identity id0, its video 0000
    YouTube-real/00170.mp4
    Celeb-synthesis/id0_id16_0000.mp4  # id0's video 0000 with the face of id16 pasted in
    List_of_testing_videos.txt         # lines "<label> <folder>/<file>.mp4"; in that file 1 = real, 0 = fake

Splits: the listed videos are ``"test"``, all others ``"train"`` (Celeb-DF has no validation split); without
the list the split is None. Groups: ``celebdf:<id>`` for the identity of a Celeb-real video and for the
*target* identity of a fake (whose scene and body are that person's), so a target's originals and fakes
never straddle splits; the identity whose face was pasted in is kept as ``extra["source_group"]`` (linking
on it would chain most of the 59 identities into one group; :func:`~facetrust.datasets.grouped_split` does
it with ``link_source_groups=True``). ``source`` is the original video, e.g. ``id0_0000``. Each
YouTube-real video is its own group ``celebdf:yt<number>``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from facetrust.datasets._util import video_files
from facetrust.datasets.adapters import register_adapter
from facetrust.datasets.records import DatasetIndex, DatasetItem, absolute
from facetrust.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

TEST_LIST = "List_of_testing_videos.txt"
FOLDERS: tuple[str, ...] = ("Celeb-real", "YouTube-real", "Celeb-synthesis")
LAYOUT = f"a Celeb-DF folder with {', '.join(f + '/' for f in FOLDERS)} and {TEST_LIST}"

_CELEB_REAL = re.compile(r"(id\d+)_(\d+)")
_YOUTUBE_REAL = re.compile(r"(\d+)")
_SYNTHESIS = re.compile(r"(id\d+)_(id\d+)_(\d+)")
_EXPECTED_NAME = {
    "Celeb-real": "idX_NNNN.mp4",
    "YouTube-real": "NNNNN.mp4",
    "Celeb-synthesis": "idX_idY_NNNN.mp4",
}


def _detect(root: Path) -> bool:
    return any((root / f).is_dir() for f in FOLDERS) or (root / TEST_LIST).is_file()


def _read_test_list(file: Path, skipped: list[tuple[Path, str]]) -> dict[str, tuple[str, int]]:
    """``{"<folder>/<file>": (label, line)}`` from the test list; malformed lines go to ``skipped``."""
    try:
        lines = file.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {file}: {exc}") from exc
    listed: dict[str, tuple[str, int]] = {}
    for number, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[0] not in ("0", "1"):
            skipped.append(
                (file, f"line {number}: expected '<1 = real | 0 = fake> <folder>/<file>.mp4', got {line!r}")
            )
            continue
        rel = Path(parts[1].replace("\\", "/")).as_posix()
        listed[rel] = ("real" if parts[0] == "1" else "fake", number)
    return listed


@register_adapter("celebdf", layout=LAYOUT, detect=_detect, priority=20)
def index_celebdf(root: Path, *, test_list: str | Path | None = None) -> DatasetIndex:
    """Index Celeb-DF at ``root``; ``test_list`` overrides ``root/List_of_testing_videos.txt``."""
    folders = [root / f for f in FOLDERS if (root / f).is_dir()]
    if not folders:
        raise InputError(f"{root} has none of {', '.join(f + '/' for f in FOLDERS)}; expected {LAYOUT}")
    skipped: list[tuple[Path, str]] = []
    list_file = absolute(test_list) if test_list is not None else root / TEST_LIST
    if test_list is not None and not list_file.is_file():
        raise ConfigError(f"test_list {list_file} does not exist")
    listed = _read_test_list(list_file, skipped) if list_file.is_file() else None

    items: list[DatasetItem] = []
    seen: set[str] = set()
    for folder in folders:
        for path in video_files(folder):
            rel = f"{folder.name}/{path.name}"
            seen.add(rel)
            stem, split = path.stem, None
            if listed is not None:
                split = "test" if rel in listed else "train"
            if folder.name == "Celeb-real" and (match := _CELEB_REAL.fullmatch(stem)):
                item = DatasetItem(path, "real", "video", f"celebdf:{match.group(1)}", "real", split)
            elif folder.name == "YouTube-real" and (match := _YOUTUBE_REAL.fullmatch(stem)):
                item = DatasetItem(path, "real", "video", f"celebdf:yt{stem}", "real", split)
            elif folder.name == "Celeb-synthesis" and (match := _SYNTHESIS.fullmatch(stem)):
                target, source, number = match.groups()
                item = DatasetItem(
                    path,
                    "fake",
                    "video",
                    f"celebdf:{target}",
                    "Celeb-synthesis",
                    split,
                    f"{target}_{number}",
                    extra={"source_group": f"celebdf:{source}"},
                )
            else:
                skipped.append(
                    (path, f"name does not follow the Celeb-DF pattern {_EXPECTED_NAME[folder.name]}")
                )
                continue
            if listed is not None and rel in listed and listed[rel][0] != item.label:
                logger.warning(
                    "Celeb-DF: %s line %d labels %s %s; the folder says %s (kept)",
                    list_file.name,
                    listed[rel][1],
                    rel,
                    listed[rel][0],
                    item.label,
                )
            items.append(item)
    for rel, (_, number) in (listed or {}).items():
        if rel not in seen:
            path = absolute(root / rel)
            where = f"not in {', '.join(f + '/' for f in FOLDERS)}" if path.is_file() else "not found"
            skipped.append((path, f"listed in {list_file.name} (line {number}) but {where}"))
    return DatasetIndex("celebdf", root, tuple(items), tuple(skipped))
