"""Linking faces of sampled frames into per-person tracks."""

from __future__ import annotations

import numpy as np
import pytest

from facetrust.errors import ConfigError, InputError
from facetrust.faces import link_tracks
from facetrust.types import FaceBox


def face(cx: float, cy: float, size: float = 100.0, score: float = 0.99) -> FaceBox:
    return FaceBox(box=(cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2), score=score)


def test_two_people_apart_give_two_tracks() -> None:
    frames = []
    for i in range(6):
        left, right = face(300 + 5 * i, 400 - 3 * i), face(1500 - 4 * i, 420 + 2 * i)
        faces = [left, right] if i % 2 else [right, left]  # list order must not matter
        frames.append((i * 30, i * 1.0, faces))
    result = link_tracks(frames)
    assert [t.track_id for t in result.tracks] == [1, 2]
    for track in result.tracks:
        assert [o.frame_index for o in track.observations] == [0, 30, 60, 90, 120, 150]
        assert [o.timestamp for o in track.observations] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
        xs = [o.face.center[0] for o in track.observations]
        assert all(x < 900 for x in xs) or all(x > 900 for x in xs)
        assert all(o.crop is None for o in track.observations)
    assert result.dropped == {"too_small": 0, "low_score": 0}


def test_person_who_leaves_and_returns_keeps_one_track() -> None:
    frames = [
        (0, 0.0, [face(500, 300)]),
        (10, 20.0, []),
        (20, 40.0, []),
        (30, 60.0, [face(520, 310, size=110)]),
    ]
    result = link_tracks(frames)
    assert len(result.tracks) == 1
    assert [o.frame_index for o in result.tracks[0].observations] == [0, 30]
    assert (result.tracks[0].start, result.tracks[0].end) == (0.0, 60.0)


def test_max_gap_closes_tracks() -> None:
    frames = [(0, 0.0, [face(500, 300)]), (30, 60.0, [face(500, 300)])]
    assert len(link_tracks(frames, max_gap_seconds=10.0).tracks) == 2
    assert len(link_tracks(frames, max_gap_seconds=60.0).tracks) == 1


def test_far_jump_starts_a_new_track() -> None:
    frames = [(0, 0.0, [face(200, 300)]), (1, 1.0, [face(800, 300)])]
    assert len(link_tracks(frames).tracks) == 2
    assert len(link_tracks(frames, max_center_distance=10.0).tracks) == 1


def test_overlap_allows_a_match_beyond_the_distance_gate() -> None:
    frames = [(0, 0.0, [face(200, 300, size=100)]), (1, 1.0, [face(260, 300, size=100)])]  # IoU 0.25
    assert len(link_tracks(frames, max_center_distance=0.2).tracks) == 1
    assert len(link_tracks(frames, max_center_distance=0.2, min_iou=0.3).tracks) == 2


def test_assignment_is_global_not_greedy() -> None:
    # Track A ends at x=100, track B at x=190. The new faces at 150 and 240: greedily giving 150 to its
    # nearest (B, distance 40) would leave 240 without a match; the optimal assignment keeps both.
    frames = [
        (0, 0.0, [face(100, 300), face(190, 300)]),
        (1, 1.0, [face(150, 300), face(240, 300)]),
    ]
    result = link_tracks(frames, max_center_distance=0.6)
    assert len(result.tracks) == 2
    assert [o.face.center[0] for o in result.tracks[0].observations] == [100, 150]
    assert [o.face.center[0] for o in result.tracks[1].observations] == [190, 240]


def test_small_and_unsure_faces_are_dropped_and_counted() -> None:
    frames = [
        (0, 0.0, [face(500, 300), face(100, 100, size=20), face(900, 300, score=0.5)]),
        (1, 1.0, [face(500, 300), face(100, 100, size=10, score=0.1)]),
    ]
    result = link_tracks(frames)
    assert len(result.tracks) == 1
    assert len(result.tracks[0].observations) == 2
    assert result.dropped == {"too_small": 2, "low_score": 1}
    loose = link_tracks(frames, min_face_size=0.0, min_score=0.0)
    assert loose.dropped == {"too_small": 0, "low_score": 0}
    assert len(loose.tracks) == 3


def test_tracks_are_ordered_by_first_appearance() -> None:
    frames = [
        (0, 0.0, [face(100, 100)]),
        (1, 1.0, [face(900, 100), face(100, 100)]),
        (2, 2.0, [face(500, 600), face(900, 100)]),
    ]
    result = link_tracks(frames)
    assert [(t.track_id, t.observations[0].frame_index) for t in result.tracks] == [(1, 0), (2, 1), (3, 2)]
    assert [len(t.observations) for t in result.tracks] == [2, 2, 1]


def test_one_frame_with_two_faces_gives_two_tracks() -> None:
    result = link_tracks([(0, 0.0, [face(100, 100), face(400, 100)])])
    assert [len(t.observations) for t in result.tracks] == [1, 1]


def test_empty_input() -> None:
    assert link_tracks([]).tracks == []
    assert link_tracks([(0, 0.0, []), (1, 1.0, [])]).tracks == []


def test_out_of_order_frames_raise() -> None:
    with pytest.raises(InputError, match="time order"):
        link_tracks([(5, 5.0, [face(1, 1)]), (1, 1.0, [])])


@pytest.mark.parametrize(
    "kwargs",
    [{"min_score": 1.5}, {"min_face_size": -1.0}, {"max_center_distance": -0.1}, {"max_gap_seconds": -1.0}],
)
def test_bad_settings_raise(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        link_tracks([], **kwargs)


@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (4, 1), (2, 3), (3, 2), (4, 4), (5, 3), (7, 6)])
def test_assignment_is_optimal_like_scipy(shape: tuple[int, int]) -> None:
    from scipy.optimize import linear_sum_assignment

    from facetrust.faces.tracking import _assign

    rng = np.random.default_rng(sum(shape))
    for _ in range(20):
        cost = rng.uniform(0, 10, size=shape)
        rows, cols = _assign(cost)
        ref_rows, ref_cols = linear_sum_assignment(cost)
        assert cost[rows, cols].sum() == pytest.approx(cost[ref_rows, ref_cols].sum())
        assert len(set(rows.tolist())) == len(rows) == min(shape) and len(set(cols.tolist())) == len(cols)
        assert list(rows) == sorted(rows)
