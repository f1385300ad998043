"""Helpers that write small synthetic images and videos (for tests, benchmarks and demos).

Nothing here is used by the analysis itself. Frames are given **upright**, as ``uint8`` RGB ``(H, W, 3)``
or grey ``(H, W)`` arrays; the helpers take care of the storage details (even sizes for yuv420p, the
``faststart`` layout for mp4/mov, display-matrix rotation, EXIF orientation).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)

# Default codec per container suffix: every one of these encoders ships with the PyAV wheels.
_DEFAULT_CODECS: dict[str, str] = {
    ".mp4": "libx264",
    ".m4v": "libx264",
    ".mov": "libx264",
    ".mkv": "libx264",
    ".webm": "libvpx",
    ".avi": "mpeg4",
    ".mpg": "mpeg1video",
    ".mpeg": "mpeg1video",
}
_CODEC_ALIASES = {"h264": "libx264", "vp8": "libvpx", "vp9": "libvpx-vp9"}
# Containers whose muxer stores a display matrix (the rotation a player applies).
_ROTATION_SUFFIXES = frozenset({".mp4", ".m4v", ".mov"})
_FASTSTART_SUFFIXES = frozenset({".mp4", ".m4v", ".mov"})

# How to store an upright picture so that applying EXIF orientation ``o`` gives it back (the inverse of
# the transpose a viewer applies for ``o``).
_EXIF_STORE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def _as_rgb(frame: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(frame)
    if arr.dtype != np.uint8:
        raise ValueError(f"{what} must be uint8, got {arr.dtype}")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{what} must have shape (H, W, 3) or (H, W), got {arr.shape}")
    return np.ascontiguousarray(arr)


def _pad_even(arr: np.ndarray) -> np.ndarray:
    pad_h, pad_w = arr.shape[0] % 2, arr.shape[1] % 2
    if pad_h or pad_w:
        arr = np.pad(arr, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return arr


def write_video(
    path: str | os.PathLike[str],
    frames: Sequence[np.ndarray],
    fps: float = 25,
    codec: str | None = None,
    rotation: int = 0,
    pts: Sequence[int] | None = None,
    *,
    time_base: Fraction = Fraction(1, 1000),
    gop: int | None = None,
    options: Mapping[str, str] | None = None,
    audio: bool = False,
) -> Path:
    """Encode ``frames`` (upright RGB/grey uint8 arrays, all one size) into a video file and return its path.

    * ``codec``: an encoder name (``"libx264"``/``"h264"``, ``"mpeg4"``, ``"libvpx"``/``"vp8"``,
      ``"libvpx-vp9"``/``"vp9"``, ...); default from the suffix: h264 for .mp4/.m4v/.mov/.mkv, vp8 for
      .webm, mpeg4 for .avi, mpeg1 for .mpg/.mpeg. Pixels are stored as yuv420p, so odd sizes are padded
      by one edge row/column to even.
    * ``rotation``: 0, 90, 180 or 270 degrees (mp4/m4v/mov only). The pictures are stored turned
      ``rotation`` degrees counter-clockwise and tagged with a display matrix that tells players to turn
      them ``rotation`` degrees clockwise, like a phone held sideways; a correct reader gives back
      ``frames`` upright.
    * ``pts``: per-frame presentation times in units of ``time_base`` (default milliseconds), strictly
      increasing, for variable-frame-rate clips; default ``i / fps``.
    * ``gop``: keyframe interval in frames (encoder default otherwise). ``options``: extra encoder options
      (libx264 defaults to ``preset=veryfast``). ``audio``: add a silent AAC/Opus track.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not frames:
        raise ValueError("write_video needs at least one frame")
    codec_name = _CODEC_ALIASES.get(codec or "", codec) or _DEFAULT_CODECS.get(suffix)
    if codec_name is None:
        raise ValueError(f"no default codec for {suffix!r}; pass codec=")
    if rotation % 90 or not 0 <= rotation < 360:
        raise ValueError(f"rotation must be 0, 90, 180 or 270, got {rotation}")
    if rotation and suffix not in _ROTATION_SUFFIXES:
        raise ValueError(
            f"rotation metadata can only be written to {sorted(_ROTATION_SUFFIXES)}, not {suffix!r}"
        )
    if pts is not None:
        if len(pts) != len(frames):
            raise ValueError(f"pts has {len(pts)} entries for {len(frames)} frames")
        if any(b <= a for a, b in zip(pts, pts[1:], strict=False)):
            raise ValueError("pts must be strictly increasing")

    first = _as_rgb(frames[0], "frames[0]")
    stored = [_pad_even(np.rot90(first, k=rotation // 90))]
    for i, frame in enumerate(frames[1:], start=1):
        rgb = _as_rgb(frame, f"frames[{i}]")
        if rgb.shape != first.shape:
            raise ValueError(f"frames[{i}] has shape {rgb.shape}, frames[0] has {first.shape}")
        stored.append(_pad_even(np.rot90(rgb, k=rotation // 90)))
    height, width = stored[0].shape[:2]

    encoder_options = dict(options or {})
    if codec_name == "libx264":
        encoder_options.setdefault("preset", "veryfast")
    if codec_name in ("libvpx", "libvpx-vp9"):
        encoder_options.setdefault("deadline", "realtime")
        encoder_options.setdefault("cpu-used", "8")
    rate = Fraction(fps).limit_denominator(1001)
    container_options = {"movflags": "faststart"} if suffix in _FASTSTART_SUFFIXES else {}

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open("file:" + os.fspath(path.absolute()), mode="w", options=container_options) as container:
        stream = container.add_stream(codec_name, rate=rate, options=encoder_options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if gop is not None:
            stream.gop_size = gop
        if pts is not None:
            stream.codec_context.time_base = time_base
            stream.time_base = time_base
            # With B-frames, x264 makes decode times for irregular pts that mp4 turns into a short duration.
            stream.codec_context.max_b_frames = 0
        if rotation:
            # PyAV's angle is counter-clockwise; the display transform turns the stored picture back.
            stream.set_display_rotation(-rotation)
        audio_stream = _add_silent_audio(container, suffix) if audio else None
        for i, rgb in enumerate(stored):
            video_frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if pts is not None:
                video_frame.pts, video_frame.time_base = int(pts[i]), time_base
            else:
                video_frame.pts, video_frame.time_base = i, 1 / rate
            container.mux(stream.encode(video_frame))
        container.mux(stream.encode(None))
        if audio_stream is not None:
            seconds = (pts[-1] * time_base) if pts is not None else len(stored) / rate
            _encode_silence(container, audio_stream, float(seconds) + 1 / float(rate))
    logger.debug("wrote %s: %d frames %dx%d %s", path, len(stored), width, height, codec_name)
    return path


def _add_silent_audio(container: av.container.OutputContainer, suffix: str) -> av.AudioStream:
    codec = "libopus" if suffix == ".webm" else ("mp2" if suffix in (".mpg", ".mpeg") else "aac")
    if codec == "mp2" and "mp2" not in av.codecs_available:
        codec = "libmp3lame"
    stream = container.add_stream(codec, rate=48000)
    stream.layout = "mono"
    return stream


def _encode_silence(container: av.container.OutputContainer, stream: av.AudioStream, seconds: float) -> None:
    chunk = {"libopus": 960, "mp2": 1152, "libmp3lame": 1152}.get(stream.codec_context.name, 1024)
    sample_format = stream.codec_context.format.name
    dtype = {"flt": np.float32, "s16": np.int16, "s32": np.int32}[sample_format.rstrip("p")]
    total = int(seconds * stream.rate)
    for start in range(0, max(total, chunk), chunk):
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, chunk), dtype=dtype), format=sample_format, layout="mono"
        )
        frame.sample_rate, frame.pts = stream.rate, start
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def write_audio(path: str | os.PathLike[str], seconds: float = 1.0) -> Path:
    """Write a silent audio-only file (e.g. ``.m4a``/``.mp4`` with AAC): a container without video."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open("file:" + os.fspath(path.absolute()), mode="w") as container:
        stream = _add_silent_audio(container, path.suffix.lower())
        _encode_silence(container, stream, seconds)
    return path


def write_image(
    path: str | os.PathLike[str], rgb: np.ndarray, *, orientation: int = 1, quality: int = 95
) -> Path:
    """Save an upright RGB/grey uint8 image; the format follows the suffix (jpg, png, webp, bmp, tif...).

    ``orientation`` (1-8, JPEG/TIFF/WebP/PNG) stores the pixels transformed and tagged with that EXIF
    orientation, as a camera does, so that a viewer applying the tag shows ``rgb`` upright.
    """
    path = Path(path)
    arr = np.asarray(rgb)
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3):
        raise ValueError(f"rgb must be uint8 (H, W, 3) or (H, W), got {arr.dtype} {arr.shape}")
    if orientation not in range(1, 9):
        raise ValueError(f"orientation must be 1..8, got {orientation}")
    image = Image.fromarray(arr)
    save_kwargs: dict[str, object] = {}
    if orientation != 1:
        image = image.transpose(_EXIF_STORE[orientation])
        exif = Image.Exif()
        exif[0x0112] = orientation
        save_kwargs["exif"] = exif
    if path.suffix.lower() in (".jpg", ".jpeg", ".webp"):
        save_kwargs["quality"] = quality
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **save_kwargs)
    return path


__all__ = ["write_audio", "write_image", "write_video"]
