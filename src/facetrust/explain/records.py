"""The records the explanation room hands out: :class:`SuspiciousFace` and :class:`FaceExplanation` (no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from facetrust.explain import render
from facetrust.report.report import format_time
from facetrust.types import Label


@dataclass(frozen=True)
class SuspiciousFace:
    """One face that ``analyze`` scored, cut out again exactly as the detector cut it (no heatmap).

    ``frame_index`` is the frame's index in the file, ``timestamp`` its time (seconds), ``box`` the face box
    in frame pixels; ``fake_probability`` and ``label`` are the detector's for this face alone (its per-frame
    rule, not the person's), ``rank`` its place among the person's faces (0 = most suspicious)."""

    person: int
    frame_index: int
    timestamp: float
    box: tuple[float, float, float, float]
    fake_probability: float
    label: Label
    rank: int
    crop: np.ndarray = field(repr=False)  # (S, S, 3) uint8 RGB, S = the detector's crop size


@dataclass(frozen=True)
class FaceExplanation:
    """Why the detector scored one face as it did: a heatmap over the face crop it saw.

    The map explains the **fake logit** of ``member`` (for an ensemble, the member that decided this face;
    ``None`` for a single detector). ``is_evidence`` is True only when the detector calls the face FAKE: the
    map of a face called REAL (or UNCERTAIN) shows what would have pushed it towards fake, which is not
    evidence of anything, and it is drawn in grey with a caption that says so.

    ``frame_weights`` (method ``"attention"`` only): the clip model's attention weights over the frames of
    the window it read around this face (they sum to 1); ``heatmap`` is then this frame's weight relative to
    the largest one, the same value over the whole face (see docs/explanations.md)."""

    person: int
    frame_index: int
    timestamp: float
    box: tuple[float, float, float, float]
    fake_probability: float
    label: Label
    is_evidence: bool
    method: str
    member: str | None
    crop: np.ndarray = field(repr=False)  # (S, S, 3) uint8 RGB, S = the explained model's input size
    heatmap: np.ndarray = field(repr=False)  # (S, S) float32 in [0, 1]
    frame_weights: np.ndarray | None = field(default=None, repr=False)

    def overlay(self, alpha: float = 0.45) -> np.ndarray:
        """The crop with the heatmap blended over it (uint8 RGB): coloured if evidence, grey otherwise."""
        return render.overlay(self.crop, self.heatmap, alpha=alpha, evidence=self.is_evidence)

    @property
    def caption(self) -> list[str]:
        """The panel's two caption lines, e.g. ``["gradcam  p(fake) 0.91  FAKE: evidence", "person 1 ..."]``."""
        verdict = "evidence" if self.is_evidence else f"not evidence (face called {self.label})"
        head = f"{self.method}  p(fake) {self.fake_probability:.2f}  {verdict}"
        where = f"person {self.person}  frame {self.frame_index}  at {format_time(self.timestamp, tenths=True)}"
        if self.member:
            where += f"  model {self.member}"
        return [head, where]

    def panel(self) -> np.ndarray:
        """crop | heatmap | overlay side by side with a caption naming the method, the probability and whether
        the map is evidence; uint8 RGB ``(S + caption, 3 S, 3)``."""
        return render.panel(self.crop, self.heatmap, self.caption, evidence=self.is_evidence)


__all__ = ["FaceExplanation", "SuspiciousFace"]
