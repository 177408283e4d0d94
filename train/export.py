"""``python -m train.export``: an epoch's weights -> a ``save_pretrained`` folder with an evaluated model card."""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from fer_model import InceptionResNetV2, ModelLoadError

from .checkpoint import load_weights_file
from .data import DataError
from .evaluate import TTA_CHOICES, evaluate, save_confusion_png

CONFUSION_PNG = "confusion_matrix.png"
HISTORY_CSV = "training_history.csv"
DATA_KEYS = ("train_data", "validation_data")  # training-recipe fields that hold data folders


def build_model(checkpoint: Path) -> InceptionResNetV2:
    """The model described by an epoch file's metadata, with its weights loaded strictly."""
    state_dict, config, info = load_weights_file(checkpoint)
    config.setdefault("training", {})
    config["training"] = {**config["training"], "selected_epoch": info.get("epoch")}
    model = InceptionResNetV2(**config)
    model.load_state_dict(state_dict, strict=True)
    return model.eval()


def without_folders(text: str) -> str:
    """A data description with each path cut to its last folder: no machine paths in config.json or the card."""
    return re.sub(r"\S*[/\\](\S+)", r"\1", text)


def named_data(training: dict[str, Any], dataset: str) -> dict[str, Any]:
    """The training recipe with data folders named by ``dataset`` and split: 'FER2013 train (28709 images)'."""
    return {key: f"{dataset} {without_folders(value)}" if key in DATA_KEYS and isinstance(value, str) else value
            for key, value in training.items()}


def write_history_csv(history_json: Path, path: Path) -> None:
    """history.json (per-epoch train/val loss and accuracy) as a CSV that reads without TensorBoard."""
    rows = json.loads(history_json.read_text())
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def export(
    checkpoint: Path,
    out: Path,
    eval_data: Path | None = None,
    tta: str = "none",
    fp16: bool = False,
    history: Path | None = None,
    push: str | None = None,
    dataset: str = "FER2013",
    split: str | None = None,
) -> dict[str, Any]:
    """Write ``out`` atomically (built in a temp folder, then swapped in); returns the config that was saved.

    Data is recorded by name (``dataset``, and ``split``, by default the evaluated folder's name), not by path.
    """
    model = build_model(checkpoint)
    model.set_metadata(training=named_data(model.training_info or {}, dataset))
    if fp16:  # evaluate exactly the weights that will be shipped
        model.half().float()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        if eval_data is not None:
            report = evaluate(model, eval_data, tta)
            save_confusion_png(report, model.labels, staging / CONFUSION_PNG)
            model.set_metadata(metrics={**report, "dataset": dataset, "split": split or eval_data.name,
                                        "confusion_matrix_png": CONFUSION_PNG})
        if history is not None:
            write_history_csv(history, staging / HISTORY_CSV)
            model.set_metadata(training={**(model.training_info or {}), "history": HISTORY_CSV})
        (model.half() if fp16 else model).save_pretrained(staging)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if push:
        model.push_to_hub(push, commit_message="Upload facial emotion model")
    return model.config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.export", description=__doc__)
    parser.add_argument("--checkpoint", type=Path, required=True,
                        help="a resnet-v2-epochs/*.safetensors file (e.g. best.safetensors)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write (replaced if it exists)")
    parser.add_argument("--eval-data", type=Path, help="evaluate on this folder and put the figures in the card")
    parser.add_argument("--tta", choices=TTA_CHOICES, default="none")
    parser.add_argument("--fp16", action="store_true", help="store weights as float16 (half the size)")
    parser.add_argument("--history", type=Path, help="history.json of the run, copied as training_history.csv")
    parser.add_argument("--push", metavar="REPO_ID", help="also push the folder to the Hugging Face Hub")
    parser.add_argument("--dataset", default="FER2013", help="the dataset's name, for the card (no paths are kept)")
    parser.add_argument("--split", help="the evaluated split's name (default: the --eval-data folder's name)")
    args = parser.parse_args(argv)
    try:
        config = export(args.checkpoint, args.out, args.eval_data, args.tta, args.fp16, args.history, args.push,
                        args.dataset, args.split)
    except (ModelLoadError, DataError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    metrics = config.get("metrics") or {}
    print(f"wrote {args.out}" + (f" (accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f})"
                                  if metrics else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
