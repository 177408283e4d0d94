"""Crop margin and test-time augmentation on real photos: end-to-end accuracy, per-class recall and cost per face.

    python benchmarks/photo_crops.py [--model space/model] [--photos ../shared/data/wild-faces]
        [--margins 0.05 0.1 0.15 0.2 0.25 0.3] [--tta none flip ten-crop] [--json]

Each photo's faces are detected once (with EmotionRecognizer's own detector, whichever it is); the largest face is
then cropped with every margin and classified with every TTA, and scored as ``python -m train.photos`` scores
``EmotionRecognizer.predict`` (photos without a face: the whole image, with the same TTA). The margin in use today is
``fer_model.faces.DEFAULT_MARGIN``; with it and ``--tta none`` the figures equal ``python -m train.photos``'s.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer_model import EmotionRecognizer, load_image
from fer_model.faces import crop_face
from fer_model.preprocess import ten_crop_transform
from train.photos import list_photos, photo_report

BATCH = 32


def probabilities(recognizer: EmotionRecognizer, crops: list[np.ndarray], tta: str) -> np.ndarray:
    """(N, classes) probabilities of RGB crops, averaged over the TTA's views (none, flip, ten-crop)."""
    if tta == "none":
        return recognizer.classify_faces(crops)
    if tta == "flip":
        mirrored = [np.ascontiguousarray(crop[:, ::-1]) for crop in crops]
        return (recognizer.classify_faces(crops) + recognizer.classify_faces(mirrored)) / 2
    model = recognizer.model
    transform = ten_crop_transform(model.image_size, model.mean, model.std)
    views = torch.cat([transform(crop) for crop in crops])
    return recognizer.classifier.probabilities(views).numpy().reshape(len(crops), 10, -1).mean(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="space/model")
    parser.add_argument("--photos", type=Path, default=Path("../shared/data/wild-faces"))
    parser.add_argument("--margins", type=float, nargs="+", default=[0.05, 0.1, 0.15, 0.2, 0.25, 0.3])
    parser.add_argument("--tta", nargs="+", choices=["none", "flip", "ten-crop"], default=["none"])
    parser.add_argument("--backend", choices=["auto", "torch", "onnx"], default="auto")
    parser.add_argument("--json", type=Path, help="also write the results as a JSON list here")
    args = parser.parse_args()

    recognizer = EmotionRecognizer.from_pretrained(args.model, backend=args.backend, device="cpu")
    photos = list_photos(args.photos, recognizer.labels)
    targets, detected, crops = [], [], {margin: [] for margin in args.margins}
    for path, target in tqdm(photos, desc="detect", mininterval=5):
        rgb = load_image(path)
        boxes = recognizer.detector.detect(rgb)
        targets.append(target)
        detected.append(bool(boxes))
        for margin in args.margins:
            crops[margin].append(np.ascontiguousarray(crop_face(rgb, boxes[0], margin)) if boxes else rgb)
    targets_array, detected_array = np.array(targets), np.array(detected)

    results = []
    for tta in args.tta:
        for margin in args.margins:
            started = time.perf_counter()
            rows = [probabilities(recognizer, crops[margin][i : i + BATCH], tta)
                    for i in range(0, len(photos), BATCH)]
            ms_per_face = 1000 * (time.perf_counter() - started) / len(photos)
            predictions = np.concatenate(rows).argmax(1)
            report = photo_report(targets_array, predictions, detected_array, recognizer.labels)
            results.append({"margin": margin, "tta": tta, "ms_per_face": round(ms_per_face, 1), **report})
            recalls = "  ".join(f"{label} {row['recall']:.3f}" for label, row in report["per_class"].items())
            print(f"margin {margin:.2f}  tta {tta:8s}  accuracy {report['accuracy']:.4f}  mean recall "
                  f"{report['mean_recall']:.4f}  | {recalls}  | {ms_per_face:.1f} ms/face", flush=True)
            if args.json:  # after every setting: a long sweep that is stopped keeps what it measured
                args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
