"""Step batches: pair and labelled sources, mixing, resumable order and DDP shards."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from facetrust.training.batches import LabelledSource, MixedBatches, PairSource, Shard, split_batch


class Pairs(Dataset):
    """Item i = (real tensor filled with i, fake tensor filled with -i)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.full((3, 2, 2), float(i)), torch.full((3, 2, 2), -float(i))


class Labelled(Dataset):
    """Item i = (tensor filled with 1000 + i, label 1 for i < fakes else 0)."""

    def __init__(self, n: int, fakes: int) -> None:
        self.n, self.fakes = n, fakes

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.full((3, 2, 2), 1000.0 + i), torch.tensor(float(i < self.fakes))


def _ids(batches: list[tuple[torch.Tensor, torch.Tensor]]) -> list[int]:
    return [int(x[0, 0, 0]) for inputs, _ in batches for x in inputs]


def test_pair_batches_hold_both_classes_and_an_epoch_visits_each_item_once() -> None:
    source = PairSource(Pairs(10), 3, seed=0, num_workers=0, shard=Shard())
    batches = list(source.epoch(0))
    assert source.steps_per_epoch() == 3 and len(batches) == 3
    for inputs, labels in batches:
        assert inputs.shape == (6, 3, 2, 2) and labels.tolist() == [0, 0, 0, 1, 1, 1]
    reals = [i for inputs, _ in batches for i in _ids([(inputs[:3], None)])]
    assert len(set(reals)) == 9 and set(reals) <= set(range(10))  # 3 steps x 3 pairs of 10 items, no repeats
    assert _ids(list(source.epoch(0))) == _ids(batches)  # the order is a function of (seed, epoch)
    assert _ids(list(source.epoch(1))) != _ids(batches)


def test_a_resumed_epoch_continues_exactly_where_it_stopped() -> None:
    source = PairSource(Pairs(20), 2, seed=3, num_workers=0, shard=Shard())
    whole = _ids(list(source.epoch(4)))
    assert _ids(list(source.epoch(4, skip=3))) == whole[3 * 4 :]
    labelled = LabelledSource(Labelled(20, 5), 4, seed=3, num_workers=0, shard=Shard(),
                              weights=np.ones(20))
    whole = _ids(list(labelled.epoch(2, steps=5)))
    assert _ids(list(labelled.epoch(2, steps=5, skip=2))) == whole[2 * 4 :]


def test_ddp_shards_split_one_order_without_overlap() -> None:
    single = PairSource(Pairs(24), 2, seed=1, num_workers=0, shard=Shard())
    ranks = [PairSource(Pairs(24), 2, seed=1, num_workers=0, shard=Shard(rank, 2)) for rank in (0, 1)]
    assert [r.steps_per_epoch() for r in ranks] == [6, 6]
    seen = [{i for i in _ids(list(r.epoch(0))) if i >= 0} for r in ranks]
    assert not seen[0] & seen[1] and len(seen[0] | seen[1]) == 24
    assert len(list(single.epoch(0))) == 12


def test_balanced_sampling_draws_the_rare_class_as_often_as_the_common_one() -> None:
    labels = np.array([1.0] * 10 + [0.0] * 90)
    weights = np.where(labels == 1, 0.5 / 10, 0.5 / 90)
    source = LabelledSource(Labelled(100, 10), 50, seed=0, num_workers=0, shard=Shard(), weights=weights)
    drawn = torch.cat([y for _, y in source.epoch(0, steps=40)])
    assert abs(float(drawn.mean()) - 0.5) < 0.05
    plain = LabelledSource(Labelled(100, 10), 50, seed=0, num_workers=0, shard=Shard())
    assert abs(float(torch.cat([y for _, y in plain.epoch(0, steps=40)]).mean()) - 0.1) < 0.02


def test_mixed_batches_concatenate_both_sources_per_step() -> None:
    pairs, count = split_batch(16, 0.25, mixed=True)
    assert (pairs, count) == (6, 4)
    mixed = MixedBatches(PairSource(Pairs(30), pairs, seed=0, num_workers=0, shard=Shard()),
                         LabelledSource(Labelled(8, 4), count, seed=0, num_workers=0, shard=Shard()))
    batches = list(mixed.epoch(0))
    assert len(batches) == mixed.steps_per_epoch() == 5  # the self-blended source sets the epoch
    for inputs, labels in batches:
        assert inputs.shape[0] == labels.shape[0] == 16
        assert (inputs[12:, 0, 0, 0] >= 1000).all()  # the labelled items follow the pairs
    assert split_batch(16, 0.25, mixed=False) == (8, 16)
