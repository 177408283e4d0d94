"""The training loop: epochs of train + validate, a ``save_pretrained`` folder per epoch, resumable checkpoints and
TensorBoard logs (structured as torchvision's reference scripts: ``train_one_epoch``, ``validate``)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import update_bn
from torch.utils.data import DataLoader, DistributedSampler
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from fer_model import InceptionResNetV2
from fer_model.files import remove_stale_temp_files
from fer_model.runtime import autocast, pick_device, resolve_precision

from .checkpoint import (
    BEST_DIR,
    EPOCHS_DIR,
    RESUME_FILE,
    load_checkpoint,
    load_initial_weights,
    rng_state,
    save_checkpoint,
    save_model,
    set_rng_state,
    write_json,
)
from .config import TrainConfig, recipe
from .distributed import init_distributed, local_device
from .loaders import bn_refresh_loader, build_loaders, class_weights, prefetched
from .metrics import classification_report, confusion_figure, score
from .state import RunState

log = logging.getLogger(__name__)
HISTORY_FILE = "history.json"


@dataclass
class Setup:
    """Where and how a run computes: this process's rank, the device and the resolved autocast precision."""

    rank: int
    world_size: int
    device: torch.device
    precision: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def train(config: TrainConfig) -> dict[str, Any]:
    """Train, validate each epoch, save, and return the summary (best epoch and its validation accuracy, history)."""
    setup = _set_up(config)
    epochs_dir = config.output_dir / EPOCHS_DIR
    model = InceptionResNetV2(image_size=config.image_size, block_repeats=config.block_repeats,
                              drop_rate=config.drop_rate)
    if config.init_from and not config.resume:  # a resumed run has its own weights in the checkpoint
        load_initial_weights(model, config.init_from)
    train_set, val_set, train_loader, val_loader = build_loaders(
        config, model, setup.rank, setup.world_size, on_cuda=setup.device.type == "cuda")
    model.set_metadata(training=recipe(config, train_set, val_set, setup.precision))
    model.to(setup.device).to(memory_format=torch.channels_last)
    run = RunState.create(config, model, len(train_loader), fp16=setup.precision == "fp16")
    bn_loader = bn_refresh_loader(config, train_set, model) if run.ema else None
    if config.resume:
        _resume(run, epochs_dir / RESUME_FILE, setup, config.epochs)
    net: nn.Module = DistributedDataParallel(model) if setup.world_size > 1 else model
    weights = class_weights(train_set).to(setup.device) if config.class_balance == "loss" else None
    criterion = nn.CrossEntropyLoss(weight=weights, label_smoothing=config.label_smoothing)
    writer = (SummaryWriter(str(config.output_dir / "runs" / run.run_name), purge_step=run.global_step)
              if setup.is_main else None)
    if setup.is_main:
        log.info("train %d images, validation %d, %d steps/epoch, device %s, precision %s, world size %d",
                 len(train_set), len(val_set), len(train_loader), setup.device, setup.precision, setup.world_size)
    for epoch in range(run.epoch + 1, config.epochs + 1):
        if isinstance(train_loader.sampler, DistributedSampler):
            train_loader.sampler.set_epoch(epoch)
        row = train_one_epoch(net, run, criterion, train_loader, config, setup, writer, epoch)
        if run.ema:
            refresh_batch_norm(run.ema.module, bn_loader, setup)
        report = validate(run, val_loader, config, setup, row)
        if isinstance(run.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            run.scheduler.step(report["loss"])
        run.epoch = epoch
        _end_of_epoch(run, config, setup, writer, row, report)
        if config.stop_after_steps and run.global_step >= config.stop_after_steps:
            break
    return _finish(run, setup, writer, epochs_dir)


def _set_up(config: TrainConfig) -> Setup:
    """Join torchrun's group, choose the device and precision, seed every RNG, clear a killed run's temp files."""
    device = pick_device(config.device)
    rank, world_size = init_distributed(device)
    setup = Setup(rank, world_size, local_device(device), resolve_precision(config.precision, device))
    if config.seed is not None:
        torch.manual_seed(config.seed + rank)
        np.random.seed(config.seed + rank)
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)
    epochs_dir = config.output_dir / EPOCHS_DIR
    if not config.resume and (epochs_dir / RESUME_FILE).exists():
        raise ValueError(f"{config.output_dir}: holds a run already ({epochs_dir / RESUME_FILE}); pass --resume to "
                         "continue it, or choose another --output-dir")
    if setup.is_main:
        for stale in remove_stale_temp_files(epochs_dir) + remove_stale_temp_files(config.output_dir):
            log.info("cleaned up %s, left by a run killed while writing (a replaced folder is put back)", stale)
    return setup


def _resume(run: RunState, path: Path, setup: Setup, config_epochs: int) -> None:
    """Continue ``run`` from its checkpoint, each rank with its own RNG stream."""
    state = load_checkpoint(path)
    run.load_state_dict(state, path)
    if run.epoch >= config_epochs:
        raise ValueError(f"{path}: the run has done {run.epoch} epochs already; pass --epochs above {run.epoch} to "
                         "train more")
    set_rng_state(state["rng"][setup.rank] if setup.rank < len(state["rng"]) else state["rng"][0])
    if setup.is_main:
        log.info("resumed from %s at epoch %d (step %d)", path, run.epoch + 1, run.global_step)


def train_one_epoch(
    net: nn.Module,
    run: RunState,
    criterion: nn.Module,
    loader: DataLoader,
    config: TrainConfig,
    setup: Setup,
    writer: SummaryWriter | None,
    epoch: int,
) -> dict[str, Any]:
    """One pass over the training batches (prefetched in the background); returns the epoch's training figures."""
    net.train()
    seen, correct, loss_sum, started = 0, 0, 0.0, time.perf_counter()
    with prefetched(loader) as batches:
        bar = tqdm(batches, total=len(loader), desc=f"epoch {epoch}/{config.epochs}", unit="batch",
                   disable=not setup.is_main, mininterval=5, dynamic_ncols=True)
        for images, targets in bar:
            images = images.to(setup.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            targets = targets.to(setup.device, non_blocking=True)
            logits, loss = _step(net, run, criterion, images, targets, setup)
            hard_targets = targets.argmax(1) if targets.ndim == 2 else targets  # mixed batches: the larger share
            batch_correct = (logits.argmax(1) == hard_targets).sum().item()
            seen, correct, loss_sum = seen + len(targets), correct + batch_correct, loss_sum + loss * len(targets)
            images_per_s = seen * setup.world_size / (time.perf_counter() - started)
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}", img_s=f"{images_per_s:.0f}")
            if writer and run.global_step % config.log_every_steps == 0:
                for name, value in (("loss_step", loss), ("accuracy_step", batch_correct / len(targets)),
                                    ("lr", run.optimizer.param_groups[0]["lr"]), ("images_per_s", images_per_s)):
                    writer.add_scalar(f"train/{name}", value, run.global_step)
            if config.stop_after_steps and run.global_step >= config.stop_after_steps:
                break
        bar.close()
    seconds = time.perf_counter() - started
    return {"epoch": epoch, "global_step": run.global_step, "lr": run.optimizer.param_groups[0]["lr"],
            "train_loss": round(loss_sum / max(seen, 1), 5), "train_accuracy": round(correct / max(seen, 1), 5),
            "images_per_s": round(seen * setup.world_size / seconds, 1), "epoch_seconds": round(seconds, 1)}


def _step(
    net: nn.Module, run: RunState, criterion: nn.Module, images: torch.Tensor, targets: torch.Tensor, setup: Setup
) -> tuple[torch.Tensor, float]:
    """Forward under autocast, backward (scaled for fp16), optimizer and per-step schedule; (logits, loss)."""
    with autocast(setup.device, setup.precision):
        logits = net(images)
        loss = criterion(logits.float(), targets)
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    run.scaler.step(run.optimizer)
    run.scaler.update()
    if not isinstance(run.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        run.scheduler.step()
    run.step_done()
    return logits, loss.item()


def refresh_batch_norm(model: nn.Module, loader: DataLoader, setup: Setup) -> None:
    """Recompute ``model``'s batch-norm running statistics from ``loader``'s images (``update_bn``, as SWA does)."""
    with autocast(setup.device, setup.precision):
        update_bn((images.contiguous(memory_format=torch.channels_last) for images, _ in loader), model, setup.device)


def validate(
    run: RunState, loader: DataLoader, config: TrainConfig, setup: Setup, row: dict[str, Any]
) -> dict[str, Any]:
    """Score the shipped weights (and the raw ones under EMA) on the validation set; adds the figures to ``row``.

    Returns the shipped weights' report in ``train.evaluate``'s form, as the epoch folder's ``metrics``.
    """
    labels = run.model.labels
    scores = score(run.shipped, loader, setup.device, setup.precision, config.tta)
    report = classification_report(scores.targets, scores.predictions, labels)
    row.update(val_loss=round(scores.loss, 5), val_accuracy=round(report["accuracy"], 5),
               val_macro_f1=round(report["macro_f1"], 5))
    if run.ema:  # the raw weights too, so the curve shows what the average adds
        raw = score(run.model, loader, setup.device, setup.precision, config.tta)
        raw_report = classification_report(raw.targets, raw.predictions, labels)
        row.update(raw_val_loss=round(raw.loss, 5), raw_val_accuracy=round(raw_report["accuracy"], 5),
                   raw_val_macro_f1=round(raw_report["macro_f1"], 5))
    return {"dataset": loader.dataset.source, "num_images": len(loader.dataset), "tta": config.tta,
            "precision": setup.precision, "loss": round(scores.loss, 5), **report}


def _end_of_epoch(
    run: RunState, config: TrainConfig, setup: Setup, writer: SummaryWriter | None, row: dict[str, Any],
    report: dict[str, Any],
) -> None:
    """Rank 0 writes TensorBoard, ``epoch-NNN/`` (and ``best/``), history.json, then checkpoint.pt, in that order."""
    rng = _gather_rng(setup.world_size)  # every rank takes part
    if setup.is_main:
        epochs_dir = config.output_dir / EPOCHS_DIR
        _log_epoch(writer, row, report, run.model.labels)
        shipped = run.shipped
        shipped.set_metadata(metrics=report, training={**(run.model.training_info or {}), "selected_epoch": run.epoch})
        save_model(epochs_dir / f"epoch-{run.epoch:03d}", shipped)
        if row["val_accuracy"] > run.best_val_accuracy:
            run.best_epoch, run.best_val_accuracy = run.epoch, row["val_accuracy"]
            save_model(epochs_dir / BEST_DIR, shipped)
        run.history.append(row)
        write_json(config.output_dir / HISTORY_FILE, run.history)
        save_checkpoint(epochs_dir / RESUME_FILE, run.state_dict(rng))
        log.info("epoch %d: train loss %.4f acc %.4f | val loss %.4f acc %.4f macro-F1 %.4f | %.0f img/s | "
                 "best %d (%.4f)", run.epoch, row["train_loss"], row["train_accuracy"], row["val_loss"],
                 row["val_accuracy"], row["val_macro_f1"], row["images_per_s"], run.best_epoch, run.best_val_accuracy)
    if setup.world_size > 1:
        dist.barrier()


def _log_epoch(writer: SummaryWriter | None, row: dict[str, Any], report: dict[str, Any], labels: list[str]) -> None:
    """The epoch's figures and confusion matrix in TensorBoard, at the epoch's last step."""
    if writer is None:
        return
    step = row["global_step"]
    for key in row.keys() - {"epoch", "global_step"}:
        writer.add_scalar(f"epoch/{key}", row[key], step)
    figure = confusion_figure(np.array(report["confusion_matrix"]), labels, f"epoch {row['epoch']}")
    writer.add_figure("val/confusion_matrix", figure, step)
    writer.flush()


def _gather_rng(world_size: int) -> list[dict[str, Any]]:
    """Every rank's RNG state (rank order), so each rank resumes its own augmentation stream."""
    if world_size == 1:
        return [rng_state()]
    states: list[Any] = [None] * world_size
    dist.all_gather_object(states, rng_state())
    return states


def _finish(run: RunState, setup: Setup, writer: SummaryWriter | None, epochs_dir: Path) -> dict[str, Any]:
    """Close the logs (hyperparameters beside the best figures) and the process group; the run's summary."""
    if writer:
        last = run.history[-1] if run.history else {}
        hparams = {key: value if isinstance(value, (int, float, bool)) else str(value)
                   for key, value in (run.model.training_info or {}).items()}
        writer.add_hparams(hparams, {"hparam/best_val_accuracy": run.best_val_accuracy,
                                     "hparam/final_val_loss": last.get("val_loss", 0.0)},
                           run_name=".", global_step=run.global_step)
        writer.close()
        log.info("done: best epoch %d, val accuracy %.4f; model in %s", run.best_epoch, run.best_val_accuracy,
                 epochs_dir / BEST_DIR)
    if setup.world_size > 1:
        dist.destroy_process_group()
    return {"best_epoch": run.best_epoch, "best_val_accuracy": run.best_val_accuracy, "epochs": run.history}
