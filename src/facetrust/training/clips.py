"""Temporally consistent training clips: windows of face tracks and self-blended clips.

A clip is ``length`` crops of one face track (one real video of a :class:`CropStore`, or one item and person
of a ``facetrust extract`` folder) in time order. A track is cut into consecutive windows (stride =
``length``) and a tail shorter than a window is dropped; a track shorter than ``length`` gives one window
padded by repeating its last crop (a frozen end, made alike for real and fake clips).

Everything random in a clip is drawn once per clip, so that the only change from frame to frame is the
video's own: the crop jitter, the flip, the augmentation, the self-blend alterations and the degradation
parameters (downscale factor, blur, codec quality...). Sensor noise is the exception: its strength is the
clip's, but each frame gets fresh noise, as a camera would give (see :func:`degrade_clip`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
import torch
from torch.utils.data import Dataset

from facetrust.errors import ConfigError
from facetrust.scoring.runner import clip_windows
from facetrust.synthesis import DegradeConfig, SbiConfig, degrade, self_blend
from facetrust.training.dataset import to_tensor
from facetrust.training.prepare import CropStore

logger = logging.getLogger(__name__)

Augment = Callable[[list[np.ndarray], np.random.Generator], list[np.ndarray]]
"""``augment(frames, rng) -> frames``: uint8 RGB cuts in, the same number of uint8 RGB images of the same size
out. It should draw its parameters from ``rng`` once per call, so that all frames of a clip change alike
(:mod:`facetrust.training.augment` does). Datasets apply it only when training."""

_SEED_BOUND = 2**63


def windows(track: Sequence[int], length: int) -> list[list[int]]:
    """Cut an ordered ``track`` into windows of ``length`` (stride ``length``, tail dropped); a track shorter
    than ``length`` gives one window with its entries repeated in order, exactly as detection pads a short
    track (:func:`facetrust.scoring.runner.clip_windows`): ``[a, a, b, c]`` for 3 entries and length 4."""
    if length < 1:
        raise ConfigError(f"clip length must be >= 1, got {length}")
    if not track:
        return []
    if len(track) < length:
        return [[track[int(i)] for i in clip_windows(len(track), length)[0]]]
    return [list(track[start : start + length]) for start in range(0, len(track) - length + 1, length)]


def video_clips(store: CropStore, indices: np.ndarray, length: int) -> list[list[int]]:
    """Windows of ``length`` store rows (among ``indices``) of kind ``"video"``, one track per video path,
    ordered by timestamp; see :func:`windows` for the stride and padding. Videos are taken in path order."""
    tracks: dict[str, list[int]] = {}
    for row in (int(i) for i in indices):
        if store.rows[row]["kind"] == "video":
            tracks.setdefault(store.rows[row]["path"], []).append(row)
    clips: list[list[int]] = []
    for path in sorted(tracks):
        ordered = sorted(tracks[path], key=lambda r: (float(store.rows[r]["timestamp"]), r))
        clips.extend(windows(ordered, length))
    return clips


def item_rng(seed: int, epoch: int, item: int, train: bool) -> np.random.Generator:
    """The generator of one dataset item, as :class:`SelfBlendPairs` makes it: a function of (seed, epoch,
    item, torch's initial seed: the DataLoader worker's) when training, of (seed, item) alone otherwise."""
    if train:
        return np.random.default_rng([seed, epoch, item, int(torch.initial_seed() % 2**31)])
    return np.random.default_rng([seed, 12345, item])


class _ClipRng:
    """Stands in for the ``np.random.Generator`` that :func:`degrade` gets for one frame of a clip.

    Every draw comes from a generator re-created from the clip's seed, so each frame takes the same branches
    with the same parameters; only arrays of normal noise (``normal(..., size=...)``) come from ``noise``,
    a generator that runs on from frame to frame."""

    def __init__(self, seed: int, noise: np.random.Generator) -> None:
        self._params = np.random.default_rng(seed)
        self._noise = noise

    def normal(self, loc: float = 0.0, scale: float = 1.0, size: Any = None) -> Any:
        if size is None:
            return self._params.normal(loc, scale)
        return self._noise.normal(loc, scale, size)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._params, name)


def degrade_clip(
    frames: Sequence[np.ndarray], rng: np.random.Generator, cfg: DegradeConfig
) -> list[np.ndarray]:
    """:func:`degrade` every frame with the same randomly drawn degradations (one draw from ``rng`` for the
    clip); the noise strength is shared too, but the noise itself is drawn from ``rng`` for each frame."""
    seed = int(rng.integers(_SEED_BOUND))
    return [degrade(np.ascontiguousarray(f), cast(np.random.Generator, _ClipRng(seed, rng)), cfg)
            for f in frames]


def cut_window(side: int, size: int, train: bool, rng: np.random.Generator) -> tuple[int, int, bool]:
    """``(x0, y0, flip)`` of an input cut of ``size`` in a square of ``side``: jittered by up to the border
    and flipped half the time when ``train``, centred and unflipped otherwise (as :class:`SelfBlendPairs`)."""
    if side < size:
        raise ConfigError(f"a crop of {side} px cannot give an input of {size} px")
    centre = (side - size) // 2
    jitter = centre if train else 0
    x0 = centre + (int(rng.integers(-jitter, jitter + 1)) if jitter else 0)
    y0 = centre + (int(rng.integers(-jitter, jitter + 1)) if jitter else 0)
    return x0, y0, bool(train and rng.random() < 0.5)


def cut(image: np.ndarray, x0: int, y0: int, size: int, flip: bool) -> np.ndarray:
    """The ``size`` square at ``(x0, y0)``, mirrored left-right when ``flip``."""
    out = image[y0 : y0 + size, x0 : x0 + size]
    return np.ascontiguousarray(out[:, ::-1] if flip else out)


def apply_augment(frames: list[np.ndarray], augment: Augment | None, seed: int) -> list[np.ndarray]:
    """``augment(frames, Generator(seed))``, checked to return as many uint8 images of the same shape."""
    if augment is None:
        return frames
    out = augment(frames, np.random.default_rng(seed))
    if len(out) != len(frames) or any(
        o.shape != f.shape or o.dtype != np.uint8 for o, f in zip(out, frames, strict=True)
    ):
        raise ConfigError("augment must return as many uint8 images of the same shape as it was given")
    return [np.ascontiguousarray(o) for o in out]


def stack(frames: Sequence[np.ndarray], mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """uint8 frames → normalised float32 (T, 3, H, W)."""
    return torch.stack([to_tensor(f, mean, std) for f in frames])


class SelfBlendClips(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Item i = (real clip, its self-blended fake clip), each (T, 3, S, S), from the store rows ``clips[i]``.

    Every frame is blended with the same random draw (the generator is re-created from one seed per clip
    before each ``self_blend``), so the mask shape, colour, sharpness and geometry alterations are those of
    one fake video, while each frame's own landmarks place the mask. Both clips share one crop jitter, flip
    and augmentation (when ``train``, ``augment`` gets the real frames then the fake ones in one call); each
    clip is degraded consistently (:func:`degrade_clip`), the two independently. ``train=False`` gives a
    fixed, seeded sample."""

    def __init__(
        self,
        store: CropStore,
        clips: Sequence[Sequence[int]],
        *,
        input_size: int,
        mean: tuple[float, float, float],
        std: tuple[float, float, float],
        train: bool,
        seed: int = 0,
        sbi: SbiConfig | None = None,
        degradations: DegradeConfig | None = None,
        augment: Augment | None = None,
    ) -> None:
        if any(len(clip) == 0 for clip in clips):
            raise ConfigError("every clip needs at least one store row")
        self.store, self.clips = store, [list(clip) for clip in clips]
        self.input_size, self.mean, self.std = input_size, mean, std
        self.train, self.seed = train, seed
        self.sbi = sbi or SbiConfig()
        self.degradations = degradations or DegradeConfig()
        self.augment = augment
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = item_rng(self.seed, self.epoch, item, self.train)
        blend_seed = int(rng.integers(_SEED_BOUND))
        blended: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # padded clips repeat rows
        for row in self.clips[item]:
            if row not in blended:
                image = np.array(self.store.images[row])
                same_draw = np.random.default_rng(blend_seed)
                real, fake, _ = self_blend(image, self.store.landmarks[row], same_draw, self.sbi)
                blended[row] = (real, fake)
        side = self.store.images.shape[1]
        x0, y0, flip = cut_window(side, self.input_size, self.train, rng)
        rows = self.clips[item]
        frames = [cut(blended[row][which], x0, y0, self.input_size, flip) for which in (0, 1) for row in rows]
        if self.train:  # one call for both clips: one draw of parameters for all their frames
            frames = apply_augment(frames, self.augment, int(rng.integers(_SEED_BOUND)))
        real, fake = frames[: len(rows)], frames[len(rows) :]
        return (stack(degrade_clip(real, rng, self.degradations), self.mean, self.std),
                stack(degrade_clip(fake, rng, self.degradations), self.mean, self.std))


__all__ = [
    "Augment",
    "SelfBlendClips",
    "apply_augment",
    "cut",
    "cut_window",
    "degrade_clip",
    "item_rng",
    "stack",
    "video_clips",
    "windows",
]
