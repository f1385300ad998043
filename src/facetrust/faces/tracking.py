"""Link per-frame face detections into per-person tracks.

Sampled frames can be far apart (a few dozen frames over minutes of video), so association is purely
spatial: each face is compared with the last observation of every active track by overlap (IoU) and by
centre distance relative to the face size, and the pairs are chosen with the Hungarian algorithm. Tracks
may skip frames; a face that matches no track starts a new one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np

from facetrust.errors import ConfigError, InputError
from facetrust.types import FaceBox, FaceObservation, FaceTrack, TrackingResult

logger = logging.getLogger(__name__)

_NO_MATCH = 1e6  # cost of a gated-out pair


def link_tracks(
    detections: Sequence[tuple[int, float, Sequence[FaceBox]]],
    *,
    min_face_size: float = 32.0,
    min_score: float = 0.9,
    max_center_distance: float = 1.0,
    min_iou: float = 0.0,
    max_gap_seconds: float | None = None,
) -> TrackingResult:
    """Group the faces of sampled frames into tracks, one per person.

    ``detections`` holds ``(frame_index, timestamp, faces)`` per sampled frame, in time order. Faces with
    ``FaceBox.size < min_face_size`` are dropped as ``"too_small"``, then faces with ``score <
    min_score`` as ``"low_score"``; ``TrackingResult.dropped`` counts both. A face may continue a track
    when its centre is within ``max_center_distance`` face sizes (the mean ``FaceBox.size`` of the two) of
    the track's last face, or when their IoU exceeds ``min_iou``; the cost of a pair is ``(1 - IoU) +
    centre distance / size``, and the pairs of each frame are chosen to minimise the total cost. With
    ``max_gap_seconds``, a track not seen for longer than that is closed and cannot be continued.

    Tracks come back in order of first appearance with ``track_id`` 1, 2, ...; observations have
    ``crop=None``.
    """
    if min_face_size < 0 or not 0.0 <= min_score <= 1.0 or max_center_distance < 0 or min_iou < 0:
        raise ConfigError(
            "link_tracks needs min_face_size >= 0, min_score in [0, 1], max_center_distance >= 0 and "
            f"min_iou >= 0; got {min_face_size}, {min_score}, {max_center_distance}, {min_iou}"
        )
    if max_gap_seconds is not None and max_gap_seconds < 0:
        raise ConfigError(f"max_gap_seconds must be None or >= 0, got {max_gap_seconds}")

    dropped = {"too_small": 0, "low_score": 0}
    tracks: list[FaceTrack] = []
    last_time = -math.inf
    for frame_index, timestamp, faces in detections:
        if timestamp < last_time:
            raise InputError(
                f"detections must be in time order: frame {frame_index} at {timestamp}s comes after {last_time}s"
            )
        last_time = timestamp
        kept: list[FaceBox] = []
        for face in faces:
            if face.size < min_face_size:
                dropped["too_small"] += 1
            elif face.score < min_score:
                dropped["low_score"] += 1
            else:
                kept.append(face)
        if not kept:
            continue

        active = [t for t in tracks if max_gap_seconds is None or timestamp - t.end <= max_gap_seconds]
        matches: dict[int, FaceTrack] = {}
        if active:
            cost = _cost_matrix(kept, [t.observations[-1].face for t in active], max_center_distance, min_iou)
            rows, cols = _assign(cost)
            for r, c in zip(rows, cols, strict=True):
                if cost[r, c] < _NO_MATCH:
                    matches[int(r)] = active[int(c)]
        for i, face in enumerate(kept):
            observation = FaceObservation(frame_index=frame_index, timestamp=float(timestamp), face=face)
            track = matches.get(i)
            if track is None:
                track = FaceTrack(track_id=len(tracks) + 1)
                tracks.append(track)
            track.observations.append(observation)

    logger.debug("linked %d tracks; dropped %s", len(tracks), dropped)
    return TrackingResult(tracks=tracks, dropped=dropped)


def _assign(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost assignment of rows to columns (as ``scipy.optimize.linear_sum_assignment``).

    One face or one track (almost every frame) is a plain argmin and a few of each are tried exhaustively:
    importing ``scipy.optimize`` costs 0.35 s of start-up, more than all the tracking of a video."""
    n_rows, n_cols = cost.shape
    if n_rows == 1:
        return np.array([0]), np.array([int(np.argmin(cost[0]))])
    if n_cols == 1:
        return np.array([int(np.argmin(cost[:, 0]))]), np.array([0])
    if max(n_rows, n_cols) <= 5:
        import itertools

        rows = np.arange(min(n_rows, n_cols))
        best: tuple[float, tuple[int, ...]] | None = None
        if n_rows <= n_cols:
            for cols in itertools.permutations(range(n_cols), n_rows):
                total = float(cost[rows, list(cols)].sum())
                if best is None or total < best[0]:
                    best = (total, cols)
            assert best is not None
            return rows, np.array(best[1])
        for picked in itertools.permutations(range(n_rows), n_cols):
            total = float(cost[list(picked), np.arange(n_cols)].sum())
            if best is None or total < best[0]:
                best = (total, picked)
        assert best is not None
        order = np.argsort(best[1])
        return np.array(best[1])[order], np.arange(n_cols)[order]
    from scipy.optimize import linear_sum_assignment

    return linear_sum_assignment(cost)


def _cost_matrix(
    faces: Sequence[FaceBox], previous: Sequence[FaceBox], max_center_distance: float, min_iou: float
) -> np.ndarray:
    """Cost of continuing each track (columns) with each face (rows); gated pairs cost ``_NO_MATCH``."""
    a = np.array([f.box for f in faces], np.float64)[:, None, :]  # (F, 1, 4)
    b = np.array([f.box for f in previous], np.float64)[None, :, :]  # (1, T, 4)
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    iou = inter / np.maximum(area_a + area_b - inter, 1e-9)
    centre_a = (a[..., 0:2] + a[..., 2:4]) / 2
    centre_b = (b[..., 0:2] + b[..., 2:4]) / 2
    size = (
        (a[..., 2] - a[..., 0] + a[..., 3] - a[..., 1]) + (b[..., 2] - b[..., 0] + b[..., 3] - b[..., 1])
    ) / 4
    distance = np.linalg.norm(centre_a - centre_b, axis=-1) / np.maximum(size, 1e-9)
    cost = (1.0 - iou) + distance
    gated = ((distance > max_center_distance) & (iou <= min_iou)) | ~np.isfinite(cost)
    return np.where(gated, _NO_MATCH, cost)


__all__ = ["link_tracks"]
