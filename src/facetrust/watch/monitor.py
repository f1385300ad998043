"""The rolling part of ``watch``: follow people frame by frame and judge the faces of a sliding window.

:class:`RollingMonitor` is fed frames as they arrive (:meth:`~RollingMonitor.add_frame`) and asked for a verdict
whenever one is due (:meth:`~RollingMonitor.verdict`). It uses the library's stages, as ``analyze`` does: the
face detector, :func:`facetrust.faces.link_tracks` (applied frame by frame), :func:`facetrust.faces.crop_face`,
the detector's ``predict_tracks`` and :func:`facetrust.verdict.decide` with the detector's calibrated rules.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from facetrust.errors import ConfigError
from facetrust.faces import FaceDetector, crop_face, link_tracks
from facetrust.types import FaceBox
from facetrust.verdict import DecisionRule, decide
from facetrust.watch.records import PersonInWindow, RollingVerdict

logger = logging.getLogger(__name__)

CPU_BATCH = 8  # face crops per forward pass (as in the pipeline)


class OnlineTracker:
    """Gives each face a person number as frames arrive, with the matching of :func:`link_tracks`: a face
    continues the person whose last face it overlaps or sits next to, among the people seen in the last
    ``max_gap`` seconds or in one of the last ``max_missed`` analysed frames (so a slow analysis does not
    forget people); otherwise it is a new person. "Next to" is within one face size, or ``max_speed`` face sizes per second
    since the last analysed frame when frames are further apart (a stream analysed at 1 frame/s, or one
    that fell behind). Faces smaller than ``min_face_size`` pixels or scored under ``min_score`` are dropped
    (counted in :attr:`dropped`)."""

    def __init__(self, *, min_face_size: float = 40.0, min_score: float = 0.9, max_gap: float = 2.0,
                 max_missed: int = 3, max_speed: float = 1.5) -> None:
        if max_gap < 0 or max_speed < 0 or max_missed < 0:
            raise ConfigError(f"max_gap, max_missed and max_speed must be >= 0, got {max_gap}, {max_missed} and "
                              f"{max_speed}")
        self.min_face_size, self.min_score, self.max_gap = min_face_size, min_score, max_gap
        self.max_missed, self.max_speed = max_missed, max_speed
        self._missed: dict[int, int] = {}  # person → analysed frames in a row without them
        self._last: dict[int, tuple[float, FaceBox]] = {}  # person → (time, face) last seen
        self._next_person = 1
        self.dropped: dict[str, int] = {"too_small": 0, "low_score": 0}

    def update(self, timestamp: float, faces: Sequence[FaceBox]) -> list[tuple[int, FaceBox]]:
        """The kept faces of the frame at ``timestamp`` with their person numbers."""
        self._last = {p: seen for p, seen in self._last.items()
                      if timestamp - seen[0] <= self.max_gap or self._missed.get(p, 0) < self.max_missed}
        self._missed = {p: self._missed.get(p, 0) for p in self._last}
        people = list(self._last)
        detections: list[tuple[int, float, Sequence[FaceBox]]] = []
        reach = 1.0  # link_tracks' default: one face size
        if people:  # everyone still in view, as one earlier "frame": link_tracks then extends or starts tracks
            times = [seen[0] for seen in self._last.values()]
            detections.append((0, min(min(times), timestamp), [self._last[p][1] for p in people]))
            reach = max(reach, self.max_speed * (timestamp - max(times)))
        detections.append((1, timestamp, list(faces)))
        result = link_tracks(detections, min_face_size=self.min_face_size, min_score=self.min_score,
                             max_center_distance=reach)
        for reason, count in result.dropped.items():
            self.dropped[reason] = self.dropped.get(reason, 0) + count
        assigned: list[tuple[int, FaceBox]] = []
        for track in result.tracks:
            if track.track_id <= len(people):  # it began with a person already known
                person = people[track.track_id - 1]
                current = track.observations[1:]
            else:
                person, self._next_person = self._next_person, self._next_person + 1
                current = track.observations
            for observation in current:  # at most one: a track takes one face per frame
                assigned.append((person, observation.face))
                self._last[person] = (timestamp, observation.face)
        seen = {person for person, _ in assigned}
        self._missed = {p: 0 if p in seen else self._missed.get(p, 0) + 1 for p in self._last}
        return assigned


@dataclass
class _Face:
    person: int
    time: float
    crop: np.ndarray | None = field(repr=False)
    probability: float | None = None


def _scores_faces_alone(detector: Any) -> bool:
    """Whether a face's probability depends on that face only (frame detectors), so each face can be scored
    once; clip detectors score windows of consecutive faces and are scored over the whole window."""
    members = getattr(detector, "members", None) or [detector]
    return detector.spec.clip_length is None and all(m.spec.clip_length is None for m in members)


class RollingMonitor:
    """Faces of the last ``window`` seconds, per person, and the verdict over them."""

    def __init__(self, detector: Any, face_detector: FaceDetector, *, window: float = 10.0,
                 threshold: float | None = None, target_fps: float = 2.0, min_face_size: float = 40.0,
                 min_face_score: float = 0.9, max_gap: float | None = None) -> None:
        if not window > 0:
            raise ConfigError(f"window must be > 0 seconds, got {window}")
        self.detector, self.face_detector = detector, face_detector
        self.window, self.target_fps = float(window), float(target_fps)
        spec = detector.spec
        self.rule = DecisionRule.from_spec(spec.threshold, spec.uncertain_band, threshold)
        self.track_rule = None
        if spec.track_threshold is not None and spec.track_uncertain_band is not None:
            self.track_rule = DecisionRule.from_spec(spec.track_threshold, spec.track_uncertain_band, threshold)
        self.tracker = OnlineTracker(min_face_size=min_face_size, min_score=min_face_score,
                                     max_gap=max_gap if max_gap is not None else max(2.0, 3.0 / target_fps))
        self._alone = _scores_faces_alone(detector)
        self._faces: deque[_Face] = deque()
        self._frames: deque[float] = deque()  # times of the analysed frames in the window
        self._first_seen: dict[int, float] = {}

    def warm_up(self) -> None:
        """Run both models once on a blank picture, so the first real frame is not slowed by their start-up."""
        blank = np.zeros((160, 160, 3), np.uint8)
        self.face_detector.detect([blank])
        size = self.detector.spec.crop.size
        self.detector.predict_tracks([[np.zeros((size, size, 3), np.uint8)]], batch_size=CPU_BATCH)

    def add_frame(self, timestamp: float, image: np.ndarray) -> int:
        """Find, follow and cut the faces of one frame (RGB uint8); returns how many faces were kept."""
        faces = self.face_detector.detect([image])[0]
        kept = self.tracker.update(timestamp, faces)
        crop_spec = self.detector.spec.crop
        for person, face in kept:
            self._first_seen.setdefault(person, timestamp)
            self._faces.append(_Face(person, timestamp, crop_face(image, face, crop_spec)))
        self._frames.append(timestamp)
        self._forget(timestamp)
        return len(kept)

    def _forget(self, now: float) -> None:
        start = now - self.window
        while self._faces and self._faces[0].time <= start:
            self._faces.popleft()
        while self._frames and self._frames[0] <= start:
            self._frames.popleft()
        in_view = {f.person for f in self._faces}
        self._first_seen = {p: t for p, t in self._first_seen.items() if p in in_view or now - t <= self.window}

    def _score(self) -> dict[int, list[float]]:
        """Fake probability of each face in the window, per person, in time order."""
        by_person: dict[int, list[_Face]] = {}
        for face in self._faces:
            by_person.setdefault(face.person, []).append(face)
        if self._alone:  # each face scored once, when it is first needed; then its crop is let go
            fresh = [f for f in self._faces if f.probability is None]
            if fresh:
                scores = self.detector.predict_tracks([[f.crop] for f in fresh], batch_size=CPU_BATCH)
                for face, score in zip(fresh, scores, strict=True):
                    face.probability, face.crop = float(score[0]), None
        else:  # a clip detector: every face in the context of the person's window
            people = list(by_person)
            scores = self.detector.predict_tracks([[f.crop for f in by_person[p]] for p in people],
                                                  batch_size=CPU_BATCH)
            for person, values in zip(people, scores, strict=True):
                for face, value in zip(by_person[person], values, strict=True):
                    face.probability = float(value)
        return {p: [float(f.probability) for f in faces] for p, faces in by_person.items()}  # type: ignore[arg-type]

    def verdict(self, now: float, *, frames_decoded: int = 0, frames_behind: int = 0, lag: float = 0.0,
                warnings: Sequence[str] = ()) -> RollingVerdict:
        """The verdict at stream time ``now`` over the faces of ``(now - window, now]``."""
        self._forget(now)
        per_person = self._score()
        label, probability, people = decide(
            per_person, self.rule, min_observations=2 if len(self._frames) >= 8 else 1,
            track_rule=self.track_rule, track_min_frames=self.detector.spec.track_min_frames,
        )
        start = max(0.0, now - self.window)
        frames = len(self._frames)
        # analysed frames per second of stream: intervals between the first and last analysed frame
        span = self._frames[-1] - self._frames[0] if frames >= 2 else 0.0
        return RollingVerdict(
            time=round(now, 3),
            wall_time=datetime.now(UTC).isoformat(timespec="milliseconds"),
            verdict=label,
            fake_probability=None if probability is None else round(probability, 4),
            window=(round(start, 3), round(now, 3)),
            people=[PersonInWindow(person=p.track_id, verdict=p.label, fake_probability=round(p.fake_probability, 4),
                                   faces=len(per_person[p.track_id]), first_seen=round(self._first_seen.get(
                                       p.track_id, now), 3), decides_verdict=p.counted)
                    for p in sorted(people, key=lambda v: v.track_id)],
            frames_analysed=frames,
            analysed_fps=round((frames - 1) / span, 2) if span > 0 else 0.0,
            target_fps=self.target_fps,
            frames_decoded=frames_decoded,
            frames_behind=frames_behind,
            lag=round(max(0.0, lag), 3),
            warnings=list(warnings),
        )


__all__ = ["OnlineTracker", "RollingMonitor"]
