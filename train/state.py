"""The state of a training run: what it carries from epoch to epoch, and exactly what checkpoint.pt saves."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from fer_model import InceptionResNetV2

from .config import TrainConfig
from .optim import Scheduler, build_optimizer, build_scheduler

# The weight average is updated every 4th step with decay**4 (the same horizon): each update reads and writes the
# 54 M weights (~650 MB of memory traffic), a cost on CPUs comparable to the fused optimizer step's.
EMA_EVERY_STEPS = 4


@dataclass
class RunState:
    """The live run (model, optimizer, schedule, scaler, weight average, counters, history); ``state_dict`` is the
    resume checkpoint, ``load_state_dict`` restores it."""

    model: InceptionResNetV2
    optimizer: torch.optim.Optimizer
    scheduler: Scheduler
    scaler: torch.amp.GradScaler
    ema: AveragedModel | None = None
    epoch: int = 0  # the last completed epoch
    global_step: int = 0
    best_epoch: int = 0
    best_val_accuracy: float = -1.0
    run_name: str = field(default_factory=lambda: time.strftime("%Y%m%d-%H%M%S"))
    history: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def create(cls, config: TrainConfig, model: InceptionResNetV2, steps_per_epoch: int, fp16: bool) -> RunState:
        """A fresh run of ``config``'s recipe for ``model`` (already on its device)."""
        optimizer = build_optimizer(config.optimizer, model, config.lr, config.weight_decay)
        ema = (AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay**EMA_EVERY_STEPS),
                             use_buffers=True) if config.ema_decay else None)
        return cls(model, optimizer, build_scheduler(config, optimizer, steps_per_epoch),
                   torch.amp.GradScaler(next(model.parameters()).device.type, enabled=fp16), ema)

    @property
    def shipped(self) -> InceptionResNetV2:
        """The weights that are validated, saved per epoch and exported: the average when EMA is on."""
        return self.ema.module if self.ema else self.model

    def step_done(self) -> None:
        """Count an optimizer step and fold it into the weight average every ``EMA_EVERY_STEPS``."""
        self.global_step += 1
        if self.ema and self.global_step % EMA_EVERY_STEPS == 0:
            self.ema.update_parameters(self.model)

    def state_dict(self, rng: list[dict[str, Any]]) -> dict[str, Any]:
        """What checkpoint.pt holds: every tensor state, the counters, the history and each rank's RNG state."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            **({"ema": self.ema.state_dict()} if self.ema else {}),
            "epoch": self.epoch,
            "global_step": self.global_step,
            "best_epoch": self.best_epoch,
            "best_val_accuracy": self.best_val_accuracy,
            "run_name": self.run_name,
            "history": self.history,
            "rng": rng,
            "config": json.dumps(self.model.config),  # to refuse resuming with other settings
        }

    def load_state_dict(self, state: dict[str, Any], path: Path) -> None:
        """Restore a checkpoint written by ``state_dict`` (``path`` names it in errors); the RNG is the caller's."""
        if bool(self.ema) != ("ema" in state):
            saved = "with" if "ema" in state else "without"
            raise ValueError(f"{path}: saved {saved} --ema-decay; resume {saved} it too")
        now = json.loads(json.dumps(self.model.config))  # tuples as lists, as saved
        changed = _changed_settings(json.loads(state["config"]), now) if "config" in state else []
        if changed:
            raise ValueError(f"{path}: saved by a run with other settings ({'; '.join(changed)}); resume with that "
                             "run's flags (only --epochs may change)")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        if self.ema:
            self.ema.load_state_dict(state["ema"])
        for name in ("epoch", "global_step", "best_epoch", "best_val_accuracy", "run_name", "history"):
            setattr(self, name, state[name])


# A longer run, the same data moved elsewhere, and what each epoch records about itself.
RESUMABLE_CHANGES = {"epochs", "train_data", "validation_data", "selected_epoch"}


def _changed_settings(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """'name: saved -> now' for each model or recipe setting that differs between a checkpoint and this run."""
    pairs = {key: (saved.get(key), now.get(key)) for key in (saved.keys() | now.keys()) - {"training", "metrics"}}
    saved_recipe, recipe = saved.get("training") or {}, now.get("training") or {}
    pairs |= {key: (saved_recipe.get(key), recipe.get(key))
              for key in (saved_recipe.keys() | recipe.keys()) - RESUMABLE_CHANGES}
    return [f"{key}: {old} -> {new}" for key, (old, new) in sorted(pairs.items()) if old != new]
