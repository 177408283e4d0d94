"""``python -m train.photos``: the whole pipeline (detect, crop, classify) scored on photos sorted into class folders.

What a user gets from ``EmotionRecognizer.predict``: the largest face's label (argmax over every class of the model),
or the whole image's when no face is found. Reported: detection rate, accuracy, per-class recall and the confusion
matrix. Only the classes that have a folder are scored; the matrix's columns are all of the model's classes.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from fer_model import EmotionRecognizer, ImageError, ModelLoadError, load_image
from fer_model.images import IMAGE_SUFFIXES
from fer_model.inference import BACKENDS
from fer_model.preprocess import TTA_CHOICES

from .data import DataError, match_class
from .metrics import confusion_matrix
from .options import add_model_flags

log = logging.getLogger(__name__)


def list_photos(root: Path, labels: Sequence[str]) -> list[tuple[Path, int]]:
    """(photo, label index) for every image under ``root/<class>/``; class folders must name one of ``labels``."""
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; expected {root}/<class>/ with one folder per class")
    photos = []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        target = match_class(class_dir.name, labels, class_dir)
        files = sorted(p for p in class_dir.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        photos += [(path, target) for path in files]
    if not photos:
        raise DataError(f"{root}: no photos in class folders (expected {root}/<class>/*.jpg, classes "
                        f"{', '.join(labels)})")
    return photos


def photo_report(
    targets: np.ndarray, predictions: np.ndarray, detected: np.ndarray, labels: Sequence[str]
) -> dict[str, Any]:
    """Detection rate, accuracy (all photos, and those with a face), per-class recall and the confusion matrix.

    The matrix has a row per class present in ``targets`` and a column per label of the model.
    """
    present = sorted(set(targets.tolist()))
    matrix = confusion_matrix(targets, predictions, len(labels))
    correct = predictions == targets
    recalls = {index: float(correct[targets == index].mean()) for index in present}
    per_class = {
        labels[index]: {
            "recall": round(recall, 4),
            "support": int((targets == index).sum()),
            "detection_rate": round(float(detected[targets == index].mean()), 4),
        }
        for index, recall in recalls.items()
    }
    return {
        "num_photos": len(targets),
        "detection_rate": round(float(detected.mean()), 4),
        "accuracy": round(float(correct.mean()), 4),
        "accuracy_with_face": round(float(correct[detected].mean()), 4) if detected.any() else None,
        "mean_recall": round(float(np.mean(list(recalls.values()))), 4),
        "per_class": per_class,
        "confusion_matrix": {"rows": [labels[i] for i in present], "columns": list(labels),
                             "counts": matrix[present].tolist()},
    }


def evaluate_photos(
    recognizer: EmotionRecognizer, root: Path, skip_bad: bool = False, batch_size: int = 16
) -> dict[str, Any]:
    """Run ``recognizer`` on every photo under ``root/<class>/`` and score the largest face's label."""
    photos = list_photos(root, recognizer.labels)
    targets, predictions, detected, skipped = [], [], [], []
    started = time.perf_counter()
    for start in tqdm(range(0, len(photos), batch_size), desc=f"photos {root.name}", unit="batch", mininterval=5):
        loaded = []
        for path, target in photos[start : start + batch_size]:
            try:
                loaded.append((load_image(path), target))
            except ImageError as error:
                if not skip_bad:
                    raise DataError(f"{error}; fix or remove it, or pass --skip-bad") from error
                skipped.append(str(path))
        for prediction, (_, target) in zip(recognizer.predict_batch([rgb for rgb, _ in loaded]), loaded, strict=True):
            targets.append(target)
            predictions.append(recognizer.labels.index(prediction.faces[0].label))
            detected.append(prediction.face_detected)
    if not targets:
        raise DataError(f"{root}: none of the {len(photos)} photos could be read")
    seconds = time.perf_counter() - started
    report = photo_report(np.array(targets), np.array(predictions), np.array(detected), recognizer.labels)
    return {"dataset": str(root), **report, "unreadable": skipped,
            "ms_per_photo": round(1000 * seconds / len(targets), 1)}


def print_report(report: dict[str, Any]) -> None:
    """Human-readable figures: headline, per-class recall, confusion matrix (rows true, columns predicted)."""
    print(f"{report['dataset']}: {report['num_photos']} photos, face found in {report['detection_rate']:.1%}, "
          f"{report['ms_per_photo']:.0f} ms/photo")
    with_face = report["accuracy_with_face"]
    print(f"accuracy {report['accuracy']:.4f} (photos with a face: "
          f"{'-' if with_face is None else f'{with_face:.4f}'})   mean recall {report['mean_recall']:.4f}")
    print(f"{'class':10s} {'recall':>7s} {'support':>8s} {'faces':>6s}")
    for label, row in report["per_class"].items():
        print(f"{label:10s} {row['recall']:7.3f} {row['support']:8d} {row['detection_rate']:6.1%}")
    matrix = report["confusion_matrix"]
    print("confusion matrix (rows: true, columns: predicted)")
    print(" " * 10 + "".join(f"{label[:8]:>9s}" for label in matrix["columns"]))
    for label, counts in zip(matrix["rows"], matrix["counts"], strict=True):
        print(f"{label:10s}" + "".join(f"{count:9d}" for count in counts))
    if report["unreadable"]:
        print(f"skipped {len(report['unreadable'])} unreadable photo(s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.photos", description=__doc__)
    add_model_flags(parser)
    parser.add_argument("--data", "--photos", type=Path, required=True, help="folder of class folders of photos")
    parser.add_argument("--backend", choices=BACKENDS, default="auto")
    parser.add_argument("--tta", choices=TTA_CHOICES, default="none", help="test-time views per face (averaged)")
    parser.add_argument("--skip-bad", action="store_true", help="skip unreadable photos (listed in the report)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        recognizer = EmotionRecognizer.from_pretrained(args.model, device=args.device, backend=args.backend,
                                                       precision=args.precision, tta=args.tta)
        report = evaluate_photos(recognizer, args.data, args.skip_bad)
    except (ModelLoadError, DataError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
