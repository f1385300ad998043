"""The only module that knows the order of the stages: media → frames → faces → tracks → scores → verdict."""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from facetrust._version import __version__
from facetrust.errors import ConfigError
from facetrust.faces import FaceDetector, create_face_detector, crop_face, link_tracks
from facetrust.frames import sample_times
from facetrust.media import open_media
from facetrust.models import Detector, create_detector
from facetrust.report import FrameScore, PersonReport, Report
from facetrust.types import FaceTrack
from facetrust.verdict import DecisionRule, decide, suspicious_spans

logger = logging.getLogger(__name__)

MAX_FRAMES = 300


@dataclass(frozen=True)
class PipelineOptions:
    """Per-call knobs of :meth:`Pipeline.analyze`."""

    frames: int = 32  # evenly spaced frames sampled from a video (1–300)
    sampling: str = "uniform"  # "uniform" (frames), "stride" (every), "per_second" (per_second)
    every: int = 1
    per_second: float = 1.0
    threshold: float | None = None  # override of the detector's calibrated threshold
    min_face_size: float = 40.0  # faces smaller than this (pixels) are dropped
    min_face_score: float = 0.9  # face detector confidence below which faces are dropped


class Pipeline:
    """A loaded face detector + deepfake detector, ready to analyse many files."""

    def __init__(self, detector: Detector, face_detector: FaceDetector) -> None:
        self.detector = detector
        self.face_detector = face_detector

    def analyze(self, source: str | os.PathLike | np.ndarray, options: PipelineOptions | None = None) -> Report:
        """Analyse one image or video (path or RGB array) and return its :class:`Report`."""
        options = options or PipelineOptions()
        if not 1 <= options.frames <= MAX_FRAMES:
            raise ConfigError(f"frames must be between 1 and {MAX_FRAMES}, got {options.frames}")
        spec = self.detector.spec
        rule = DecisionRule.from_spec(spec.threshold, spec.uncertain_band, options.threshold)
        timings: dict[str, float] = {}
        started = time.perf_counter()

        with open_media(source) as reader:
            info = reader.info
            times = [0.0] if info.kind == "image" else sample_times(
                info, mode=options.sampling, n=options.frames, every=options.every,
                per_second=options.per_second, max_frames=MAX_FRAMES,
            )
            frames = reader.read(times)
            failures = reader.decode_failures
        timings["decode"] = time.perf_counter() - started

        mark = time.perf_counter()
        detections = self.face_detector.detect([f.image for f in frames]) if frames else []
        tracking = link_tracks(
            [(f.index, f.timestamp, faces) for f, faces in zip(frames, detections, strict=True)],
            min_face_size=options.min_face_size,
            min_score=options.min_face_score,
        )
        timings["detect"] = time.perf_counter() - mark

        mark = time.perf_counter()
        images = {f.index: f.image for f in frames}
        observations = [(track, obs) for track in tracking.tracks for obs in track.observations]
        crops = [crop_face(images[obs.frame_index], obs.face, spec.crop) for _, obs in observations]
        probabilities = self.detector.predict_proba(crops) if crops else np.zeros(0, np.float32)
        timings["classify"] = time.perf_counter() - mark

        per_track: dict[int, list[float]] = {}
        for (track, _), probability in zip(observations, probabilities, strict=True):
            per_track.setdefault(track.track_id, []).append(float(probability))
        min_observations = 2 if len(frames) >= 8 else 1
        label, fake_probability, verdicts = decide(per_track, rule, min_observations=min_observations)
        people = [self._person_report(t, v, per_track[t.track_id], rule.threshold) for t, v in
                  zip(tracking.tracks, verdicts, strict=True)]
        timings["total"] = time.perf_counter() - started
        warnings = []
        if failures:
            warnings.append(f"{failures} sampled frame(s) could not be decoded and were skipped")
        return Report(
            path=None if isinstance(source, np.ndarray) else str(source),
            media_kind=info.kind,
            verdict=label,
            fake_probability=None if fake_probability is None else round(fake_probability, 4),
            threshold=rule.threshold,
            uncertain_band=(rule.low, rule.high),
            people=people,
            frames_sampled=len(frames),
            faces_found=sum(len(d) for d in detections),
            faces_dropped=dict(tracking.dropped),
            duration=info.duration,
            width=info.width,
            height=info.height,
            timings={k: round(v, 4) for k, v in timings.items()},
            detector=spec.name,
            weights_sha256=spec.sha256,
            face_detector=self.face_detector.name,
            version=__version__,
            warnings=warnings,
        )

    @staticmethod
    def _person_report(track: FaceTrack, verdict, probabilities: Sequence[float], threshold: float) -> PersonReport:  # noqa: ANN001
        times = [o.timestamp for o in track.observations]
        return PersonReport(
            person=track.track_id,
            verdict=verdict.label,
            fake_probability=round(verdict.fake_probability, 4),
            start=track.start,
            end=track.end,
            suspicious_spans=suspicious_spans(times, probabilities, threshold),
            frames_used=len(track.observations),
            median_face_size=round(track.median_face_size, 1),
            decides_verdict=verdict.counted,
            frame_scores=[
                FrameScore(
                    frame_index=o.frame_index,
                    timestamp=round(o.timestamp, 3),
                    fake_probability=round(float(p), 4),
                    box=tuple(round(float(v), 1) for v in o.face.box),  # type: ignore[arg-type]
                    face_score=round(float(o.face.score), 4),
                )
                for o, p in zip(track.observations, probabilities, strict=True)
            ],
        )


@functools.lru_cache(maxsize=4)
def get_pipeline(detector: str = "default", device: str | None = None, face_detector: str = "mtcnn") -> Pipeline:
    """A cached :class:`Pipeline`, so analysing many files loads the models once."""
    return Pipeline(create_detector(detector, device=device), create_face_detector(face_detector))
