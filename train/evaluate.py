"""``python -m train.evaluate``: accuracy, macro-F1, per-class figures and the confusion matrix of a model.

The images of the evaluated folder are face crops (as in training): no face detection.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from fer_model import InceptionResNetV2, ModelLoadError
from fer_model.files import atomic_write
from fer_model.preprocess import TTA_CHOICES, eval_transform, ten_crop_transform
from fer_model.runtime import pick_device, resolve_precision

from .config import DEFAULT_WORKERS
from .data import DataError, FaceDataset, find_splits, load_split
from .metrics import classification_report, confusion_figure, score
from .options import add_model_flags


def validation_set(model: InceptionResNetV2, data: Path, tta: str = "none") -> FaceDataset:
    """The images to score ``model`` on: ``data``'s validation split (or ``data`` itself), preprocessed for it."""
    splits = find_splits(data)
    dataset = load_split(splits.validation or splits.train, "validation", model.labels)
    make = ten_crop_transform if tta == "ten-crop" else eval_transform
    dataset.transform = make(model.image_size, model.mean, model.std)
    return dataset


def evaluate(
    model: InceptionResNetV2,
    data: Path,
    tta: str = "none",
    batch_size: int = 64,
    device: str = "auto",
    precision: str = "auto",
) -> dict[str, Any]:
    """Score ``model`` on ``data`` (a class-folder tree, a dataset root's validation split, or fer2013.csv).

    The report has the same keys as the ``metrics`` that training stores in each epoch's folder.
    """
    torch_device = pick_device(device)
    precision = resolve_precision(precision, torch_device)
    dataset = validation_set(model, data, tta)
    model.to(torch_device).to(memory_format=torch.channels_last)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=DEFAULT_WORKERS)
    scores = score(model, loader, torch_device, precision, "flip" if tta == "flip" else "none")
    report = classification_report(scores.targets, scores.predictions, model.labels)
    return {"dataset": dataset.source, "num_images": len(dataset), "tta": tta, "precision": precision,
            "loss": round(scores.loss, 5), **report}


def print_report(report: dict[str, Any], labels: list[str]) -> None:
    """Human-readable figures: headline, per-class table, confusion matrix (rows true, columns predicted)."""
    print(f"{report['dataset']}: {report['num_images']} images, tta {report['tta']}, precision {report['precision']}")
    print(f"accuracy {report['accuracy']:.4f}   macro-F1 {report['macro_f1']:.4f}   loss {report['loss']:.4f}")
    print(f"{'class':10s} {'precision':>9s} {'recall':>7s} {'f1':>6s} {'support':>8s}")
    for label in labels:
        row = report["per_class"][label]
        print(f"{label:10s} {row['precision']:9.3f} {row['recall']:7.3f} {row['f1']:6.3f} {row['support']:8d}")
    print("confusion matrix (rows: true, columns: predicted)")
    print(" " * 10 + "".join(f"{label[:8]:>9s}" for label in labels))
    for label, row in zip(labels, report["confusion_matrix"], strict=True):
        print(f"{label:10s}" + "".join(f"{count:9d}" for count in row))


def save_confusion_png(report: dict[str, Any], labels: list[str], path: Path) -> None:
    """The confusion matrix as a PNG (row-normalised colours, counts written in)."""
    figure = confusion_figure(np.array(report["confusion_matrix"]), labels,
                              f"accuracy {report['accuracy']:.3f}, macro-F1 {report['macro_f1']:.3f}")
    atomic_write(path, lambda tmp: figure.savefig(tmp, dpi=110, format="png"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.evaluate", description=__doc__)
    add_model_flags(parser)
    parser.add_argument("--data", type=Path, required=True, help="class-folder tree, dataset root or fer2013.csv")
    parser.add_argument("--tta", choices=TTA_CHOICES, default="none", help="test-time augmentation")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--confusion-png", type=Path, help="also draw the confusion matrix into this PNG file")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    args = parser.parse_args(argv)
    if args.confusion_png and (not args.confusion_png.parent.is_dir() or args.confusion_png.is_dir()):
        print(f"error: --confusion-png {args.confusion_png}: expected a file path in an existing folder",
              file=sys.stderr)
        return 2
    try:
        model = InceptionResNetV2.from_pretrained(args.model)
        report = evaluate(model, args.data, args.tta, args.batch_size, args.device, args.precision)
    except (ModelLoadError, DataError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.confusion_png:
        save_confusion_png(report, model.labels, args.confusion_png)
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report, model.labels)
    return 0


if __name__ == "__main__":
    sys.exit(main())
