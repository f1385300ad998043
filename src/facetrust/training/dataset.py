"""Torch datasets of (real, self-blended) pairs drawn from a :class:`CropStore`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from facetrust.synthesis import DegradeConfig, SbiConfig, degrade, self_blend
from facetrust.training.prepare import CropStore


def to_tensor(image: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """uint8 (H, W, 3) RGB → normalised float32 (3, H, W)."""
    array = image.astype(np.float32) / 255.0
    array = (array - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


class SelfBlendPairs(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Item i = (real crop, its self-blended fake), both cut to ``input_size`` with the same jitter and
    degraded independently from the same distribution. ``train=False`` gives a fixed, seeded sample."""

    def __init__(
        self,
        store: CropStore,
        indices: np.ndarray,
        *,
        input_size: int,
        mean: tuple[float, float, float],
        std: tuple[float, float, float],
        train: bool,
        seed: int = 0,
        sbi: SbiConfig | None = None,
        degradations: DegradeConfig | None = None,
        augment: Callable[[list[np.ndarray], np.random.Generator], list[np.ndarray]] | None = None,
        render: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
    ) -> None:
        self.store, self.indices = store, indices
        self.render = render
        self.input_size, self.mean, self.std = input_size, mean, std
        self.train, self.seed = train, seed
        self.sbi = sbi or SbiConfig()
        self.degradations = degradations or DegradeConfig()
        self.augment = augment
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.indices)

    def _rng(self, item: int) -> np.random.Generator:
        if self.train:
            return np.random.default_rng([self.seed, self.epoch, item, int(torch.initial_seed() % 2**31)])
        return np.random.default_rng([self.seed, 12345, item])

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = self._rng(item)
        row = int(self.indices[item])
        image = np.array(self.store.images[row])
        landmarks = self.store.landmarks[row]
        real, fake, _ = self_blend(image, landmarks, rng, self.sbi, self.render)
        store_size, size = image.shape[0], self.input_size
        centre = (store_size - size) // 2
        jitter = centre if self.train else 0
        x0 = centre + (int(rng.integers(-jitter, jitter + 1)) if jitter else 0)
        y0 = centre + (int(rng.integers(-jitter, jitter + 1)) if jitter else 0)
        flip = self.train and rng.random() < 0.5
        cuts = []
        for picture in (real, fake):
            cut = picture[y0 : y0 + size, x0 : x0 + size]
            cuts.append(np.ascontiguousarray(cut[:, ::-1] if flip else cut))
        if self.augment is not None and self.train:
            cuts = self.augment(cuts, rng)  # one draw of parameters for both: the pair stays aligned
        pair = [to_tensor(degrade(cut, rng, self.degradations), self.mean, self.std) for cut in cuts]
        return pair[0], pair[1]
