"""The records of a dataset index: one :class:`DatasetItem` per media file, held by a :class:`DatasetIndex`.

An index points at files where they lie: nothing is copied, opened or decoded. Every entry an adapter was
told about but could not index (a listed file that is missing, a name it cannot parse, a bad CSV row) is
kept in :attr:`DatasetIndex.skipped` with the reason, never dropped silently.

The CSV form (:meth:`DatasetIndex.to_csv` / :meth:`DatasetIndex.from_csv`, also read by the ``csv``
adapter) has the columns :data:`CSV_COLUMNS`; paths are relative to the CSV file's folder.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from facetrust.errors import ConfigError, InputError, UnknownNameError
from facetrust.types import MediaKind

logger = logging.getLogger(__name__)

ItemLabel = Literal["real", "fake"]
LABELS: tuple[str, ...] = ("real", "fake")
KINDS: tuple[str, ...] = ("image", "video")
SPLITS: tuple[str, ...] = ("train", "val", "test")
UNSPLIT = "unsplit"  # the key that stands for ``split=None`` in counts() and filter()
SOURCE_SEPARATOR = "|"  # between several originals in DatasetItem.source

# The same sets as facetrust.media.probe (not imported from there: that module loads PyAV).
IMAGE_EXTENSIONS: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
)

CSV_COLUMNS: tuple[str, ...] = ("path", "label", "kind", "group", "method", "split", "original", "extra")
REQUIRED_CSV_COLUMNS: tuple[str, ...] = ("path", "label")

_SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
}
_LABEL_VALUES = {"real": "real", "fake": "fake", "0": "real", "1": "fake"}
_FIELDS = ("label", "method", "split", "kind", "group")


def media_kind(path: str | os.PathLike[str]) -> MediaKind | None:
    """``"image"`` or ``"video"`` from the file extension (case-insensitive), None for anything else."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    return None


def normalize_split(value: str | None) -> str | None:
    """``"train"``/``"val"``/``"test"`` for their usual spellings (``validation``, ``testing``, ...), None for
    an empty value, and any other name lower-cased as it is."""
    if value is None or not value.strip():
        return None
    name = value.strip().lower()
    return _SPLIT_ALIASES.get(name, name)


def split_alias(name: str) -> str | None:
    """The split a folder called ``name`` stands for (``Train``, ``validation``, ...), or None."""
    return _SPLIT_ALIASES.get(name.lower())


def absolute(path: str | os.PathLike[str]) -> Path:
    """``path`` made absolute and normalised (``..`` removed) without resolving symbolic links."""
    return Path(os.path.abspath(os.path.expanduser(path)))


@dataclass(frozen=True)
class DatasetItem:
    """One media file of a dataset and what its layout says about it."""

    path: Path  # absolute
    label: ItemLabel
    kind: MediaKind
    group: str  # identity or source video; splits never cut a group
    method: str  # "real" for reals, else the manipulation method ("Deepfakes", "Celeb-synthesis", ...)
    split: str | None = None  # the dataset's official split ("train"/"val"/"test"), None when it has none
    source: str | None = None  # fakes: id(s) of the original(s) it was made from, "|"-separated
    # more facts as text (e.g. {"compression": "c23", "source_group": "celebdf:id16"}); treat as read-only
    extra: dict[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise ConfigError(f"{self.path}: label must be 'real' or 'fake', got {self.label!r}")
        if self.kind not in KINDS:
            raise ConfigError(f"{self.path}: kind must be 'image' or 'video', got {self.kind!r}")
        if not self.path.is_absolute():
            raise ConfigError(f"DatasetItem.path must be absolute, got {self.path}")
        if not self.group:
            raise ConfigError(f"{self.path}: group must not be empty")
        if self.label == "real" and self.method != "real":
            raise ConfigError(f"{self.path}: the method of a real item is 'real', got {self.method!r}")

    @property
    def sources(self) -> tuple[str, ...]:
        """The originals named in :attr:`source`, one per entry (empty for reals)."""
        if not self.source:
            return ()
        return tuple(s.strip() for s in self.source.split(SOURCE_SEPARATOR) if s.strip())


def _field_key(item: DatasetItem, by: str) -> str:
    value = getattr(item, by)
    return UNSPLIT if value is None else str(value)


def _wanted(value: str | Collection[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset([value] if isinstance(value, str) else value)


@dataclass(frozen=True)
class DatasetIndex:
    """The items of one dataset, plus every entry that could not be indexed as ``(path, reason)``."""

    name: str  # the adapter that built it ("ffpp", "csv", ...)
    root: Path  # the folder (or CSV file) it was built from
    items: tuple[DatasetItem, ...]
    skipped: tuple[tuple[Path, str], ...] = ()

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[DatasetItem]:
        return iter(self.items)

    def counts(self, by: str = "label") -> dict[str, int]:
        """Number of items per value of ``by`` (``label``, ``method``, ``split``, ``kind`` or ``group``),
        sorted by value; items without an official split count under ``"unsplit"``."""
        if by not in _FIELDS:
            raise UnknownNameError("index field", by, _FIELDS)
        counter = Counter(_field_key(item, by) for item in self.items)
        return dict(sorted(counter.items()))

    def filter(
        self,
        *,
        label: str | Collection[str] | None = None,
        method: str | Collection[str] | None = None,
        split: str | Collection[str] | None = None,
        kind: str | Collection[str] | None = None,
        group: str | Collection[str] | None = None,
        where: Callable[[DatasetItem], bool] | None = None,
    ) -> DatasetIndex:
        """A new index with the items that match every given criterion (a value or a collection of values;
        ``split="unsplit"`` selects items without an official split). ``skipped`` is kept as it is."""
        wanted = {
            name: values
            for name, values in zip(_FIELDS, map(_wanted, (label, method, split, kind, group)), strict=True)
            if values is not None
        }
        items = tuple(
            item
            for item in self.items
            if all(_field_key(item, name) in values for name, values in wanted.items())
            and (where is None or where(item))
        )
        return replace(self, items=items)

    def summary(self) -> str:
        """One line: the size, the counts per label and per split, and how many entries were skipped."""
        labels = ", ".join(f"{k} {v}" for k, v in self.counts("label").items()) or "empty"
        splits = ", ".join(f"{k} {v}" for k, v in self.counts("split").items())
        tail = f"; {len(self.skipped)} skipped" if self.skipped else ""
        return (
            f"{self.name}: {len(self.items)} items ({labels}) in {self.root}; splits: {splits or '-'}{tail}"
        )

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write the items as a CSV with the columns :data:`CSV_COLUMNS` and return its path. Paths are
        written relative to the CSV's folder (absolute when that is impossible, e.g. another drive), so the
        file can be read back by :meth:`from_csv` or ``index_dataset("csv", path)``. ``skipped`` is not
        written."""
        target = absolute(path)
        folder = target.parent
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for item in self.items:
            try:
                rel = Path(os.path.relpath(item.path, folder)).as_posix()
            except ValueError:  # no relative path between drives
                rel = str(item.path)
            extra = json.dumps(item.extra, sort_keys=True, ensure_ascii=False) if item.extra else ""
            writer.writerow(
                [
                    rel,
                    item.label,
                    item.kind,
                    item.group,
                    item.method,
                    item.split or "",
                    item.source or "",
                    extra,
                ]
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(buffer.getvalue(), encoding="utf-8", newline="")
        if self.skipped:
            logger.info("%s: %d skipped entries are not written to %s", self.name, len(self.skipped), target)
        return target

    @classmethod
    def from_csv(
        cls, path: str | os.PathLike[str], *, name: str = "csv", check_files: bool = True
    ) -> DatasetIndex:
        """Read a CSV with at least the columns ``path`` and ``label`` (see :func:`read_items_csv`)."""
        file = absolute(path)
        items, skipped = read_items_csv(file, check_files=check_files)
        return cls(name=name, root=file, items=items, skipped=skipped)


def _read_csv_rows(file: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"no such CSV file: {file}") from None
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{file} is not UTF-8 text: {exc}") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""), restval="")
    try:
        columns = [c.strip() for c in reader.fieldnames or []]
        reader.fieldnames = columns
        missing = [c for c in REQUIRED_CSV_COLUMNS if c not in columns]
        if missing:
            raise InputError(
                f"{file} lacks the column(s) {', '.join(missing)} "
                f"(found: {', '.join(columns) or 'no header'}); "
                f"needed: {', '.join(REQUIRED_CSV_COLUMNS)}, optional: {', '.join(CSV_COLUMNS[2:])}"
            )
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise InputError(f"{file} is not a valid CSV file (line {reader.line_num}): {exc}") from exc
    return columns, rows


def read_items_csv(
    file: Path, *, check_files: bool = True
) -> tuple[tuple[DatasetItem, ...], tuple[tuple[Path, str], ...]]:
    """Items and skipped rows of a CSV ``path,label[,kind,group,method,split,original,extra]``.

    ``path`` is relative to the CSV's folder (or absolute); ``label`` is ``real``/``fake`` or ``0``/``1``
    (0 = real, 1 = fake); ``kind`` defaults to what the extension says; ``group`` to the file stem;
    ``method`` to ``"fake"`` for fakes (for reals any method other than ``real``, e.g. ``camera``, is kept
    as ``extra["method"]``); ``original`` fills :attr:`DatasetItem.source`; ``extra`` is a JSON object. Any
    other column (e.g. the ``source`` provenance column of the training manifest) goes into ``extra``.
    Bad rows are returned as skipped with ``"line N: <reason>"``; a file missing ``path`` or ``label`` is
    an :class:`InputError`.
    """
    columns, rows = _read_csv_rows(file)
    other = [c for c in columns if c and c not in CSV_COLUMNS]
    folder = file.parent
    items: list[DatasetItem] = []
    skipped: list[tuple[Path, str]] = []
    seen: dict[Path, int] = {}
    for line, row in rows:
        raw_path = (row.get("path") or "").strip()
        if not raw_path:
            skipped.append((file, f"line {line}: empty path"))
            continue
        path = absolute(folder / raw_path)
        label = _LABEL_VALUES.get((row.get("label") or "").strip().lower())
        if label is None:
            skipped.append(
                (path, f"line {line}: unknown label {row.get('label')!r} (expected real/fake or 0/1)")
            )
            continue
        if path in seen:
            skipped.append((path, f"line {line}: duplicate of line {seen[path]}"))
            continue
        given_kind = (row.get("kind") or "").strip().lower()
        kind = given_kind or media_kind(path)
        if kind not in KINDS:
            reason = (
                f"unknown kind {given_kind!r} (expected image or video)"
                if given_kind
                else f"cannot tell image from video by the extension {path.suffix or '(none)'!r}; "
                "add a kind column"
            )
            skipped.append((path, f"line {line}: {reason}"))
            continue
        try:
            extra = _parse_extra(row.get("extra") or "")
        except ValueError as exc:
            skipped.append((path, f"line {line}: the extra column is not a JSON object of text ({exc})"))
            continue
        if check_files and not path.is_file():
            skipped.append((path, f"line {line}: file not found"))
            continue
        extra.update({c: row[c].strip() for c in other if (row.get(c) or "").strip()})
        method = (row.get("method") or "").strip()
        if label == "real":
            if method and method != "real":
                extra.setdefault("method", method)
            method = "real"
        seen[path] = line
        items.append(
            DatasetItem(
                path=path,
                label=label,  # type: ignore[arg-type]
                kind=kind,  # type: ignore[arg-type]
                group=(row.get("group") or "").strip() or path.stem,
                method=method or "fake",
                split=normalize_split(row.get("split")),
                source=(row.get("original") or "").strip() or None,
                extra=extra,
            )
        )
    return tuple(items), tuple(skipped)


def _parse_extra(text: str) -> dict[str, str]:
    if not text.strip():
        return {}
    value = json.loads(text)
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError("expected an object whose values are strings")
    return {str(k): v for k, v in value.items()}
