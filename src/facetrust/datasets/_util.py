"""Small helpers shared by the adapters and the splitter."""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any, Generic, TypeVar

from facetrust.datasets.records import media_kind
from facetrust.errors import InputError

K = TypeVar("K", bound=Hashable)


class UnionFind(Generic[K]):
    """Disjoint sets over hashable keys (path halving, union by size)."""

    def __init__(self, keys: Iterable[K] = ()) -> None:
        self._parent: dict[K, K] = {}
        self._size: dict[K, int] = {}
        for key in keys:
            self.add(key)

    def add(self, key: K) -> None:
        if key not in self._parent:
            self._parent[key] = key
            self._size[key] = 1

    def __contains__(self, key: object) -> bool:
        return key in self._parent

    def find(self, key: K) -> K:
        self.add(key)
        parent = self._parent
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    def union(self, a: K, b: K) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self._size[ra] < self._size[rb]:
            ra, rb = rb, ra
        self._parent[rb] = ra
        self._size[ra] += self._size[rb]

    def components(self) -> list[list[K]]:
        """The sets, each in insertion order, ordered by their first key."""
        out: dict[K, list[K]] = {}
        for key in self._parent:
            out.setdefault(self.find(key), []).append(key)
        return list(out.values())


def video_files(folder: Path) -> list[Path]:
    """The files of ``folder`` (not recursive, hidden ones excluded) with a video extension, sorted."""
    return sorted(
        p for p in folder.iterdir() if not p.name.startswith(".") and media_kind(p) == "video" and p.is_file()
    )


def read_json(file: Path) -> Any:
    """The parsed content of a JSON file; unreadable or invalid JSON is an :class:`InputError` naming it."""
    try:
        return json.loads(file.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror or exc}") from exc
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise InputError(f"{file} is not valid JSON: {exc}") from exc
