"""The only module that knows the order of the stages: media → frames → faces → tracks → scores → verdict."""

from __future__ import annotations

import functools
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from facetrust._version import __version__
from facetrust.errors import ConfigError, CorruptMediaError, FacetrustError
from facetrust.faces import FaceDetector, create_face_detector, crop_face, link_tracks
from facetrust.frames import sample_times
from facetrust.media import open_media
from facetrust.media.probe import DEFAULT_MAX_DURATION, DEFAULT_MAX_PIXELS
from facetrust.models.ensemble import EnsembleDetector
from facetrust.provenance import Provenance, check_provenance, not_checked, verdict_raise_reason
from facetrust.report import FrameScore, MemberScore, PersonReport, Report
from facetrust.types import CropSpec, FaceBox, FaceTrack, Label, MediaInfo, TrackingResult
from facetrust.verdict import DecisionRule, PersonVerdict, decide, suspicious_spans

if TYPE_CHECKING:
    from facetrust.models import Detector

logger = logging.getLogger(__name__)

MAX_FRAMES = 300
Progress = Callable[[str, float], None]  # progress(stage, fraction of that stage done)
FRAME_CHUNK = 8  # frames decoded and searched for faces at a time (two chunks in memory: 16 × 1080p ≈ 100 MB)
_END = object()  # end of an iterator
CPU_BATCH = 8  # face crops per forward pass on CPU: faster than 32 there, and ~300 MB less peak memory
GPU_BATCH = 64


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
    max_pixels: int = DEFAULT_MAX_PIXELS  # larger frames (width × height) are refused (MediaTooLargeError)
    max_duration: float = DEFAULT_MAX_DURATION  # longer videos (seconds) are refused (MediaTooLargeError)

    def __post_init__(self) -> None:
        # types first (ranges are checked where each value is used): analyze(path, frames="8") is a
        # ConfigError naming the option, not a TypeError from deep inside
        for key in ("frames", "every"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{key} must be an integer, got {value!r}")
        if isinstance(self.max_pixels, bool) or not isinstance(self.max_pixels, int) or self.max_pixels < 1:
            raise ConfigError(f"max_pixels must be a positive integer, got {self.max_pixels!r}")
        if isinstance(self.max_duration, bool) or not isinstance(self.max_duration, int | float) \
                or not self.max_duration > 0:
            raise ConfigError(f"max_duration must be a number of seconds > 0, got {self.max_duration!r}")
        for key in ("per_second", "min_face_size", "min_face_score", "threshold"):
            value = getattr(self, key)
            if value is None and key == "threshold":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{key} must be a number, got {value!r}")
        if not isinstance(self.sampling, str):
            raise ConfigError(f"sampling must be a string, got {self.sampling!r}")


@dataclass
class FaceScan:
    """The faces of one file: what was sampled, the crops cut for a detector and the per-person tracks.

    ``sampled`` holds ``(ordinal, timestamp, faces)`` per decoded frame; ``crops`` maps ``(ordinal, face k)`` to
    the face crop; ``frame_indices[ordinal]`` is the frame's index in the file."""

    info: MediaInfo
    sampled: list[tuple[int, float, list[FaceBox]]]
    crops: dict[tuple[int, int], np.ndarray]
    tracking: TrackingResult
    frame_indices: list[int]
    decode_failures: int
    timings: dict[str, float]
    readable_fraction: float | None = None  # videos: the share of the duration that decodes (None: all of it)
    warnings: list[str] = field(default_factory=list)
    provenance: Provenance | None = None  # set by the pipeline beside the faces (None: not checked)


@dataclass
class _Chunked:
    """What :func:`_scan_times` found: per decoded frame its faces, the crops, and where decoding stopped."""

    sampled: list[tuple[int, float, list[FaceBox]]]
    crops: dict[tuple[int, int], np.ndarray]
    frame_indices: list[int]
    last_good: float | None  # time of the last decoded frame
    damaged: bool  # a chunk of the sampled times could not be decoded at all: the data stop there


def _scan_times(reader: Any, times: Sequence[float], face_detector: FaceDetector, crop: CropSpec,
                timings: dict[str, float], progress: Progress | None = None) -> _Chunked:
    """Decode ``times``, find and cut the faces, chunk by chunk: only crops are kept, so memory stays bounded
    whatever the resolution and the number of sampled frames. The next chunk is decoded in a thread while
    this one's faces are searched (PyAV and onnxruntime release the GIL), so the two stages overlap. A
    chunk that cannot be decoded at all ends the scan (the file is cut or damaged there)."""
    found = _Chunked([], {}, [], None, False)
    chunks = [list(times[first : first + FRAME_CHUNK]) for first in range(0, len(times), FRAME_CHUNK)]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="facetrust-decode") as decoder:
        pending = decoder.submit(reader.read, chunks[0]) if chunks else None
        for k in range(len(chunks)):
            mark = time.perf_counter()
            assert pending is not None
            try:
                frames = pending.result()
            except CorruptMediaError:
                if reader.info.kind != "video":
                    raise
                found.damaged = True
                break
            finally:
                timings["decode"] += time.perf_counter() - mark
            pending = decoder.submit(reader.read, chunks[k + 1]) if k + 1 < len(chunks) else None
            if not frames:
                continue
            found.last_good = frames[-1].timestamp
            mark = time.perf_counter()
            detections = face_detector.detect([f.image for f in frames])
            timings["detect"] += time.perf_counter() - mark
            mark = time.perf_counter()
            for frame, faces in zip(frames, detections, strict=True):
                ordinal = len(found.sampled)  # unique key, whatever the reader's frame indices
                found.sampled.append((ordinal, frame.timestamp, faces))
                found.frame_indices.append(frame.index)
                for j, face in enumerate(faces):
                    found.crops[(ordinal, j)] = crop_face(frame.image, face, crop)
            timings["crop"] += time.perf_counter() - mark
            if progress is not None:
                progress("faces", (k + 1) / len(chunks))
    return found


def scan_faces(
    source: str | os.PathLike | np.ndarray,
    face_detector: FaceDetector,
    crop: CropSpec,
    options: PipelineOptions | None = None,
    progress: Progress | None = None,
) -> FaceScan:
    """media → sampled frames → faces → crops → tracks, for one file: the part shared by ``analyze`` (which
    then scores the crops) and dataset extraction (which stores them).

    A video that stops decoding part-way (cut off, damaged) is salvaged: the frames are sampled again from
    the part that decodes, and the scan says how much of the file that was (``readable_fraction``)."""
    options = options or PipelineOptions()
    if not 1 <= options.frames <= MAX_FRAMES:
        raise ConfigError(f"frames must be between 1 and {MAX_FRAMES}, got {options.frames}")
    timings: dict[str, float] = {"decode": 0.0, "detect": 0.0, "crop": 0.0}
    warnings: list[str] = []
    readable_fraction: float | None = None
    with open_media(source, max_pixels=options.max_pixels, max_duration=options.max_duration) as reader:
        info = reader.info

        def times_for(media: MediaInfo) -> list[float]:
            return [0.0] if media.kind == "image" else sample_times(
                media, mode=options.sampling, n=options.frames, every=options.every,
                per_second=options.per_second, max_frames=MAX_FRAMES,
            )

        times = times_for(info)
        found = _scan_times(reader, times, face_detector, crop, timings, progress)
        failures = reader.decode_failures
        if info.kind == "video" and (found.damaged or failures) and info.duration:
            fps = info.fps or 25.0
            readable = min(info.duration, (found.last_good or 0.0) + 1.0 / fps)
            readable_fraction = round(readable / info.duration, 4)
            if found.last_good is not None and readable_fraction < 0.999:
                # sample the requested number of frames again, from the part that decodes
                # (ending half a frame after the last decoded one, so no sample falls on the first bad frame)
                last = found.last_good
                part = replace(info, duration=last + 0.5 / fps, frame_count=int(round(last * fps)) + 1)
                again = times_for(part)
                if again != times[: len(again)] or found.damaged:
                    before = reader.decode_failures
                    found = _scan_times(reader, again, face_detector, crop, timings)
                    failures = reader.decode_failures - before
                warnings.append(f"the video decodes only up to {readable:.2f} s of {info.duration:.2f} s "
                                f"({readable_fraction:.0%} of it; the rest is cut off or damaged): frames were "
                                "sampled from that part")
        if not found.sampled:
            raise CorruptMediaError(f"{info.path}: none of the {len(times)} sampled frames could be decoded "
                                    "(damaged or cut-off video)")
    mark = time.perf_counter()
    tracking = link_tracks(found.sampled, min_face_size=options.min_face_size, min_score=options.min_face_score)
    timings["track"] = time.perf_counter() - mark
    return FaceScan(info, found.sampled, found.crops, tracking, found.frame_indices, failures, timings,
                    readable_fraction, warnings)


def attach_provenance(scan: FaceScan, source: str | os.PathLike | np.ndarray) -> FaceScan:
    """Read the file's Content Credentials and AI declarations into ``scan.provenance``, next to its faces
    (an array has no file metadata: status none). A failure of the provenance readers never costs the
    detection; only unusable trust anchors (a ConfigError) stop the file."""
    if isinstance(source, np.ndarray):
        scan.provenance = not_checked("an array has no file metadata")
        return scan
    mark = time.perf_counter()
    try:
        scan.provenance = check_provenance(source, media_kind=scan.info.kind)
    except FacetrustError:
        raise
    except Exception as exc:  # noqa: BLE001 - a bug in a metadata reader must not cost the verdict
        logger.warning("provenance of %s could not be checked: %s: %s", source, type(exc).__name__, exc,
                       exc_info=logger.isEnabledFor(logging.DEBUG))
        scan.provenance = not_checked(f"the provenance check failed ({type(exc).__name__}: {exc})")
    scan.timings["provenance"] = time.perf_counter() - mark
    return scan


class Pipeline:
    """A loaded face detector + deepfake detector, ready to analyse many files."""

    def __init__(self, detector: Detector | EnsembleDetector | Any, face_detector: FaceDetector) -> None:
        self.detector = detector
        self.face_detector = face_detector

    def analyze(self, source: str | os.PathLike | np.ndarray, options: PipelineOptions | None = None,
                progress: Progress | None = None) -> Report:
        """Analyse one image or video (path or RGB array) and return its :class:`Report`. ``progress`` is
        called as ``progress(stage, fraction)`` with stage ``"faces"`` (decoding and face search, once per
        chunk of frames), ``"scoring"`` and ``"done"``."""
        options = options or PipelineOptions()
        if not 1 <= options.frames <= MAX_FRAMES:
            raise ConfigError(f"frames must be between 1 and {MAX_FRAMES}, got {options.frames}")
        started = time.perf_counter()
        scan = self.scan(source, options, progress)
        if progress is not None:
            progress("scoring", 0.0)
        report = self.report_from_scan(scan, options, path=None if isinstance(source, np.ndarray) else str(source),
                                       started=started)
        if progress is not None:
            progress("done", 1.0)
        return report

    def scan(self, source: str | os.PathLike | np.ndarray, options: PipelineOptions | None = None,
             progress: Progress | None = None) -> FaceScan:
        """The first half of :meth:`analyze`: faces and crops (:func:`scan_faces`, with this pipeline's face
        detector and the detector's crop) and the file's provenance, ready for :meth:`report_from_scan`."""
        scan = scan_faces(source, self.face_detector, self.detector.spec.crop, options, progress)
        return attach_provenance(scan, source)

    def analyze_many(
        self, sources: Iterable[str | os.PathLike | np.ndarray], options: PipelineOptions | None = None
    ) -> Iterator[tuple[str | os.PathLike | np.ndarray, Report | Exception]]:
        """Analyse many files, in order, yielding ``(source, report or the exception it raised)``.

        The next file is decoded and its faces found in a background thread while this one is classified
        (decoding and onnxruntime release the GIL), so a folder takes about the time of its slowest stage,
        not of their sum. A file that fails yields its exception; the others go on."""
        options = options or PipelineOptions()
        if not 1 <= options.frames <= MAX_FRAMES:
            raise ConfigError(f"frames must be between 1 and {MAX_FRAMES}, got {options.frames}")
        def scan(source: str | os.PathLike | np.ndarray) -> tuple[FaceScan | Exception, float]:
            started = time.perf_counter()
            try:
                return self.scan(source, options), started
            except Exception as exc:  # handed to the caller with its source, like analyze would raise it
                return exc, started

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="facetrust-scan") as pool:
            iterator = iter(sources)
            pending: deque[tuple[str | os.PathLike | np.ndarray, Future]] = deque()
            first = next(iterator, _END)
            if first is not _END:
                pending.append((first, pool.submit(scan, first)))
            while pending:
                source, future = pending.popleft()
                following = next(iterator, _END)
                if following is not _END:  # one file ahead: its decoding overlaps this file's scoring
                    pending.append((following, pool.submit(scan, following)))
                result, started = future.result()
                if isinstance(result, Exception):
                    yield source, result
                    continue
                path = None if isinstance(source, np.ndarray) else str(source)
                try:
                    yield source, self.report_from_scan(result, options, path=path, started=started)
                except Exception as exc:  # noqa: BLE001 - reported per file, as analyze would raise it
                    yield source, exc

    def report_from_scan(
        self, scan: FaceScan, options: PipelineOptions | None = None, *, path: str | None = None,
        started: float | None = None,
    ) -> Report:
        """Score the faces of a finished :func:`scan_faces` and decide: the second half of :meth:`analyze`.

        Evaluations that score many detectors on the same media scan each file once and call this for each
        detector; the report is the one :meth:`analyze` gives for the same scan."""
        options = options or PipelineOptions()
        started = time.perf_counter() if started is None else started
        spec = self.detector.spec
        rule = DecisionRule.from_spec(spec.threshold, spec.uncertain_band, options.threshold)
        track_rule = None
        if spec.track_threshold is not None and spec.track_uncertain_band is not None:
            track_rule = DecisionRule.from_spec(spec.track_threshold, spec.track_uncertain_band, options.threshold)
        info, sampled, crops, tracking = scan.info, scan.sampled, scan.crops, scan.tracking
        timings = dict(scan.timings)
        frame_indices, failures = scan.frame_indices, scan.decode_failures

        mark = time.perf_counter()
        face_keys = {id(face): (ordinal, k) for ordinal, _, faces in sampled for k, face in enumerate(faces)}
        # one crop list per person, in time order: clip detectors score windows of consecutive crops
        track_crops = [
            [crops[face_keys[id(obs.face)]] for obs in track.observations] for track in tracking.tracks
        ]
        batch_size = GPU_BATCH if self.detector.device.type == "cuda" else CPU_BATCH
        members: list[list[MemberScore]] = [[] for _ in track_crops]
        if isinstance(self.detector, EnsembleDetector):
            per_member = self.detector.member_track_probabilities(track_crops, batch_size=batch_size)
            probabilities = self.detector.combine_tracks(per_member)
            members = _member_scores(self.detector, per_member, len(track_crops))
        else:
            probabilities = self.detector.predict_tracks(track_crops, batch_size=batch_size)
        timings["classify"] = time.perf_counter() - mark

        per_track = {
            track.track_id: [float(p) for p in probs]
            for track, probs in zip(tracking.tracks, probabilities, strict=True)
        }
        min_observations = 2 if len(sampled) >= 8 else 1
        label, fake_probability, verdicts = decide(
            per_track, rule, min_observations=min_observations, track_rule=track_rule,
            track_min_frames=spec.track_min_frames,
        )
        provenance = scan.provenance if scan.provenance is not None else Provenance()
        verdict_reason = None
        raise_reason = verdict_raise_reason(provenance)
        if raise_reason is not None and label in (Label.REAL, Label.UNCERTAIN):  # never lowers, never FAKE→REAL
            verdict_reason = (f"raised from {label} ({fake_probability:.2f}) to FAKE by provenance: "
                              f"{raise_reason}")
            label = Label.FAKE
        counted = [v for v in verdicts if v.counted] or verdicts
        deciding_rule = max(counted, key=lambda v: v.fake_probability).rule if counted else rule
        people = [self._person_report(t, v, per_track[t.track_id], v.rule.threshold, frame_indices, m)
                  for t, v, m in zip(tracking.tracks, verdicts, members, strict=True)]
        timings["total"] = time.perf_counter() - started
        warnings = list(scan.warnings)
        if failures:
            warnings.append(f"{failures} sampled frame(s) could not be decoded and were skipped")
        return Report(
            path=path,
            media_kind=info.kind,
            verdict=label,
            fake_probability=None if fake_probability is None else round(fake_probability, 4),
            threshold=deciding_rule.threshold,
            uncertain_band=(deciding_rule.low, deciding_rule.high),
            people=people,
            frames_sampled=len(sampled),
            faces_found=sum(len(faces) for _, _, faces in sampled),
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
            readable_fraction=scan.readable_fraction,
            provenance=provenance,
            verdict_reason=verdict_reason,
        )

    @staticmethod
    def _person_report(
        track: FaceTrack, verdict: PersonVerdict, probabilities: Sequence[float], threshold: float,
        frame_indices: Sequence[int], members: list[MemberScore],
    ) -> PersonReport:
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
                    frame_index=frame_indices[o.frame_index],
                    timestamp=round(o.timestamp, 3),
                    fake_probability=round(float(p), 4),
                    box=tuple(round(float(v), 1) for v in o.face.box),  # type: ignore[arg-type]
                    face_score=round(float(o.face.score), 4),
                )
                for o, p in zip(track.observations, probabilities, strict=True)
            ],
            members=members,
        )


def _member_scores(
    ensemble: EnsembleDetector, per_member: dict[str, list[np.ndarray]], n_tracks: int
) -> list[list[MemberScore]]:
    """Per track, each member's mean probability labelled by that member's own calibrated rule (its track
    rule for tracks long enough, as for a single detector)."""
    scores: list[list[MemberScore]] = [[] for _ in range(n_tracks)]
    for member, role in zip(ensemble.members, ensemble.member_roles, strict=True):
        spec = member.spec
        rule = DecisionRule.from_spec(spec.threshold, spec.uncertain_band)
        track_rule = None
        if spec.track_threshold is not None and spec.track_uncertain_band is not None:
            track_rule = DecisionRule.from_spec(spec.track_threshold, spec.track_uncertain_band)
        for i, probs in enumerate(per_member[spec.name]):
            if len(probs) == 0 or np.isnan(probs).all():  # no crop, or the member abstained
                continue
            p = float(np.mean(probs))
            used = track_rule if track_rule is not None and len(probs) >= spec.track_min_frames else rule
            scores[i].append(MemberScore(spec.name, role, round(p, 4), used.label(p)))
    return scores


@functools.lru_cache(maxsize=4)
def get_detector(name: str = "default", device: str | None = None, runtime: str = "auto") -> Any:
    """A cached deepfake detector (on onnxruntime or torch, see :mod:`facetrust.engine`), shared by
    :func:`get_pipeline` and ``facetrust.load_detector``."""
    from facetrust.engine import load_detector

    return load_detector(name, runtime=runtime, device=device)


@functools.lru_cache(maxsize=4)
def get_pipeline(detector: str = "default", device: str | None = None, face_detector: str = "mtcnn",
                 runtime: str = "auto") -> Pipeline:
    """A cached :class:`Pipeline`, so analysing many files loads the models once."""
    return Pipeline(get_detector(detector, device, runtime), create_face_detector(face_detector))
