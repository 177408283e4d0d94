"""``python -m train.photos``: the whole pipeline scored on photos in class folders, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_model import EMOTIONS, EmotionRecognizer, InceptionResNetV2
from train.photos import photo_report

from .conftest import run_module


@pytest.fixture(scope="module")
def model_dir(tiny_model: InceptionResNetV2, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    tiny_model.save_pretrained(folder)
    return folder


@pytest.fixture
def photos(tmp_path: Path, astronaut: np.ndarray) -> Path:
    """happy: the astronaut twice (odd name and extension); sad: the astronaut and a faceless noise image."""
    root = tmp_path / "photos"
    for name in ("happy", "sad"):
        (root / name).mkdir(parents=True)
    Image.fromarray(astronaut).save(root / "happy" / "astronaut one.JPEG")
    Image.fromarray(astronaut[:, ::-1]).save(root / "happy" / "mirrored.png")
    Image.fromarray(astronaut).resize((256, 256)).save(root / "sad" / "small.jfif", "JPEG")
    noise = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    Image.fromarray(noise).save(root / "sad" / "noise.jpg")
    (root / "sad" / "notes.txt").write_text("not a photo")
    return root


def test_photo_report_counts_recall_detection_and_matrix_rows_of_present_classes() -> None:
    labels = list(EMOTIONS)
    happy, neutral, sad = labels.index("happy"), labels.index("neutral"), labels.index("sad")
    targets = np.array([happy, happy, sad, sad, sad])
    predictions = np.array([happy, neutral, sad, neutral, sad])
    detected = np.array([True, True, False, True, True])
    report = photo_report(targets, predictions, detected, labels)
    assert report["num_photos"] == 5 and report["accuracy"] == 0.6 and report["detection_rate"] == 0.8
    assert report["accuracy_with_face"] == 0.5  # 2 of the 4 photos with a face
    assert report["per_class"]["happy"] == {"recall": 0.5, "support": 2, "detection_rate": 1.0}
    assert report["per_class"]["sad"]["recall"] == pytest.approx(0.6667) and report["mean_recall"] == 0.5833
    matrix = report["confusion_matrix"]
    assert matrix["rows"] == ["happy", "sad"] and matrix["columns"] == labels
    assert matrix["counts"][1] == [0, 0, 0, 0, 1, 2, 0]


def test_photos_command_reports_what_predict_gives_on_each_photo(model_dir: Path, photos: Path) -> None:
    result = run_module("train.photos", "--model", str(model_dir), "--photos", str(photos), "--backend", "torch",
                        "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    recognizer = EmotionRecognizer.from_pretrained(model_dir, backend="torch", device="cpu")
    expected = {}
    for folder in ("happy", "sad"):
        found = [recognizer.predict(path) for path in sorted((photos / folder).glob("*.*")) if path.suffix != ".txt"]
        expected[folder] = found
    assert report["num_photos"] == 4 and report["detection_rate"] == 0.75  # the noise image has no face
    assert report["per_class"]["sad"]["detection_rate"] == 0.5
    for folder, found in expected.items():
        right = sum(prediction.faces[0].label == folder for prediction in found)
        assert report["per_class"][folder]["recall"] == round(right / len(found), 4)
    counts = np.array(report["confusion_matrix"]["counts"])
    assert counts.shape == (2, len(EMOTIONS)) and counts.sum() == 4
    predicted = [EMOTIONS.index(p.faces[0].label) for p in expected["happy"]]
    assert counts[0].tolist() == np.bincount(predicted, minlength=len(EMOTIONS)).tolist()


def test_unknown_class_folder_and_unreadable_photo_exit_2_naming_them(model_dir: Path, photos: Path) -> None:
    (photos / "sad" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    result = run_module("train.photos", "--model", str(model_dir), "--photos", str(photos), "--backend", "torch")
    assert result.returncode == 2 and "broken.jpg" in result.stderr and "--skip-bad" in result.stderr
    skipped = run_module("train.photos", "--model", str(model_dir), "--photos", str(photos), "--backend", "torch",
                         "--skip-bad", "--json")
    assert skipped.returncode == 0, skipped.stderr
    report = json.loads(skipped.stdout)
    assert report["num_photos"] == 4 and [Path(p).name for p in report["unreadable"]] == ["broken.jpg"]
    (photos / "joyful").mkdir()
    result = run_module("train.photos", "--model", str(model_dir), "--photos", str(photos), "--backend", "torch")
    assert result.returncode == 2 and "joyful: unknown class 'joyful'" in result.stderr
