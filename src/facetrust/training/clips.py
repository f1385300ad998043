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
from facetrust.synthesis.animate import AnimateConfig, animate_still
from facetrust.synthesis.rerender import Renderer, RerenderConfig, rerender_clip
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


def video_clips(store: CropStore, indices: np.ndarray, length: int, steps: Sequence[int] = (1,)) -> list[list[int]]:
    """Windows of ``length`` store rows (among ``indices``) of kind ``"video"``, one track per video path,
    ordered by timestamp; see :func:`windows` for the stride and padding. Videos are taken in path order.

    ``steps`` > 1 also cut windows of every ``step``-th row (from each offset ``0..step-1``), so that a clip
    model sees wider frame spacings, as detection's even sampling of a long video gives."""
    if not steps or min(steps) < 1:
        raise ConfigError(f"steps must be positive frame steps, got {list(steps)}")
    tracks: dict[str, list[int]] = {}
    for row in (int(i) for i in indices):
        if store.rows[row]["kind"] == "video":
            tracks.setdefault(store.rows[row]["path"], []).append(row)
    clips: list[list[int]] = []
    for path in sorted(tracks):
        ordered = sorted(tracks[path], key=lambda r: (float(store.rows[r]["timestamp"]), r))
        for step in steps:
            for offset in range(step if step > 1 else 1):
                if step == 1 or len(ordered[offset::step]) >= length:
                    clips.extend(windows(ordered[offset::step], length))
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


class _StoreClipPairs(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """What every (real clip, fake clip) dataset over a crop store keeps: the store, the clips (lists of store
    rows), the input geometry, the seed and epoch, the degradations and the augmentation."""

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
        degradations: DegradeConfig | None = None,
        augment: Augment | None = None,
    ) -> None:
        if any(len(clip) == 0 for clip in clips):
            raise ConfigError("every clip needs at least one store row")
        self.store, self.clips = store, [list(clip) for clip in clips]
        self.input_size, self.mean, self.std = input_size, mean, std
        self.train, self.seed = train, seed
        self.degradations = degradations or DegradeConfig()
        self.augment = augment
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.clips)

    def _finish(self, real: Sequence[np.ndarray], fake: Sequence[np.ndarray],
                rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return finish_pair(real, fake, rng, input_size=self.input_size, mean=self.mean, std=self.std,
                           train=self.train, augment=self.augment, degradations=self.degradations)


class SelfBlendClips(_StoreClipPairs):
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
        super().__init__(store, clips, input_size=input_size, mean=mean, std=std, train=train, seed=seed,
                         degradations=degradations, augment=augment)
        self.sbi = sbi or SbiConfig()

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
        rows = self.clips[item]
        return self._finish([blended[row][0] for row in rows], [blended[row][1] for row in rows], rng)


def finish_pair(
    real: Sequence[np.ndarray],
    fake: Sequence[np.ndarray],
    rng: np.random.Generator,
    *,
    input_size: int,
    mean: tuple[float, float, float],
    std: tuple[float, float, float],
    train: bool,
    augment: Augment | None,
    degradations: DegradeConfig,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A (real clip, fake clip) pair of store-sized frames → two (T, 3, S, S) tensors: one crop jitter and flip
    for both, one augmentation draw for all their frames (when ``train``), each clip degraded consistently."""
    side = real[0].shape[0]
    x0, y0, flip = cut_window(side, input_size, train, rng)
    frames = [cut(f, x0, y0, input_size, flip) for f in (*real, *fake)]
    if train:  # one call for both clips: one draw of parameters for all their frames
        frames = apply_augment(frames, augment, int(rng.integers(_SEED_BOUND)))
    reals, fakes = frames[: len(real)], frames[len(real) :]
    return (stack(degrade_clip(reals, rng, degradations), mean, std),
            stack(degrade_clip(fakes, rng, degradations), mean, std))


class AnimatedStillClips(_StoreClipPairs):
    """Item i = (real clip, an animated still driven by it), each (T, 3, S, S), from the store rows ``clips[i]``.

    The fake is one still bent along the real clip's landmark track (:func:`animate_still`): a frame of the
    clip itself (same person, camera and codec) or, with probability ``photo_share``, a photo among the store
    rows ``photos`` (another person: the cross-identity setting of one-shot talking-head models). Cut,
    augmentation and degradation as :class:`SelfBlendClips`."""

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
        photos: Sequence[int] = (),
        photo_share: float = 0.3,
        animate: AnimateConfig | None = None,
        degradations: DegradeConfig | None = None,
        augment: Augment | None = None,
    ) -> None:
        if not 0.0 <= photo_share <= 1.0:
            raise ConfigError(f"photo_share must be in [0, 1], got {photo_share}")
        super().__init__(store, clips, input_size=input_size, mean=mean, std=std, train=train, seed=seed,
                         degradations=degradations, augment=augment)
        self.photos = [int(p) for p in photos]
        self.photo_share = photo_share if self.photos else 0.0
        self.animate = animate or AnimateConfig()

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = item_rng(self.seed, self.epoch, item, self.train)
        rows = self.clips[item]
        real = [np.array(self.store.images[row]) for row in rows]
        track = self.store.landmarks[rows]
        if rng.random() < self.photo_share:
            photo = self.photos[int(rng.integers(len(self.photos)))]
            fake = animate_still(np.array(self.store.images[photo]), self.store.landmarks[photo], track, rng,
                                 self.animate)
        else:
            reference = int(rng.integers(len(rows)))
            fake = animate_still(real[reference], track[reference], track, rng, self.animate,
                                 driving_frames=real, reference=reference)
        return self._finish(real, fake, rng)


class RerenderedClips(_StoreClipPairs):
    """Item i = (real clip, the same clip rendered again frame by frame through a decoder), each
    (T, 3, S, S), from the store rows ``clips[i]`` (:func:`rerender_clip`: one auto-encoder of ``renderer`` per
    clip, its pixel grid shifted per frame or once per clip). Cut, augmentation and degradation as
    :class:`SelfBlendClips`; ``common`` takes the same input geometry, ``train``, ``seed``, ``degradations``
    and ``augment`` keywords."""

    def __init__(self, store: CropStore, clips: Sequence[Sequence[int]], *, renderer: Renderer,
                 rerender: RerenderConfig | None = None, **common: Any) -> None:
        super().__init__(store, clips, **common)
        self.renderer = renderer
        self.rerender = rerender or RerenderConfig()

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = item_rng(self.seed, self.epoch, item, self.train)
        rows = self.clips[item]
        real = [np.array(self.store.images[row]) for row in rows]
        fake = rerender_clip(real, self.store.landmarks[rows], self.renderer, rng, self.rerender)
        return self._finish(real, fake, rng)


class PairMix(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """The (real, fake) pairs of several pair datasets as one: item i of the mix is item i of
    ``parts[k]`` for the k drawn for (seed, epoch, i) with probabilities ``shares``. All parts have one length
    (the same clips); ``epoch`` is passed on to every part."""

    def __init__(self, parts: Sequence[Dataset], shares: Sequence[float], *, seed: int = 0, train: bool) -> None:
        lengths = {len(p) for p in parts}  # type: ignore[arg-type]
        if not parts or len(lengths) != 1 or len(shares) != len(parts) or min(shares) < 0 or sum(shares) <= 0:
            raise ConfigError("PairMix needs parts of one length and one non-negative share per part")
        self.parts = list(parts)
        self.shares = np.asarray(shares, np.float64) / float(np.sum(shares))
        self.seed, self.train = seed, train
        self._epoch = 0

    @property
    def epoch(self) -> int:
        return self._epoch

    @epoch.setter
    def epoch(self, value: int) -> None:
        self._epoch = value
        for part in self.parts:
            part.epoch = value  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self.parts[0])  # type: ignore[arg-type]

    def part_of(self, item: int) -> int:
        """Which part item ``item`` comes from in the current epoch."""
        epoch = self._epoch if self.train else 0
        return int(np.random.default_rng([self.seed, 777, epoch, item]).choice(len(self.parts), p=self.shares))

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.parts[self.part_of(item)][item]  # type: ignore[no-any-return]


__all__ = [
    "AnimatedStillClips",
    "Augment",
    "PairMix",
    "RerenderedClips",
    "finish_pair",
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
