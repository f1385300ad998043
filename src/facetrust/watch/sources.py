"""Open what ``watch`` reads, with PyAV: a video file (played as a stream), a stream URL or a webcam.

* a file: probed first (:func:`facetrust.media.probe`), so a missing, empty, corrupt or non-video file is the
  same named error as for ``analyze``;
* a URL (``rtsp://``, ``rtmp://``, ``http(s)://``, ``udp://``, ``srt://`` ...): opened by FFmpeg with a
  10 s connection/read timeout (RTSP over TCP);
* a webcam index (``"0"``): ``/dev/video0`` through video4linux2 on Linux, AVFoundation on macOS.
"""

from __future__ import annotations

import logging
import math
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facetrust.errors import (
    CorruptMediaError,
    EmptyMediaError,
    MediaNotFoundError,
    UnsupportedMediaError,
)
from facetrust.media import DEFAULT_MAX_PIXELS, probe, rotate_upright
from facetrust.media.probe import check_limits, iter_frames, open_container, rotation_of

logger = logging.getLogger(__name__)

OPEN_TIMEOUT = 10.0  # seconds to connect to a stream, and to wait for data once connected
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


@dataclass(frozen=True)
class StreamFrame:
    """One decoded frame; converted to an upright RGB array only when :meth:`image` is called (most frames
    of a stream are never analysed)."""

    time: float  # seconds since the first frame of the stream
    frame: Any = field(repr=False)  # av.VideoFrame
    rotation: int = 0

    def image(self) -> np.ndarray:
        """The frame as an upright ``uint8`` RGB ``(H, W, 3)`` array."""
        return rotate_upright(self.frame.to_ndarray(format="rgb24"), self.rotation)


class Stream:
    """An opened source. ``live``: a URL or a webcam (frames arrive in real time, they cannot be paced)."""

    def __init__(self, name: str, kind: str, container: Any, video: Any, *, rotation: int | None = None,
                 fps: float | None = None) -> None:
        self.name, self.kind = name, kind
        self.live = kind != "file"
        self.fps = fps
        self._container, self._video = container, video
        self._rotation = rotation  # None: read each frame's display matrix
        self.decode_errors: list[str] = []  # packets that could not be decoded (skipped)
        self.frames_decoded = 0

    def frames(self) -> Iterator[StreamFrame]:
        """Decode the stream from the start, in order; damaged packets are skipped (see ``decode_errors``).
        Raises :class:`CorruptMediaError` (or :class:`EmptyMediaError`) when not a single frame decodes."""
        first: float | None = None
        wall_start = time.monotonic()
        for frame in iter_frames(self._container, self._video, self.name, self.decode_errors):
            stamp = frame.time
            if stamp is None or not math.isfinite(stamp):  # no timestamps: count frames, or the clock when live
                stamp = time.monotonic() - wall_start if self.live or not self.fps else self.frames_decoded / self.fps
            first = stamp if first is None else first
            rotation = self._rotation if self._rotation is not None else rotation_of(frame, self._video)
            self.frames_decoded += 1
            yield StreamFrame(max(0.0, stamp - first), frame, rotation)
        if self.frames_decoded == 0:
            detail = f" ({self.decode_errors[0]})" if self.decode_errors else ""
            if not self.decode_errors and self.kind == "file":
                raise EmptyMediaError(f"{self.name}: the video holds no frame")
            raise CorruptMediaError(f"{self.name}: no frame of the stream could be decoded{detail}")

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Stream({self.name!r}, kind={self.kind!r}, fps={self.fps})"


def describe_source(source: str | os.PathLike[str]) -> str:
    """``"webcam"``, ``"url"`` or ``"file"``: how :func:`open_stream` will read ``source``."""
    text = os.fspath(source)
    if isinstance(text, str) and text.isdigit():
        return "webcam"
    if isinstance(text, str) and _URL.match(text) and not text.lower().startswith("file://"):
        return "url"
    return "file"


def open_stream(source: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Stream:
    """Open a file, a stream URL or a webcam index (see the module doc).

    Raises :class:`MediaNotFoundError` (no such file, webcam or reachable stream), :class:`EmptyMediaError`,
    :class:`CorruptMediaError`, :class:`UnsupportedMediaError` (an image, or not a video at all) and
    :class:`MediaTooLargeError` (frames of more than ``max_pixels`` pixels)."""
    kind = describe_source(source)
    if kind == "file":
        return _open_file(Path(os.fspath(source)), max_pixels)
    import av

    text = os.fspath(source)
    assert isinstance(text, str)
    if kind == "webcam":
        url, fmt, name = _webcam(int(text))
        options: dict[str, str] = {}
    else:
        url, fmt, name = text, None, text
        options = {"rtsp_transport": "tcp"} if text.lower().startswith("rtsp") else {}
    try:
        container = av.open(url, mode="r", format=fmt, options=options, timeout=(OPEN_TIMEOUT, OPEN_TIMEOUT))
    except (av.FFmpegError, OSError) as exc:
        raise MediaNotFoundError(f"{name}: could not open the stream ({exc})") from exc
    try:
        videos = [s for s in container.streams.video if s.codec_context is not None]
        if not videos:
            raise UnsupportedMediaError(f"{name}: the stream carries no video")
        video = videos[0]
        width, height = video.codec_context.width or 0, video.codec_context.height or 0
        check_limits(name, width, height, None, max_pixels, math.inf)
        rate = video.average_rate or video.guessed_rate
        return Stream(name, kind, container, video, fps=float(rate) if rate else None)
    except BaseException:
        container.close()
        raise


def _webcam(index: int) -> tuple[str, str, str]:
    """FFmpeg's URL and input format for webcam ``index`` on this platform."""
    if sys.platform.startswith("linux"):
        device = f"/dev/video{index}"
        if not os.path.exists(device):
            raise MediaNotFoundError(f"webcam {index}: {device} does not exist (no such camera)")
        return device, "v4l2", f"webcam {index} ({device})"
    if sys.platform == "darwin":
        return str(index), "avfoundation", f"webcam {index}"
    raise UnsupportedMediaError(f"webcam {index}: webcam indices are read on Linux (v4l2) and macOS "
                                "(AVFoundation); on this system give the camera's stream URL instead")


def _open_file(path: Path, max_pixels: int) -> Stream:
    info = probe(path)  # the same named errors as analyze: missing, empty, corrupt, unsupported
    if info.kind != "video":
        raise UnsupportedMediaError(f"{path}: is an image; watch reads a video file, a stream URL or a webcam index")
    check_limits(path, info.width, info.height, None, max_pixels, math.inf)
    container, video = open_container(path)
    return Stream(str(path), "file", container, video, rotation=info.rotation, fps=info.fps)


__all__ = ["OPEN_TIMEOUT", "Stream", "StreamFrame", "describe_source", "open_stream"]
