"""``watch``: rolling verdicts on a stream, a webcam or a file played as a stream.

How it keeps up with real time: a reader thread decodes every frame (pacing a file to its timestamps in
real-time mode) and keeps only the newest one; the analysis takes at most ``fps`` frames per second of stream
from it. When the face search and scoring of a frame take longer than the stream allows, the frames that came
in meanwhile are skipped and the newest is analysed next, so the verdict never trails the stream by more than
about one analysis (each verdict says the rate achieved and how many samples were skipped). Without real-time
pacing (``realtime=False``: recordings, as files or URLs) every sample is analysed, as fast as the CPU goes.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from facetrust.errors import ConfigError
from facetrust.watch.monitor import RollingMonitor
from facetrust.watch.records import RollingVerdict
from facetrust.watch.sources import Stream, StreamFrame, open_stream

logger = logging.getLogger(__name__)

MAX_FPS = 30.0
_EPS = 1e-6


def watch(
    source: str | os.PathLike[str],
    *,
    every: float = 2.0,
    window: float = 10.0,
    fps: float = 2.0,
    realtime: bool = True,
    until: float | None = None,
    detector: str = "default",
    face_detector: str = "mtcnn",
    device: str | None = None,
    runtime: str = "auto",
    threshold: float | None = None,
) -> Iterator[RollingVerdict]:
    """Watch ``source`` and yield a :class:`RollingVerdict` every ``every`` seconds of stream.

    Args:
        source: a video file, a stream URL (``rtsp://``, ``http(s)://`` ...) or a webcam index (``"0"``).
        every: seconds of stream between verdicts.
        window: each verdict judges the faces of the last ``window`` seconds, per tracked person.
        fps: frames analysed per second of stream, at most (fewer when the CPU cannot keep up; see the module
            doc).
        realtime: play the source at its own speed (frames are held back until their time comes; a live
            stream arrives that way anyway); ``False`` analyses every sample as fast as the CPU goes, for a
            recording given as a file or a URL (a webcam is always watched in real time).
        until: stop after this many seconds of stream (in real time, also after this many seconds of wall
            time); ``None`` runs to the end of the stream.
        detector, face_detector, device, runtime, threshold: as for :func:`facetrust.analyze`.

    The source is opened and the models are loaded when this is called (so bad input raises here: the errors
    of :func:`facetrust.watch.open_stream`); the verdicts come as the returned iterator is consumed. The last
    verdict comes at the end of the stream (or at ``until``) when that falls between two; closing the iterator
    stops the reading.
    """
    import facetrust
    from facetrust.faces import create_face_detector

    for name, value, low in (("every", every, 0.0), ("window", window, 0.0), ("fps", fps, 0.0)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= low:
            raise ConfigError(f"{name} must be a number of seconds > 0, got {value!r}" if name != "fps"
                              else f"fps must be a number > 0, got {value!r}")
    if fps > MAX_FPS:
        raise ConfigError(f"fps must be at most {MAX_FPS:g}, got {fps}")
    if until is not None and (isinstance(until, bool) or not isinstance(until, int | float) or not until > 0):
        raise ConfigError(f"until must be None or a number of seconds > 0, got {until!r}")
    stream = open_stream(source)
    try:
        loaded = facetrust.load_detector(detector, device=device, runtime=runtime)
        monitor = RollingMonitor(loaded, create_face_detector(face_detector), window=window, threshold=threshold,
                                 target_fps=fps)
        monitor.warm_up()
    except BaseException:
        stream.close()
        raise
    logger.info("watching %s (%s): up to %g frames/s analysed, a verdict every %g s over the last %g s",
                stream.name, stream.kind, fps, every, window)
    return rolling_verdicts(stream, monitor, every=every, fps=fps, realtime=realtime, until=until)


def rolling_verdicts(stream: Stream, monitor: RollingMonitor, *, every: float = 2.0, fps: float = 2.0,
                     realtime: bool = True, until: float | None = None) -> Iterator[RollingVerdict]:
    """The loop of :func:`watch` on an opened ``stream`` and a ready ``monitor`` (which may hold any face
    detector and detector); it closes the stream when it ends or is closed. Same settings as :func:`watch`."""
    if realtime or stream.kind == "webcam":  # a camera cannot wait for the analysis
        return _watch_live(stream, monitor, every=every, fps=fps, until=until, pace=realtime)
    return _watch_all(stream, monitor, every=every, fps=fps, until=until)


def _next_sample(t: float, fps: float) -> float:
    """The first sampling instant (a multiple of 1/fps) after ``t``."""
    return (math.floor(t * fps + _EPS) + 1) / fps


def _warnings(stream: Stream) -> list[str]:
    errors = stream.decode_errors
    return [f"{len(errors)} damaged packet(s) could not be decoded and were skipped"] if errors else []


def _watch_all(stream: Stream, monitor: RollingMonitor, *, every: float, fps: float,
               until: float | None) -> Iterator[RollingVerdict]:
    """Every sample of a file, as fast as the CPU goes (no pacing, nothing skipped)."""
    due, next_verdict, last_verdict, now = 0.0, every, -1.0, None
    try:
        for frame in stream.frames():
            if until is not None and frame.time > until + _EPS:
                break
            now = frame.time
            if now + _EPS >= due:
                monitor.add_frame(now, frame.image())
                due = _next_sample(now, fps)
            if now + _EPS >= next_verdict:
                last_verdict = now
                yield monitor.verdict(now, frames_decoded=stream.frames_decoded, warnings=_warnings(stream))
                while next_verdict <= now + _EPS:
                    next_verdict += every
        if now is not None and now > last_verdict:
            yield monitor.verdict(now, frames_decoded=stream.frames_decoded, warnings=_warnings(stream))
    finally:
        stream.close()


class _NewestFrame:
    """Hands the newest decoded frame from the reader thread to the analysis; older ones are overwritten."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.frame: StreamFrame | None = None
        self.ended = False
        self.error: BaseException | None = None

    def put(self, frame: StreamFrame) -> None:
        with self._changed:
            self.frame = frame
            self._changed.notify_all()

    def end(self, error: BaseException | None) -> None:
        with self._changed:
            self.ended, self.error = True, error
            self._changed.notify_all()

    def take(self, not_before: float, timeout: float) -> StreamFrame | None:
        """The newest frame once one at ``not_before`` seconds or later has arrived; None after ``timeout``
        seconds or at the end of the stream (then :attr:`ended` is set; the reader's error is raised)."""
        with self._changed:
            ready = self._changed.wait_for(
                lambda: self.ended or (self.frame is not None and self.frame.time + _EPS >= not_before), timeout)
            if self.frame is not None and self.frame.time + _EPS >= not_before:
                frame, self.frame = self.frame, None
                return frame
            if ready and self.ended and self.error is not None:
                raise self.error
            return None


def _read(stream: Stream, newest: _NewestFrame, stop: threading.Event, pace: bool) -> None:
    """The reader thread: decode every frame (paced to its timestamp when ``pace``), keep the newest."""
    error: BaseException | None = None
    try:
        origin: float | None = None
        for frame in stream.frames():
            if stop.is_set():
                break
            if pace:
                origin = time.monotonic() - frame.time if origin is None else origin
                delay = origin + frame.time - time.monotonic()
                if delay > 0 and stop.wait(delay):
                    break
            newest.put(frame)
    except BaseException as exc:  # handed to the analysis thread, which raises it
        error = exc
    finally:
        newest.end(error)


def _watch_live(stream: Stream, monitor: RollingMonitor, *, every: float, fps: float, until: float | None,
                pace: bool) -> Iterator[RollingVerdict]:
    newest = _NewestFrame()
    stop = threading.Event()
    reader = threading.Thread(target=_read, args=(stream, newest, stop, pace), name="facetrust-watch-reader",
                              daemon=True)
    started = time.monotonic()
    due, next_verdict, last_verdict, now = 0.0, every, -1.0, None
    behind = 0
    reader.start()
    try:
        while True:
            if until is not None and time.monotonic() - started > until + 1.0:  # a stalled stream stops too
                break
            frame = newest.take(due, timeout=0.25)
            if frame is None:
                if newest.ended:
                    break
                continue
            if until is not None and frame.time > until + _EPS:
                break
            if now is not None:  # samples that fell due while the last frame was being analysed
                behind += max(0, int((frame.time - due) * fps + _EPS))
            now = frame.time
            monitor.add_frame(now, frame.image())
            due = _next_sample(now, fps)
            if now + _EPS >= next_verdict:
                last_verdict = now
                yield monitor.verdict(now, frames_decoded=stream.frames_decoded, frames_behind=behind,
                                      lag=_lag(newest, now, started, pace), warnings=_warnings(stream))
                while next_verdict <= now + _EPS:
                    next_verdict += every
        if now is not None and now > last_verdict:
            yield monitor.verdict(now, frames_decoded=stream.frames_decoded, frames_behind=behind,
                                  lag=_lag(newest, now, started, pace), warnings=_warnings(stream))
    finally:
        stop.set()
        reader.join(timeout=5.0)
        if reader.is_alive():  # blocked in a network read: it is a daemon thread, let it go with the process
            logger.warning("%s: the reader did not stop within 5 s; leaving it", stream.name)
        else:
            stream.close()


def _lag(newest: _NewestFrame, now: float, started: float, pace: bool) -> float:
    """How far the analysed frame at ``now`` trails the stream: the wall clock (paced) or the newest decoded
    frame (a webcam without pacing)."""
    if pace:
        return time.monotonic() - started - now
    latest: Any = newest.frame
    return (latest.time - now) if latest is not None else 0.0


__all__ = ["MAX_FPS", "rolling_verdicts", "watch"]
