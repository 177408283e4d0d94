"""Time the face pipeline per stage (decode, detect, crop, classify) and per detector path, on frames and photos.

    python -m benchmarks.pipeline [--data ../shared/data/wild-faces] [--frames 30] [--photos 15] [--threads N]

Inputs are JPEGs made in memory from the wild-faces photos when present (else scikit-image's photos): 640x480
webcam frames and 2-3 MP photos. Paths, each on the same inputs with the same classifier (the shipped model on the
default backend):
- dlib: today's pipeline before RetinaFace, the baseline (full decode, dlib HOG at <= 800 px, padded retry);
- retinaface: fer_model.FaceDetector; photos are decoded with ``Image.draft`` to the detector's size;
- haar: OpenCV's Haar cascade at <= 640 px, for reference.
Prints median and p95 wall-clock ms per stage and end to end, the median CPU ms end to end (all threads: less
sensitive to other processes on a busy machine; with --threads 1 it is close to the wall time on an idle core), and
the share of images with a face found.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import skimage.data
import torch
from PIL import Image, ImageOps

from fer_model.faces import DETECT_MAX_SIDE_PX, Box, FaceDetector, crop_face
from fer_model.images import load_image
from fer_model.recognizer import EmotionRecognizer

ROOT = Path(__file__).resolve().parents[1]
FRAME_SIZE_PX = (640, 480)
PHOTO_PIXELS = 2_500_000  # 2-3 MP, a phone photo downscaled by a messenger
JPEG_QUALITY = 90
STAGES = ("decode", "detect", "crop", "classify")

Detect = Callable[[np.ndarray], list[Box]]


class DlibDetector:
    """The detector fer_model used before RetinaFace: dlib HOG, 2x upsampling under 400 px, a padded retry."""

    def __init__(self) -> None:
        import dlib

        self._hog = dlib.get_frontal_face_detector()

    def detect(self, image: np.ndarray) -> list[Box]:
        scale = min(1.0, 800 / max(image.shape[:2]))
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
        small = np.ascontiguousarray(small)
        upsample = 2 if max(small.shape[:2]) < 400 else 1
        boxes = self._run(small, upsample, 0) or self._run(small, upsample, int(0.25 * max(small.shape[:2])))
        return sorted((scaled(box, 1 / scale) for box in boxes), key=lambda b: b.area, reverse=True)

    def _run(self, image: np.ndarray, upsample: int, pad: int) -> list[Box]:
        if pad:
            image = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        rects, scores, _ = self._hog.run(image, upsample, 0.0)
        return [Box(r.left() - pad, r.top() - pad, r.width(), r.height())
                for r, score in zip(rects, scores, strict=True) if score >= 0.15]


class HaarDetector:
    """OpenCV's frontal-face Haar cascade on a copy downscaled to the RetinaFace detection size."""

    def __init__(self) -> None:
        self._cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")

    def detect(self, image: np.ndarray) -> list[Box]:
        scale = min(1.0, DETECT_MAX_SIDE_PX / max(image.shape[:2]))
        gray = cv2.cvtColor(cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA),
                            cv2.COLOR_RGB2GRAY)
        found = self._cascade.detectMultiScale(gray, 1.1, 5, minSize=(24, 24))
        return sorted((scaled(Box(*map(int, row)), 1 / scale) for row in found), key=lambda b: b.area, reverse=True)


def scaled(box: Box, factor: float) -> Box:
    """``box`` with every coordinate multiplied by ``factor``."""
    return Box(*(round(value * factor) for value in box.as_list()))


def decode_full(jpeg: bytes) -> tuple[np.ndarray, float]:
    """The whole image, as the library reads it; the factor from its pixels to the original's is 1."""
    return load_image(jpeg), 1.0


def decode_draft(jpeg: bytes) -> tuple[np.ndarray, float]:
    """JPEG DCT scaling (1/2, 1/4, 1/8) to the smallest size that is still >= the detection size."""
    with Image.open(io.BytesIO(jpeg)) as image:
        width = image.width
        image.draft("RGB", (DETECT_MAX_SIDE_PX, DETECT_MAX_SIDE_PX))
        rgb = load_image(image)
    return rgb, width / rgb.shape[1]


@dataclass
class Route:
    """One path through the pipeline: how to decode and which detector."""

    name: str
    decode: Callable[[bytes], tuple[np.ndarray, float]]
    detect: Detect


def run_path(route: Route, recognizer: EmotionRecognizer, jpegs: list[bytes]) -> tuple[dict[str, list[float]], int]:
    """Wall ms per stage and end to end, CPU ms (all threads) end to end, and how many images had a face."""
    times: dict[str, list[float]] = {stage: [] for stage in (*STAGES, "total", "cpu")}
    found = 0
    for index, jpeg in enumerate([jpegs[0], *jpegs]):  # the first one warms up
        cpu_started, marks = time.process_time(), [time.perf_counter()]
        rgb, factor = route.decode(jpeg)
        marks.append(time.perf_counter())
        boxes = route.detect(rgb)[: recognizer.max_faces]
        marks.append(time.perf_counter())
        crops = [crop_face(rgb, box) for box in boxes] or [rgb]
        batch = torch.stack([recognizer.transform(crop) for crop in crops])
        marks.append(time.perf_counter())
        recognizer.classifier.probabilities(batch)
        _ = [scaled(box, factor) for box in boxes]  # boxes in the original's pixels, as the caller gets them
        marks.append(time.perf_counter())
        if index == 0:
            continue
        found += bool(boxes)
        for stage, start, end in zip(STAGES, marks[:-1], marks[1:], strict=True):
            times[stage].append((end - start) * 1000)
        times["total"].append((marks[-1] - marks[0]) * 1000)
        times["cpu"].append((time.process_time() - cpu_started) * 1000)
    return times, found


def source_photos(data: Path, count: int) -> list[Image.Image]:
    """``count`` RGB photos spread over the wild-faces classes, or scikit-image's photos (flipped for variety)."""
    paths = sorted(p for p in data.rglob("*") if p.is_file()) if data.is_dir() else []
    if paths:
        picked = paths[:: max(1, len(paths) // count)][:count]
        photos = []
        for path in picked:
            with Image.open(path) as image:
                photos.append(ImageOps.exif_transpose(image).convert("RGB"))
        return photos
    print(f"{data} not found: using scikit-image's photos")
    base = [Image.fromarray(skimage.data.astronaut()), Image.fromarray(skimage.data.camera()).convert("RGB"),
            Image.fromarray(skimage.data.coffee())]
    return [(ImageOps.mirror(image) if i // len(base) % 2 else image) for i, image in
            zip(range(count), base * count, strict=False)]


def jpeg_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def as_frame(photo: Image.Image) -> bytes:
    """A 640x480 webcam-like frame: the photo scaled to cover it and centre-cropped."""
    return jpeg_bytes(ImageOps.fit(photo, FRAME_SIZE_PX, Image.Resampling.BILINEAR))


def as_large_photo(photo: Image.Image) -> bytes:
    """The photo rescaled to about PHOTO_PIXELS (wild-faces photos are often smaller: upscaled)."""
    factor = (PHOTO_PIXELS / (photo.width * photo.height)) ** 0.5
    return jpeg_bytes(photo.resize((round(photo.width * factor), round(photo.height * factor)),
                                   Image.Resampling.BICUBIC))


def summary(values: list[float]) -> str:
    p95 = statistics.quantiles(values, n=20)[18] if len(values) >= 2 else values[0]
    return f"{statistics.median(values):6.1f} / {p95:6.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "wild-faces")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--photos", type=int, default=15)
    parser.add_argument("--model", default=str(ROOT / "space" / "model"),
                        help="model folder or Hub id (default: the shipped model, space/model)")
    parser.add_argument("--threads", type=int, help="threads for PyTorch and both ONNX Runtime sessions")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)  # the classifier's ONNX Runtime session takes the same count
    recognizer = EmotionRecognizer.from_pretrained(args.model)
    photos = source_photos(args.data, max(args.frames, args.photos))
    inputs = {
        f"640x480 frames ({args.frames})": [as_frame(photo) for photo in photos[: args.frames]],
        f"2-3 MP JPEG photos ({args.photos})": [as_large_photo(photo) for photo in photos[: args.photos]],
    }
    retinaface = FaceDetector(threads=args.threads or 0)
    routes = [
        Route("dlib (baseline)", decode_full, DlibDetector().detect),
        Route("retinaface (new)", decode_draft, retinaface.detect),
        Route("retinaface, full decode", decode_full, retinaface.detect),
        Route("haar (reference)", decode_full, HaarDetector().detect),
    ]
    print(f"classifier: {recognizer.classifier.backend} on {recognizer.classifier.device}, "
          f"{recognizer.model.image_size} px, torch threads {torch.get_num_threads()}")
    print("wall ms per image, median / p95; CPU ms end to end, median\n")
    print("| input | path | " + " | ".join(STAGES) + " | end to end | CPU | face found |")
    print("|---|---|" + "---|" * (len(STAGES) + 3))
    for input_name, jpegs in inputs.items():
        for route in routes:
            times, found = run_path(route, recognizer, jpegs)
            cells = " | ".join(summary(times[stage]) for stage in (*STAGES, "total"))
            cpu = statistics.median(times["cpu"])
            print(f"| {input_name} | {route.name} | {cells} | {cpu:.1f} | {found}/{len(jpegs)} |", flush=True)


if __name__ == "__main__":
    main()
