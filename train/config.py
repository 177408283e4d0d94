"""Every training option, declared once: its type, default, check and help (``python -m train`` builds its flags)."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fer_model.blocks import RELEASED_BLOCK_REPEATS
from fer_model.preprocess import TTA_CHOICES, Augmentation
from fer_model.runtime import DEVICES, PRECISIONS

from .data import FaceDataset

CLASS_BALANCE_CHOICES = ("none", "loss", "sampler")
DEFAULT_WORKERS = max(1, min(8, (os.cpu_count() or 2) // 2))


def _help(text: str, **argparse: Any) -> dict[str, Any]:
    """A TrainConfig field's metadata: its command-line help and argparse extras such as ``choices``."""
    return {"help": text, **argparse}


@dataclass
class TrainConfig:
    """Every training option, declared once: ``python -m train`` builds its flags from these fields."""

    data: Path = field(metadata=_help("images/train + images/validation, train + test, a class-folder tree, or "
                                      "fer2013.csv"))
    val_data: Path | None = field(default=None, metadata=_help("validation ImageFolder, when --data has none"))
    output_dir: Path = field(default=Path("."), metadata=_help("where resnet-v2-epochs/, history.json, runs/ go"))
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = field(default="adam", metadata=_help(
        "adam = Adam(amsgrad=True) as in the reference; sgd = Nesterov momentum 0.9", choices=["adam", "adamw", "sgd"]))
    scheduler: str = field(default="plateau", metadata=_help(
        "plateau = ReduceLROnPlateau(min, 0.2, threshold 0.01, patience 5) on val loss; cosine = per step, after the "
        "warm-up", choices=["plateau", "cosine"]))
    warmup_epochs: float = field(default=0.0, metadata=_help("linear warm-up before cosine"))
    label_smoothing: float = 0.0
    class_balance: str = field(default="none", metadata=_help(
        "loss = inverse-frequency class weights in the loss; sampler = draw every class equally often",
        choices=CLASS_BALANCE_CHOICES))
    image_size: int = 299
    block_repeats: tuple[int, int, int] = field(default=RELEASED_BLOCK_REPEATS, metadata=_help(
        "Block35/Block17/Block8 repeats: 10 20 10 released, 5 10 5 paper figure 15"))
    drop_rate: float = 0.2
    init_from: str | None = field(default=None, metadata=_help(
        "start from the weights of this save_pretrained folder or Hub repo id (fine-tuning) instead of random ones; "
        "its labels, block repeats, input channels and normalisation must match this run's; --resume needs the same "
        "--init-from"))
    augment: Augmentation | None = field(default=Augmentation(), metadata=_help(
        "the augmentation flags below; --augment none = Resize/ToTensor/Normalize only (the reference)"))
    mixup_alpha: float = field(default=0.0, metadata=_help(
        "MixUp's Beta(alpha, alpha) on training batches (0 disables; 0.2 typical)"))
    cutmix_alpha: float = field(default=0.0, metadata=_help(
        "CutMix's Beta(alpha, alpha) on training batches (0 disables; 1.0 typical)"))
    mix_prob: float = field(default=1.0, metadata=_help(
        "share of training batches that get MixUp or CutMix (one of the enabled ones, at random)"))
    ema_decay: float = field(default=0.0, metadata=_help(
        "keep an exponential moving average of the weights (per step; applied every 4th step as decay**4) and "
        "validate, save and export it as the model (0 disables; 0.999 averages about the last 1000 steps)"))
    tta: str = field(default="none", metadata=_help("test-time augmentation on validation", choices=TTA_CHOICES))
    device: str = field(default="auto", metadata=_help("auto = CUDA when present, else the CPU", choices=DEVICES))
    precision: str = field(default="auto", metadata=_help(
        "autocast precision: auto = bf16 where native (CPU or GPU), else fp16 on a GPU, else fp32",
        choices=PRECISIONS))
    num_workers: int = field(default=DEFAULT_WORKERS, metadata=_help(
        "DataLoader worker processes (augmenting in the main process slows CPU training ~40 %)"))
    seed: int | None = field(default=None, metadata=_help("make the run deterministic"))
    resume: bool = field(default=False, metadata=_help("continue from OUTPUT_DIR/resnet-v2-epochs/checkpoint.pt"))
    skip_bad: bool = field(default=False, metadata=_help("skip unreadable images / bad csv rows with a warning"))
    log_every_steps: int = field(default=20, metadata=_help("TensorBoard step scalars every this many steps"))
    stop_after_steps: int | None = field(default=None, metadata=_help(
        "end the run after this many optimizer steps (throughput checks and tests)"))

    def __post_init__(self) -> None:
        """Reject values the run would fail on later, or silently misuse, naming the flag."""
        checks = {
            "--ema-decay": (self.ema_decay, 0 <= self.ema_decay < 1, "in [0, 1)"),
            "--mix-prob": (self.mix_prob, 0 <= self.mix_prob <= 1, "in [0, 1]"),
            "--mixup-alpha": (self.mixup_alpha, self.mixup_alpha >= 0, ">= 0"),
            "--cutmix-alpha": (self.cutmix_alpha, self.cutmix_alpha >= 0, ">= 0"),
            "--class-balance": (self.class_balance, self.class_balance in CLASS_BALANCE_CHOICES,
                                "in " + ", ".join(CLASS_BALANCE_CHOICES)),
            "--batch-size": (self.batch_size, self.batch_size >= 1, ">= 1"),
            "--epochs": (self.epochs, self.epochs >= 1, ">= 1"),
            "--lr": (self.lr, self.lr > 0, "> 0"),
            "--weight-decay": (self.weight_decay, self.weight_decay >= 0, ">= 0"),
            "--warmup-epochs": (self.warmup_epochs, 0 <= self.warmup_epochs <= self.epochs, "in [0, --epochs]"),
            "--label-smoothing": (self.label_smoothing, 0 <= self.label_smoothing < 1, "in [0, 1)"),
            "--log-every-steps": (self.log_every_steps, self.log_every_steps >= 1, ">= 1"),
            "--num-workers": (self.num_workers, self.num_workers >= 0, ">= 0"),
        }
        if self.augment is not None:
            low, high = self.augment.scale
            checks |= {
                "--rotation-deg": (self.augment.rotation_deg, 0 <= self.augment.rotation_deg <= 180, "in [0, 180]"),
                "--scale": (f"{low} {high}", 0.1 <= low <= high <= 10, "of two numbers 0.1 <= LOW <= HIGH <= 10"),
                "--random-erasing": (self.augment.random_erasing, 0 <= self.augment.random_erasing <= 1, "in [0, 1]"),
            }
        source = self.init_from
        checks["--init-from"] = (repr(source), source is None or bool(source.strip()),
                                 "naming a save_pretrained folder or a Hub repo id")
        steps = self.stop_after_steps
        checks["--stop-after-steps"] = (steps, steps is None or steps >= 1, ">= 1")
        for name, value in vars(self).items():  # inf passes the range checks above (nan fails them)
            if isinstance(value, float) and not math.isfinite(value):
                checks["--" + name.replace("_", "-")] = (value, False, "that is a finite number")
        for flag, (value, valid, expected) in checks.items():
            if not valid:
                raise ValueError(f"{flag} {value}: expected a value {expected}")


def recipe(config: TrainConfig, train_set: FaceDataset, val_set: FaceDataset, precision: str) -> dict[str, Any]:
    """The training recipe as it goes into config.json and the model card; ``precision`` as resolved (not 'auto')."""
    return {
        "train_data": f"{train_set.source} ({len(train_set)} images)",
        "validation_data": f"{val_set.source} ({len(val_set)} images)",
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "optimizer": config.optimizer + (" (amsgrad)" if config.optimizer == "adam" else ""),
        "lr": config.lr,
        "weight_decay": config.weight_decay,
        "scheduler": config.scheduler + (f" ({config.warmup_epochs:g} warm-up epochs)" if config.warmup_epochs else ""),
        "label_smoothing": config.label_smoothing,
        "class_balance": config.class_balance,
        "augmentation": asdict(config.augment) if config.augment else "none",
        "mixup_alpha": config.mixup_alpha,
        "cutmix_alpha": config.cutmix_alpha,
        "mix_prob": config.mix_prob,
        "ema_decay": config.ema_decay,
        "image_size": config.image_size,
        **({"init_from": _source(config.init_from)} if config.init_from else {}),
        "validation_tta": config.tta,
        "precision": precision,
        "seed": config.seed,
    }


def _source(init_from: str) -> str:
    """``--init-from`` as recorded: a local folder as its absolute path (``train.export`` keeps only its name), else
    the Hub repo id."""
    return str(Path(init_from).resolve()) if os.path.isdir(init_from) else init_from
