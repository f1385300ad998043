"""Datasets: index deepfake datasets where they lie (nothing is copied or decoded) and split them by group.

>>> from facetrust.datasets import grouped_split, index_dataset
>>> index = index_dataset("auto", "/data/Celeb-DF-v2")                         # doctest: +SKIP
>>> index.counts("split")                                                       # doctest: +SKIP
{'test': 518, 'train': 6011}
>>> splits = grouped_split(index.filter(split="train"), (0.9, 0.1, 0.0))       # doctest: +SKIP

Adapters (:data:`DATASETS`): ``ffpp`` (FaceForensics++), ``celebdf`` (Celeb-DF v2), ``dfdc`` (DFDC
training parts), ``csv`` (a manifest file) and ``generic`` (``real/`` and ``fake/`` folders).
"""

from __future__ import annotations

from facetrust.datasets.adapters import (
    DATASETS,
    DatasetAdapter,
    detect_layout,
    index_dataset,
    register_adapter,
)
from facetrust.datasets.records import (
    CSV_COLUMNS,
    IMAGE_EXTENSIONS,
    UNSPLIT,
    VIDEO_EXTENSIONS,
    DatasetIndex,
    DatasetItem,
    media_kind,
)
from facetrust.datasets.split import grouped_split, link_groups

__all__ = [
    "CSV_COLUMNS",
    "DATASETS",
    "IMAGE_EXTENSIONS",
    "UNSPLIT",
    "VIDEO_EXTENSIONS",
    "DatasetAdapter",
    "DatasetIndex",
    "DatasetItem",
    "detect_layout",
    "grouped_split",
    "index_dataset",
    "link_groups",
    "media_kind",
    "register_adapter",
]
