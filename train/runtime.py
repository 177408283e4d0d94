"""Device, mixed precision and distributed set-up shared by training and evaluation."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch
import torch.distributed as dist

from fer_model import inference


def pick_device(name: str = "auto") -> torch.device:
    """fer_model's device choice, plus a clear error for a missing GPU and this rank's GPU under torchrun."""
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available; use --device cpu or auto")
    device = inference.pick_device(name)
    if device.type == "cuda" and dist.is_initialized():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def resolve_amp(amp: str, device: torch.device) -> str:
    """'auto' -> bf16 on CPUs/GPUs that support it, fp16 on older GPUs; 'off', 'bf16', 'fp16' pass through."""
    if amp != "auto":
        return amp
    if inference.bf16_supported(device):
        return "bf16"
    return "fp16" if device.type == "cuda" else "off"


@contextlib.contextmanager
def autocast(device: torch.device, amp: str) -> Iterator[None]:
    """``torch.autocast`` for 'bf16'/'fp16', a no-op for 'off'."""
    if amp in ("off", "auto"):
        yield
        return
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    with torch.autocast(device.type, dtype=dtype):
        yield


def init_distributed(device_name: str) -> tuple[int, int]:
    """Join the process group when launched by torchrun (gloo on CPU, nccl on CUDA); returns (rank, world size)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1 and not dist.is_initialized():
        use_cuda = device_name != "cpu" and torch.cuda.is_available()
        if use_cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return (dist.get_rank(), world_size) if world_size > 1 else (0, 1)
