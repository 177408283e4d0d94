"""``python -m train.export``: a training run's ``best/`` (or ``epoch-NNN/``) folder -> the shipped folder: evaluated,
its data named instead of its paths, fp16 if asked, the curves and a model card."""

from __future__ import annotations

import argparse
import csv
import fnmatch
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from fer_model import InceptionResNetV2, ModelLoadError
from fer_model.files import atomic_folder
from fer_model.preprocess import TTA_CHOICES
from fer_model.publish import MODEL_PATTERNS

from .data import DataError
from .evaluate import evaluate, save_confusion_png
from .options import add_model_flags

CONFUSION_PNG = "confusion_matrix.png"
HISTORY_CSV = "training_history.csv"
DATA_KEYS = ("train_data", "validation_data")  # training-recipe fields that hold data folders


def without_folders(text: str) -> str:
    """A data description with each path cut to its last folder: no machine paths in config.json or the card."""
    return re.sub(r"\S*[/\\](\S+)", r"\1", text)


def named_data(training: dict[str, Any], dataset: str, init_name: str | None = None) -> dict[str, Any]:
    """The training recipe with data folders named by ``dataset`` and split: 'FER2013 train (28709 images)', and the
    model it started from (``--init-from``) by ``init_name``, else its folder's name or its Hub repo id."""
    named = {key: f"{dataset} {without_folders(value)}" if key in DATA_KEYS and isinstance(value, str) else value
             for key, value in training.items()}
    source = named.get("init_from")
    if init_name and not isinstance(source, str):
        raise ValueError(f"--init-name {init_name!r}: this run did not start from another model (no --init-from in "
                         "its recipe)")
    if isinstance(source, str):
        named["init_from"] = init_name or (Path(source).name if os.path.isabs(source) else source)
    return named


def _is_model_folder(folder: Path) -> bool:
    """A folder holding only what ``export`` writes (an empty folder counts): safe to replace as a whole."""
    if not folder.is_dir():
        return False
    return all(path.is_file() and not path.is_symlink() and any(fnmatch.fnmatch(path.name, pattern)
               for pattern in MODEL_PATTERNS) for path in folder.iterdir())


def write_history_csv(history_json: Path, path: Path) -> None:
    """history.json (per-epoch train/val loss and accuracy) as a CSV that reads without TensorBoard."""
    rows = json.loads(history_json.read_text())
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def export(
    model_dir: str | Path,
    out: Path,
    data: Path | None = None,
    tta: str = "none",
    fp16: bool = False,
    history: Path | None = None,
    push: str | None = None,
    dataset: str = "FER2013",
    split: str | None = None,
    init_name: str | None = None,
    device: str = "auto",
    precision: str = "auto",
) -> dict[str, Any]:
    """Write ``out`` atomically from the ``save_pretrained`` folder ``model_dir``; returns the config that was saved.

    Data is recorded by name (``dataset``, and ``split``, by default the evaluated folder's name), not by path.
    """
    if out.is_symlink() or (out.exists() and not _is_model_folder(out)):
        raise ValueError(f"{out}: exists and is not a model folder (config.json, *.safetensors, README.md, *.png, "
                         "*.csv and nothing else); --out replaces a model folder only, so that a mistyped path never "
                         "deletes other files (choose a new or empty folder)")
    model = InceptionResNetV2.from_pretrained(model_dir)
    model.set_metadata(training=named_data(model.training_info or {}, dataset, init_name))
    if fp16:  # evaluate exactly the weights that will be shipped
        model.half().float()
    with atomic_folder(out) as staging:
        if data is not None:
            report = evaluate(model, data, tta, device=device, precision=precision)
            save_confusion_png(report, model.labels, staging / CONFUSION_PNG)
            model.set_metadata(metrics={**report, "dataset": dataset, "split": split or data.name,
                                        "confusion_matrix_png": CONFUSION_PNG})
        elif model.metrics:  # the validation figures training stored: their data by name too
            model.set_metadata(metrics={**model.metrics, "dataset": dataset,
                                        "split": split or without_folders(str(model.metrics.get("dataset", "")))})
        if history is not None:
            write_history_csv(history, staging / HISTORY_CSV)
            model.set_metadata(training={**(model.training_info or {}), "history": HISTORY_CSV})
        (model.cpu().half() if fp16 else model.cpu()).save_pretrained(staging)
    if push:
        model.push_to_hub(push, commit_message="Upload facial emotion model")
    return model.config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.export", description=__doc__)
    add_model_flags(parser, model_required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder to write (replaced if it exists)")
    parser.add_argument("--data", type=Path, help="evaluate on this folder and put the figures in the card")
    parser.add_argument("--tta", choices=TTA_CHOICES, default="none")
    parser.add_argument("--fp16", action="store_true", help="store weights as float16 (half the size)")
    parser.add_argument("--history", type=Path, help="history.json of the run, copied as training_history.csv")
    parser.add_argument("--push", metavar="REPO_ID", help="also push the folder to the Hugging Face Hub")
    parser.add_argument("--dataset", default="FER2013", help="the dataset's name, for the card (no paths are kept)")
    parser.add_argument("--split", help="the evaluated split's name (default: the --data folder's name)")
    parser.add_argument("--init-name", help="how the card names the model the run started from (python -m train "
                        "--init-from); default: its folder's name, or its Hub repo id")
    args = parser.parse_args(argv)
    try:
        config = export(args.model, args.out, args.data, args.tta, args.fp16, args.history, args.push,
                        args.dataset, args.split, args.init_name, args.device, args.precision)
    except (ModelLoadError, DataError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    metrics = config.get("metrics") or {}
    print(f"wrote {args.out}" + (f" (accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f})"
                                  if metrics else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
