"""Stage 1, media: probe and decode images and videos into upright RGB frames.

>>> from facetrust.media import open_media
>>> with open_media("clip.mp4") as reader:                     # doctest: +SKIP
...     frames = reader.read([0.0, 1.5, 3.0])

Helpers that write synthetic test media live in :mod:`facetrust.media.testing`.
"""

from __future__ import annotations

from facetrust.media.probe import (
    DEFAULT_MAX_DURATION,
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    probe,
)
from facetrust.media.readers import ImageReader, MediaReader, VideoReader, open_media, rotate_upright

__all__ = [
    "DEFAULT_MAX_DURATION",
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "ImageReader",
    "MediaReader",
    "VIDEO_EXTENSIONS",
    "VideoReader",
    "open_media",
    "probe",
    "rotate_upright",
]
