"""Face detection: boxes on a shipped photo, none on a blank image, and the found-rate on real photos."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from fer_model import FaceDetector
from fer_model.faces import Box, crop_face

from ..conftest import SHARED_DATA


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


def test_finds_the_astronaut_and_nothing_on_a_blank_wall(detector: FaceDetector, astronaut: np.ndarray) -> None:
    boxes = detector.detect(astronaut)
    assert len(boxes) == 1
    assert abs(boxes[0].x - 175) < 20 and abs(boxes[0].y - 76) < 20
    assert detector.detect(np.full((300, 300, 3), 127, np.uint8)) == []


def test_tight_crops_are_found_by_the_padded_retry(detector: FaceDetector, astronaut: np.ndarray) -> None:
    tight = astronaut[80:165, 178:263]  # the face fills the frame: no context for the HOG window
    (box,) = detector.detect(tight)
    assert box.width > 50 and box.x >= 0 and box.y >= 0


def test_crop_grows_the_box_and_stays_inside_the_image(astronaut: np.ndarray) -> None:
    crop = crop_face(astronaut, Box(10, 10, 100, 100), margin=0.2)
    assert crop.shape == (130, 130, 3)  # clipped at the top-left corner, grown by 20 px right and down


@pytest.mark.skipif(not (SHARED_DATA / "wild-faces").is_dir(), reason="../shared/data/wild-faces not present")
def test_finds_a_face_in_most_real_photos(detector: FaceDetector) -> None:
    paths = sorted(p for p in (SHARED_DATA / "wild-faces").rglob("*") if p.is_file())[::3]
    found = 0
    for path in paths:
        with Image.open(path) as image:
            found += bool(detector.detect(np.asarray(ImageOps.exif_transpose(image).convert("RGB"))))
    assert found / len(paths) >= 0.9, f"faces found in {found}/{len(paths)} photos"
