"""Any tree with ``real/`` and ``fake/`` folders (``generic``), at any depth under the root.

Examples: ``root/videos/real/a.mp4``, ``root/fake/FaceSwap/b.png``, ``root/train/real/c.jpg``. A file's
label is the outermost ``real``/``fake`` folder (case-insensitive) in its path below the root; media files
are recognised by extension. The method of a fake is the first sub-folder under ``fake/`` (``FaceSwap``
above), else ``"fake"``. A folder named ``train``/``val``/``validation``/``test`` above the label folder
gives the split. The group is the file stem (``group_by="parent"``: the name of the file's folder, e.g.
for the extracted frames of one video; or any ``path -> group`` function). Media files outside any label
folder, files under one that are not media, and files with both ``real`` and ``fake`` in their path are
reported in ``skipped``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from facetrust.datasets.adapters import register_adapter
from facetrust.datasets.records import DatasetIndex, DatasetItem, media_kind, split_alias
from facetrust.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

LAYOUT = "folders named real/ and fake/ (at any depth) holding images or videos"
LABEL_FOLDERS: tuple[str, ...] = ("real", "fake")
_DETECT_DEPTH = 4  # detect() looks this many folder levels down


def _walk(root: Path, max_depth: int | None = None) -> Iterator[tuple[Path, list[str], list[str]]]:
    """os.walk in sorted order, skipping hidden entries, down to ``max_depth`` levels below ``root``."""
    base = len(root.parts)
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        yield here, list(dirs), sorted(f for f in files if not f.startswith("."))
        if max_depth is not None and len(here.parts) - base >= max_depth:
            dirs[:] = []


def _detect(root: Path) -> bool:
    if not root.is_dir():
        return False
    for _, dirs, _ in _walk(root, _DETECT_DEPTH):
        if any(d.lower() in LABEL_FOLDERS for d in dirs):
            return True
    return False


def _grouper(group_by: str | Callable[[Path], str]) -> Callable[[Path], str]:
    if callable(group_by):
        return group_by
    if group_by == "stem":
        return lambda path: path.stem
    if group_by == "parent":
        return lambda path: path.parent.name
    raise ConfigError(f"group_by must be 'stem', 'parent' or a function of the path, got {group_by!r}")


@register_adapter("generic", layout=LAYOUT, detect=_detect, priority=90)
def index_generic(
    root: Path, *, group_by: str | Callable[[Path], str] = "stem", splits_from_folders: bool = True
) -> DatasetIndex:
    """Index the ``real/`` and ``fake/`` folders under ``root``."""
    if not root.is_dir():
        raise InputError(f"{root} is not a folder; expected {LAYOUT}")
    group_of = _grouper(group_by)
    items: list[DatasetItem] = []
    skipped: list[tuple[Path, str]] = []
    labelled = False
    for folder, _, files in _walk(root):
        parts = folder.relative_to(root).parts
        marks = [i for i, part in enumerate(parts) if part.lower() in LABEL_FOLDERS]
        labelled = labelled or bool(marks)
        for name in files:
            path = folder / name
            kind = media_kind(path)
            if not marks:
                if kind is not None:
                    skipped.append((path, "not under a real/ or fake/ folder"))
                continue
            if len({parts[i].lower() for i in marks}) > 1:
                skipped.append((path, "both real/ and fake/ in its path"))
                continue
            if kind is None:
                skipped.append((path, f"not an image or video extension ({path.suffix or 'none'})"))
                continue
            at = marks[0]
            label = parts[at].lower()
            method = "real" if label == "real" else (parts[at + 1] if at + 1 < len(parts) else "fake")
            split = None
            if splits_from_folders:
                split = next((s for s in map(split_alias, parts[:at]) if s is not None), None)
            item = DatasetItem(path, label, kind, group_of(path), method, split)  # type: ignore[arg-type]
            items.append(item)
    if not labelled:
        raise InputError(f"{root} has no folder named real/ or fake/; expected {LAYOUT}")
    return DatasetIndex("generic", root, tuple(items), tuple(skipped))
