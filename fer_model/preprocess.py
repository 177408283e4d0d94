"""The one definition of how a face crop becomes a model input, shared by training, prediction and the app."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torchvision.transforms import v2


@dataclass(frozen=True)
class Augmentation:
    """Training-time augmentations known to help on FER2013; each can be switched off."""

    random_crop: bool = field(default=True, metadata={"help": "RandomResizedCrop over 80-100 % of the face"})
    hflip: bool = field(default=True, metadata={"help": "random horizontal flip"})
    rotation_deg: float = field(default=10.0, metadata={"help": "max rotation either way, degrees (0 disables)"})
    scale: tuple[float, float] = field(
        default=(1.0, 1.0), metadata={"help": "random zoom range of the affine, e.g. 0.8 1.2 (1 1 disables)"}
    )
    random_erasing: float = field(default=0.25, metadata={"help": "probability of erasing a patch (0 disables)"})


TTA_CHOICES = ("none", "flip", "ten-crop")  # test-time views: one, plus its mirror, or ten crops (ten_crop_transform)


def eval_transform(image_size: int, mean: Sequence[float], std: Sequence[float]) -> v2.Compose:
    """PIL/ndarray/tensor face crop -> normalised float tensor 3xSxS (grayscale replicated, as in training)."""
    return v2.Compose(
        [
            v2.ToImage(),
            v2.ToDtype(torch.float32, scale=True),  # before Grayscale: on uint8 it truncates (gray 100 -> 99)
            v2.Grayscale(num_output_channels=3),
            v2.Resize((image_size, image_size), antialias=True),
            v2.Normalize(mean=list(mean), std=list(std)),
        ]
    )


def train_transform(
    image_size: int, mean: Sequence[float], std: Sequence[float], augment: Augmentation | None = None
) -> v2.Compose:
    """The eval transform with the chosen augmentations around its resize; ``augment=None`` is the plain reference."""
    if augment is None:
        return eval_transform(image_size, mean, std)
    resize: v2.Transform = (
        v2.RandomResizedCrop((image_size, image_size), scale=(0.8, 1.0), ratio=(0.9, 1.1), antialias=True)
        if augment.random_crop
        else v2.Resize((image_size, image_size), antialias=True)
    )
    to_gray = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Grayscale(num_output_channels=3)]
    steps: list[v2.Transform] = [*to_gray, resize]
    if augment.hflip:
        steps.append(v2.RandomHorizontalFlip())
    zoom = tuple(augment.scale) != (1.0, 1.0)
    if augment.rotation_deg > 0 or zoom:
        steps.append(v2.RandomAffine(augment.rotation_deg, scale=augment.scale if zoom else None,
                                     interpolation=v2.InterpolationMode.BILINEAR))
    steps.append(v2.Normalize(mean=list(mean), std=list(std)))
    if augment.random_erasing > 0:
        steps.append(v2.RandomErasing(p=augment.random_erasing, scale=(0.02, 0.2)))
    return v2.Compose(steps)


def ten_crop_transform(image_size: int, mean: Sequence[float], std: Sequence[float]) -> v2.Compose:
    """Test-time augmentation: resize 12.5 % larger, then the 4 corners + centre and their mirrors (10xCxSxS)."""
    return v2.Compose(
        [
            v2.ToImage(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Grayscale(num_output_channels=3),
            v2.Resize((image_size * 9 // 8, image_size * 9 // 8), antialias=True),
            v2.TenCrop(image_size),
            torch.stack,  # a plain callable gets the tuple of crops (v2.Lambda would be applied to each crop)
            v2.Normalize(mean=list(mean), std=list(std)),
        ]
    )
