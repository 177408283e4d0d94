"""The training loop: epochs of train + validate, per-epoch weights, resumable checkpoints and TensorBoard logs."""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import os
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from prefetch_generator import BackgroundGenerator
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, WeightedRandomSampler, default_collate
from torch.utils.tensorboard import SummaryWriter
from torchvision.transforms import v2
from tqdm import tqdm

from fer_model import InceptionResNetV2
from fer_model.files import remove_stale_temp_files
from fer_model.preprocess import Augmentation, eval_transform, train_transform

from .checkpoint import (
    BEST_FILE,
    EPOCHS_DIR,
    RESUME_FILE,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    save_weights,
    set_rng_state,
    write_json,
)
from .data import DataError, FaceDataset, find_splits, load_split
from .metrics import classification_report, confusion_figure, score
from .runtime import autocast, init_distributed, pick_device, resolve_amp

log = logging.getLogger(__name__)
HISTORY_FILE = "history.json"
CLASS_BALANCE_CHOICES = ("none", "loss", "sampler")
DEFAULT_WORKERS = max(1, min(8, (os.cpu_count() or 2) // 2))
# The weight average is updated every 4th step with decay**4 (the same horizon): each update reads and writes the
# 54 M weights (~650 MB of memory traffic), a cost on CPUs comparable to the fused optimizer step's.
EMA_EVERY_STEPS = 4
PREFETCH_BATCHES = 4  # batches the background thread prepares ahead of the training step
Batch = TypeVar("Batch")


@contextlib.contextmanager
def prefetched(batches: Iterable[Batch], max_prefetch: int = PREFETCH_BATCHES) -> Iterator[Iterator[Batch]]:
    """``BackgroundGenerator`` over ``batches`` (the reference recipe), its thread ended when the block exits.

    A run that stops mid-epoch would otherwise leave the thread pulling batches; one still inside a torch op when the
    interpreter exits aborts the process ("terminate called without an active exception").
    """
    stop = threading.Event()
    generator = BackgroundGenerator(itertools.takewhile(lambda _: not stop.is_set(), batches), max_prefetch)
    try:
        yield generator
    finally:
        stop.set()
        while generator.is_alive():  # take what it queued so a blocked put() returns and the thread sees ``stop``
            with contextlib.suppress(queue.Empty):
                generator.queue.get(timeout=0.1)
        generator.join()


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
    block_repeats: tuple[int, int, int] = field(default=(10, 20, 10), metadata=_help(
        "Block35/Block17/Block8 repeats: 10 20 10 released, 5 10 5 paper figure 15"))
    drop_rate: float = 0.2
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
    tta: str = field(default="none", metadata=_help("test-time augmentation on validation", choices=["none", "flip"]))
    device: str = field(default="auto", metadata=_help("", choices=["auto", "cpu", "cuda"]))
    amp: str = field(default="auto", metadata=_help(
        "mixed precision: auto = bf16 where supported (CPU and GPU), else fp16 on GPU",
        choices=["auto", "off", "bf16", "fp16"]))
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
        }
        for flag, (value, valid, expected) in checks.items():
            if not valid:
                raise ValueError(f"{flag} {value}: expected a value {expected}")


class _History:
    """Per-epoch numbers kept next to the checkpoints (history.json), so curves can be read without TensorBoard."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def add(self, path: Path, row: dict[str, Any]) -> None:
        self.rows.append(row)
        write_json(path, self.rows)


def _build_loaders(
    config: TrainConfig, model: InceptionResNetV2, rank: int, world_size: int
) -> tuple[FaceDataset, FaceDataset, DataLoader, DataLoader]:
    """Datasets (decoded once) and loaders; training is sharded across ranks, validation is not."""
    splits = find_splits(config.data, config.val_data)
    if splits.validation is None:
        raise DataError(f"{config.data}: no validation split (validation/, val/ or test/); pass --val-data DIR")
    train_set = load_split(splits.train, "train", model.labels, config.skip_bad)
    val_set = load_split(splits.validation, "validation", model.labels, config.skip_bad)
    missing = [label for label, count in zip(model.labels, train_set.class_counts(), strict=False) if count == 0]
    if missing:
        raise DataError(f"{splits.train}: no images of class(es) {', '.join(missing)}; every label needs examples")
    train_set.transform = train_transform(model.image_size, model.mean, model.std, config.augment)
    val_set.transform = eval_transform(model.image_size, model.mean, model.std)
    on_cuda = torch.cuda.is_available() and config.device != "cpu"
    common = {"num_workers": config.num_workers, "pin_memory": on_cuda, "persistent_workers": config.num_workers > 0}
    train_loader = DataLoader(
        train_set, config.batch_size, sampler=_train_sampler(config, train_set, rank, world_size), drop_last=True,
        collate_fn=_MixCollate(len(model.labels), config), **common,
    )
    val_loader = DataLoader(val_set, config.batch_size * 2, shuffle=False, **common)
    return train_set, val_set, train_loader, val_loader


def _train_sampler(
    config: TrainConfig, train_set: FaceDataset, rank: int, world_size: int
) -> torch.utils.data.Sampler[int]:
    """Shuffling (sharded under torchrun), or class-balanced draws with replacement for ``--class-balance sampler``."""
    if config.class_balance == "sampler":
        if world_size > 1:
            raise ValueError("--class-balance sampler: not supported under torchrun; use --class-balance loss")
        per_image = _class_weights(train_set)[torch.tensor(train_set.targets)]
        return WeightedRandomSampler(per_image.double(), num_samples=len(train_set), replacement=True)
    if world_size > 1:
        return DistributedSampler(train_set, world_size, rank, seed=config.seed or 0)
    return RandomSampler(train_set)


class _MixCollate:
    """``default_collate``, then MixUp or CutMix on a share of the batches (in the DataLoader workers).

    Mixed batches carry soft targets (N, num_classes); the others keep class indices. The loss takes both.
    """

    def __init__(self, num_classes: int, config: TrainConfig) -> None:
        mixes = [mix(alpha=alpha, num_classes=num_classes)
                 for mix, alpha in ((v2.MixUp, config.mixup_alpha), (v2.CutMix, config.cutmix_alpha)) if alpha > 0]
        self.mix = v2.RandomApply([v2.RandomChoice(mixes)], p=config.mix_prob) if mixes else None

    def __call__(self, batch: list[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        images, targets = default_collate(batch)
        return self.mix(images, targets) if self.mix else (images, targets)


def build_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    """Adam with amsgrad (the reference), AdamW, or SGD with Nesterov momentum, as fused kernels.

    Fused updates of the 54 M parameters take a third of the time of the default per-tensor loop on a 2-core CPU.
    """
    params, common = model.parameters(), {"lr": config.lr, "weight_decay": config.weight_decay, "fused": True}
    if config.optimizer == "adam":
        return torch.optim.Adam(params, amsgrad=True, **common)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, **common)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, momentum=0.9, nesterov=True, **common)
    raise ValueError(f"--optimizer: unknown {config.optimizer!r}; expected adam, adamw or sgd")


def _build_scheduler(
    config: TrainConfig, optimizer: torch.optim.Optimizer, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau:
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


def _class_weights(train_set: FaceDataset) -> torch.Tensor:
    """Inverse-frequency weights normalised to mean 1, so rare classes (disgust) count more in the loss."""
    counts = torch.tensor(train_set.class_counts(), dtype=torch.float32).clamp(min=1)
    weights = counts.sum() / (len(counts) * counts)
    return weights / weights.mean()


def _recipe(config: TrainConfig, train_set: FaceDataset, val_set: FaceDataset) -> dict[str, Any]:
    """The training recipe as it goes into config.json and the model card."""
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
        "validation_tta": config.tta,
        "amp": config.amp,
        "seed": config.seed,
    }


def train(config: TrainConfig) -> dict[str, Any]:
    """Train, validate each epoch, checkpoint, and return the summary (best epoch and its validation figures)."""
    rank, world_size = init_distributed(config.device)
    is_main = rank == 0
    device = pick_device(config.device)
    amp = resolve_amp(config.amp, device)
    if config.seed is not None:
        torch.manual_seed(config.seed + rank)
        np.random.seed(config.seed + rank)
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)

    epochs_dir = config.output_dir / EPOCHS_DIR
    if is_main:
        for stale in remove_stale_temp_files(epochs_dir) + remove_stale_temp_files(config.output_dir):
            log.info("removed %s, left by a run killed while writing it", stale)
    resume_state = load_checkpoint(epochs_dir / RESUME_FILE) if config.resume else None
    model = InceptionResNetV2(
        image_size=config.image_size, block_repeats=config.block_repeats, drop_rate=config.drop_rate
    )
    train_set, val_set, train_loader, val_loader = _build_loaders(config, model, rank, world_size)
    model.set_metadata(training=_recipe(config, train_set, val_set))
    model_config = model.config
    model.to(device).to(memory_format=torch.channels_last)
    net: nn.Module = DistributedDataParallel(model) if world_size > 1 else model

    steps_per_epoch = len(train_loader)
    optimizer = build_optimizer(config, model)
    scheduler = _build_scheduler(config, optimizer, steps_per_epoch)
    scaler = torch.amp.GradScaler(device.type, enabled=amp == "fp16")
    weights = _class_weights(train_set).to(device) if config.class_balance == "loss" else None
    criterion = nn.CrossEntropyLoss(weight=weights, label_smoothing=config.label_smoothing)
    ema = (AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay**EMA_EVERY_STEPS),
                         use_buffers=True) if config.ema_decay else None)
    shipped = ema.module if ema else model  # the weights that are validated, saved per epoch and exported

    start_epoch, global_step, best = 1, 0, {"epoch": 0, "val_accuracy": -1.0}
    run_name = time.strftime("%Y%m%d-%H%M%S")
    history = _History([])
    if resume_state is not None:
        model.load_state_dict(resume_state["model"])
        optimizer.load_state_dict(resume_state["optimizer"])
        scheduler.load_state_dict(resume_state["scheduler"])
        scaler.load_state_dict(resume_state["scaler"])
        if bool(ema) != ("ema" in resume_state):
            saved = "with" if "ema" in resume_state else "without"
            raise ValueError(f"{epochs_dir / RESUME_FILE}: saved {saved} --ema-decay; resume {saved} it too")
        if ema:
            ema.load_state_dict(resume_state["ema"])
        set_rng_state(resume_state["rng"][rank] if rank < len(resume_state["rng"]) else resume_state["rng"][0])
        start_epoch, global_step = resume_state["epoch"] + 1, resume_state["global_step"]
        best, run_name, history = resume_state["best"], resume_state["run_name"], _History(resume_state["history"])
        if is_main:
            log.info("resumed from %s at epoch %d (step %d)", epochs_dir / RESUME_FILE, start_epoch, global_step)

    writer = SummaryWriter(str(config.output_dir / "runs" / run_name), purge_step=global_step) if is_main else None
    if is_main:
        log.info(
            "train %d images, validation %d, %d steps/epoch, device %s, amp %s, world size %d",
            len(train_set), len(val_set), steps_per_epoch, device, amp, world_size,
        )

    for epoch in range(start_epoch, config.epochs + 1):
        if isinstance(train_loader.sampler, DistributedSampler):
            train_loader.sampler.set_epoch(epoch)
        net.train()
        seen, correct, loss_sum, started = 0, 0, 0.0, time.perf_counter()
        with prefetched(train_loader) as batches:
            bar = tqdm(
                batches,
                total=steps_per_epoch, desc=f"epoch {epoch}/{config.epochs}", unit="batch", disable=not is_main,
                mininterval=5, dynamic_ncols=True,
            )
            for images, targets in bar:
                images = images.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
                targets = targets.to(device, non_blocking=True)
                with autocast(device, amp):
                    logits = net(images)
                    loss = criterion(logits.float(), targets)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                if config.scheduler == "cosine":
                    scheduler.step()
                global_step += 1
                if ema and global_step % EMA_EVERY_STEPS == 0:
                    ema.update_parameters(model)
                hard_targets = targets.argmax(1) if targets.ndim == 2 else targets  # mixed batches: the larger share
                batch_correct = (logits.argmax(1) == hard_targets).sum().item()
                seen, correct = seen + len(targets), correct + batch_correct
                loss_sum += loss.item() * len(targets)
                images_per_s = seen * world_size / (time.perf_counter() - started)
                bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}", img_s=f"{images_per_s:.0f}")
                if writer and global_step % config.log_every_steps == 0:
                    writer.add_scalar("train/loss_step", loss.item(), global_step)
                    writer.add_scalar("train/accuracy_step", batch_correct / len(targets), global_step)
                    writer.add_scalar("train/lr", optimizer.param_groups[0]["lr"], global_step)
                    writer.add_scalar("train/images_per_s", images_per_s, global_step)
                if config.stop_after_steps and global_step >= config.stop_after_steps:
                    break
            bar.close()
        train_seconds = time.perf_counter() - started

        scores = score(shipped, val_loader, device, amp, config.tta)
        report = classification_report(scores.targets, scores.predictions, model.labels)
        if config.scheduler == "plateau":
            scheduler.step(scores.loss)
        if ema:  # the raw weights too, so the curve shows what the average adds
            raw = score(model, val_loader, device, amp, config.tta)
            raw_report = classification_report(raw.targets, raw.predictions, model.labels)
            report["raw"] = {"val_loss": round(raw.loss, 5), "val_accuracy": round(raw_report["accuracy"], 5),
                             "val_macro_f1": round(raw_report["macro_f1"], 5)}
        row = {
            "epoch": epoch,
            "global_step": global_step,
            "lr": optimizer.param_groups[0]["lr"],
            "train_loss": round(loss_sum / max(seen, 1), 5),
            "train_accuracy": round(correct / max(seen, 1), 5),
            "val_loss": round(scores.loss, 5),
            "val_accuracy": round(report["accuracy"], 5),
            "val_macro_f1": round(report["macro_f1"], 5),
            "images_per_s": round(seen * world_size / train_seconds, 1),
            "epoch_seconds": round(train_seconds, 1),
            **{f"raw_{key}": value for key, value in report.get("raw", {}).items()},
        }
        if is_main:
            _end_of_epoch(config, shipped, model_config, writer, history, row, report, best, epochs_dir)
            save_checkpoint(
                epochs_dir / RESUME_FILE,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "scaler": scaler.state_dict(),
                    **({"ema": ema.state_dict()} if ema else {}),
                    "epoch": epoch,
                    "global_step": global_step,
                    "best": best,
                    "run_name": run_name,
                    "history": history.rows,
                    "rng": _gather_rng(world_size),
                },
            )
        elif world_size > 1:
            _gather_rng(world_size)
        if world_size > 1:
            dist.barrier()
        if config.stop_after_steps and global_step >= config.stop_after_steps:
            break

    summary = {"best_epoch": best["epoch"], "best_val_accuracy": best["val_accuracy"], "epochs": history.rows}
    if writer:
        last = history.rows[-1] if history.rows else {}
        writer.add_hparams(
            {k: (str(v) if not isinstance(v, (int, float, bool)) else v) for k, v in model.training_info.items()},
            {"hparam/best_val_accuracy": best["val_accuracy"], "hparam/final_val_loss": last.get("val_loss", 0.0)},
            run_name=".",
            global_step=global_step,
        )
        writer.close()
        log.info(
            "done: best epoch %d, val accuracy %.4f; weights in %s",
            best["epoch"], best["val_accuracy"], epochs_dir / BEST_FILE,
        )
    if world_size > 1:
        dist.destroy_process_group()
    return summary


def _gather_rng(world_size: int) -> list[dict[str, Any]]:
    """Every rank's RNG state (rank order), so each rank resumes its own augmentation stream."""
    if world_size == 1:
        return [rng_state()]
    states: list[Any] = [None] * world_size
    dist.all_gather_object(states, rng_state())
    return states


def _end_of_epoch(
    config: TrainConfig,
    model: InceptionResNetV2,
    model_config: dict[str, Any],
    writer: SummaryWriter | None,
    history: _History,
    row: dict[str, Any],
    report: dict[str, Any],
    best: dict[str, Any],
    epochs_dir: Path,
) -> None:
    """Rank 0's epoch bookkeeping: TensorBoard, per-epoch weights, the best weights and history.json."""
    epoch, step = row["epoch"], row["global_step"]
    if writer:
        for key in row.keys() - {"epoch", "global_step"}:
            writer.add_scalar(f"epoch/{key}", row[key], step)
        writer.add_figure("val/confusion_matrix", confusion_figure(np.array(report["confusion_matrix"]), model.labels,
                                                                   f"epoch {epoch}"), step)
        writer.flush()
    info = {"epoch": epoch, "val_accuracy": row["val_accuracy"], "val_macro_f1": row["val_macro_f1"]}
    save_weights(epochs_dir / f"epoch-{epoch:03d}.safetensors", model.state_dict(), model_config, **info)
    if row["val_accuracy"] > best["val_accuracy"]:
        best.update(epoch=epoch, val_accuracy=row["val_accuracy"])
        save_weights(epochs_dir / BEST_FILE, model.state_dict(), model_config, **info)
    history.add(config.output_dir / HISTORY_FILE, row)
    log.info(
        "epoch %d: train loss %.4f acc %.4f | val loss %.4f acc %.4f macro-F1 %.4f | %.0f img/s | best %d (%.4f)",
        epoch, row["train_loss"], row["train_accuracy"], row["val_loss"], row["val_accuracy"], row["val_macro_f1"],
        row["images_per_s"], best["epoch"], best["val_accuracy"],
    )
