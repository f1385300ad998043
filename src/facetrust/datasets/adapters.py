"""The registry of dataset adapters, :func:`index_dataset` and :func:`detect_layout`.

An adapter is ``index(root, **options) -> DatasetIndex`` plus a cheap ``detect(root) -> bool`` that looks
at a few names in the folder tree (never at media content). Adapters live in their own modules, listed in
the registry's ``locations`` and imported on first lookup.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from facetrust.datasets.records import DatasetIndex, absolute
from facetrust.errors import ConfigError, InputError, UnknownNameError
from facetrust.registry import Registry

logger = logging.getLogger(__name__)

AUTO = "auto"  # index_dataset name that means "detect the layout"


@dataclass(frozen=True)
class DatasetAdapter:
    """How to index one dataset layout."""

    name: str
    layout: str  # what the folder tree must look like, quoted in error messages
    index: Callable[..., DatasetIndex]  # index(root, **options); root is absolute and exists
    detect: Callable[[Path], bool]  # cheap check on names in the tree; root exists
    priority: int = 50  # detect_layout tries lower numbers first: specific layouts before catch-alls

    @property
    def options(self) -> tuple[str, ...]:
        """The keyword options ``index`` accepts."""
        params = inspect.signature(self.index).parameters.values()
        return tuple(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)


DATASETS: Registry[DatasetAdapter] = Registry(
    "dataset adapter",
    locations=(
        "facetrust.datasets.ffpp",
        "facetrust.datasets.celebdf",
        "facetrust.datasets.dfdc",
        "facetrust.datasets.manifest",
        "facetrust.datasets.generic",
    ),
)
"""``DATASETS.get(name)`` is a :class:`DatasetAdapter`; :func:`index_dataset` is the usual way in."""


def register_adapter(
    name: str, *, layout: str, detect: Callable[[Path], bool], priority: int = 50
) -> Callable[[Callable[..., DatasetIndex]], Callable[..., DatasetIndex]]:
    """Decorator: register an index function as the adapter ``name``; the function is returned unchanged."""

    def deco(index: Callable[..., DatasetIndex]) -> Callable[..., DatasetIndex]:
        DATASETS.register(name)(DatasetAdapter(name, layout, index, detect, priority))
        return index

    return deco


def _adapter(name: str) -> DatasetAdapter:
    if name not in DATASETS:
        raise UnknownNameError("dataset adapter", name, [*DATASETS.names(), AUTO])
    return DATASETS.get(name)


def _in_detection_order() -> list[DatasetAdapter]:
    return sorted((DATASETS.get(n) for n in DATASETS.names()), key=lambda a: (a.priority, a.name))


def _layouts() -> str:
    return "; ".join(f"{a.name}: {a.layout}" for a in _in_detection_order())


def detect_layout(root: str | os.PathLike[str]) -> str:
    """The name of the first adapter whose layout ``root`` matches; specific layouts are tried before
    ``csv`` and ``generic``. A missing ``root`` is a :class:`ConfigError`; a folder that matches no layout
    is an :class:`InputError` that lists the layouts."""
    path = absolute(root)
    if not path.exists():
        raise ConfigError(f"dataset root {path} does not exist; expected one of these layouts: {_layouts()}")
    match = next((a.name for a in _in_detection_order() if a.detect(path)), None)
    if match is None:
        raise InputError(f"{path} matches no known dataset layout; expected one of: {_layouts()}")
    logger.debug("%s looks like the %s layout", path, match)
    return match


def index_dataset(name: str, root: str | os.PathLike[str], **options: object) -> DatasetIndex:
    """Index the dataset at ``root`` with the adapter ``name`` (``"auto"``: :func:`detect_layout`).

    >>> index = index_dataset("ffpp", "/data/FaceForensics++", compression="c40")   # doctest: +SKIP
    >>> index.counts("method")                                                        # doctest: +SKIP
    {'Deepfakes': 1000, 'Face2Face': 1000, ..., 'real': 1000}

    Unknown adapter or option names raise :class:`UnknownNameError` with close matches; a missing ``root``
    a :class:`ConfigError` naming the path and the expected layout; a folder without that layout an
    :class:`InputError`.
    """
    path = absolute(root)
    if name == AUTO:
        name = detect_layout(path)
    adapter = _adapter(name)
    if not path.exists():
        raise ConfigError(f"{name} dataset root {path} does not exist; expected {adapter.layout}")
    for key in options:
        if key not in adapter.options:
            raise UnknownNameError(f"option of the {name} dataset adapter", key, adapter.options)
    index = adapter.index(path, **options)
    logger.info("%s", index.summary())
    if index.skipped:
        where, why = index.skipped[0]
        logger.warning("%s: %d entries skipped, e.g. %s: %s", name, len(index.skipped), where, why)
    return index
