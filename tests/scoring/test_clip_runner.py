"""Clip scoring: the window rule, per-crop means over windows, batching, layout, and frame-runner tracks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from facetrust.errors import ConfigError, InputError
from facetrust.scoring import ClipScoreRunner, ScoreRunner, clip_windows, logits_to_probabilities
from facetrust.types import DetectorSpec

CPU = torch.device("cpu")
SIZE = 16
T = 4


class OrderedMeanColour(nn.Module):
    """Clip probe: logit = sum over positions t of (t + 1) * mean of frame t (order-sensitive, exact)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.seen: list[tuple[tuple[int, ...], bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.flatten(0, 1)  # what the zoo's clip models do first
        self.seen.append((tuple(x.shape), frames.is_contiguous(memory_format=torch.channels_last)))
        weights = torch.arange(1, x.shape[1] + 1, dtype=x.dtype)
        return (self.scale * (x.mean(dim=(2, 3, 4)) * weights).sum(dim=1))[:, None]


def _spec(**kwargs: object) -> DetectorSpec:
    base: dict[str, object] = {
        "name": "clip_probe",
        "architecture": "cnn_bilstm",
        "input_size": SIZE,
        "clip_length": T,
        "mean": (0.5, 0.5, 0.5),
        "std": (0.5, 0.5, 0.5),
        "temperature": 2.0,
    }
    return DetectorSpec(**{**base, **kwargs})  # type: ignore[arg-type]


def _grey(value: int, side: int = SIZE) -> np.ndarray:
    return np.full((side, side, 3), value, dtype=np.uint8)


def _manual_logits(values: list[int], clip_length: int = T) -> np.ndarray:
    """The per-crop logits of OrderedMeanColour over a track of grey crops, by the documented rule."""
    norm = (np.asarray(values, np.float64) / 255.0 - 0.5) / 0.5
    sums, counts = np.zeros(len(values)), np.zeros(len(values))
    for window in clip_windows(len(values), clip_length):
        logit = sum((t + 1) * norm[i] for t, i in enumerate(window))
        covered = sorted(set(window.tolist()))
        sums[covered] += logit
        counts[covered] += 1
    return sums / counts


@pytest.mark.parametrize(
    ("length", "clip_length", "expected"),
    [
        (0, 4, []),
        (1, 4, [[0, 0, 0, 0]]),
        (3, 4, [[0, 0, 1, 2]]),
        (4, 4, [[0, 1, 2, 3]]),
        (5, 4, [[0, 1, 2, 3], [1, 2, 3, 4]]),
        (8, 4, [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7]]),
        (9, 4, [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7], [5, 6, 7, 8]]),
        (3, 1, [[0], [1], [2]]),
        (5, 3, [[0, 1, 2], [1, 2, 3], [2, 3, 4]]),
    ],
)
def test_clip_windows_rule(length: int, clip_length: int, expected: list[list[int]]) -> None:
    assert [w.tolist() for w in clip_windows(length, clip_length)] == expected


@pytest.mark.parametrize("clip_length", [1, 2, 3, 4, 7, 16])
def test_clip_windows_cover_every_crop_in_order(clip_length: int) -> None:
    for length in range(1, 40):
        windows = clip_windows(length, clip_length)
        assert all(len(w) == clip_length and np.all(np.diff(w) >= 0) for w in windows)
        covered = np.bincount(np.concatenate([np.unique(w) for w in windows]), minlength=length)
        assert covered.min() >= 1 and covered.max() <= 3 and len(covered) == length


def test_clip_windows_rejects_a_bad_length() -> None:
    with pytest.raises(ConfigError, match="clip_length"):
        clip_windows(3, 0)


def test_per_crop_logits_are_the_mean_over_covering_windows() -> None:
    runner = ClipScoreRunner(OrderedMeanColour(), _spec(), CPU)
    tracks_values = [[10, 200, 40, 90, 250, 0], [77], [30, 220, 128], []]
    tracks = [[_grey(v, side=SIZE + 3 * i) for i, v in enumerate(values)] for values in tracks_values]
    logits = runner.track_logits(tracks, batch_size=8)
    assert [len(x) for x in logits] == [6, 1, 3, 0]
    for got, values in zip(logits, tracks_values, strict=True):
        assert got.dtype == np.float32
        if values:
            np.testing.assert_allclose(got, _manual_logits(values), atol=1e-5)
    # a short track is padded by repeating its crops in order: one window, the same logit for each crop
    assert np.ptp(logits[2]) == 0
    probs = runner.track_probabilities(tracks, batch_size=8)
    for p, lg in zip(probs, logits, strict=True):
        np.testing.assert_allclose(p, logits_to_probabilities(lg, 2.0), atol=1e-7)


@pytest.mark.parametrize("batch_size", [1, 3, 4, 9, 100])
def test_results_do_not_depend_on_the_batch_size(batch_size: int) -> None:
    model = OrderedMeanColour()
    runner = ClipScoreRunner(model, _spec(), CPU)
    tracks = [[_grey(v) for v in range(0, 250, 25)], [_grey(5), _grey(250)]]
    reference = ClipScoreRunner(OrderedMeanColour(), _spec(), CPU).track_logits(tracks, batch_size=64)
    got = runner.track_logits(tracks, batch_size=batch_size)
    for a, b in zip(got, reference, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert all(shape[0] <= max(1, batch_size // T) for shape, _ in model.seen)


def test_windows_reach_the_model_as_clips_with_channels_last_frames() -> None:
    model = OrderedMeanColour()
    runner = ClipScoreRunner(model, _spec(), CPU)
    runner.track_logits([[_grey(v, side=40) for v in range(9)]], batch_size=8)  # 4 windows of 4, 2 per batch
    assert [shape for shape, _ in model.seen] == [(2, T, 3, SIZE, SIZE)] * 2
    assert all(channels_last for _, channels_last in model.seen)


def test_logits_take_the_crops_as_one_track() -> None:
    runner = ClipScoreRunner(OrderedMeanColour(), _spec(), CPU)
    crops = [_grey(v) for v in (3, 60, 120, 180, 240)]
    np.testing.assert_array_equal(runner.logits(crops), runner.track_logits([crops])[0])
    np.testing.assert_array_equal(runner.probabilities(crops), runner.track_probabilities([crops])[0])


def test_clip_runner_needs_a_clip_length() -> None:
    with pytest.raises(ConfigError, match="clip_length"):
        ClipScoreRunner(OrderedMeanColour(), _spec(clip_length=None), CPU)


def test_a_bad_crop_names_its_track() -> None:
    runner = ClipScoreRunner(OrderedMeanColour(), _spec(), CPU)
    with pytest.raises(InputError, match="track 1: crop 2"):
        runner.track_logits([[_grey(1)], [_grey(1), _grey(2), np.zeros((8, 8), np.uint8)]])
    with pytest.raises(ConfigError, match="batch_size"):
        runner.track_logits([[_grey(1)]], batch_size=0)


class MeanColour(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.mean(dim=(2, 3)))


def test_frame_runner_tracks_are_the_flat_probabilities_split_back() -> None:
    torch.manual_seed(0)
    runner = ScoreRunner(MeanColour(), _spec(clip_length=None, architecture="efficientnet_lite0"), CPU)
    rng = np.random.default_rng(3)
    tracks = [[rng.integers(0, 256, (20 + i, 30, 3), dtype=np.uint8) for i in range(n)] for n in (4, 0, 1, 3)]
    flat = runner.probabilities([c for track in tracks for c in track], batch_size=3)
    got = runner.track_probabilities(tracks, batch_size=3)
    assert [len(p) for p in got] == [4, 0, 1, 3]
    np.testing.assert_array_equal(np.concatenate(got), flat)
    assert runner.track_probabilities([], batch_size=3) == []
