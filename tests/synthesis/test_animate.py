"""Animated stills: the warp follows the landmarks, a still driven by a still stays still, the mouth option."""

from __future__ import annotations

import numpy as np
import pytest

from facetrust.errors import ConfigError
from facetrust.synthesis.animate import (
    AnimateConfig,
    animate_still,
    mouth_mask,
    smooth_track,
    warp_to_landmarks,
)
from tests_helpers import astronaut_variants

# eyes, nose, mouth corners of a face in a 96-px square
FACE = np.array([[36.0, 38.0], [60.0, 38.0], [48.0, 52.0], [38.0, 66.0], [58.0, 66.0]])


def _textured(size: int = 96) -> np.ndarray:
    return np.ascontiguousarray(astronaut_variants(1)[0][:size, :size])


def _dot_image(points: np.ndarray, size: int = 96) -> np.ndarray:
    image = np.zeros((size, size, 3), np.uint8)
    for x, y in points.round().astype(int):
        image[y - 1 : y + 2, x - 1 : x + 2] = 255
    return image


def _bright_centre(image: np.ndarray, near: np.ndarray, radius: int = 6) -> np.ndarray:
    x0, y0 = (near.round().astype(int) - radius).clip(0)
    patch = image[y0 : y0 + 2 * radius, x0 : x0 + 2 * radius, 0].astype(np.float64)
    ys, xs = np.nonzero(patch > 100)
    weights = patch[ys, xs]
    return np.array([x0 + np.average(xs, weights=weights), y0 + np.average(ys, weights=weights)])


def test_same_points_leave_the_image_as_it_is() -> None:
    image = _textured()
    out = warp_to_landmarks(image, FACE, FACE, smoothing=0.0)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - image).mean() < 1.0


def test_each_landmark_lands_on_its_target() -> None:
    target = FACE + np.array([[2.0, -1.0], [3.0, 0.0], [1.0, 2.0], [-2.0, 4.0], [3.0, 4.0]])
    out = warp_to_landmarks(_dot_image(FACE), FACE, target, smoothing=0.0)
    for point in target:
        assert np.linalg.norm(_bright_centre(out, point) - point) < 1.0


def test_a_still_driven_by_a_still_stays_still_and_motion_moves_it() -> None:
    image = _textured()
    rng = np.random.default_rng(0)
    still = animate_still(image, FACE, np.repeat(FACE[None], 4, axis=0), rng, AnimateConfig(spline_smoothing=0.0))
    assert len(still) == 4 and all(np.abs(f.astype(int) - image).mean() < 1.0 for f in still)
    drive = np.stack([FACE + [1.5 * t, 0.0] for t in range(4)])  # the head slides right
    moving = animate_still(image, FACE, drive, np.random.default_rng(0), AnimateConfig(smoothing=(1, 1)))
    shift = [np.abs(f.astype(int) - image).mean() for f in moving]
    assert shift[0] < 1.0 < shift[3] and shift[1] < shift[2] < shift[3]


def test_motion_is_relative_to_the_reference_frame() -> None:
    drive = np.stack([FACE + [2.0 * t, 0.0] for t in range(3)])
    dots = _dot_image(drive[1])  # the source is driving frame 1
    frames = animate_still(dots, drive[1], drive, np.random.default_rng(0),
                           AnimateConfig(smoothing=(1, 1), spline_smoothing=0.0), reference=1)
    for t in range(3):
        assert np.linalg.norm(_bright_centre(frames[t], drive[t][0]) - drive[t][0]) < 1.0


def test_the_mouth_option_takes_the_real_frames_mouth() -> None:
    image = _textured()
    drive = np.repeat(FACE[None], 3, axis=0)
    real = [np.full_like(image, 40 * (t + 1)) for t in range(3)]
    frames = animate_still(image, FACE, drive, np.random.default_rng(0), AnimateConfig(mouth_share=1.0),
                           driving_frames=real)
    mouth = (69, 48)  # (row, col) between the mouth corners, a little below
    for t, frame in enumerate(frames):
        assert np.abs(frame[mouth].astype(int) - 40 * (t + 1)).max() <= 2  # the real frame's mouth
        assert np.abs(frame[20, 20].astype(int) - image[20, 20]).max() <= 2  # the still elsewhere
    mask = mouth_mask((96, 96), FACE, 9)
    assert mask.dtype == np.float32 and mask[mouth] > 0.9 and mask[20, 20] == 0


def test_smoothing_averages_over_time() -> None:
    track = np.stack([FACE + [float(t % 2), 0.0] for t in range(6)])  # jitter of one pixel
    smooth = smooth_track(track, 3)
    assert np.ptp(smooth[1:-1, 0, 0]) < np.ptp(track[:, 0, 0])
    assert np.array_equal(smooth_track(track, 1), track)


def test_bad_shapes_are_config_errors() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ConfigError):
        animate_still(_textured(), FACE, FACE, rng)  # (5, 2): not a track
    with pytest.raises(ConfigError):
        animate_still(_textured(), FACE, FACE[None], rng, reference=1)
    with pytest.raises(ConfigError):
        animate_still(_textured(), FACE, np.repeat(FACE[None], 2, axis=0), rng, driving_frames=[_textured()])
    with pytest.raises(ConfigError):
        warp_to_landmarks(_textured(), FACE, FACE[:4])
