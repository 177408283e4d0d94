"""Optimizers and learning-rate schedules of the training recipe."""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import TrainConfig

Scheduler = torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau


def build_optimizer(name: str, model: nn.Module, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam with amsgrad (the reference), AdamW, or SGD with Nesterov momentum, as fused kernels.

    Fused updates of the 54 M parameters take a third of the time of the default per-tensor loop on a 2-core CPU.
    """
    params, common = model.parameters(), {"lr": lr, "weight_decay": weight_decay, "fused": True}
    if name == "adam":
        return torch.optim.Adam(params, amsgrad=True, **common)
    if name == "adamw":
        return torch.optim.AdamW(params, **common)
    if name == "sgd":
        return torch.optim.SGD(params, momentum=0.9, nesterov=True, **common)
    raise ValueError(f"--optimizer: unknown {name!r}; expected adam, adamw or sgd")


def build_scheduler(
    config: TrainConfig, optimizer: torch.optim.Optimizer, steps_per_epoch: int
) -> Scheduler:
    """The reference ReduceLROnPlateau (stepped per epoch on val loss) or warm-up + cosine (stepped per batch)."""
    if config.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=0.2, threshold=0.01, patience=5
        )
    if config.scheduler == "cosine":
        total = max(config.epochs * steps_per_epoch, 1)
        warmup = int(config.warmup_epochs * steps_per_epoch)

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1 + math.cos(math.pi * min(step - warmup, total - warmup) / max(total - warmup, 1)))

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    raise ValueError(f"--scheduler: unknown {config.scheduler!r}; expected plateau or cosine")
