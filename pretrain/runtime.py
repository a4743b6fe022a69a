"""Where a pretraining process runs: its rank, world and device under torchrun, and the
collective operations the loop needs (no-ops in a single process)."""

from __future__ import annotations

import contextlib
import dataclasses
import os

import torch
import torch.distributed as dist


@dataclasses.dataclass(frozen=True)
class Runtime:
    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def runtime_from_env(device: str) -> Runtime:
    """Rank and world from torchrun's environment (1 process without it)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("--device cuda but no CUDA device is visible")
        torch.cuda.set_device(local_rank)
        return Runtime(rank, world, local_rank, torch.device("cuda", local_rank))
    return Runtime(rank, world, local_rank, torch.device("cpu"))


def init_distributed(runtime: Runtime) -> None:
    if runtime.distributed and not dist.is_initialized():
        backend = "nccl" if runtime.device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, init_method="env://")


def all_reduce_sum(tensor: torch.Tensor, runtime: Runtime) -> torch.Tensor:
    if runtime.distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_reduce_max(tensor: torch.Tensor, runtime: Runtime) -> torch.Tensor:
    if runtime.distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return tensor


def all_reduce_int(value: int, runtime: Runtime) -> int:
    if not runtime.distributed:
        return value
    tensor = torch.tensor([value], dtype=torch.int64, device=runtime.device)
    return int(all_reduce_sum(tensor, runtime).item())


@contextlib.contextmanager
def torch_threads(count: int):
    """--cpu-threads for the run only (in-process callers get their setting back)."""
    before = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
