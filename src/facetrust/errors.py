"""The exception hierarchy: every error facetrust raises on purpose derives from :class:`FacetrustError`."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class FacetrustError(Exception):
    """Base class for every error this package raises on purpose."""


class InputError(FacetrustError):
    """The media the caller gave us cannot be analysed."""


class MediaNotFoundError(InputError):
    """The path does not exist or is not a readable file."""


class EmptyMediaError(InputError):
    """The file is empty (zero bytes) or holds no decodable frame."""


class UnsupportedMediaError(InputError):
    """The file is not an image or video format we handle (e.g. a text file named .mp4)."""


class CorruptMediaError(InputError):
    """The container or stream is damaged: decoding failed part-way."""


class MediaTooLargeError(InputError):
    """The media exceeds a safety limit (pixel count, duration); refused before allocating."""


class ConfigError(FacetrustError):
    """An invalid configuration key or value."""


class UnknownNameError(ConfigError, KeyError):
    """A registry lookup missed; the message lists close matches and what is available."""

    def __init__(self, kind: str, name: str, available: Iterable[str]) -> None:
        names = sorted(available)
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        message = f"no {kind} named {name!r}.{hint} Available: {', '.join(names) or '(none)'}"
        super().__init__(message)
        self.kind, self.name, self.close_matches, self.message = kind, name, close, message

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return self.message


class WeightsError(FacetrustError):
    """Weights are missing, altered (checksum mismatch) or do not fit the architecture."""


class DependencyError(FacetrustError):
    """An optional dependency or a model file needed for this feature is not installed."""


__all__ = [
    "ConfigError",
    "CorruptMediaError",
    "DependencyError",
    "EmptyMediaError",
    "FacetrustError",
    "InputError",
    "MediaNotFoundError",
    "MediaTooLargeError",
    "UnknownNameError",
    "UnsupportedMediaError",
    "WeightsError",
]
