"""The :class:`Report` returned by :func:`facetrust.analyze`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from facetrust.provenance.types import Provenance
from facetrust.types import Label


def format_time(seconds: float, *, tenths: bool = False) -> str:
    """``63.4`` → ``"1:03"`` (``"1:03.4"`` with ``tenths``); hours when needed."""
    if tenths:
        minutes, secs = divmod(round(seconds, 1), 60)
        return f"{int(minutes)}:{secs:04.1f}"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass(frozen=True)
class FrameScore:
    """One face of one person in one sampled frame."""

    frame_index: int
    timestamp: float
    fake_probability: float
    box: tuple[float, float, float, float]
    face_score: float


@dataclass(frozen=True)
class MemberScore:
    """What one member of an ensemble saw in one person: its own mean probability, labelled by its own rule."""

    member: str  # the member detector's name
    role: str | None  # what it looks at ("blend", "whole-face", ...), from the ensemble file
    fake_probability: float
    verdict: Label  # by the member's own calibrated threshold and band

    @property
    def title(self) -> str:
        """``"whole-face (synthetic_faces_lite0)"``, or the bare name when the member has no role."""
        return f"{self.role} ({self.member})" if self.role else self.member


@dataclass(frozen=True)
class PersonReport:
    """One tracked person: label, probability, when they appear and when they look altered."""

    person: int
    verdict: Label
    fake_probability: float
    start: float
    end: float
    suspicious_spans: list[tuple[float, float]]
    frames_used: int
    median_face_size: float
    decides_verdict: bool
    frame_scores: list[FrameScore] = field(repr=False)
    members: list[MemberScore] = field(default_factory=list)  # ensembles only: each member's view

    @property
    def flagged_by(self) -> list[MemberScore]:
        """The ensemble members whose own rule calls this person FAKE (empty for a single detector)."""
        return [m for m in self.members if m.verdict is Label.FAKE]


@dataclass(frozen=True)
class Report:
    """Everything ``analyze`` found about one image or video."""

    path: str | None
    media_kind: str
    verdict: Label
    fake_probability: float | None
    threshold: float
    uncertain_band: tuple[float, float]
    people: list[PersonReport]
    frames_sampled: int
    faces_found: int
    faces_dropped: dict[str, int]
    duration: float | None
    width: int
    height: int
    timings: dict[str, float]
    detector: str
    weights_sha256: str | None
    face_detector: str
    version: str
    warnings: list[str] = field(default_factory=list)
    readable_fraction: float | None = None  # videos cut off or damaged part-way: the share that decodes
    provenance: Provenance = field(default_factory=Provenance)  # C2PA credentials and AI declarations
    verdict_reason: str | None = None  # set when provenance, not the detector, decided the verdict (raised to FAKE)

    @property
    def is_video(self) -> bool:
        return self.media_kind == "video"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (labels as strings, tuples as lists)."""
        data = asdict(self)
        data["verdict"] = str(self.verdict)
        for person in data["people"]:
            person["verdict"] = str(person["verdict"])
            for member in person["members"]:
                member["verdict"] = str(member["verdict"])
        return json.loads(json.dumps(data))

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_html(self, explanations: Sequence[Any] | None = None, thumbnails: Sequence[Any] | None = None) -> str:
        """A self-contained HTML page of this report (pictures embedded, no script, works offline); see
        :func:`facetrust.report.html.render_report_html`. ``explanations`` and ``thumbnails`` come from
        ``facetrust.explain.explain`` and ``facetrust.explain.suspicious_faces``."""
        from facetrust.report.html import render_report_html

        return render_report_html(self, explanations=explanations, thumbnails=thumbnails)

    def summary(self) -> str:
        """One human line, e.g. ``FAKE  0.91  person 1 at 0:03–0:09 (person 2 REAL 0.04)``."""
        if self.verdict is Label.NO_FACE:
            return f"{self.verdict}  no usable face in {self.frames_sampled} sampled frame(s)"
        head = f"{self.verdict}  {self.fake_probability:.2f}"
        candidates = [p for p in self.people if p.decides_verdict] or self.people
        deciding = max(candidates, key=lambda p: p.fake_probability)
        main = f"person {deciding.person}"
        if self.is_video:
            spans = deciding.suspicious_spans if deciding.verdict is not Label.REAL else []
            shown = spans or [(deciding.start, deciding.end)]
            tenths = self.duration is not None and self.duration < 60

            def span(a: float, b: float) -> str:
                start, end = format_time(a, tenths=tenths), format_time(b, tenths=tenths)
                return start if start == end else f"{start}–{end}"

            main += " at " + ", ".join(span(a, b) for a, b in shown[:3])
            if len(shown) > 3:
                main += f" (+{len(shown) - 3} more)"
        if deciding.verdict is not Label.REAL and deciding.flagged_by:
            main += ", flagged by " + ", ".join(m.title for m in deciding.flagged_by)
        others = [
            f"person {p.person} {p.verdict} {p.fake_probability:.2f}" for p in self.people if p is not deciding
        ]
        tail = f" ({'; '.join(others)})" if others else ""
        return f"{head}  {main}{tail}"
