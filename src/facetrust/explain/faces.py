"""Which faces to explain, and their crops cut exactly as the detector cut them (no torch).

A person's faces are ranked by the detector's fake probability (most suspicious first). Their crops come
either from the scan ``analyze`` made (:class:`ScanCrops`: the very crops that were scored) or, given only a
:class:`~facetrust.Report`, from the file again (:class:`FileCrops`: the frames at the report's timestamps,
cut around the report's boxes with the detector's :class:`~facetrust.types.CropSpec`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from facetrust.errors import ConfigError, InputError
from facetrust.explain.records import SuspiciousFace
from facetrust.report import PersonReport, Report
from facetrust.types import CropSpec, FaceBox

if TYPE_CHECKING:
    from facetrust.pipeline import FaceScan
    from facetrust.verdict import DecisionRule

logger = logging.getLogger(__name__)

Source = str | os.PathLike | np.ndarray
_TIME_SLACK = 0.001  # report times are rounded to the millisecond: ask for the frame a little earlier


class FaceCrops(Protocol):
    """Gives the crops of a person's faces, by index into ``PersonReport.frame_scores``."""

    def crops(self, person: PersonReport, indices: Sequence[int]) -> list[np.ndarray]: ...


@dataclass(frozen=True)
class Choice:
    """One face picked for explanation: the person, the index of its frame score, and its rank."""

    person: PersonReport
    index: int
    rank: int


def check_count(per_person: object) -> int:
    """``per_person`` as a positive int, else :class:`ConfigError`."""
    if isinstance(per_person, bool) or not isinstance(per_person, int) or per_person < 1:
        raise ConfigError(f"faces per person must be a positive integer, got {per_person!r}")
    return per_person


def check_report(report: object, detector_name: str) -> Report:
    """``report`` must be a :class:`Report` made by the detector called ``detector_name``."""
    if not isinstance(report, Report):
        raise ConfigError(f"report must be a facetrust.Report, got {type(report).__name__}")
    if report.detector != detector_name:
        raise ConfigError(f"the report was made by detector {report.detector!r}, not {detector_name!r}: "
                          "explain with the detector that made it")
    return report


def choose(report: Report, per_person: int) -> list[Choice]:
    """The ``per_person`` most suspicious faces of each person, people in report order."""
    chosen: list[Choice] = []
    for person in report.people:
        order = sorted(range(len(person.frame_scores)),
                       key=lambda i: (-person.frame_scores[i].fake_probability, person.frame_scores[i].timestamp))
        chosen.extend(Choice(person, index, rank) for rank, index in enumerate(order[:per_person]))
    return chosen


class ScanCrops:
    """The crops of a finished scan: exactly what the detector scored."""

    def __init__(self, scan: FaceScan) -> None:
        keys = {id(face): (ordinal, k) for ordinal, _, faces in scan.sampled for k, face in enumerate(faces)}
        self._by_person = {track.track_id: [scan.crops[keys[id(o.face)]] for o in track.observations]
                           for track in scan.tracking.tracks}

    def crops(self, person: PersonReport, indices: Sequence[int]) -> list[np.ndarray]:
        track = self._by_person[person.person]
        return [track[i] for i in indices]


class FileCrops:
    """Crops cut again from the file: the frames at the report's times, around the report's boxes."""

    def __init__(self, source: Source, crop: CropSpec) -> None:
        self.source = source
        self.spec = crop
        self._face_detector: Any = None
        self._cut: dict[tuple[int, int], np.ndarray] = {}  # (person, index) → crop, so each frame decodes once

    def crops(self, person: PersonReport, indices: Sequence[int]) -> list[np.ndarray]:
        """The crops of ``person``'s faces ``indices``; the frames not cut yet are decoded in one pass."""
        missing = sorted({i for i in indices if (person.person, i) not in self._cut})
        for i, crop in zip(missing, self._decode(person, missing), strict=True):
            self._cut[(person.person, i)] = crop
        return [self._cut[(person.person, i)] for i in indices]

    def _decode(self, person: PersonReport, indices: Sequence[int]) -> list[np.ndarray]:
        from facetrust.faces import crop_face
        from facetrust.media import open_media

        scores = [person.frame_scores[i] for i in indices]
        if not scores:
            return []
        with open_media(self.source) as reader:
            is_video = reader.info.kind == "video"
            wanted = sorted({max(0.0, s.timestamp - _TIME_SLACK) for s in scores}) if is_video else [0.0]
            frames = reader.read(wanted)
        if not frames:
            raise InputError(f"{self.source}: the frames of the report could not be decoded again")
        out = []
        for score in scores:
            frame = min(frames, key=lambda f: abs(f.timestamp - score.timestamp))
            if is_video and abs(frame.timestamp - score.timestamp) > 0.002:
                logger.warning("frame at %.3f s not found again (nearest %.3f s): is the report of this file?",
                               score.timestamp, frame.timestamp)
            face = FaceBox(tuple(score.box), score.face_score, self._landmarks(frame.image, score.box))
            out.append(crop_face(frame.image, face, self.spec))
        return out

    def _landmarks(self, image: np.ndarray, box: Sequence[float]) -> np.ndarray | None:
        """Aligned crops need the eyes, which a report does not keep: find the face again (best overlap)."""
        if not self.spec.align:
            return None
        if self._face_detector is None:
            from facetrust.faces import create_face_detector

            self._face_detector = create_face_detector("mtcnn")
        found = self._face_detector.detect([image])[0]
        best = max(found, key=lambda f: _iou(f.box, box), default=None)
        return best.landmarks if best is not None and _iou(best.box, box) > 0.5 else None


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def suspicious(choices: Sequence[Choice], crops: FaceCrops, rule: DecisionRule) -> list[SuspiciousFace]:
    """The chosen faces with their crops and their per-face label under ``rule``."""
    out = []
    for choice in choices:
        score = choice.person.frame_scores[choice.index]
        (crop,) = crops.crops(choice.person, [choice.index])
        out.append(SuspiciousFace(
            person=choice.person.person, frame_index=score.frame_index, timestamp=score.timestamp,
            box=tuple(score.box), fake_probability=score.fake_probability,  # type: ignore[arg-type]
            label=rule.label(score.fake_probability), rank=choice.rank, crop=crop,
        ))
    return out


__all__ = ["Choice", "FaceCrops", "FileCrops", "ScanCrops", "check_count", "check_report", "choose", "suspicious"]
