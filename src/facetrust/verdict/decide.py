"""From per-frame fake probabilities of each tracked person to labels.

A person's fake probability is the mean of its frames' probabilities (frames are already calibrated). The
media's verdict follows its most suspicious person. Labels: ``FAKE`` when p ≥ the band's upper edge,
``REAL`` below its lower edge, ``UNCERTAIN`` in between; ``NO_FACE`` when no usable face was found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from facetrust.errors import ConfigError
from facetrust.types import Label


@dataclass(frozen=True)
class DecisionRule:
    """Threshold and UNCERTAIN band ``[low, high)``; ``low <= threshold <= high``."""

    threshold: float
    low: float
    high: float

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError(f"threshold must lie strictly between 0 and 1, got {self.threshold}")
        if not self.low <= self.threshold <= self.high:
            raise ConfigError(f"uncertain band [{self.low}, {self.high}) must contain the threshold {self.threshold}")

    @classmethod
    def from_spec(cls, threshold: float, band: tuple[float, float], override: float | None = None) -> DecisionRule:
        """The spec's rule. An ``override`` threshold carries the band along proportionally: each edge keeps
        its relative distance to the threshold (as a share of the room towards 0 or 1), so both REAL and
        FAKE stay reachable whatever the override."""
        if override is None:
            return cls(threshold, band[0], band[1])
        if not 0.0 < override < 1.0:
            raise ConfigError(f"threshold must lie strictly between 0 and 1, got {override}")
        low_share = (threshold - band[0]) / threshold  # 0 = no band below the threshold
        high_share = (band[1] - threshold) / (1.0 - threshold)
        low = override * (1.0 - low_share)
        high = override + (1.0 - override) * high_share
        return cls(override, float(low), float(high))

    def label(self, probability: float) -> Label:
        if probability >= self.high:
            return Label.FAKE
        if probability < self.low:
            return Label.REAL
        return Label.UNCERTAIN


@dataclass(frozen=True)
class PersonVerdict:
    track_id: int
    label: Label
    fake_probability: float
    counted: bool  # False for brief tracks that do not decide the media's verdict
    rule: DecisionRule  # the rule that labelled this person (frame rule, or track rule for long tracks)


def suspicious_spans(times: Sequence[float], probabilities: Sequence[float], threshold: float) -> list[tuple[float, float]]:
    """Runs of consecutive sampled frames whose probability reaches ``threshold``, as (start, end) seconds."""
    spans: list[tuple[float, float]] = []
    start: float | None = None
    last = 0.0
    for time, probability in zip(times, probabilities, strict=True):
        if probability >= threshold:
            start = time if start is None else start
            last = time
        elif start is not None:
            spans.append((start, last))
            start = None
    if start is not None:
        spans.append((start, last))
    return spans


def decide(
    track_probabilities: dict[int, Sequence[float]],
    rule: DecisionRule,
    *,
    min_observations: int = 1,
    track_rule: DecisionRule | None = None,
    track_min_frames: int = 8,
) -> tuple[Label, float | None, list[PersonVerdict]]:
    """Label every person and the media. A person's probability (the mean over their frames) is labelled by
    ``track_rule`` when they have at least ``track_min_frames`` frames and a track rule is given, else by
    ``rule``. Tracks with fewer than ``min_observations`` frames are labelled but do not decide the media's
    verdict unless no track is long enough."""
    people = []
    for track_id, probabilities in track_probabilities.items():
        if len(probabilities) == 0:
            continue
        p = float(np.mean(probabilities))
        used = track_rule if track_rule is not None and len(probabilities) >= track_min_frames else rule
        people.append(PersonVerdict(track_id, used.label(p), p, len(probabilities) >= min_observations, used))
    if not people:
        return Label.NO_FACE, None, []
    deciding = [p for p in people if p.counted] or people
    worst = max(deciding, key=lambda p: p.fake_probability)
    return worst.label, worst.fake_probability, people
