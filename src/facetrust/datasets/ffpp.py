"""FaceForensics++ (``ffpp``): the YouTube originals, the DeepFakeDetection actors and their manipulations.

Layout (one compression is indexed at a time; ``raw``, ``c23`` or ``c40``)::

    original_sequences/youtube/c23/videos/000.mp4
    original_sequences/actors/c23/videos/01__meeting_serious.mp4
    manipulated_sequences/<Method>/c23/videos/000_003.mp4                  # <target>_<source>
    manipulated_sequences/DeepFakeDetection/c23/videos/01_02__meeting_serious__YVGY8LOK.mp4
    splits/{train,val,test}.json                                            # optional: lists of [a, b] pairs

Groups: the YouTube videos come in pairs (``a`` is swapped with ``b`` and ``b`` with ``a``), so the two
originals and all their fakes form one group ``ffpp:<a>_<b>`` (ids sorted), built from the split files and
the fake names. The actors are grouped by the actor whose scene was altered (``ffpp:actor01``); the actor
whose face was pasted in is kept as ``extra["source_group"]`` (linking on it would merge almost all 28
actors into one group; :func:`~facetrust.datasets.grouped_split` can do it with ``link_source_groups``).
Splits: a YouTube video is in the split of its pair, a fake ``a_b`` in the split of the pair {a, b};
without the JSON files, and for the actors (not covered by them), the split is None.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

from facetrust.datasets._util import UnionFind, read_json, video_files
from facetrust.datasets.adapters import register_adapter
from facetrust.datasets.records import SPLITS, DatasetIndex, DatasetItem, absolute
from facetrust.errors import ConfigError, InputError, UnknownNameError

logger = logging.getLogger(__name__)

COMPRESSIONS: tuple[str, ...] = ("raw", "c23", "c40")
LAYOUT = (
    "a FaceForensics++ folder with original_sequences/{youtube,actors}/<compression>/videos/*.mp4 and "
    "manipulated_sequences/<Method>/<compression>/videos/*.mp4 (optional splits/{train,val,test}.json)"
)

_YOUTUBE_REAL = re.compile(r"(\d+)")
_YOUTUBE_FAKE = re.compile(r"(\d+)_(\d+)")
_ACTOR_REAL = re.compile(r"(\d+)__(.+)")
_ACTOR_FAKE = re.compile(r"(\d+)_(\d+)__(.+)__([^_]+)")
_EXPECTED_NAME = {
    "youtube": "<id>.mp4",
    "actors": "<actor>__<scene>.mp4",
    "fake": "<target>_<source>.mp4 or <actor>_<actor>__<scene>__<code>.mp4",
}


def _detect(root: Path) -> bool:
    return (root / "original_sequences").is_dir() or (root / "manipulated_sequences").is_dir()


def _subdirs(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _load_pairs(folder: Path, explicit: bool) -> dict[frozenset[str], str] | None:
    """``{frozenset({a, b}): split}`` from ``folder/{train,val,test}.json``, None when there are none."""
    files = {split: folder / f"{split}.json" for split in SPLITS}
    present = {split: file for split, file in files.items() if file.is_file()}
    if not present:
        if explicit:
            raise ConfigError(f"splits_dir {folder} holds none of {', '.join(f'{s}.json' for s in SPLITS)}")
        return None
    if len(present) < len(files):
        missing = ", ".join(f.name for s, f in files.items() if s not in present)
        logger.warning("FaceForensics++: %s lacks %s; those videos get no split", folder, missing)
    pairs: dict[frozenset[str], str] = {}
    for split, file in present.items():
        data = read_json(file)
        if not isinstance(data, list):
            raise InputError(f"{file}: expected a list of [id, id] pairs, got {type(data).__name__}")
        for position, pair in enumerate(data):
            if not (
                isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, str | int) for v in pair)
            ):
                raise InputError(f"{file}: entry {position} should be a pair of video ids, got {pair!r}")
            key = frozenset(str(v) for v in pair)
            if pairs.setdefault(key, split) != split:
                raise InputError(f"{file}: the pair {pair!r} is also listed in {pairs[key]}.json")
    return pairs


@register_adapter("ffpp", layout=LAYOUT, detect=_detect, priority=10)
def index_ffpp(
    root: Path,
    *,
    compression: str = "c23",
    methods: str | Sequence[str] | None = None,
    splits_dir: str | Path | None = None,
) -> DatasetIndex:
    """Index FaceForensics++ at ``root``: the videos of one ``compression``, of all method folders found (or
    of ``methods``), with the official splits from ``splits_dir`` (default ``root/splits``) if present."""
    if compression not in COMPRESSIONS:
        raise UnknownNameError("FaceForensics++ compression", compression, COMPRESSIONS)
    originals, manipulated = root / "original_sequences", root / "manipulated_sequences"
    if not _detect(root):
        raise InputError(
            f"{root} has neither original_sequences/ nor manipulated_sequences/; expected {LAYOUT}"
        )
    present = _subdirs(manipulated)
    chosen = present
    if methods is not None:
        wanted = [methods] if isinstance(methods, str) else list(methods)
        for method in wanted:
            if method not in present:
                raise UnknownNameError(f"FaceForensics++ method folder in {manipulated}", method, present)
        chosen = [m for m in present if m in wanted]

    # (method, subset, folder): subset is "youtube"/"actors" for originals, "fake" for manipulations
    folders = [("real", s, originals / s / compression / "videos") for s in ("youtube", "actors")]
    folders = [f for f in folders if f[2].parent.parent.is_dir()]
    folders += [(m, "fake", manipulated / m / compression / "videos") for m in chosen]
    usable = [f for f in folders if f[2].is_dir()]
    found = sorted({c for *_, folder in folders for c in _subdirs(folder.parent.parent) if c in COMPRESSIONS})
    for method, subset, folder in folders:
        if not folder.is_dir():
            logger.warning("FaceForensics++ %s/%s: no %s videos in %s", method, subset, compression, folder)
    if not usable:
        raise InputError(
            f"{root}: no FaceForensics++ {compression} videos "
            f"(compressions found: {', '.join(found) or 'none'}); "
            f"expected {LAYOUT}"
        )

    split_folder = absolute(splits_dir) if splits_dir is not None else root / "splits"
    if splits_dir is not None and not split_folder.is_dir():
        raise ConfigError(f"splits_dir {split_folder} does not exist")
    pairs = _load_pairs(split_folder, explicit=splits_dir is not None)
    id_split = {vid: split for pair, split in (pairs or {}).items() for vid in pair}

    skipped: list[tuple[Path, str]] = []
    parsed: list[tuple[Path, str, str, re.Match[str]]] = []  # (path, method, subset, match)
    pairs_uf: UnionFind[str] = UnionFind()
    for pair in pairs or {}:
        a, *rest = sorted(pair)
        pairs_uf.union(a, rest[0] if rest else a)
    for method, subset, folder in usable:
        for path in video_files(folder):
            stem = path.stem
            if subset == "youtube":
                match, kind = _YOUTUBE_REAL.fullmatch(stem), "youtube"
            elif subset == "actors":
                match, kind = _ACTOR_REAL.fullmatch(stem), "actors"
            elif match := _YOUTUBE_FAKE.fullmatch(stem):
                kind = "youtube"
            else:
                match, kind = _ACTOR_FAKE.fullmatch(stem), "actors"
            if match is None:
                skipped.append(
                    (path, f"name does not follow the FaceForensics++ pattern {_EXPECTED_NAME[subset]}")
                )
                continue
            if kind == "youtube":
                pairs_uf.add(match.group(1))
                if method != "real":
                    pairs_uf.union(match.group(1), match.group(2))
            parsed.append((path, method, kind, match))

    group_of: dict[str, str] = {}
    for component in pairs_uf.components():
        name = "ffpp:" + "_".join(sorted(component))
        group_of.update(dict.fromkeys(component, name))

    items: list[DatasetItem] = []
    for path, method, kind, match in parsed:
        extra = {"compression": compression}
        if kind == "youtube" and method == "real":
            vid = match.group(1)
            item = DatasetItem(path, "real", "video", group_of[vid], "real", id_split.get(vid), extra=extra)
        elif kind == "youtube":
            target, source = match.group(1), match.group(2)
            split = (pairs or {}).get(frozenset((target, source)))
            if split is None and id_split.get(target) == id_split.get(source):
                split = id_split.get(target)
            item = DatasetItem(
                path, "fake", "video", group_of[target], method, split, f"{target}|{source}", extra=extra
            )
        elif method == "real":
            item = DatasetItem(path, "real", "video", f"ffpp:actor{match.group(1)}", "real", extra=extra)
        else:
            target, source, scene = match.group(1), match.group(2), match.group(3)
            extra["source_group"] = f"ffpp:actor{source}"
            item = DatasetItem(
                path, "fake", "video", f"ffpp:actor{target}", method, None, f"{target}__{scene}", extra=extra
            )
        items.append(item)
    if pairs is not None:
        unsplit = sum(1 for item in items if item.split is None and not item.group.startswith("ffpp:actor"))
        if unsplit:
            logger.warning("FaceForensics++: %d YouTube videos are in no pair of %s", unsplit, split_folder)
    return DatasetIndex("ffpp", root, tuple(items), tuple(skipped))
