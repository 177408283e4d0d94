"""Training and validation data: datasets decoded once, samplers, MixUp/CutMix batches, and background prefetching."""

from __future__ import annotations

import contextlib
import copy
import itertools
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

import torch
from prefetch_generator import BackgroundGenerator
from torch.utils.data import (
    DataLoader,
    DistributedSampler,
    RandomSampler,
    Subset,
    WeightedRandomSampler,
    default_collate,
)
from torchvision.transforms import v2

from fer_model import InceptionResNetV2
from fer_model.preprocess import eval_transform, ten_crop_transform, train_transform

from .config import TrainConfig
from .data import DataError, FaceDataset, find_splits, load_split

PREFETCH_BATCHES = 4  # batches the background thread prepares ahead of the training step
BN_REFRESH_IMAGES = 3200  # training images whose batch-norm statistics the weight average is given each epoch
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


def build_loaders(
    config: TrainConfig, model: InceptionResNetV2, rank: int, world_size: int, on_cuda: bool
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
    val_transform = ten_crop_transform if config.tta == "ten-crop" else eval_transform
    val_set.transform = val_transform(model.image_size, model.mean, model.std)
    common = {"num_workers": config.num_workers, "pin_memory": on_cuda, "persistent_workers": config.num_workers > 0}
    train_loader = DataLoader(
        train_set, config.batch_size, sampler=_train_sampler(config, train_set, rank, world_size), drop_last=True,
        collate_fn=_MixCollate(len(model.labels), config), **common,
    )
    if len(train_loader) == 0:  # full batches only: fewer images than a batch would train nothing
        ranks = f" on each of {world_size} ranks" if world_size > 1 else ""
        raise DataError(f"{splits.train}: {len(train_set)} training images do not fill one batch of --batch-size "
                        f"{config.batch_size}{ranks} (partial batches are dropped); lower --batch-size")
    val_loader = DataLoader(val_set, config.batch_size * 2, shuffle=False, **common)
    return train_set, val_set, train_loader, val_loader


def _train_sampler(
    config: TrainConfig, train_set: FaceDataset, rank: int, world_size: int
) -> torch.utils.data.Sampler[int]:
    """Shuffling (sharded under torchrun), or class-balanced draws with replacement for ``--class-balance sampler``."""
    if config.class_balance == "sampler":
        if world_size > 1:
            raise ValueError("--class-balance sampler: not supported under torchrun; use --class-balance loss")
        per_image = class_weights(train_set)[torch.tensor(train_set.targets)]
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


def class_weights(train_set: FaceDataset) -> torch.Tensor:
    """Inverse-frequency weights normalised to mean 1, so rare classes (disgust) count more in the loss."""
    counts = torch.tensor(train_set.class_counts(), dtype=torch.float32).clamp(min=1)
    weights = counts.sum() / (len(counts) * counts)
    return weights / weights.mean()


def bn_refresh_loader(config: TrainConfig, train_set: FaceDataset, model: InceptionResNetV2) -> DataLoader:
    """A fixed random subset of the training images, unaugmented, to recompute the weight average's batch-norm
    statistics from: averaged running statistics do not match averaged weights (measured: an EMA at epoch 4 scored
    18 % with its averaged statistics, 56 % with recomputed ones)."""
    subset = copy.copy(train_set)
    subset.transform = eval_transform(model.image_size, model.mean, model.std)
    chosen = torch.randperm(len(train_set), generator=torch.Generator().manual_seed(0))[:BN_REFRESH_IMAGES]
    return DataLoader(Subset(subset, chosen.tolist()), config.batch_size, num_workers=config.num_workers)
