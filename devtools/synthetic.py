"""Generated images for tests and benchmarks: distinct photos made from scikit-image's, and learnable face folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image, ImageOps

SIDE_RANGE_PX = (160, 2400)  # longest side of the ordinary photos
LARGE_PIXELS_RANGE = (20_000_000, 48_000_000)  # below fer_model's 50 MP limit, so they are decoded, not refused
LARGE_MAX_BYTES = 1_000_000


def source_photos() -> list[Image.Image]:
    """scikit-image's bundled photos: faces (astronaut, cameraman) and scenes without one (mug, cat, rocket)."""
    names = ("astronaut", "camera", "coffee", "chelsea", "rocket")
    return [Image.fromarray(getattr(skimage.data, name)()).convert("RGB") for name in names]


def generate_photos(folder: Path, count: int, large: bool = False, seed: int = 0) -> list[Path]:
    """``count`` distinct JPEGs in ``folder``: random crops of the source photos at random sizes and qualities
    (160-2400 px; with ``large``, 20-48 megapixels under LARGE_MAX_BYTES each)."""
    rng = np.random.default_rng(seed)
    sources = source_photos()
    paths = []
    for index in range(count):
        source = sources[index % len(sources)]
        width, height = (round(side * rng.uniform(0.7, 1.0)) for side in source.size)
        left, top = int(rng.integers(0, source.width - width + 1)), int(rng.integers(0, source.height - height + 1))
        photo = source.crop((left, top, left + width, top + height))
        photo = ImageOps.mirror(photo) if rng.random() < 0.5 else photo
        if large:
            factor = (rng.uniform(*LARGE_PIXELS_RANGE) / (width * height)) ** 0.5
        else:
            factor = rng.uniform(*SIDE_RANGE_PX) / max(width, height)
        photo = photo.resize((round(width * factor), round(height * factor)), Image.Resampling.BILINEAR)
        path = folder / f"photo-{index:03d}-{photo.width}x{photo.height}.jpg"
        quality = 45 if large else int(rng.integers(70, 96))
        photo.save(path, quality=quality)
        while large and path.stat().st_size >= LARGE_MAX_BYTES and quality > 15:
            quality -= 10
            photo.save(path, quality=quality)
        paths.append(path)
    return paths


def make_face_folder(root: Path, classes: list[str], per_class: int, side: int = 48, seed: int = 0) -> Path:
    """An ImageFolder tree of small grayscale JPEGs whose brightness pattern depends on the class (learnable)."""
    rng = np.random.default_rng(seed)
    for index, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = rng.integers(0, 60, (side, side)).astype(np.uint8)
            band = slice(index * side // len(classes), (index + 1) * side // len(classes))
            image[band, :] += 150
            Image.fromarray(image, "L").save(folder / f"{name}_{i}.jpg")
    return root
