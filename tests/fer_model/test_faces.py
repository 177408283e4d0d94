"""Face detection: boxes on shipped photos, none on photos without people, thread safety, found-rate on real photos."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest
import skimage.data
from PIL import Image, ImageOps

from fer_model import FaceDetector
from fer_model.faces import Box, crop_face

from ..conftest import SHARED_DATA

# scikit-image's bundled photos without a human face: a mug, a cat, a rocket, galaxies, a stained tissue, a hue
# wheel, a motorcycle with its rider hidden, coins, a horse's silhouette.
NO_FACE_PHOTOS = ("coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "colorwheel", "coins",
                  "horse", "moon", "retina")


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


def test_finds_the_astronaut_and_nothing_on_a_blank_wall(detector: FaceDetector, astronaut: np.ndarray) -> None:
    boxes = detector.detect(astronaut)
    assert len(boxes) == 1
    assert abs(boxes[0].x - 175) < 20 and abs(boxes[0].y - 76) < 20 and 60 < boxes[0].width < 110
    assert detector.detect(np.full((300, 300, 3), 127, np.uint8)) == []


def test_finds_the_cameraman_in_a_grayscale_photo(detector: FaceDetector) -> None:
    (box,) = detector.detect(skimage.data.camera())
    assert 180 < box.x < 230 and 110 < box.y < 160  # the face under the cap, left of the camera


@pytest.mark.parametrize("name", NO_FACE_PHOTOS)
def test_no_face_on_photos_without_people(detector: FaceDetector, name: str) -> None:
    image = getattr(skimage.data, name)()
    image = image[:, :, :3] if image.ndim == 3 else image
    assert detector.detect(image.astype(np.uint8)) == [], name


def test_tight_crops_are_found_by_the_padded_retry(detector: FaceDetector, astronaut: np.ndarray) -> None:
    tight = astronaut[80:165, 178:263]  # the face fills the frame: no context for the detector
    (box,) = detector.detect(tight)
    assert box.width > 50 and box.x >= 0 and box.y >= 0


def test_boxes_follow_the_image_when_it_is_scaled(detector: FaceDetector, astronaut: np.ndarray) -> None:
    (small,) = detector.detect(astronaut)
    large = cv2.resize(astronaut, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    (big,) = detector.detect(large)  # 1536 px: detected on a 640 px copy, mapped back
    assert np.allclose(np.array(big.as_list()) / 3, small.as_list(), atol=6), (big, small)


def test_crop_grows_the_box_and_stays_inside_the_image(astronaut: np.ndarray) -> None:
    crop = crop_face(astronaut, Box(10, 10, 100, 100), margin=0.2)
    assert crop.shape == (130, 130, 3)  # clipped at the top-left corner, grown by 20 px right and down


def _varied_images(astronaut: np.ndarray) -> list[np.ndarray]:
    """Different photos, sizes, crops and flips: faces in most, none in some."""
    camera = skimage.data.camera()
    return [
        astronaut,
        astronaut[:, ::-1].copy(),
        cv2.resize(astronaut, (320, 320)),
        cv2.resize(astronaut, (900, 700)),
        astronaut[40:300, 100:400].copy(),
        camera,
        cv2.resize(camera, (256, 384)),
        np.hstack([astronaut, cv2.cvtColor(camera, cv2.COLOR_GRAY2RGB)]),
        skimage.data.coffee(),
        skimage.data.chelsea(),
    ]


def test_concurrent_detection_on_different_images_equals_one_thread(
    detector: FaceDetector, astronaut: np.ndarray
) -> None:
    images = _varied_images(astronaut)
    expected = [detector.detect(image) for image in images]
    assert sum(bool(boxes) for boxes in expected) >= 7  # the comparison covers faces, not only empty lists
    jobs = [index % len(images) for index in range(8 * len(images))]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda index: detector.detect(images[index]), jobs))
    for index, boxes in zip(jobs, results, strict=True):
        assert boxes == expected[index], index


@pytest.mark.skipif(not (SHARED_DATA / "wild-faces").is_dir(), reason="../shared/data/wild-faces not present")
def test_finds_a_face_in_most_real_photos(detector: FaceDetector) -> None:
    paths = sorted(p for p in (SHARED_DATA / "wild-faces").rglob("*") if p.is_file())[::3]
    found = 0
    for path in paths:
        with Image.open(path) as image:
            found += bool(detector.detect(np.asarray(ImageOps.exif_transpose(image).convert("RGB"))))
    assert found / len(paths) >= 0.95, f"faces found in {found}/{len(paths)} photos"
