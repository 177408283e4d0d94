"""torchrun set-up: the process group (gloo on CPU, nccl on CUDA) and this rank's GPU."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def init_distributed(device: torch.device) -> tuple[int, int]:
    """Join the process group when launched by torchrun; returns (rank, world size), (0, 1) otherwise."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(local_device(device))
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return (dist.get_rank(), world_size) if world_size > 1 else (0, 1)


def local_device(device: torch.device) -> torch.device:
    """Under torchrun each rank takes the GPU of its LOCAL_RANK; a CPU device is shared."""
    if device.type == "cuda" and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return device
