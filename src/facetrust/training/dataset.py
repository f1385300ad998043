"""Torch datasets of (real, self-blended) pairs drawn from a :class:`CropStore`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch
from torch.utils.data import Dataset

from facetrust.synthesis import DegradeConfig, SbiConfig, degrade, self_blend
from facetrust.synthesis.sbi import align_to
from facetrust.training.prepare import CropStore


def video_neighbours(store: CropStore, rows: np.ndarray, *, reach: int = 4) -> dict[int, np.ndarray]:
    """For each video row of ``rows``: the other stored frames of the same video within ``reach`` positions in
    time (``reach`` = 4 is about 0.3 s in the usual store), the candidates for a time-shifted mouth."""
    by_video: dict[str, list[tuple[float, int]]] = {}
    for row in rows:
        entry = store.rows[int(row)]
        if entry["kind"] == "video":
            by_video.setdefault(entry["path"], []).append((float(entry["timestamp"]), int(row)))
    neighbours: dict[int, np.ndarray] = {}
    for frames in by_video.values():
        ordered = [row for _, row in sorted(frames)]
        for k, row in enumerate(ordered):
            near = ordered[max(0, k - reach) : k] + ordered[k + 1 : k + 1 + reach]
            if near:
                neighbours[row] = np.array(near, np.int64)
    return neighbours


def to_tensor(image: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """uint8 (H, W, 3) RGB → normalised float32 (3, H, W)."""
    array = image.astype(np.float32) / 255.0
    array = (array - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


class SelfBlendPairs(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Item i = (real crop, its self-blended fake), both cut to ``input_size`` with the same jitter and
    degraded independently from the same distribution. ``train=False`` gives a fixed, seeded sample.
    ``time_shift_share`` of the pairs of video rows blend, through a jaw/mouth mask, the lower face of another
    frame of the same video up to 4 stored frames away, aligned on the landmarks: a mouth that moved
    differently from the rest of the face, as lip-sync pastes one."""

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
        time_shift_share: float = 0.0,
    ) -> None:
        self.store, self.indices = store, indices
        # lip-sync family: a share of video pairs blend the lower face of a nearby frame, aligned onto this one
        self.time_shift_share = time_shift_share
        self.neighbours = video_neighbours(store, np.unique(indices)) if time_shift_share > 0 else {}
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
        near = self.neighbours.get(row)  # drawn from only when the family is on: other recipes keep their stream
        if near is not None and rng.random() < self.time_shift_share:
            other = int(near[rng.integers(len(near))])
            source = align_to(np.array(self.store.images[other]), self.store.landmarks[other], landmarks, image.shape)
            sbi = replace(self.sbi, lower_face_share=1.0)
            real, fake, _ = self_blend(image, landmarks, rng, sbi, self.render, source=source)
        else:
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
