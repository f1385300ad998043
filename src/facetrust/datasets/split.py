"""Split an index into train/val/test without ever cutting a group.

Groups are first joined into *components*: a fake whose ``source`` names an item of another group (by
file name, stem or trailing path) links the two groups, and with ``link_source_groups`` so does the group in
``extra["source_group"]`` (the identity whose face was pasted in). A whole component then goes to one
split. Items with an official split keep it (``official=True``) and pull the rest of their component along;
the remaining components are dealt out, largest first and in a seeded random order among equals, to the
split furthest below its share of items.
"""

from __future__ import annotations

import logging
import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import PurePath

from facetrust.datasets._util import UnionFind
from facetrust.datasets.records import DatasetIndex, DatasetItem
from facetrust.errors import ConfigError

logger = logging.getLogger(__name__)

_TRAILING_PARTS = 3  # a source may name an item by up to this many trailing path parts ("a/b/c.mp4")


def _keys(path: PurePath) -> set[str]:
    """The names a ``source`` entry may use for ``path``: ``c.mp4``, ``c``, ``b/c.mp4``, ``b/c``, ..."""
    parts = path.parts
    keys = set()
    for n in range(1, min(_TRAILING_PARTS, len(parts)) + 1):
        tail = "/".join(parts[-n:])
        keys.update((tail, tail[: len(tail) - len(path.suffix)] if path.suffix else tail))
    return keys


def link_groups(
    items: Sequence[DatasetItem], *, link_sources: bool = True, link_source_groups: bool = False
) -> dict[str, str]:
    """``{group: component}``: the component is the smallest group name among the groups linked to it."""
    uf: UnionFind[str] = UnionFind(item.group for item in items)
    unresolved = 0
    if link_sources and any(item.source for item in items):
        by_key: dict[str, set[str]] = {}
        for item in items:
            for key in _keys(item.path):
                by_key.setdefault(key, set()).add(item.group)
        for item in items:
            for source in item.sources:
                groups = by_key.get(source.replace("\\", "/").strip("/"), set())
                unresolved += not groups
                for group in groups:
                    uf.union(item.group, group)
    if link_source_groups:
        for item in items:
            other = item.extra.get("source_group")
            if other and other in uf:
                uf.union(item.group, other)
    if unresolved:
        logger.debug("%d source entries name no item of this index", unresolved)
    return {group: min(component) for component in uf.components() for group in component}


def _check(fractions: Sequence[float], names: Sequence[str]) -> None:
    if len(fractions) != len(names):
        raise ConfigError(f"{len(fractions)} fractions for {len(names)} split names {list(names)}")
    if len(set(names)) != len(names) or not all(names):
        raise ConfigError(f"split names must be distinct and non-empty, got {list(names)}")
    if any(not math.isfinite(f) or f < 0 for f in fractions) or not math.isclose(
        sum(fractions), 1.0, abs_tol=1e-6
    ):
        raise ConfigError(f"fractions must be non-negative and sum to 1, got {list(fractions)}")


def grouped_split(
    data: DatasetIndex | Iterable[DatasetItem],
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    *,
    names: Sequence[str] = ("train", "val", "test"),
    official: bool = True,
    link_sources: bool = True,
    link_source_groups: bool = False,
) -> dict[str, list[DatasetItem]]:
    """Split items into ``names`` (in ``fractions`` of the items) so that no group, nor groups linked through
    a fake and its original, is in two splits. The same items and ``seed`` give the same split.

    ``official=True`` keeps each item's official split (the splits then also hold any official name not in
    ``names``) and applies ``fractions`` to the items of the components without one. A component whose
    items carry different official splits (the dataset's own split cuts it) keeps them as given, with a
    warning; its items without a split join its most common official split. Items keep their input order
    within each split.
    """
    _check(fractions, names)
    items = list(data)
    component_of = link_groups(items, link_sources=link_sources, link_source_groups=link_source_groups)
    members: dict[str, list[int]] = {}
    for position, item in enumerate(items):
        members.setdefault(component_of[item.group], []).append(position)

    assigned: list[str | None] = [None] * len(items)
    free: list[str] = []
    crossing = 0
    for component, positions in members.items():
        official_splits = (
            Counter(items[p].split for p in positions if items[p].split) if official else Counter()
        )
        if not official_splits:
            free.append(component)
            continue
        crossing += len(official_splits) > 1
        majority = min(official_splits, key=lambda s: (-official_splits[s], s))
        for p in positions:
            assigned[p] = items[p].split or majority
    if crossing:
        logger.warning("%d groups straddle the official splits (kept as the dataset gives them)", crossing)

    rng = random.Random(seed)
    free.sort()
    rng.shuffle(free)
    free.sort(key=lambda c: -len(members[c]))  # stable: equal sizes stay in shuffled order
    total = sum(len(members[c]) for c in free)
    targets = [f * total for f in fractions]
    counts = [0] * len(names)
    open_splits = [i for i, f in enumerate(fractions) if f > 0]
    for component in free:
        best = max(open_splits, key=lambda i: (targets[i] - counts[i], -i))
        counts[best] += len(members[component])
        for p in members[component]:
            assigned[p] = names[best]

    result: dict[str, list[DatasetItem]] = {name: [] for name in names}
    for item, split in zip(items, assigned, strict=True):
        result.setdefault(split or names[0], []).append(item)
    logger.info(
        "grouped split of %d items in %d components: %s",
        len(items),
        len(members),
        ", ".join(f"{k} {len(v)}" for k, v in result.items()),
    )
    return result
