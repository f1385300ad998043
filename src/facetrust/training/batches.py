"""Training batches from one or two sources: self-blended pairs and labelled crops (real fakes), mixed per step.

Every step's batch is ``(inputs, labels)``: ``inputs`` is ``(N, 3, S, S)`` for frame models or
``(N, T, 3, S, S)`` for clip models, ``labels`` is ``(N,)`` float (1 = fake). A self-blended source gives
``pairs`` (real, fake) per step, so both classes are always balanced; a labelled source gives ``count`` items
per step drawn with per-item weights (balanced sampling) or shuffled.

Each epoch's order is a function of (seed, epoch) only, so a resumed epoch skips exactly the steps already done,
and under DDP each rank takes its own interleaved share (``rank::world``) of the same order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


@dataclass(frozen=True)
class Shard:
    """This process's share of the data under DDP (``rank`` of ``world``); ``Shard()`` is a single process."""

    rank: int = 0
    world: int = 1


def _loader_generator(seed: int, epoch: int, rank: int) -> torch.Generator:
    # the workers' base seed comes from this generator, not from torch's global one: validation and other loaders
    # never shift the training stream, and a resumed run draws exactly what the uninterrupted run drew
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch * 101 + rank)


class PairSource:
    """(real, self-blended) pairs: ``pairs`` per step and rank, one pass over the dataset per epoch."""

    def __init__(self, dataset: Dataset, pairs: int, *, seed: int, num_workers: int, shard: Shard) -> None:
        self.dataset, self.pairs, self.seed, self.num_workers, self.shard = dataset, pairs, seed, num_workers, shard

    def steps_per_epoch(self) -> int:
        return len(self.dataset) // (self.pairs * self.shard.world)  # type: ignore[arg-type]

    def epoch(self, epoch: int, skip: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.dataset), generator=torch.Generator().manual_seed(  # type: ignore[arg-type]
            self.seed * 10_000 + epoch)).tolist()
        mine = order[self.shard.rank :: self.shard.world][skip * self.pairs : self.steps_per_epoch() * self.pairs]
        loader = DataLoader(self.dataset, batch_size=self.pairs, sampler=mine, num_workers=self.num_workers,
                            drop_last=True, generator=_loader_generator(self.seed, epoch, self.shard.rank))
        for real, fake in loader:
            labels = torch.cat([torch.zeros(len(real)), torch.ones(len(fake))])
            yield torch.cat([real, fake]), labels


class LabelledSource:
    """Labelled items, ``count`` per step and rank. With ``weights`` the epoch's items are drawn with replacement
    in proportion to them (balanced sampling); without, the items are shuffled and repeated as needed."""

    def __init__(self, dataset: Dataset, count: int, *, seed: int, num_workers: int, shard: Shard,
                 weights: np.ndarray | None = None) -> None:
        self.dataset, self.count, self.seed, self.num_workers, self.shard = dataset, count, seed, num_workers, shard
        self.weights = None if weights is None else torch.as_tensor(weights, dtype=torch.float64)

    def steps_per_epoch(self) -> int:
        return len(self.dataset) // (self.count * self.shard.world)  # type: ignore[arg-type]

    def epoch(self, epoch: int, steps: int, skip: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """``steps`` batches (the epoch length is set by the primary source when two are mixed)."""
        needed = steps * self.count * self.shard.world
        generator = torch.Generator().manual_seed(self.seed * 10_000 + epoch + 7_777)
        size = len(self.dataset)  # type: ignore[arg-type]
        if self.weights is not None:
            order = torch.multinomial(self.weights, needed, replacement=True, generator=generator).tolist()
        else:
            rounds = -(-needed // size)
            order = torch.cat([torch.randperm(size, generator=generator) for _ in range(rounds)])[:needed].tolist()
        mine = order[self.shard.rank :: self.shard.world][skip * self.count : steps * self.count]
        loader = DataLoader(self.dataset, batch_size=self.count, sampler=mine, num_workers=self.num_workers,
                            drop_last=True, generator=_loader_generator(self.seed + 1, epoch, self.shard.rank))
        for inputs, labels in loader:
            yield inputs, labels.float()


class MixedBatches:
    """The step batches of an epoch: the self-blended source, the labelled one, or both concatenated."""

    def __init__(self, pairs: PairSource | None, labelled: LabelledSource | None) -> None:
        if pairs is None and labelled is None:
            raise ValueError("at least one source is needed")
        self.pairs, self.labelled = pairs, labelled

    def steps_per_epoch(self) -> int:
        primary = self.pairs if self.pairs is not None else self.labelled
        return primary.steps_per_epoch()  # type: ignore[union-attr]

    def epoch(self, epoch: int, skip: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        steps = self.steps_per_epoch()
        if self.pairs is None:
            yield from self.labelled.epoch(epoch, steps, skip)  # type: ignore[union-attr]
            return
        if self.labelled is None:
            yield from self.pairs.epoch(epoch, skip)
            return
        for (x1, y1), (x2, y2) in zip(self.pairs.epoch(epoch, skip), self.labelled.epoch(epoch, steps, skip),
                                      strict=False):
            yield torch.cat([x1, x2]), torch.cat([y1, y2])


def split_batch(batch_images: int, share: float, *, mixed: bool) -> tuple[int, int]:
    """(pairs, labelled items) per step for ``batch_images`` images in all, ``share`` of them labelled."""
    if not mixed:
        return batch_images // 2, batch_images
    labelled = min(batch_images - 2, max(1, round(share * batch_images)))
    return max(1, (batch_images - labelled) // 2), labelled
