"""``python -m fer_model``: predict emotions for images and folders, or export the model to ONNX."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import torch
from tqdm import tqdm

from .images import ImageError
from .inference import BACKENDS, TorchClassifier
from .model import InceptionResNetV2, ModelLoadError
from .recognizer import EmotionRecognizer, default_model

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jfif", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"}


def iter_images(paths: list[Path]) -> Iterator[Path]:
    """Files as given, and the image files under any folder (recursively, sorted)."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            yield path


def predict_command(args: argparse.Namespace) -> int:
    """Print one JSON object per image (or write a CSV row per face); exit 1 if any image failed."""
    recognizer = EmotionRecognizer.from_pretrained(args.model, device=args.device, backend=args.backend)
    files = list(iter_images(args.paths))
    rows, failures = [], 0
    for path in tqdm(files, desc="predict", unit="img", disable=len(files) < 10 or not sys.stderr.isatty()):
        try:
            result = {"path": str(path), **recognizer.predict(path).to_dict()}
        except ImageError as error:
            failures += 1
            result = {"path": str(path), "error": str(error)}
        if args.csv:
            rows.append(result)
        elif args.json:
            print(json.dumps(result), flush=True)
        else:
            faces = result.get("faces", [])
            summary = ", ".join(f"{f['label']} {f['probabilities'][f['label']]:.0%}" for f in faces)
            no_face = " (no face detected)" if faces and not result["face_detected"] else ""
            print(f"{path}: {result.get('error') or summary}{no_face}")
    if args.csv:
        write_csv(args.csv, rows, recognizer.labels)
    return 1 if failures else 0


def write_csv(path: Path, results: list[dict], labels: list[str]) -> None:
    """One row per face: path, face index, box, label, then a column per class probability."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "face", "x", "y", "width", "height", "label", *labels, "error"])
        for result in results:
            for index, face in enumerate(result.get("faces", [])):
                box = face["box"] or ["", "", "", ""]
                writer.writerow([result["path"], index, *box, face["label"],
                                 *(f"{face['probabilities'][label]:.6f}" for label in labels), ""])
            if "error" in result:
                writer.writerow([result["path"], "", "", "", "", "", "", *([""] * len(labels)), result["error"]])


def export_onnx_command(args: argparse.Namespace) -> int:
    """Export to ONNX, then check ONNX Runtime against PyTorch (fp32) on random batches of 1 and 4 images."""
    from .onnx_backend import OnnxClassifier, export_onnx

    source = args.model or default_model()
    if source is None:
        raise ModelLoadError("no model to export: pass --model (a save_pretrained folder or Hub repo id)")
    model = InceptionResNetV2.from_pretrained(source)
    export_onnx(model, args.out)
    session, reference = OnnxClassifier(args.out), TorchClassifier(model, "cpu", "fp32")
    generator = torch.Generator().manual_seed(0)
    for batch in (1, 4):
        images = torch.randn(batch, model.in_chans, model.image_size, model.image_size, generator=generator)
        difference = (session.probabilities(images) - reference.probabilities(images)).abs().max().item()
        print(f"batch {batch}: max |onnxruntime - pytorch| probability difference {difference:.2e}")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB; input {model.image_size} px, dynamic batch)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m fer_model", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="emotions of the faces in images or folders of images")
    predict.add_argument("paths", type=Path, nargs="+", metavar="PATH")
    predict.add_argument("--model", help="save_pretrained folder or Hub repo id (default: the shipped model)")
    predict.add_argument("--device", default="auto", help="auto, cpu or cuda")
    predict.add_argument("--backend", default="auto", choices=BACKENDS,
                         help="auto: ONNX Runtime on the CPU, PyTorch on CUDA")
    output = predict.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON object per image")
    output.add_argument("--csv", type=Path, metavar="FILE", help="write one row per face to FILE")
    predict.set_defaults(run=predict_command)
    export = commands.add_parser("export-onnx", help="write the model as ONNX (dynamic batch) and check it")
    export.add_argument("--model", help="save_pretrained folder or Hub repo id (default: the shipped model)")
    export.add_argument("--out", type=Path, required=True, metavar="FILE", help="the .onnx file to write")
    export.set_defaults(run=export_onnx_command)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ModelLoadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
