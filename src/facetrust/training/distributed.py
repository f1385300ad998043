"""Several processes (``torchrun --nproc_per_node N -m facetrust.cli.main train ...``): DDP set-up and the few
collective calls the trainer needs. A plain ``facetrust train`` is one process and none of this does anything.

Rank 0 prepares the crops, validates, writes checkpoints, tracks and saves the detector; every rank trains on
its share of each batch order. Decisions taken on rank 0 (pause, early stop) reach the others through
:meth:`Distributed.agree`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from facetrust.errors import ConfigError
from facetrust.training.batches import Shard

logger = logging.getLogger(__name__)


@dataclass
class Distributed:
    """This process's place in the run."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def shard(self) -> Shard:
        return Shard(self.rank, self.world)

    @classmethod
    def from_environment(cls, device: str) -> Distributed:
        """Join the process group that ``torchrun`` describes in the environment (WORLD_SIZE, RANK, ...)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        use_cuda = device != "cpu" and torch.cuda.is_available()
        if use_cuda:
            if local_rank >= torch.cuda.device_count():
                raise ConfigError(f"LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} GPU(s): lower "
                                  "--nproc_per_node")
            torch.cuda.set_device(local_rank)
        if not dist.is_initialized():
            # long timeout: rank 0 may spend many minutes preparing crops while the others wait at a barrier
            dist.init_process_group("nccl" if use_cuda else "gloo", timeout=dt.timedelta(hours=3))
        logger.info("DDP: rank %d of %d (%s)", rank, world, "nccl" if use_cuda else "gloo")
        return cls(rank=rank, world=world, local_rank=local_rank)

    def device(self, device: torch.device) -> torch.device:
        """The device of this rank: ``cuda:LOCAL_RANK`` for GPU runs."""
        if self.enabled and device.type == "cuda":
            return torch.device("cuda", self.local_rank)
        return device

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        if not self.enabled:
            return model
        ids = [device.index] if device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def agree(self, *flags: bool, device: torch.device) -> tuple[bool, ...]:
        """Rank 0's flags, on every rank (a no-op for one process)."""
        if not self.enabled:
            return flags
        tensor = torch.tensor([float(f) for f in flags], device=device if dist.get_backend() == "nccl" else "cpu")
        dist.broadcast(tensor, src=0)
        return tuple(bool(v) for v in tensor.tolist())

    def share(self, value: float, *, device: torch.device) -> float:
        """Rank 0's ``value``, on every rank."""
        if not self.enabled:
            return value
        tensor = torch.tensor([value], dtype=torch.float64, device=device if dist.get_backend() == "nccl" else "cpu")
        dist.broadcast(tensor, src=0)
        return float(tensor.item())

    def close(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DDP wrapper (or the model itself)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
