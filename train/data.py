"""Datasets: the Kaggle FER layouts, any ImageFolder tree and fer2013.csv, decoded once into grayscale uint8 tensors."""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from fer_model.images import IMAGE_SUFFIXES, ImageError, decode_image
from fer_model.model import MAX_IMAGE_SIZE_PX

log = logging.getLogger(__name__)

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
FER2013_COLUMNS = ("emotion", "pixels", "Usage")


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


def _decode_gray(path: Path, max_side_px: int) -> torch.Tensor:
    """One image file -> uint8 tensor 1xHxW in grayscale, at most ``max_side_px`` a side, decoded as inference
    decodes it (fer_model.images: EXIF orientation, transparency, 16-bit, size limits, JPEG draft decoding)."""
    image = decode_image(path, max_side_px)
    gray = image if image.mode == "L" else image.convert("L")
    return torch.from_numpy(np.array(gray, dtype=np.uint8)).unsqueeze(0)


def load_image_folder(
    root: Path, labels: Sequence[str], skip_bad: bool = False, max_side_px: int = MAX_IMAGE_SIZE_PX
) -> FaceDataset:
    """An ImageFolder tree (``root/<class>/*.jpg``) decoded into memory; every class folder must match a label.

    Images are kept at most ``max_side_px`` a side (the default: the largest image_size a model can have).
    """
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
            decoded.append(_decode_gray(path, max_side_px))
        except ImageError as error:  # the message names the file and what is wrong with it
            if not skip_bad:
                raise DataError(f"{error}; fix or remove it, or pass --skip-bad") from error
            skipped += 1
            continue
        targets.append(target)
    if skipped:
        log.warning("%s: skipped %d unreadable images", root, skipped)
    return FaceDataset(decoded, targets, labels, str(root))


def _not_utf8(path: Path, error: UnicodeDecodeError) -> DataError:
    return DataError(f"{path}: not UTF-8 text ({error}); save it as UTF-8")


def load_fer2013_csv(path: Path, split: str, labels: Sequence[str], skip_bad: bool = False) -> FaceDataset:
    """Rows of the original fer2013.csv (``emotion,pixels,Usage``) whose Usage is ``split``'s (Training, PublicTest)."""
    usage = FER2013_CSV_USAGE[split]
    class_index = [match_class(name, labels, path) for name in FER2013_CSV_CLASSES]
    images, targets, skipped = [], [], 0
    with path.open(newline="", encoding="utf-8-sig") as handle:  # -sig: a byte-order mark is not part of a name
        reader = csv.DictReader(handle)
        try:
            missing = set(FER2013_COLUMNS) - set(reader.fieldnames or ())
        except UnicodeDecodeError as error:
            raise _not_utf8(path, error) from error
        except csv.Error as error:
            raise DataError(f"{path}, line 1: not a readable CSV header ({error})") from error
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(sorted(missing))}; expected emotion,pixels,Usage")
        while True:
            line = reader.line_num + 1  # where the next row starts
            try:
                row = next(reader, None)
                if row is None:
                    break
                absent = [name for name in FER2013_COLUMNS if row[name] is None]
                if absent or None in row:  # a short (e.g. cut-off last) row, or one with extra fields
                    raise ValueError(f"missing {', '.join(absent)}" if absent else f"{len(row[None])} extra field(s)")
                if row["Usage"] != usage:
                    continue
                emotion = int(row["emotion"])
                if not 0 <= emotion < len(FER2013_CSV_CLASSES):
                    raise ValueError(f"emotion {emotion} is not in 0..{len(FER2013_CSV_CLASSES) - 1}")
                pixels = np.array(row["pixels"].split(), dtype=np.uint8)
                if pixels.size != FER2013_SIDE_PX**2:
                    raise ValueError(f"{pixels.size} pixels, expected {FER2013_SIDE_PX**2}")
            except UnicodeDecodeError as error:  # the rest of the file cannot be read either: never skipped
                raise _not_utf8(path, error) from error
            except (ValueError, OverflowError, csv.Error) as error:  # csv.Error: e.g. a field over 131,072 chars
                if not skip_bad:
                    raise DataError(f"{path}, line {line}: bad row ({error}); fix or remove it, or pass --skip-bad") \
                        from error
                skipped += 1
                continue
            images.append(torch.from_numpy(pixels.reshape(1, FER2013_SIDE_PX, FER2013_SIDE_PX)))
            targets.append(class_index[emotion])
    if skipped:
        log.warning("%s: skipped %d bad rows", path, skipped)
    return FaceDataset(images, targets, labels, f"{path} ({usage})")


def load_split(
    path: Path, split: str, labels: Sequence[str], skip_bad: bool = False, max_side_px: int = MAX_IMAGE_SIZE_PX
) -> FaceDataset:
    """A csv split or an ImageFolder split (images at most ``max_side_px`` a side), whichever ``path`` is."""
    if path.is_file():
        return load_fer2013_csv(path, split, labels, skip_bad)
    return load_image_folder(path, labels, skip_bad, max_side_px)
