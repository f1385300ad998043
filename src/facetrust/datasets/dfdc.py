"""The Deepfake Detection Challenge training set (``dfdc``): parts with a ``metadata.json`` beside the videos.

Layout: ``dfdc_train_part_*/metadata.json`` (any sub-folder with one is read), or a single folder with its
``metadata.json``. Each entry is ``"abc.mp4": {"label": "FAKE" | "REAL", "split": "train",
"original": "xyz.mp4" | null}``. Groups: a real is its own group ``dfdc:<stem>`` and a fake joins the group
of its original (``source``), wherever that original lies, so they never straddle splits. The method of
every fake is ``"dfdc"`` (the metadata does not say which of its swap methods made it).
"""

from __future__ import annotations

import logging
from pathlib import Path

from facetrust.datasets._util import read_json
from facetrust.datasets.adapters import register_adapter
from facetrust.datasets.records import DatasetIndex, DatasetItem, media_kind, normalize_split
from facetrust.errors import InputError

logger = logging.getLogger(__name__)

LAYOUT = (
    'a DFDC folder with dfdc_train_part_*/metadata.json (or one metadata.json) mapping "<video>.mp4" to '
    '{"label": "REAL" | "FAKE", "split": ..., "original": ...}'
)


def _looks_like_metadata(file: Path) -> bool:
    try:
        data = read_json(file)
    except InputError:
        return False
    if not isinstance(data, dict) or not data:
        return False
    first = next(iter(data.values()))
    return isinstance(first, dict) and "label" in first


def _detect(root: Path) -> bool:
    if not root.is_dir():
        return False
    if any(p.is_file() for p in root.glob("dfdc_train_part_*/metadata.json")):
        return True
    return (root / "metadata.json").is_file() and _looks_like_metadata(root / "metadata.json")


def _metadata_files(root: Path) -> list[Path]:
    files = [root / "metadata.json"] if (root / "metadata.json").is_file() else []
    return files + sorted(
        p for p in root.glob("*/metadata.json") if p.is_file() and not p.parent.name.startswith(".")
    )


@register_adapter("dfdc", layout=LAYOUT, detect=_detect, priority=30)
def index_dfdc(root: Path) -> DatasetIndex:
    """Index the DFDC parts under ``root`` (or ``root`` itself when it holds ``metadata.json``)."""
    files = _metadata_files(root) if root.is_dir() else []
    if not files:
        raise InputError(
            f"{root} has no metadata.json, neither in itself nor in a sub-folder; expected {LAYOUT}"
        )
    items: list[DatasetItem] = []
    skipped: list[tuple[Path, str]] = []
    orphans = 0
    for file in files:
        metadata = read_json(file)
        if not isinstance(metadata, dict):
            raise InputError(
                f"{file}: expected an object mapping video names to entries, got {type(metadata).__name__}"
            )
        where = file.relative_to(root).as_posix()
        for name, entry in sorted(metadata.items()):
            path = file.parent / name
            if not isinstance(entry, dict):
                skipped.append((path, f"{where}: the entry is not an object"))
                continue
            label = str(entry.get("label", "")).strip().lower()
            if label not in ("real", "fake"):
                skipped.append(
                    (path, f"{where}: unknown label {entry.get('label')!r} (expected REAL or FAKE)")
                )
                continue
            kind = media_kind(path)
            if kind is None:
                skipped.append((path, f"{where}: not an image or video extension ({path.suffix or 'none'})"))
                continue
            if not path.is_file():
                skipped.append((path, f"listed in {where} but not found"))
                continue
            split = entry.get("split")
            split = normalize_split(split) if isinstance(split, str) else None
            extra = {"part": file.parent.name} if file.parent != root else {}
            original = entry.get("original")
            if label == "real":
                items.append(DatasetItem(path, "real", kind, f"dfdc:{path.stem}", "real", split, extra=extra))
                continue
            if isinstance(original, str) and original.strip():
                group, source = f"dfdc:{Path(original.strip()).stem}", original.strip()
            else:
                group, source = f"dfdc:{path.stem}", None
                orphans += 1
            items.append(DatasetItem(path, "fake", kind, group, "dfdc", split, source, extra=extra))
    if orphans:
        logger.warning("DFDC: %d fakes name no original; each is its own group", orphans)
    return DatasetIndex("dfdc", root, tuple(items), tuple(skipped))
