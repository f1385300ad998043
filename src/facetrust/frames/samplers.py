"""Which timestamps of a video to analyse: named samplers and :func:`sample_times`.

A sampler turns a :class:`~facetrust.types.MediaInfo` into ascending times in seconds from the start of
the media; :meth:`facetrust.media.MediaReader.read` then returns the first frame at or after each time.
Frame times are computed as ``k / fps`` (the average rate), so for variable-frame-rate video "every
k-th frame" is approximate.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np

from facetrust.errors import ConfigError
from facetrust.registry import Registry
from facetrust.types import MediaInfo

logger = logging.getLogger(__name__)

MAX_UNIFORM_FRAMES = 300
DEFAULT_MAX_FRAMES = 300

Sampler = Callable[..., list[float]]
"""``sampler(info, *, n, every, per_second) -> list[float]``: each sampler reads the parameter it needs."""

SAMPLERS: Registry[Sampler] = Registry("frame sampler")


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _timing(info: MediaInfo) -> tuple[float | None, float | None, int | None]:
    """(fps, duration, frame_count) of a video, each derived from the other two when missing."""
    fps = info.fps if info.fps and info.fps > 0 and math.isfinite(info.fps) else None
    duration = info.duration if info.duration and info.duration > 0 and math.isfinite(info.duration) else None
    count = info.frame_count if info.frame_count and info.frame_count > 0 else None
    if fps is None and duration is not None and count is not None:
        fps = count / duration
    if duration is None and fps is not None and count is not None:
        duration = count / fps
    if count is None and fps is not None and duration is not None:
        count = max(1, round(duration * fps))
    return fps, duration, count


def _frame_times(fps: float, count: int, step: int = 1) -> list[float]:
    return [round(k / fps, 6) for k in range(0, count, step)]


@SAMPLERS.register("uniform")
def uniform(info: MediaInfo, *, n: int = 32, **_: object) -> list[float]:
    """``n`` evenly spaced times: the centres of ``n`` equal segments of the duration, ``(i + 0.5) · D / n``
    (so ``n = 1`` picks the middle frame and the first/last frames are not favoured). A video with at most
    ``n`` frames gives every frame once."""
    if not _is_int(n) or not 1 <= n <= MAX_UNIFORM_FRAMES:
        raise ConfigError(f"uniform sampling: n must be an integer from 1 to {MAX_UNIFORM_FRAMES}, got {n!r}")
    fps, duration, count = _timing(info)
    if fps is not None and count is not None and count <= n:
        return _frame_times(fps, count)
    if duration is None:
        logger.warning("%s: duration unknown, sampling the first frame only", info.path)
        return [0.0]
    return [round((i + 0.5) * duration / n, 6) for i in range(n)]


@SAMPLERS.register("stride")
def stride(info: MediaInfo, *, every: int = 1, **_: object) -> list[float]:
    """Every ``every``-th frame, starting with the first (``every >= 1``)."""
    if not _is_int(every) or every < 1:
        raise ConfigError(f"stride sampling: every must be an integer >= 1, got {every!r}")
    fps, _duration, count = _timing(info)
    if fps is None or count is None:
        logger.warning("%s: frame rate or frame count unknown, sampling the first frame only", info.path)
        return [0.0]
    return _frame_times(fps, count, int(every))


@SAMPLERS.register("per_second")
def per_second(info: MediaInfo, *, per_second: float = 1.0, **_: object) -> list[float]:
    """``per_second`` frames per second of video (``> 0``; fractions such as 0.5 allowed), starting at 0.
    Asking for more than the frame rate gives every frame."""
    if isinstance(per_second, bool) or not isinstance(per_second, int | float | np.number):
        raise ConfigError(f"per_second sampling: per_second must be a number > 0, got {per_second!r}")
    rate = float(per_second)
    if not math.isfinite(rate) or rate <= 0:
        raise ConfigError(f"per_second sampling: per_second must be a number > 0, got {per_second!r}")
    fps, duration, count = _timing(info)
    if fps is not None and count is not None and rate >= fps:
        return _frame_times(fps, count)
    if duration is None:
        logger.warning("%s: duration unknown, sampling the first frame only", info.path)
        return [0.0]
    return [round(i / rate, 6) for i in range(max(1, math.ceil(duration * rate - 1e-9)))]


def _thin(times: list[float], max_frames: int) -> list[float]:
    """Keep ``max_frames`` of ``times``, evenly spread (first and last kept)."""
    keep = np.unique(np.rint(np.linspace(0, len(times) - 1, max_frames)).astype(int))
    return [times[i] for i in keep]


def sample_times(
    info: MediaInfo,
    *,
    mode: str = "uniform",
    n: int = 32,
    every: int = 1,
    per_second: float = 1.0,
    max_frames: int = DEFAULT_MAX_FRAMES,
) -> list[float]:
    """Ascending times (seconds from the start) at which to read frames of ``info``.

    Modes (see :data:`SAMPLERS`): ``"uniform"`` uses ``n`` (1-300), ``"stride"`` uses ``every`` (>= 1),
    ``"per_second"`` uses ``per_second`` (> 0). At most ``max_frames`` times are returned; longer lists are
    thinned evenly (and logged). Images always give ``[0.0]``.

    Raises:
        UnknownNameError: unknown ``mode`` (the message suggests close names).
        ConfigError: a parameter out of range.
    """
    sampler = SAMPLERS.get(mode)
    if not _is_int(max_frames) or max_frames < 1:
        raise ConfigError(f"max_frames must be an integer >= 1, got {max_frames!r}")
    times = sampler(info, n=n, every=every, per_second=per_second)
    if info.kind == "image":
        return [0.0]
    times = sorted(set(times))
    if len(times) > max_frames:
        logger.info(
            "%s: %s sampling asked for %d frames; keeping %d evenly spread (max_frames)",
            info.path,
            mode,
            len(times),
            max_frames,
        )
        times = _thin(times, int(max_frames))
    return times
