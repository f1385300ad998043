"""Decode frames from images, videos and in-memory arrays: :func:`open_media` and :class:`MediaReader`.

Every frame comes out as an upright ``uint8`` RGB ``(H, W, 3)`` array with its time in seconds from the
start of the media. Videos are read by seeking to the keyframe before a far-away timestamp and decoding
forward from there; nearby timestamps are reached by decoding forward only.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image

from facetrust.errors import (
    CorruptMediaError,
    EmptyMediaError,
    MediaNotFoundError,
    MediaTooLargeError,
    UnsupportedMediaError,
)
from facetrust.media.probe import (
    _PIL_ERRORS,
    DEFAULT_MAX_DURATION,
    DEFAULT_MAX_PIXELS,
    VideoHeader,
    check_limits,
    exif_orientation,
    identify_image,
    image_info,
    iter_frames,
    no_frame_error,
    open_container,
    resolve_path,
    rotation_of,
    upright_image,
    video_header,
    video_info,
)
from facetrust.types import Frame, MediaInfo

logger = logging.getLogger(__name__)

_SEEK_MIN_GAP = 0.5  # seconds: never seek for a target closer than this; decode forward instead
_SEEK_WINDOW = 1.0  # seconds: without a keyframe index, seek for targets further than this (or one GOP)
_SKIP_END_MARGIN = 1.0  # seconds: frames this close to the stream's declared end are always decoded
_SEEK_BACKOFF = (1.0, 4.0, 16.0)  # seconds before the target to retry a seek that landed after it


def rotate_upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Turn ``image`` ``rotation`` degrees (a multiple of 90) clockwise; returns a contiguous array."""
    if rotation % 90:
        raise ValueError(f"rotation must be a multiple of 90 degrees, got {rotation}")
    quarter_turns = (rotation // 90) % 4
    if quarter_turns == 0:
        return np.ascontiguousarray(image)
    return np.ascontiguousarray(np.rot90(image, k=-quarter_turns))


def _pil_to_rgb(image: Image.Image) -> np.ndarray:
    """Any Pillow mode (palette, grey, RGBA, CMYK, 16-bit, float) to uint8 RGB; transparent images are
    composited over white, as a viewer shows them (hidden pixels under full transparency are never scored)."""
    mode = image.mode
    if mode.startswith("I") or mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if mode.startswith("I;16") or (mode == "I" and values.size and values.max() > 255):
            values = values / 257.0  # 16-bit range to 8-bit
        elif mode == "F" and values.size and values.max() <= 1.0:
            values = values * 255.0  # float images in [0, 1]
        grey = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # what a viewer shows: the picture over a white page, not the colours hidden under transparent pixels
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.array(image, dtype=np.uint8)


def _array_to_rgb(array: np.ndarray) -> np.ndarray:
    if array.dtype != np.uint8:
        raise UnsupportedMediaError(
            f"array input must be uint8 RGB (H, W, 3) or grey (H, W), got dtype {array.dtype} "
            f"(convert with np.clip(x, 0, 255).astype(np.uint8))"
        )
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    elif array.ndim != 3 or array.shape[2] != 3:
        raise UnsupportedMediaError(
            f"array input must have shape (H, W, 3) RGB or (H, W) grey, got {array.shape}"
            + (" (drop the alpha channel: array[..., :3])" if array.ndim == 3 and array.shape[2] == 4 else "")
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise EmptyMediaError(f"array input has no pixels (shape {array.shape})")
    return np.ascontiguousarray(array)


def decoder_threading(cores: int | None = None) -> str:
    """FFmpeg's threading for video decoding on a machine with ``cores`` (default: this one's).

    Frame threading keeps several frames in flight, one thread each; on 2 cores it competes with the face
    detector and the classifiers, which run beside the decoder, and costs more CPU than it saves: reading the
    32 frames of the 10-s 1080p benchmark clips took 1.29 s wall / 2.2 core-s with it and 0.96 s / 1.7
    core-s without (slice threading only, which x264 streams without slices decode on one thread). With
    4 cores or more the decoder has cores of its own, and frame threading is kept (not measured here).
    """
    cores = cores if cores is not None else (os.cpu_count() or 1)
    return "AUTO" if cores >= 4 else "SLICE"


class MediaReader:
    """Reads upright RGB frames from one image or video. Use as a context manager, or call :meth:`close`.

    Attributes:
        info: what the media is (see :class:`~facetrust.types.MediaInfo`).
        frames_decoded: how many frames have actually been decoded so far (cost measure).
        decode_failures: requested frames that could not be decoded (damaged stream); each is logged.
    """

    def __init__(self, info: MediaInfo) -> None:
        self.info = info
        self.frames_decoded = 0
        self.decode_failures = 0

    def read(self, timestamps: Sequence[float]) -> list[Frame]:
        """Return the frames at ``timestamps`` (seconds, see the subclass for the exact rule)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the file; further reads are an error."""

    def __enter__(self) -> MediaReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.info.path!r}, {self.info.kind}, {self.info.width}x{self.info.height})"


class ImageReader(MediaReader):
    """A still image, decoded once at open; :meth:`read` ignores the timestamps."""

    def __init__(self, info: MediaInfo, rgb: np.ndarray) -> None:
        super().__init__(info)
        self._rgb = rgb
        self.frames_decoded = 1

    def read(self, timestamps: Sequence[float] = (0.0,)) -> list[Frame]:
        """Return ``[Frame(0, 0.0, rgb)]`` (a fresh copy each call), whatever the timestamps."""
        return [Frame(index=0, timestamp=0.0, image=self._rgb.copy())]


class VideoReader(MediaReader):
    """Decodes frames of one video stream on demand, seeking instead of scanning.

    Frame times are each frame's own ``pts × time_base`` minus the stream start, so variable frame rates
    are handled. ``Frame.index`` is the exact ordinal while the stream has been decoded without a seek
    from its start, otherwise ``round(timestamp × average fps)`` (exact for constant frame rate), kept
    strictly increasing within one :meth:`read` call.
    """

    def __init__(
        self,
        path: Path,
        container: av.container.InputContainer,
        stream: av.VideoStream,
        header: VideoHeader,
    ) -> None:
        # The caller has checked the limits; decode the first frame to learn the rotation.
        self._path = path
        self._container = container
        self._stream = stream
        self._header = header
        self._time_base = stream.time_base
        fps = header.fps
        # A target slightly before a frame's time still selects it: timestamps are rounded to the time-base
        # tick, and a time computed as k / fps must hit frame k. Tolerance: ~half a tick, < 0.1 frame.
        tick = float(stream.time_base) if stream.time_base else 1e-3
        self._eps = max(1e-6, min(0.6 * tick, 0.1 / fps) if fps else 0.6 * tick)
        self._closed = False
        self._skip_below_t = -math.inf  # seconds: frames before this are never returned (see _skip_pts)
        self._reformatter = VideoReformatter()
        self._gop_hint = 0.0  # seconds; learned keyframe spacing when there is no index
        self._dead_from = math.inf  # seconds; no frame after this could be decoded (data cut off)
        self._last_key_t: float | None = None
        stream.codec_context.thread_type = decoder_threading()
        self.frames_decoded = 0
        self._start_pass()
        self._prev_t = -math.inf
        self._ordinal: int | None = -1
        if not self._advance():
            raise no_frame_error(path, header, self._errors)
        super().__init__(video_info(path, header, rotation_of(self._held, stream)))
        self.frames_decoded = 1

    # -------------------------------------------------------------------------------------- decoding

    def _start_pass(self) -> None:
        self._errors: list[str] = []
        self._frames: Iterator[av.VideoFrame] = iter_frames(
            self._container, self._stream, self._path, self._errors, self._skip_pts
        )
        self._held: av.VideoFrame | None = None  # the last decoded frame
        self._held_t = -math.inf
        self._held_rgb: np.ndarray | None = None
        self._eof = False

    def _advance(self) -> bool:
        """Decode the next frame into ``_held``; False at the end of the stream."""
        if self._eof:
            return False
        frame = next(self._frames, None)
        if frame is None:
            self._eof = True
            return False
        self.frames_decoded += 1
        if frame.time is not None:
            t = float(frame.time) - self._header.start
        else:  # no timestamp at all: assume the nominal spacing
            t = self._held_t + 1.0 / (self._header.fps or 25.0) if self._held is not None else 0.0
        if frame.key_frame:
            if self._last_key_t is not None and t > self._last_key_t:
                self._gop_hint = max(self._gop_hint, t - self._last_key_t)
            self._last_key_t = t
        if self._held is not None:
            self._prev_t = self._held_t
        self._held, self._held_t, self._held_rgb = frame, t, None
        if self._ordinal is not None:
            self._ordinal += 1
        return True

    def _seek(self, t: float) -> None:
        """Position the decoder on the last keyframe at or before ``t`` and decode its first frame."""
        time_base = self._time_base
        start_pts = round(self._header.start / time_base) if time_base else 0
        backoffs = iter(_SEEK_BACKOFF)
        target = t
        while True:
            pts = start_pts + max(0, math.floor(target / time_base)) if time_base else 0
            try:
                self._container.seek(pts, stream=self._stream, backward=True)
            except av.FFmpegError as exc:
                logger.debug("%s: seek to %.3f s failed: %s", self._path, target, exc)
                self._container.seek(0, backward=True)  # rewind the whole file
                target = 0.0
            self._start_pass()
            self._last_key_t = None
            at_start = target <= 0.0
            self._ordinal = -1 if at_start else None
            self._prev_t = -math.inf
            got_frame = self._advance()
            if at_start or (got_frame and self._held_t <= t + self._eps):
                break
            # Landed after the target or on nothing (index by decode time, imprecise demuxer, data cut
            # off): start further back.
            back = next(backoffs, None)
            target = 0.0 if back is None else max(0.0, t - back)
        if got_frame and not at_start:
            # Frames before the first one after a seek are unknown: it only answers targets at its time.
            self._prev_t = self._held_t - 2 * self._eps

    def _keyframe_before(self, t: float) -> tuple[float | None, bool]:
        """(time of the indexed keyframe at or before ``t``, whether the index reaches ``t``)."""
        entries = getattr(self._stream, "index_entries", None)
        time_base = self._time_base
        if entries is None or not time_base or len(entries) == 0:
            return None, False
        pts = round((t + self._header.start) / time_base)
        i = entries.search_timestamp(pts, backward=True)
        # A complete index (one entry per frame, as in mp4/mov/avi) also covers targets past the end.
        complete = 0 < self._header.declared_frames <= len(entries)
        covers = complete or entries[len(entries) - 1].timestamp >= pts
        if i < 0:
            return None, covers
        return float(entries[i].timestamp * time_base) - self._header.start, covers

    def _should_seek(self, t: float) -> bool:
        gap = t - self._held_t
        if gap <= _SEEK_MIN_GAP:
            return False
        if self._header.duration is not None:
            t = min(t, self._header.duration)  # past the end: the last keyframe is what matters
        key_t, covers = self._keyframe_before(t)
        if key_t is not None and key_t > self._held_t + self._eps:
            return True  # a keyframe lies between here and the target
        if covers:
            return False  # the index knows there is none: decoding forward is cheapest
        return gap > max(_SEEK_WINDOW, self._gop_hint)

    def _ended_abnormally(self) -> bool:
        """At end of stream: was the tail cut off? Yes if decoding failed somewhere since the last seek (a
        cut-off file usually ends in a partial packet) or the stream stopped well short of its declared
        duration."""
        if self._errors:
            return True
        expected_end = self._header.expected_end
        fps = self._header.fps or 25.0
        return expected_end is not None and self._held_t < expected_end - max(0.25, 3.0 / fps)

    def _locate(self, t: float) -> bool:
        """Make ``_held`` the first frame whose time is >= ``t`` (or the last frame); False if it failed."""
        eps = self._eps
        if self._held is not None and self._prev_t < t - eps <= self._held_t:
            return True
        if t - eps > self._dead_from:
            return False  # the stream is known to be cut off before t
        if self._held is None or t - eps <= self._prev_t:
            self._seek(t)  # behind us (or nothing decoded): rewind
        elif not self._eof and self._should_seek(t):
            position = self._held_t
            self._seek(t)
            if self._held is not None and self._held_t <= position:
                # The seek went backwards: keyframes are further apart than we thought.
                self._gop_hint = max(self._gop_hint, t - self._held_t)
        self._skip_below_t = self._skippable_before(t)
        try:
            while self._held is not None and self._held_t < t - eps:
                if not self._advance():
                    break
        finally:
            self._skip_below_t = -math.inf
        if self._held is None:
            self._dead_from = min(self._dead_from, t - eps)
            return False
        if self._held_t >= t - eps:
            return True
        if self._ended_abnormally():
            self._dead_from = min(self._dead_from, self._held_t)
            return False
        return True  # the last frame of the stream answers later targets

    def _skippable_before(self, t: float) -> float:
        """While decoding toward target ``t``: the time before which no frame can be an answer (``t`` itself,
        less the tolerance), or -inf where skipping is unsafe: a stream already damaged, or one whose end is
        unknown or near (a target past the end is answered by the last frame, which must then be decoded)."""
        end = self._header.expected_end
        if self._errors or end is None or not self._time_base:
            return -math.inf
        return min(t - self._eps, end - _SKIP_END_MARGIN)

    def _skip_pts(self) -> int | None:
        """For :func:`iter_frames`: packets before this pts whose frames no other frame refers to are not
        decoded (their frames would be thrown away). Frame numbers then come from timestamps, as after a
        seek, since skipped frames are not counted."""
        if self._skip_below_t == -math.inf:
            return None
        self._ordinal = None
        return math.floor((self._skip_below_t + self._header.start) / self._time_base)

    def _held_frame_rgb(self) -> np.ndarray | None:
        if self._held_rgb is None and self._held is not None:
            # One reformatter for the whole stream: a new scaler context per frame costs milliseconds.
            rgb = self._reformatter.reformat(self._held, format="rgb24").to_ndarray()
            self._held_rgb = rotate_upright(rgb, self.info.rotation)
        return self._held_rgb

    # -------------------------------------------------------------------------------------- public

    def read(self, timestamps: Sequence[float]) -> list[Frame]:
        """Return, for each timestamp (seconds from the start), the first frame whose time is >= it, or the
        last frame for targets beyond the end. A frame up to about half a time-base tick (under 0.1 frame)
        before the timestamp still counts as at it, since stored timestamps are rounded to the tick.
        Timestamps are sorted; duplicates and targets that land on the same frame give one frame.

        Frames that cannot be decoded (damaged stream) are skipped, counted in ``decode_failures`` and
        logged as warnings.

        Raises:
            CorruptMediaError: none of the requested frames could be decoded.
            ValueError: a timestamp is not a finite number, or the reader is closed.
        """
        if self._closed:
            raise ValueError(f"{self._path}: reader is closed")
        targets = sorted({float(t) for t in timestamps})
        if any(not math.isfinite(t) for t in targets):
            raise ValueError(f"timestamps must be finite numbers, got {list(timestamps)!r}")
        frames: list[Frame] = []
        last_t = -math.inf
        last_index = -1
        for t in (max(0.0, t) for t in targets):
            rgb: np.ndarray | None = None
            try:
                if self._locate(t):
                    rgb = self._held_frame_rgb()
                detail = self._errors[-1] if self._errors else "stream ends early"
            except (av.FFmpegError, ValueError) as exc:
                detail = str(exc)
                self._start_pass()  # the next target will seek
            if rgb is None:
                self.decode_failures += 1
                logger.warning("%s: could not decode the frame at %.3f s (%s)", self._path, t, detail)
                continue
            if self._held_t == last_t:
                continue  # this frame was already returned for an earlier target
            last_t = self._held_t
            index = self._ordinal if self._ordinal is not None else round(self._held_t * (self.info.fps or 0))
            index = max(index, last_index + 1)
            last_index = index
            frames.append(Frame(index=index, timestamp=round(self._held_t, 6), image=rgb))
        if targets and not frames:
            raise CorruptMediaError(
                f"{self._path}: none of the {len(targets)} requested frames could be decoded"
            )
        return frames

    def close(self) -> None:
        """Close the container and drop the decoded frame."""
        if not self._closed:
            self._closed = True
            self._held = self._held_rgb = None
            # the frame generator refers back to this reader (its skip callback): close it now, so its
            # packets and decoded frames go with the container instead of waiting for the cycle collector
            self._frames.close()
            self._container.close()


def _open_image(path: Path, max_pixels: int) -> ImageReader | None:
    """Decode ``path`` if its content is a supported image; ``None`` when it is not an image."""
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise MediaNotFoundError(f"{path}: cannot read file ({exc})") from exc
    with fh:
        image = identify_image(fh, path)
        if image is None:
            return None
        # the pixel count from the header first: reading EXIF can decode the whole picture (PNG)
        check_limits(path, image.size[0], image.size[1], None, max_pixels, math.inf)
        info = image_info(image, path)
        try:
            image.load()
        except Image.DecompressionBombError as exc:
            raise MediaTooLargeError(f"{path}: image is too large to decode ({exc})") from exc
        except _PIL_ERRORS as exc:
            raise CorruptMediaError(
                f"{path}: {info.container} image data is damaged or truncated ({exc})"
            ) from exc
    try:
        rgb = _pil_to_rgb(upright_image(image, exif_orientation(image, path)))
    except _PIL_ERRORS as exc:
        raise UnsupportedMediaError(
            f"{path}: cannot convert {image.mode!r} {info.container} pixels to RGB ({exc})"
        ) from exc
    logger.debug("opened image %s (%dx%d)", path, info.width, info.height)
    return ImageReader(info, rgb)


def open_media(
    source: str | os.PathLike[str] | np.ndarray,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_duration: float = DEFAULT_MAX_DURATION,
) -> MediaReader:
    """Open an image file, a video file or an RGB/grey ``uint8`` array for reading frames.

    The type is detected from the content. Limits are checked from the header, before decoding:
    ``max_pixels`` per frame (after EXIF/rotation the count is the same) and ``max_duration`` seconds.

    Raises:
        MediaNotFoundError: the path does not exist, is a directory or is unreadable.
        EmptyMediaError: zero-byte file, empty array, or a video without frames.
        UnsupportedMediaError: not an image/video we read (e.g. text, audio only), or a bad array.
        CorruptMediaError: damaged container or image data, or no decodable video frame.
        MediaTooLargeError: over ``max_pixels`` or ``max_duration``.
    """
    if isinstance(source, np.ndarray):
        rgb = _array_to_rgb(source)
        height, width = rgb.shape[:2]
        check_limits("array input", width, height, None, max_pixels, math.inf)
        info = MediaInfo(
            path=None, kind="image", width=width, height=height, frame_count=1, codec="raw", container="array"
        )
        return ImageReader(info, rgb)
    path = resolve_path(source)
    reader = _open_image(path, max_pixels)
    if reader is not None:
        return reader
    container, stream = open_container(path)
    try:
        header = video_header(container, stream, path)
        check_limits(path, header.width, header.height, header.duration, max_pixels, max_duration)
        video = VideoReader(path, container, stream, header)
    except BaseException:
        container.close()
        raise
    logger.debug("opened video %s: %s", path, video.info)
    return video
