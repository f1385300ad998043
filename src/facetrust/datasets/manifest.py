"""A CSV manifest (``csv``): one row per file, ``path,label[,kind,group,method,split,original,extra]``.

``root`` is the CSV file, or a folder holding ``manifest.csv`` (or exactly one ``*.csv``). Paths are
relative to the CSV's folder; labels are ``real``/``fake`` or ``0``/``1`` (0 = real); other columns are
kept in ``extra``, so the training manifest (``path,label,kind,source,group,method``) reads as it is. The
rules per column are those of :func:`facetrust.datasets.records.read_items_csv`. This is also the format
:meth:`DatasetIndex.to_csv` writes.
"""

from __future__ import annotations

from pathlib import Path

from facetrust.datasets.adapters import register_adapter
from facetrust.datasets.records import DatasetIndex
from facetrust.errors import InputError

MANIFEST = "manifest.csv"
LAYOUT = (
    f"a CSV file (or a folder holding {MANIFEST}) with the columns "
    "path,label[,kind,group,method,split,original]"
)


def _detect(root: Path) -> bool:
    if root.is_file():
        return root.suffix.lower() == ".csv"
    return (root / MANIFEST).is_file()


def _csv_file(root: Path) -> Path:
    if root.is_file():
        return root
    if (root / MANIFEST).is_file():
        return root / MANIFEST
    candidates = sorted(p for p in root.glob("*.csv") if p.is_file())
    if len(candidates) == 1:
        return candidates[0]
    found = f"found {', '.join(p.name for p in candidates)}" if candidates else "found no CSV file"
    raise InputError(f"{root} has no {MANIFEST} ({found}); pass the CSV file itself, or expected {LAYOUT}")


@register_adapter("csv", layout=LAYOUT, detect=_detect, priority=40)
def index_csv(root: Path, *, check_files: bool = True) -> DatasetIndex:
    """Index the files a CSV lists; ``check_files=False`` skips the existence check of each file."""
    return DatasetIndex.from_csv(_csv_file(root), name="csv", check_files=check_files)
