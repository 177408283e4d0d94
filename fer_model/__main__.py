"""``python -m fer_model``: emotions of the faces in images, folders and videos; ONNX export; Space bundle; Hub push.

Without --model, the model is $FER_MODEL, else the published default (fer_model.recognizer.DEFAULT_REPO_ID).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import torch
from tqdm import tqdm

from .faces import Box
from .files import atomic_write
from .images import IMAGE_SUFFIXES, ImageError, load_image
from .inference import BACKENDS, TorchClassifier
from .model import ModelLoadError
from .preprocess import TTA_CHOICES
from .publish import PublishError
from .recognizer import EmotionRecognizer, load_model
from .runtime import DEVICES, PRECISIONS
from .video import VIDEO_SUFFIXES, VideoError

FILES_PER_BATCH = 16  # images decoded and classified together (bounds memory: up to 4096 px each)
FILE_ERRORS = (ImageError, VideoError, ValueError, OSError, cv2.error)  # one bad file never stops the run


def iter_inputs(paths: list[Path]) -> Iterator[Path]:
    """Files as given, and the image and video files under any folder (recursively, sorted)."""
    suffixes = IMAGE_SUFFIXES | VIDEO_SUFFIXES
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
        else:
            yield path


def shown(path: Path) -> str:
    """A path as printable UTF-8 text: bytes that are not UTF-8 in a file name are written as \\xNN."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def parse_box(text: str) -> Box:
    """``x,y,width,height`` in pixels -> Box."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or values[2] < 1 or values[3] < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected x,y,width,height in pixels, e.g. 40,30,120,120")
    return Box(*values)


def parse_rate(text: str) -> float:
    """``--samples-per-s``: a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"{text!r}: expected video frames a second as a finite number above 0, e.g. 4")
    return value


def check_csv_target(path: Path) -> None:
    """Refuse a --csv path that cannot be written before any work starts (the file itself is written at the end)."""
    folder = path.parent
    if not folder.is_dir():
        raise SystemExit(f"error: --csv {shown(path)}: the folder {shown(folder)} does not exist")
    if path.is_dir() or not os.access(folder, os.W_OK):
        raise SystemExit(f"error: --csv {shown(path)}: not a writable file path")


def classify(recognizer: EmotionRecognizer, rgbs: list, args: argparse.Namespace) -> list:
    """``predict_batch`` with the command line's face options (--box for every image, --no-detect)."""
    return recognizer.predict_batch(rgbs, boxes=[args.box] * len(rgbs) if args.box else None,
                                    detect=not args.no_detect)


def predict_images(recognizer: EmotionRecognizer, paths: list[Path], args: argparse.Namespace) -> list[dict]:
    """Results of a group of images, classified in shared batches; a file that fails gets an ``error`` entry."""
    results: dict[int, dict[str, Any]] = {}
    loaded = []
    for index, path in enumerate(paths):
        try:
            loaded.append((index, load_image(path)))
        except FILE_ERRORS as error:
            results[index] = {"path": shown(path), "error": str(error)}
    try:
        predictions: list[Any] = classify(recognizer, [rgb for _, rgb in loaded], args)
    except FILE_ERRORS:  # one image's faces could not be processed: find it by doing them one at a time
        predictions = []
        for _, rgb in loaded:
            try:
                predictions += classify(recognizer, [rgb], args)
            except FILE_ERRORS as error:
                predictions.append(error)
    for (index, _), prediction in zip(loaded, predictions, strict=True):
        results[index] = ({"path": shown(paths[index]), "error": str(prediction)} if isinstance(prediction, Exception)
                          else {"path": shown(paths[index]), **prediction.to_dict()})
    return [results[index] for index in sorted(results)]


def predict_video(recognizer: EmotionRecognizer, path: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The timeline of one video (``samples``, ``notes``), or an ``error`` entry."""
    try:
        timeline = recognizer.predict_video(path, samples_per_s=args.samples_per_s)
    except FILE_ERRORS as error:
        return {"path": shown(path), "error": str(error)}
    return {"path": shown(path), "video": timeline.to_dict()}


def summary(faces: list[dict], face_detected: bool) -> str:
    """``happy 81%, neutral 40%`` for a human reader."""
    text = ", ".join(f"{f['label']} {f['probabilities'][f['label']]:.0%}" for f in faces)
    return text + (" (no face detected)" if faces and not face_detected else "")


def print_result(result: dict[str, Any], as_json: bool) -> None:
    """One JSON line, or a line per image / per video sample."""
    if as_json:
        print(json.dumps(result), flush=True)
    elif "error" in result:  # image errors name their file already
        error = result["error"]
        print(error if error.startswith(f"{result['path']}: ") else f"{result['path']}: {error}")
    elif "video" in result:
        for sample in result["video"]["samples"]:
            print(f"{result['path']} @ {sample['time_s']:.2f} s: {summary(sample['faces'], sample['face_detected'])}")
        for note in result["video"]["notes"]:
            print(f"{result['path']}: {note}")
    else:
        print(f"{result['path']}: {summary(result['faces'], result['face_detected'])}")


def predict_command(args: argparse.Namespace) -> int:
    """Print one result per image or video (or write a CSV row per face); exit 1 if any file failed."""
    if args.csv:
        check_csv_target(args.csv)
    files = list(iter_inputs(args.paths))
    if not files:
        print(f"error: no images or videos in {', '.join(map(str, args.paths))}", file=sys.stderr)
        return 2
    recognizer = EmotionRecognizer.from_pretrained(args.model, device=args.device, backend=args.backend,
                                                   precision=args.precision, tta=args.tta)
    images = [path for path in files if path.suffix.lower() not in VIDEO_SUFFIXES]
    videos = [path for path in files if path.suffix.lower() in VIDEO_SUFFIXES]
    results = []
    with tqdm(total=len(files), desc="predict", unit="file", disable=len(files) < 10 or not sys.stderr.isatty()) as bar:
        for start in range(0, len(images), FILES_PER_BATCH):
            for result in predict_images(recognizer, images[start : start + FILES_PER_BATCH], args):
                results.append(result)
                if not args.csv:
                    print_result(result, args.json)
                bar.update()
        for path in videos:
            result = predict_video(recognizer, path, args)
            results.append(result)
            if not args.csv:
                print_result(result, args.json)
            bar.update()
    if args.csv:
        atomic_write(args.csv, lambda tmp: write_csv(tmp, results, recognizer.labels))
    return 1 if any("error" in result for result in results) else 0


def csv_rows(results: list[dict], labels: list[str]) -> Iterator[list[Any]]:
    """One row per face (per sampled frame for videos), and one per failed file with its error."""
    for result in results:
        samples = result["video"]["samples"] if "video" in result else [{"time_s": "", **result}]
        for sample in samples:
            for index, face in enumerate(sample.get("faces", [])):
                box = face["box"] or ["", "", "", ""]
                yield [result["path"], sample["time_s"], index, *box, face["label"],
                       *(f"{face['probabilities'][label]:.6f}" for label in labels), ""]
        if "error" in result:
            yield [result["path"], "", "", "", "", "", "", "", *([""] * len(labels)), result["error"]]


def write_csv(path: Path, results: list[dict], labels: list[str]) -> None:
    """Write the results as UTF-8 CSV: path, time (videos), face index, box, label, a column per class, error."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "time_s", "face", "x", "y", "width", "height", "label", *labels, "error"])
        writer.writerows(csv_rows(results, labels))


def export_onnx_command(args: argparse.Namespace) -> int:
    """Export to ONNX, then check ONNX Runtime against PyTorch (fp32) on random batches of 1 and 4 images."""
    from .onnx_backend import OnnxClassifier, export_onnx

    model = load_model(args.model)
    export_onnx(model, args.out)
    session, reference = OnnxClassifier(args.out), TorchClassifier(model, "cpu", "fp32")
    generator = torch.Generator().manual_seed(0)
    for batch in (1, 4):
        images = torch.randn(batch, model.in_chans, model.image_size, model.image_size, generator=generator)
        difference = (session.probabilities(images) - reference.probabilities(images)).abs().max().item()
        print(f"batch {batch}: max |onnxruntime - pytorch| probability difference {difference:.2e}")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB; input {model.image_size} px, dynamic batch)")
    return 0


def space_bundle_command(args: argparse.Namespace) -> int:
    """Write the self-contained Space folder."""
    from .publish import build_space_bundle

    print(f"wrote {build_space_bundle(args.space, args.model, args.out)}")
    return 0


def push_command(args: argparse.Namespace) -> int:
    """Upload the model folder as a model repo, and the Space bundle as a Space when --space-repo is given."""
    from huggingface_hub import HfApi

    from .publish import publish_model, publish_space

    api = HfApi(token=args.token)
    print(f"model: {publish_model(api, args.model, args.model_repo, args.private)}")
    if args.space_repo:
        print(f"space: {publish_space(api, args.space, args.model, args.space_repo, args.private)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m fer_model", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true",
                        help="log every library's progress (INFO); by default only fer_model's notes and warnings")
    command = partial(commands.add_parser, parents=[common])  # every command takes -v
    model_help = "save_pretrained folder or Hub repo id (default: $FER_MODEL, else the published model)"
    predict = command("predict", help="emotions of the faces in images, videos or folders of them")
    predict.add_argument("paths", type=Path, nargs="+", metavar="PATH")
    predict.add_argument("--model", default=os.environ.get("FER_MODEL"), help=model_help)
    predict.add_argument("--device", default="auto", choices=DEVICES, help="auto: CUDA when present, else the CPU")
    predict.add_argument("--backend", default="auto", choices=BACKENDS,
                         help="auto: ONNX Runtime on the CPU, PyTorch on CUDA")
    predict.add_argument("--precision", default="auto", choices=PRECISIONS)
    predict.add_argument("--tta", default="none", choices=TTA_CHOICES,
                         help="test-time views per face, averaged: flip x2 cost, ten-crop x10 (see README)")
    faces = predict.add_mutually_exclusive_group()
    faces.add_argument("--no-detect", action="store_true",
                       help="the images are face crops already (e.g. FER2013's 48x48): classify each whole")
    faces.add_argument("--box", type=parse_box, action="append", metavar="X,Y,W,H",
                       help="classify this face box instead of detecting faces (repeatable; for every image)")
    predict.add_argument("--samples-per-s", type=parse_rate, default=4.0,
                         help="video frames analysed per second (at most the video's frame rate)")
    output = predict.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON object per image or video")
    output.add_argument("--csv", type=Path, metavar="FILE", help="write one row per face (per video frame) to FILE")
    predict.set_defaults(run=predict_command)
    export = command("export-onnx", help="write the model as ONNX (dynamic batch) and check it")
    export.add_argument("--model", default=os.environ.get("FER_MODEL"), help=model_help)
    export.add_argument("--out", type=Path, required=True, metavar="FILE", help="the .onnx file to write")
    export.set_defaults(run=export_onnx_command)
    bundle = command("space-bundle", help="write the Space folder: app, library, model, pinned packages")
    bundle.add_argument("--space", type=Path, required=True, help="the repository's space/ folder")
    bundle.add_argument("--model", type=Path, required=True, help="the save_pretrained folder to ship (space/model)")
    bundle.add_argument("--out", type=Path, required=True, help="folder to write, e.g. dist/space (replaced)")
    bundle.set_defaults(run=space_bundle_command)
    push = command("push", help="publish the model (and the Space) on the Hugging Face Hub")
    push.add_argument("--model", type=Path, required=True, help="the save_pretrained folder to upload (space/model)")
    push.add_argument("--model-repo", required=True, metavar="ORG/NAME", help="the model repo to create or update")
    push.add_argument("--space-repo", metavar="ORG/NAME", help="also upload the Space bundle to this Space")
    push.add_argument("--space", type=Path, default=Path("space"), help="the space/ folder (with --space-repo)")
    push.add_argument("--private", action="store_true")
    push.add_argument("--token", help="Hub token (default: $HF_TOKEN or the saved login)")
    push.set_defaults(run=push_command)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(name)s: %(message)s" if args.verbose else "%(message)s")
    logging.getLogger("fer_model").setLevel(logging.INFO)  # e.g. the one-time ONNX export says what it is doing
    try:
        return args.run(args)
    except (ModelLoadError, PublishError, OSError, ValueError) as error:  # ValueError: e.g. cuda without a GPU
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
