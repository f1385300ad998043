"""Verdict stage: per-frame fake probabilities → per-person and per-media labels."""

from facetrust.verdict.decide import DecisionRule, PersonVerdict, decide, suspicious_spans

__all__ = ["DecisionRule", "PersonVerdict", "decide", "suspicious_spans"]
