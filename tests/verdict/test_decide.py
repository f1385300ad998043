import pytest

from facetrust.errors import ConfigError
from facetrust.types import Label
from facetrust.verdict import DecisionRule, decide, suspicious_spans


def test_rule_labels_by_band() -> None:
    rule = DecisionRule(threshold=0.5, low=0.4, high=0.6)
    assert rule.label(0.1) is Label.REAL
    assert rule.label(0.45) is Label.UNCERTAIN
    assert rule.label(0.6) is Label.FAKE


def test_override_moves_the_band_with_the_threshold() -> None:
    rule = DecisionRule.from_spec(0.5, (0.4, 0.7), override=0.8)
    assert rule.threshold == 0.8
    assert rule.low == pytest.approx(0.64) and rule.high == pytest.approx(0.88)


@pytest.mark.parametrize("override", [0.01, 0.1, 0.5, 0.9, 0.99])
def test_override_keeps_real_and_fake_reachable(override: float) -> None:
    rule = DecisionRule.from_spec(0.5, (0.3, 0.8), override=override)
    assert 0.0 < rule.low <= rule.threshold <= rule.high < 1.0
    assert rule.label(0.0) is Label.REAL and rule.label(0.999999) is Label.FAKE


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.2, 1.5])
def test_invalid_thresholds_are_config_errors(bad: float) -> None:
    with pytest.raises(ConfigError):
        DecisionRule.from_spec(0.5, (0.4, 0.6), override=bad)


def test_band_must_contain_threshold() -> None:
    with pytest.raises(ConfigError):
        DecisionRule(0.5, 0.6, 0.7)


def test_media_follows_its_most_suspicious_person() -> None:
    rule = DecisionRule(0.5, 0.5, 0.5)
    label, p, people = decide({1: [0.1, 0.2], 2: [0.9, 0.8, 0.95]}, rule)
    assert label is Label.FAKE and p == pytest.approx(0.8833, abs=1e-3)
    assert [v.label for v in people] == [Label.REAL, Label.FAKE]


def test_no_tracks_is_no_face() -> None:
    label, p, people = decide({}, DecisionRule(0.5, 0.5, 0.5))
    assert label is Label.NO_FACE and p is None and people == []


def test_brief_tracks_do_not_decide_unless_alone() -> None:
    rule = DecisionRule(0.5, 0.5, 0.5)
    label, _, people = decide({1: [0.1] * 10, 2: [0.99]}, rule, min_observations=2)
    assert label is Label.REAL
    assert people[1].label is Label.FAKE and not people[1].counted
    label, _, _ = decide({2: [0.99]}, rule, min_observations=2)
    assert label is Label.FAKE


def test_suspicious_spans() -> None:
    times = [0, 1, 2, 3, 4, 5]
    probs = [0.1, 0.9, 0.8, 0.2, 0.7, 0.7]
    assert suspicious_spans(times, probs, 0.5) == [(1, 2), (4, 5)]
    assert suspicious_spans([], [], 0.5) == []
