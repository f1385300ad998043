"""Re-rendered clips: a real clip rebuilt frame by frame by a decoder, with flicker, placed on the real face."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facetrust.errors import ConfigError
from facetrust.synthesis.rerender import RerenderConfig, rerender_clip
from facetrust.synthesis.upsampler import UpsamplingAutoEncoder, reconstruct
from tests_helpers import astronaut_variants

SIDE = 96
# MTCNN's landmarks of the astronaut face in astronaut_variants(...)[0] scaled to 96 px
LANDMARKS = np.array([[37.2, 30.1], [50.2, 31.1], [43.6, 38.5], [36.5, 41.8], [49.4, 42.6]])


class _Decoder:
    """A renderer with one small untrained up-sampling auto-encoder (its grid traces are strong)."""

    def __init__(self) -> None:
        self.model = UpsamplingAutoEncoder("transposed", width=8, depth=2).eval()
        self.calls = 0

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        self.calls += 1
        return reconstruct(self.model, [image])[0]


def _frames(n: int = 4) -> list[np.ndarray]:
    return [cv2.resize(a, (SIDE, SIDE), interpolation=cv2.INTER_AREA) for a in astronaut_variants(n)]


def _track(n: int = 4) -> np.ndarray:
    return np.stack([LANDMARKS + [0.3 * i, 0.1 * i] for i in range(n)])


def test_frames_are_rebuilt_one_by_one_at_their_size() -> None:
    decoder = _Decoder()
    frames = _frames()
    fake = rerender_clip(frames, _track(), decoder, np.random.default_rng(0), RerenderConfig(whole_crop_share=1.0))
    assert decoder.calls == len(frames)
    assert [f.shape for f in fake] == [f.shape for f in frames] and fake[0].dtype == np.uint8
    assert all(not np.array_equal(a, b) for a, b in zip(frames, fake, strict=True))


def test_face_mask_keeps_the_corners_real_and_changes_the_face() -> None:
    frames = _frames()
    fake = rerender_clip(frames, _track(), _Decoder(), np.random.default_rng(1),
                         RerenderConfig(whole_crop_share=0.0, gain_flicker=(0.0, 0.0)))
    for real, out in zip(frames, fake, strict=True):
        diff = np.abs(real.astype(int) - out.astype(int)).sum(axis=2)
        assert diff[:8, :8].max() == 0 and diff[-8:, -8:].max() == 0  # far from the face: untouched
        assert diff[30:45, 36:52].mean() > 5  # eyes and nose: rendered


def test_flicker_moves_the_decoder_grid_from_frame_to_frame() -> None:
    """One frame repeated: a steady render gives identical frames, a flickering one does not."""
    still = [_frames(1)[0]] * 4
    track = np.stack([LANDMARKS] * 4)
    steady = rerender_clip(still, track, _Decoder(), np.random.default_rng(2),
                           RerenderConfig(whole_crop_share=1.0, flicker_share=0.0, gain_flicker=(0.0, 0.0)))
    assert all(np.array_equal(steady[0], f) for f in steady[1:])
    flicker = rerender_clip(still, track, _Decoder(), np.random.default_rng(2),
                            RerenderConfig(whole_crop_share=1.0, flicker_share=1.0, gain_flicker=(0.0, 0.0)))
    assert any(not np.array_equal(flicker[0], f) for f in flicker[1:])


def _stamp_grid(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 'decoder' that copies its input and brightens every 8th row: a grid trace and nothing else."""
    out = image.astype(np.int16)
    out[::8] += 40
    return np.clip(out, 0, 255).astype(np.uint8)


def test_a_grid_shift_keeps_the_picture_in_place_and_moves_only_the_trace() -> None:
    frame = np.full((SIDE, SIDE, 3), 100, np.uint8)
    frame[20:60, 30:70] = 180  # a bright square that must stay where it is
    frames, track = [frame] * 6, np.stack([LANDMARKS] * 6)
    fake = rerender_clip(frames, track, _stamp_grid, np.random.default_rng(3),
                         RerenderConfig(whole_crop_share=1.0, flicker_share=1.0, gain_flicker=(0.0, 0.0)))
    phases = set()
    for out in fake:
        changed_rows = np.flatnonzero(np.any(out != frame, axis=(1, 2)))
        assert len(changed_rows) == SIDE // 8 and np.all(np.diff(changed_rows) == 8)  # only the trace
        phases.add(int(changed_rows[0]))
        untouched = np.ones(SIDE, bool)
        untouched[changed_rows] = False
        assert np.array_equal(out[untouched], frame[untouched])  # the picture itself, not moved
    assert len(phases) > 1  # the trace moves from frame to frame: flicker


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ConfigError, match="landmarks must be"):
        rerender_clip(_frames(2), _track(3), _Decoder(), np.random.default_rng(0))
    with pytest.raises(ConfigError, match="landmarks must be"):
        rerender_clip([], np.zeros((0, 5, 2)), _Decoder(), np.random.default_rng(0))
    with pytest.raises(ConfigError, match="flicker_share"):
        RerenderConfig(flicker_share=1.5)
    with pytest.raises(ConfigError, match="gain_flicker"):
        RerenderConfig(gain_flicker=(0.1, 0.0))
