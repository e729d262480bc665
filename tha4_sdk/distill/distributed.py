"""Optional multi-GPU training with torch.distributed (launch with ``torchrun --nproc-per-node=K``).

Every process draws the same batch of poses and trains on its own contiguous share of it;
DistributedDataParallel averages the gradients, so K processes take the same steps as one process
with the whole batch (up to float rounding). Only rank 0 evaluates, writes samples, checkpoints
and the package, and reports progress.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def share(self, batch: torch.Tensor) -> torch.Tensor:
        """This process's rows of a batch drawn identically by every process."""
        return batch.chunk(self.size)[self.rank] if self.size > 1 else batch

    def barrier(self) -> None:
        """Wait until every process gets here."""
        if self.size > 1:
            dist.barrier()

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every process when ``flag`` is true on any (e.g. a stop request)."""
        if self.size == 1:
            return flag
        t = torch.tensor([int(flag)], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())


def init_world(device: torch.device) -> tuple[World, torch.device]:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1); pick this process's GPU."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World(), device
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return World(dist.get_rank(), dist.get_world_size()), device
