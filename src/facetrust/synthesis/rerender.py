"""Re-rendered clips: a proxy for generators that render every frame through a decoder, made from real video.

Talking-head and diffusion video generators (AniPortrait, AniTalker, DINet, GeneFace...) do not paste a face
into a frame: they render the whole face, frame after frame, through up-sampling layers, and each frame is
rendered on its own. Their clips therefore carry two things a camera never makes: a decoder's texture, and a
texture that does not move with the face (the decoder's pixel grid stays put while the head moves, and what
it draws drifts a little from frame to frame: flicker).

:func:`rerender_clip` makes such a clip from a real one. Each frame is rebuilt by one auto-encoder of
:mod:`facetrust.synthesis.upsampler` (one per clip), after a shift of the frame against the decoder's
8-pixel grid that is drawn per frame (flicker) or once per clip (a steady render), and optionally with a
small per-frame gain (brightness flicker). The rebuilt face is pasted back through a soft face mask placed on
each frame's own landmarks, or the whole crop is replaced. Pose, identity, lighting and codec history stay
those of the real clip, so a clip model can only tell the two apart by how the pixels were made and how they
change over time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from facetrust.errors import ConfigError
from facetrust.synthesis.sbi import SbiConfig, face_hull_mask

Renderer = Callable[[np.ndarray, np.random.Generator], np.ndarray]
"""``renderer(image, rng) -> image``: one uint8 RGB image rebuilt by a decoder chosen by ``rng``
(:class:`facetrust.synthesis.upsampler.DecoderRenderer`)."""

_GRID = 8  # the auto-encoders' total down-sampling: shifts beyond it repeat the grid
_SEED_BOUND = 2**31 - 1


@dataclass(frozen=True)
class RerenderConfig:
    """Ranges of the random choices of :func:`rerender_clip`, drawn once per clip."""

    whole_crop_share: float = 0.4  # clips whose whole crop is re-rendered (else the face, through a soft mask)
    flicker_share: float = 0.7  # clips whose grid shift is drawn per frame (else one shift for the clip)
    gain_flicker: tuple[float, float] = (0.0, 0.02)  # std of a per-frame brightness gain inside the render

    def __post_init__(self) -> None:
        for name in ("whole_crop_share", "flicker_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {value}")
        low, high = self.gain_flicker
        if not 0.0 <= low <= high:
            raise ConfigError(f"gain_flicker must be 0 <= low <= high, got {self.gain_flicker}")


def _render_shifted(frame: np.ndarray, renderer: Renderer, model_seed: int, dy: int, dx: int) -> np.ndarray:
    """``frame`` rebuilt by the renderer's model for ``model_seed``, with the decoder grid offset by (dy, dx)."""
    height, width = frame.shape[:2]
    padded = np.pad(frame, ((_GRID, _GRID), (_GRID, _GRID), (0, 0)), mode="reflect")
    window = np.ascontiguousarray(padded[dy : dy + height + _GRID, dx : dx + width + _GRID])
    rebuilt = renderer(window, np.random.default_rng(model_seed))
    top, left = _GRID - dy, _GRID - dx  # where the frame's first pixel sits in the window
    return rebuilt[top : top + height, left : left + width]


def rerender_clip(
    frames: Sequence[np.ndarray],
    landmarks: np.ndarray,
    renderer: Renderer,
    rng: np.random.Generator,
    cfg: RerenderConfig | None = None,
) -> list[np.ndarray]:
    """The real clip ``frames`` (T uint8 RGB images of one size, landmarks (T, 5, 2)) rendered again, frame by
    frame, through one decoder of ``renderer``: see the module docstring."""
    cfg = cfg or RerenderConfig()
    track = np.asarray(landmarks, np.float64)
    if len(frames) == 0 or track.shape != (len(frames), 5, 2):
        raise ConfigError(f"landmarks must be (T, 5, 2) for T = {len(frames)} frames, got {track.shape}")
    model_seed = int(rng.integers(_SEED_BOUND))
    whole = rng.random() < cfg.whole_crop_share
    flicker = rng.random() < cfg.flicker_share
    gain_std = float(rng.uniform(*cfg.gain_flicker))
    mask_seed = int(rng.integers(_SEED_BOUND))
    steady = rng.integers(0, _GRID, size=2)
    mask_shape = SbiConfig()  # the self-blend's face-mask settings
    out: list[np.ndarray] = []
    for frame, points in zip(frames, track, strict=True):
        frame = np.asarray(frame)
        dy, dx = (rng.integers(0, _GRID, size=2) if flicker else steady).tolist()
        rendered = _render_shifted(frame, renderer, model_seed, int(dy), int(dx)).astype(np.float32)
        if gain_std > 0:
            rendered *= float(rng.normal(1.0, gain_std))
        if whole:
            mixed = rendered
        else:  # one mask draw for the clip, placed on each frame's own landmarks
            mask = face_hull_mask(frame.shape[:2], points, np.random.default_rng(mask_seed), mask_shape)[..., None]
            mixed = rendered * mask + frame.astype(np.float32) * (1.0 - mask)
        out.append(np.clip(mixed, 0, 255).round().astype(np.uint8))
    return out


__all__ = ["RerenderConfig", "Renderer", "rerender_clip"]
