"""Tell what a file is (image or video) from its content and describe it from its header.

The type is decided by content, never by the file name: Pillow's format signatures for images (JPEG,
PNG, WebP, BMP, TIFF, GIF), then FFmpeg (through PyAV) for videos. Sizes are checked against the caller's
limits from the header, before any pixel buffer is allocated.
"""

from __future__ import annotations

import logging
import math
import os
import stat
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
from PIL import Image, ImageFile

from facetrust.errors import (
    CorruptMediaError,
    EmptyMediaError,
    InputError,
    MediaNotFoundError,
    MediaTooLargeError,
    UnsupportedMediaError,
)
from facetrust.types import MediaInfo

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
)
DEFAULT_MAX_PIXELS = 80_000_000  # per frame
DEFAULT_MAX_DURATION = 4 * 3600.0  # seconds

# Pillow formats we decode as still images (GIF: its first frame). Checked in this order.
_IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")
# Exceptions Pillow plugins raise on a damaged header or damaged pixel data.
_PIL_ERRORS = (SyntaxError, OSError, ValueError, EOFError, IndexError, TypeError, struct.error)
# FFmpeg demuxers that "open" things that are not videos (text art, single images, filter graphs).
_NON_VIDEO_DEMUXERS = frozenset({"tty", "bin", "xbin", "adf", "idf", "image2", "lavfi"})
# EXIF orientation -> (Pillow transpose that shows the picture upright, its clockwise rotation part).
_EXIF_TRANSPOSE: dict[int, tuple[Image.Transpose | None, int]] = {
    1: (None, 0),
    2: (Image.Transpose.FLIP_LEFT_RIGHT, 0),
    3: (Image.Transpose.ROTATE_180, 180),
    4: (Image.Transpose.FLIP_TOP_BOTTOM, 180),
    5: (Image.Transpose.TRANSPOSE, 90),
    6: (Image.Transpose.ROTATE_270, 90),
    7: (Image.Transpose.TRANSVERSE, 270),
    8: (Image.Transpose.ROTATE_90, 270),
}
_EXIF_ORIENTATION_TAG = 0x0112
_VIDEO_MAGIC = (
    b"\x1a\x45\xdf\xa3",  # matroska / webm
    b"\x00\x00\x01\xba",  # mpeg program stream
    b"\x00\x00\x01\xb3",  # mpeg video elementary stream
    b"FLV",
    b"OggS",
    b"\x30\x26\xb2\x75\x8e\x66\xcf\x11",  # asf / wmv
)


def resolve_path(source: str | os.PathLike[str] | os.PathLike[bytes]) -> Path:
    """Return ``source`` as a :class:`Path` to a readable, non-empty regular file, or raise."""
    path = Path(os.fsdecode(source))
    if path.is_dir():
        raise MediaNotFoundError(f"{path}: is a directory, not a media file")
    try:
        info = path.stat()
    except OSError as exc:
        raise MediaNotFoundError(f"{path}: no such file") from exc
    size = info.st_size
    if not stat.S_ISREG(info.st_mode):  # a FIFO, socket or device: reading it could block or never end
        kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(info.st_mode) else "a socket" if stat.S_ISSOCK(info.st_mode)
                else "a device")
        raise UnsupportedMediaError(f"{path}: is {kind}, not a regular media file; save the media to a file first")
    if not os.access(path, os.R_OK):
        raise MediaNotFoundError(f"{path}: file is not readable (permission denied)")
    if size == 0:
        raise EmptyMediaError(f"{path}: file is empty (0 bytes)")
    return path


def check_source(source: object) -> None:
    """What ``analyze`` and ``explain`` accept: a path or an RGB array (:class:`InputError` otherwise); a path
    must name a readable, non-empty regular file, so a bad one is refused before any model loads."""
    import numpy as np

    if not isinstance(source, str | os.PathLike | np.ndarray):
        raise InputError(f"source must be a path or an RGB uint8 array, got {type(source).__name__}")
    if not isinstance(source, np.ndarray):
        resolve_path(source)


def read_head(path: Path, size: int = 512) -> bytes:
    """The first ``size`` bytes of the file (for signature checks)."""
    try:
        with path.open("rb") as fh:
            return fh.read(size)
    except OSError as exc:
        raise MediaNotFoundError(f"{path}: cannot read file ({exc})") from exc


def looks_like_video(head: bytes) -> bool:
    """Whether ``head`` starts like a video container we know (so a failure to open it means damage)."""
    return (
        head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")  # mp4 / mov
        or head.startswith(_VIDEO_MAGIC)
        or (head.startswith(b"RIFF") and head[8:12] in (b"AVI ", b"AVIX"))
        or (len(head) > 188 and head[0] == head[188] == 0x47)  # mpeg-ts: 188-byte packets
    )


# ---------------------------------------------------------------------------------------------- images


def identify_image(fh: BinaryIO, path: Path) -> ImageFile.ImageFile | None:
    """Open ``fh`` lazily with Pillow if its content is a supported image format, else return ``None``.

    Only the header is read. Unlike :func:`PIL.Image.open` this does not run Pillow's decompression-bomb
    check, so that the caller can apply its own pixel limit first.
    """
    Image.init()
    prefix = fh.read(16)
    for fmt in _IMAGE_FORMATS:
        factory, accept = Image.OPEN.get(fmt, (None, None))
        if factory is None or (accept is not None and accept(prefix) is not True):
            continue
        fh.seek(0)
        try:
            return factory(fh, str(path))
        except Image.DecompressionBombError as exc:  # raised by a few plugins (GIF, WebP) while opening
            raise MediaTooLargeError(f"{path}: image is too large to decode ({exc})") from exc
        except _PIL_ERRORS as exc:
            raise CorruptMediaError(
                f"{path}: looks like a {fmt} image but its header is damaged ({exc})"
            ) from exc
    fh.seek(0)
    return None


def exif_orientation(image: Image.Image, path: Path | str | None = None) -> int:
    """The EXIF orientation tag (1-8) of ``image``, 1 when absent or unreadable.

    Pillow looks for a PNG's EXIF by decoding the whole picture when no eXIf chunk precedes the pixels; for
    a picture over the default pixel limit (a decompression bomb) that is skipped, never allocated."""
    if (getattr(image, "format", None) == "PNG" and "exif" not in image.info
            and image.size[0] * image.size[1] > DEFAULT_MAX_PIXELS):
        return 1
    try:
        value = image.getexif().get(_EXIF_ORIENTATION_TAG, 1)
    except _PIL_ERRORS + (KeyError,) as exc:
        logger.warning("%s: unreadable EXIF data ignored (%s)", path, exc)
        return 1
    return value if isinstance(value, int) and value in _EXIF_TRANSPOSE else 1


def image_info(image: ImageFile.ImageFile, path: Path) -> MediaInfo:
    """MediaInfo of an opened (not yet decoded) image; width/height are the upright (EXIF-applied) size."""
    width, height = image.size
    rotation = _EXIF_TRANSPOSE[exif_orientation(image, path)][1]
    if rotation in (90, 270):
        width, height = height, width
    fmt = (image.format or "image").lower()
    return MediaInfo(
        path=str(path),
        kind="image",
        width=width,
        height=height,
        frame_count=1,
        rotation=rotation,
        codec=fmt,
        container=fmt,
    )


def upright_image(image: Image.Image, orientation: int) -> Image.Image:
    """Apply an EXIF orientation (1-8) to a decoded Pillow image."""
    method = _EXIF_TRANSPOSE.get(orientation, (None, 0))[0]
    return image if method is None else image.transpose(method)


# ---------------------------------------------------------------------------------------------- videos


def ffmpeg_url(path: Path) -> str:
    """``path`` as an FFmpeg ``file:`` URL, so that a name such as ``a:b.mp4`` is not read as a protocol."""
    return "file:" + os.fspath(path.absolute())


def open_container(path: Path) -> tuple[av.container.InputContainer, av.VideoStream]:
    """Open a video file with PyAV and pick its video stream (cover-art pictures are not videos)."""
    try:
        container = av.open(ffmpeg_url(path), mode="r", metadata_errors="replace")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        if looks_like_video(read_head(path)):
            raise CorruptMediaError(f"{path}: damaged or truncated video container ({exc})") from exc
        raise UnsupportedMediaError(
            f"{path}: not an image or video format we can read (images: jpg png webp bmp tiff; "
            f"videos: mp4 mov avi mkv webm ...)"
        ) from exc
    try:
        return container, _video_stream(container, path)
    except BaseException:
        container.close()
        raise


def _video_stream(container: av.container.InputContainer, path: Path) -> av.VideoStream:
    demuxer = container.format.name
    if demuxer in _NON_VIDEO_DEMUXERS or demuxer.endswith("_pipe"):
        raise UnsupportedMediaError(
            f"{path}: not an image or video format we can read (FFmpeg sees {demuxer!r})"
        )
    videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    decodable = [s for s in videos if s.codec_context is not None]
    if decodable:
        # the stream a player shows: the one marked default, else the largest picture, else the first
        chosen = max(decodable, key=lambda s: (bool(s.disposition & av.stream.Disposition.default),
                                               (s.codec_context.width or 0) * (s.codec_context.height or 0),
                                               -s.index))
        if len(decodable) > 1:
            logger.warning("%s: %d video streams; analysing stream %d (%s), as a player would, not the others",
                           path, len(decodable), chosen.index,
                           "marked default" if chosen.disposition & av.stream.Disposition.default else "largest")
        return chosen
    if videos:
        codec = getattr(videos[0], "name", None)
        if codec is None:
            raise CorruptMediaError(f"{path}: video stream of unknown codec (damaged header?)")
        raise UnsupportedMediaError(f"{path}: no decoder for the {codec!r} video codec in this FFmpeg build")
    if container.streams.audio:
        raise UnsupportedMediaError(f"{path}: has audio but no video stream")
    if not container.streams:
        raise EmptyMediaError(f"{path}: holds no audio or video stream (empty or damaged header)")
    if looks_like_video(read_head(path)):  # a video container left with only a data track: cut off or damaged
        raise CorruptMediaError(f"{path}: a {demuxer} container without a readable video stream (damaged or "
                                "cut-off header)")
    raise UnsupportedMediaError(f"{path}: has no video stream")


@dataclass(frozen=True)
class VideoHeader:
    """What the container header says about the video stream (stored size, before rotation)."""

    width: int
    height: int
    fps: float | None
    duration: float | None  # seconds
    expected_end: float | None  # seconds: where the video stream itself says it ends (not other streams)
    start: float  # seconds: the stream's first timestamp, subtracted so that times start near 0
    frame_count: int | None
    declared_frames: int  # the stream's own frame count, 0 when the container does not store it
    codec: str
    container: str


def _positive(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) and value > 0 else None


def _duration_tag(value: str | None) -> float | None:
    """Seconds from a matroska ``DURATION`` tag such as ``"00:01:02.500000000"``; None if absent or odd."""
    if not value:
        return None
    try:
        hours, minutes, seconds = value.strip().split(":")
        return _positive(int(hours) * 3600 + int(minutes) * 60 + float(seconds))
    except ValueError:
        return None


def video_header(container: av.container.InputContainer, stream: av.VideoStream, path: Path) -> VideoHeader:
    """Read the stream parameters from the header; nothing is decoded."""
    width, height = int(stream.codec_context.width), int(stream.codec_context.height)
    if width <= 0 or height <= 0:
        raise CorruptMediaError(f"{path}: video stream has no frame size (damaged header)")
    fps = None
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        fps = _positive(float(rate)) if rate else None
        if fps is not None and fps < 10_000:
            break
        fps = None
    time_base = stream.time_base
    stream_duration = _positive(float(stream.duration * time_base)) if stream.duration and time_base else None
    stream_duration = stream_duration or _duration_tag(stream.metadata.get("DURATION"))  # matroska
    container_duration = _positive(container.duration / av.time_base) if container.duration else None
    duration = stream_duration or container_duration
    start = float(stream.start_time * time_base) if stream.start_time is not None and time_base else 0.0
    declared = int(stream.frames or 0)
    ends = [d for d in (stream_duration, declared / fps if declared and fps else None) if d is not None]
    frame_count = declared if declared > 0 else None
    if frame_count is None and duration is not None and fps is not None:
        frame_count = max(1, round(duration * fps))
    if fps is None and declared > 0 and duration is not None:
        fps = declared / duration
    return VideoHeader(
        width=width,
        height=height,
        fps=fps,
        duration=duration,
        expected_end=max(ends) if ends else None,
        start=start,
        frame_count=frame_count,
        declared_frames=declared,
        codec=stream.codec_context.name,
        container=container.format.name,
    )


def check_limits(
    path: Path | str | None,
    width: int,
    height: int,
    duration: float | None,
    max_pixels: int,
    max_duration: float,
) -> None:
    """Raise :class:`MediaTooLargeError` when a frame or the duration exceeds the limits."""
    if width * height > max_pixels:
        raise MediaTooLargeError(
            f"{path}: frame size {width}x{height} ({width * height:,} pixels) exceeds the limit of "
            f"{max_pixels:,} pixels"
        )
    if duration is not None and duration > max_duration:
        raise MediaTooLargeError(
            f"{path}: duration {duration:.0f} s exceeds the limit of {max_duration:.0f} s"
        )


def iter_frames(
    container: av.container.InputContainer, stream: av.VideoStream, path: Path | str, errors: list[str],
    skip_below: Callable[[], int | None] | None = None,
) -> Iterator[av.VideoFrame]:
    """Decode ``stream`` from the container's current position. Packets that fail to decode are skipped
    and described in ``errors``; a demuxing error ends the pass (after draining the decoder).

    ``skip_below``, asked before each packet is decoded, may return a pts: a packet before it whose frame no
    other frame refers to is not decoded at all (FFmpeg's ``skip_frame = NONREF``), since nobody will look at
    that frame. Every other frame decodes exactly as without it."""
    packets = container.demux(stream)
    codec = stream.codec_context
    skipping = False
    if skip_below is not None and codec.skip_frame != "DEFAULT":
        codec.skip_frame = "DEFAULT"  # a previous pass ended while skipping
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.FFmpegError as exc:
            errors.append(f"demuxing failed: {exc}")
            logger.debug("%s: demuxing stopped: %s", path, exc)
            try:
                yield from stream.decode(None)
            except av.FFmpegError:
                pass
            return
        if skip_below is not None:
            below = skip_below()
            skip = below is not None and packet.pts is not None and packet.pts < below
            if skip != skipping:
                codec.skip_frame = "NONREF" if skip else "DEFAULT"
                skipping = skip
        try:
            frames = stream.decode(packet)
        except av.FFmpegError as exc:
            errors.append(f"packet at pts {packet.pts} failed to decode: {exc}")
            logger.debug("%s: packet at pts %s failed to decode: %s", path, packet.pts, exc)
            continue
        yield from frames


def rotation_of(frame: av.VideoFrame, stream: av.VideoStream) -> int:
    """Degrees (0/90/180/270) to turn ``frame`` clockwise to show it upright, from its display matrix
    (or, with old FFmpeg builds, the stream's ``rotate`` tag)."""
    counter_clockwise = getattr(frame, "rotation", None)
    if counter_clockwise is not None:
        clockwise = -float(counter_clockwise)
    else:
        try:
            clockwise = float(stream.metadata.get("rotate", 0))
        except ValueError:
            clockwise = 0.0
    if not math.isfinite(clockwise):
        return 0
    if clockwise % 90:
        logger.warning("display rotation of %.1f degrees rounded to a multiple of 90", clockwise)
    return int(round(clockwise / 90)) % 4 * 90


def video_info(path: Path, header: VideoHeader, rotation: int) -> MediaInfo:
    """MediaInfo of a video; width/height are the display (rotated) size."""
    width, height = (header.height, header.width) if rotation in (90, 270) else (header.width, header.height)
    return MediaInfo(
        path=str(path),
        kind="video",
        width=width,
        height=height,
        fps=header.fps,
        duration=header.duration,
        frame_count=header.frame_count,
        rotation=rotation,
        codec=header.codec,
        container=header.container,
    )


def no_frame_error(path: Path | str, header: VideoHeader, errors: list[str]) -> Exception:
    """The error for a video stream from which no frame could be decoded."""
    if not errors and header.declared_frames == 0:
        return EmptyMediaError(f"{path}: video stream holds no frames")
    detail = f" ({errors[0]})" if errors else ""
    return CorruptMediaError(f"{path}: no frame of the video could be decoded{detail}")


# ---------------------------------------------------------------------------------------------- probe


def probe(source: str | os.PathLike[str]) -> MediaInfo:
    """Describe an image or video file from its header.

    Images: only the header is read. Videos: the container header is read and only the first frame is
    decoded (its display matrix gives the rotation). No size limit is applied here (see
    :func:`~facetrust.media.open_media`), but a video frame larger than ``DEFAULT_MAX_PIXELS`` is not
    decoded (its rotation is then reported as 0).

    Raises:
        MediaNotFoundError, EmptyMediaError, UnsupportedMediaError, CorruptMediaError.
    """
    path = resolve_path(source)
    try:
        with path.open("rb") as fh:
            image = identify_image(fh, path)
            if image is not None:
                return image_info(image, path)
    except OSError as exc:
        raise MediaNotFoundError(f"{path}: cannot read file ({exc})") from exc
    container, stream = open_container(path)
    try:
        header = video_header(container, stream, path)
        rotation = 0
        if header.width * header.height <= DEFAULT_MAX_PIXELS:
            errors: list[str] = []
            first = next(iter_frames(container, stream, path, errors), None)
            if first is None:
                raise no_frame_error(path, header, errors)
            rotation = rotation_of(first, stream)
        return video_info(path, header, rotation)
    finally:
        container.close()
