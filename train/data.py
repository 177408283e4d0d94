"""Datasets: the Kaggle FER layouts, any ImageFolder tree and fer2013.csv, decoded once into grayscale uint8 tensors."""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset
from tqdm import tqdm

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jfif", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm"}
# Folder names seen in public FER datasets, mapped to our label names (compared case-insensitively).
CLASS_ALIASES = {
    "anger": "angry",
    "disgusted": "disgust",
    "fearful": "fear",
    "scared": "fear",
    "happiness": "happy",
    "normal": "neutral",
    "sadness": "sad",
    "surprised": "surprise",
}
# fer2013.csv's emotion column: 0=Angry, 1=Disgust, 2=Fear, 3=Happy, 4=Sad, 5=Surprise, 6=Neutral.
FER2013_CSV_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FER2013_CSV_USAGE = {"train": "Training", "validation": "PublicTest", "test": "PrivateTest"}
FER2013_SIDE_PX = 48


class DataError(ValueError):
    """The dataset on disk does not have the expected layout or content; the message names the path."""


class FaceDataset(Dataset[tuple[torch.Tensor, int]]):
    """Decoded grayscale face crops (uint8, 1xHxW) with label indices; ``transform`` turns one into a model input."""

    def __init__(
        self,
        images: Sequence[torch.Tensor],
        targets: Sequence[int],
        labels: Sequence[str],
        source: str,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        if not images:
            raise DataError(f"{source}: no images found")
        self.images, self.targets, self.labels = list(images), list(targets), list(labels)
        self.source = source
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.images[index]
        return (self.transform(image) if self.transform else image), self.targets[index]

    def class_counts(self) -> list[int]:
        """Number of images per label index, for class weighting and the summary."""
        return np.bincount(self.targets, minlength=len(self.labels)).tolist()


@dataclass(frozen=True)
class Splits:
    """Where the training and validation data of a dataset live."""

    train: Path
    validation: Path | None


def match_class(folder_name: str, labels: Sequence[str], where: Path) -> int:
    """Index in ``labels`` of a class folder or csv class name (case-insensitive, common aliases accepted)."""
    name = folder_name.strip().lower()
    name = CLASS_ALIASES.get(name, name)
    lowered = [label.lower() for label in labels]
    if name not in lowered:
        raise DataError(f"{where}: unknown class {folder_name!r}; expected one of {', '.join(labels)}")
    return lowered.index(name)


def find_splits(data: Path, val_data: Path | None = None) -> Splits:
    """Resolve ``--data``: images/train + images/validation, train + validation|test, a csv, or one ImageFolder."""
    if not data.exists():
        raise DataError(f"{data}: no such file or folder")
    if data.is_file():
        if data.suffix.lower() != ".csv":
            raise DataError(f"{data}: expected a folder of class folders or fer2013.csv")
        return Splits(data, val_data or data)
    root = data / "images" if (data / "images" / "train").is_dir() else data
    if (root / "train").is_dir():
        validation = val_data or next(
            (root / name for name in ("validation", "val", "test") if (root / name).is_dir()), None
        )
        return Splits(root / "train", validation)
    return Splits(data, val_data)


def _decode_gray(path: Path) -> torch.Tensor:
    """One image file -> uint8 tensor 1xHxW in grayscale."""
    with Image.open(path) as image:
        return torch.from_numpy(np.asarray(image.convert("L"), dtype=np.uint8).copy()).unsqueeze(0)


def load_image_folder(root: Path, labels: Sequence[str], skip_bad: bool = False) -> FaceDataset:
    """An ImageFolder tree (``root/<class>/*.jpg``) decoded into memory; every class folder must match a label."""
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; expected {root}/<class>/ with one folder per class")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir())
    if not class_dirs:
        raise DataError(f"{root}: no class folders; expected one of {', '.join(labels)} as sub-folders")
    files: list[tuple[Path, int]] = []
    for class_dir in class_dirs:
        target = match_class(class_dir.name, labels, class_dir)
        images = sorted(p for p in class_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not images:
            raise DataError(f"{class_dir}: empty class folder (no {', '.join(sorted(IMAGE_SUFFIXES))} files)")
        files += [(p, target) for p in images]
    decoded, targets, skipped = [], [], 0
    for path, target in tqdm(files, desc=f"decode {root.name}", unit="img", leave=False, mininterval=2):
        try:
            decoded.append(_decode_gray(path))
        except (UnidentifiedImageError, OSError, ValueError) as error:
            if not skip_bad:
                raise DataError(f"{path}: unreadable image ({error}); fix or remove it, or pass --skip-bad") from error
            skipped += 1
            continue
        targets.append(target)
    if skipped:
        log.warning("%s: skipped %d unreadable images", root, skipped)
    return FaceDataset(decoded, targets, labels, str(root))


def load_fer2013_csv(path: Path, split: str, labels: Sequence[str], skip_bad: bool = False) -> FaceDataset:
    """Rows of the original fer2013.csv (``emotion,pixels,Usage``) whose Usage is ``split``'s (Training, PublicTest)."""
    usage = FER2013_CSV_USAGE[split]
    class_index = [match_class(name, labels, path) for name in FER2013_CSV_CLASSES]
    images, targets, skipped = [], [], 0
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"emotion", "pixels", "Usage"} - set(reader.fieldnames or ())
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(sorted(missing))}; expected emotion,pixels,Usage")
        for row in reader:
            if row["Usage"] != usage:
                continue
            try:
                emotion = int(row["emotion"])
                if not 0 <= emotion < len(FER2013_CSV_CLASSES):
                    raise ValueError(f"emotion {emotion} is not in 0..{len(FER2013_CSV_CLASSES) - 1}")
                pixels = np.array(row["pixels"].split(), dtype=np.uint8)
                if pixels.size != FER2013_SIDE_PX**2:
                    raise ValueError(f"{pixels.size} pixels, expected {FER2013_SIDE_PX**2}")
            except (ValueError, OverflowError) as error:
                if not skip_bad:
                    raise DataError(f"{path}, line {reader.line_num}: bad row ({error})") from error
                skipped += 1
                continue
            images.append(torch.from_numpy(pixels.reshape(1, FER2013_SIDE_PX, FER2013_SIDE_PX)))
            targets.append(class_index[emotion])
    if skipped:
        log.warning("%s: skipped %d bad rows", path, skipped)
    return FaceDataset(images, targets, labels, f"{path} ({usage})")


def load_split(path: Path, split: str, labels: Sequence[str], skip_bad: bool = False) -> FaceDataset:
    """A csv split or an ImageFolder split, whichever ``path`` is."""
    if path.is_file():
        return load_fer2013_csv(path, split, labels, skip_bad)
    return load_image_folder(path, labels, skip_bad)
