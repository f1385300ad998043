"""What ``watch`` reports every few seconds: a :class:`RollingVerdict` over a sliding window of faces."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from facetrust.report.report import format_time
from facetrust.types import Label


@dataclass(frozen=True)
class PersonInWindow:
    """One tracked person in the window: their label and mean fake probability over their faces there."""

    person: int  # stays the same while the person stays in view
    verdict: Label
    fake_probability: float
    faces: int  # faces of this person analysed in the window
    first_seen: float  # stream seconds when this person was first tracked
    decides_verdict: bool  # False for a person seen too briefly in the window to decide it


@dataclass(frozen=True)
class RollingVerdict:
    """The verdict at stream time ``time`` over the faces of ``window`` (stream seconds, start and end)."""

    time: float  # seconds since the stream started
    wall_time: str  # when it was decided, ISO 8601 UTC
    verdict: Label  # REAL / FAKE / UNCERTAIN / NO_FACE
    fake_probability: float | None  # of the person deciding the verdict; None for NO_FACE
    window: tuple[float, float]
    people: list[PersonInWindow]
    frames_analysed: int  # frames searched for faces in the window
    analysed_fps: float  # frames analysed per second of stream, over the window
    target_fps: float  # what was asked for (--fps)
    frames_decoded: int  # since the start
    frames_behind: int  # since the start: samples skipped because the analysis was behind real time
    lag: float  # seconds the newest analysed frame trailed the stream when this was decided (0 when paced)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (labels as strings)."""
        data = asdict(self)
        data["verdict"] = str(self.verdict)
        data["window"] = list(self.window)
        for person in data["people"]:
            person["verdict"] = str(person["verdict"])
        return data

    def to_json(self) -> str:
        """One line of JSON (for ``watch --jsonl``)."""
        return json.dumps(self.to_dict(), ensure_ascii=False)

    def line(self) -> str:
        """One human line, e.g. ``0:04.0  FAKE  0.91  person 1 FAKE 0.91 (8 faces)  [2.0 fps analysed]``."""
        head = f"{format_time(self.time, tenths=True):>7}  {str(self.verdict):<9}"
        head += "  -   " if self.fake_probability is None else f" {self.fake_probability:.2f}"
        if self.people:
            body = "; ".join(f"person {p.person} {p.verdict} {p.fake_probability:.2f} ({p.faces} faces)"
                             for p in self.people)
        else:
            body = f"no usable face in {self.frames_analysed} analysed frame(s)"
        tail = f"[{self.analysed_fps:.1f} fps analysed"
        if self.frames_behind:
            tail += f", {self.frames_behind} samples skipped to keep up"
        tail += "]"
        return f"{head}  {body}  {tail}"


__all__ = ["PersonInWindow", "RollingVerdict"]
