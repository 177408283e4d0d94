"""Crop margin and test-time augmentation on real photos: end-to-end accuracy, per-class recall and cost per face.

    python -m benchmarks.photo_crops [--model space/model] [--photos ../shared/data/wild-faces]
        [--margins 0.05 0.1 0.15 0.2 0.25 0.3] [--tta none flip ten-crop] [--json]

Each photo's faces are detected once (with EmotionRecognizer's own detector, whichever it is); the largest face is
then cropped with every margin and classified with every TTA, and scored as ``python -m train.photos`` scores
``EmotionRecognizer.predict`` (photos without a face: the whole image, with the same TTA). ms/face counts the
classification only, the margins of a photo batched. The margin in use today is ``fer_model.faces.DEFAULT_MARGIN``;
with it and ``--tta none`` the figures equal ``python -m train.photos``'s.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from fer_model import EmotionRecognizer, load_image
from fer_model.faces import crop_face
from fer_model.inference import BACKENDS
from fer_model.preprocess import TTA_CHOICES
from train.photos import list_photos, photo_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="space/model")
    parser.add_argument("--photos", type=Path, default=Path("../shared/data/wild-faces"))
    parser.add_argument("--margins", type=float, nargs="+", default=[0.05, 0.1, 0.15, 0.2, 0.25, 0.3])
    parser.add_argument("--tta", nargs="+", choices=TTA_CHOICES, default=["none"])
    parser.add_argument("--backend", choices=BACKENDS, default="auto")
    parser.add_argument("--json", type=Path, help="also write the results as a JSON list here")
    args = parser.parse_args()
    if not all(0 <= margin <= 1 for margin in args.margins):
        parser.error(f"--margins {args.margins}: expected each in [0, 1] (the share of the box's side added per side)")

    recognizer = EmotionRecognizer.from_pretrained(args.model, backend=args.backend, device="cpu")
    with_tta = {tta: EmotionRecognizer(recognizer.model, recognizer.detector, "cpu", backend=args.backend, tta=tta)
                for tta in args.tta}
    photos = list_photos(args.photos, recognizer.labels)
    settings = [(tta, margin) for tta in args.tta for margin in args.margins]
    rows: dict[tuple[str, float], list[np.ndarray]] = {setting: [] for setting in settings}
    seconds = dict.fromkeys(settings, 0.0)
    targets, detected = [], []
    for path, target in tqdm(photos, desc="photos", mininterval=5):  # one photo at a time: crops of big photos are big
        rgb = load_image(path)
        boxes = recognizer.detector.detect(rgb)
        targets.append(target)
        detected.append(bool(boxes))
        crops = [np.ascontiguousarray(crop_face(rgb, boxes[0], margin)) if boxes else rgb for margin in args.margins]
        for tta in args.tta:
            started = time.perf_counter()
            views = with_tta[tta].classify_faces(crops)
            for margin, row in zip(args.margins, views, strict=True):
                rows[(tta, margin)].append(row)
                seconds[(tta, margin)] += (time.perf_counter() - started) / len(crops)

    results = []
    for tta, margin in settings:
        predictions = np.array(rows[(tta, margin)]).argmax(1)
        report = photo_report(np.array(targets), predictions, np.array(detected), recognizer.labels)
        ms_per_face = 1000 * seconds[(tta, margin)] / len(photos)
        results.append({"margin": margin, "tta": tta, "ms_per_face": round(ms_per_face, 1), **report})
        recalls = "  ".join(f"{label} {row['recall']:.3f}" for label, row in report["per_class"].items())
        print(f"margin {margin:.2f}  tta {tta:8s}  accuracy {report['accuracy']:.4f}  mean recall "
              f"{report['mean_recall']:.4f}  | {recalls}  | {ms_per_face:.1f} ms/face")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
