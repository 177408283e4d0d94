"""The model that ships in space/model/: loads offline, names its data, reads an example face sensibly."""

from __future__ import annotations

import json
import re

import cv2
import numpy as np
import pytest
import torch

from fer_model import EmotionRecognizer, InceptionResNetV2
from fer_model.faces import DEFAULT_MARGIN, crop_face
from fer_model.recognizer import resolve_model

from ..conftest import SHIPPED_MODEL

SHIPPED_MODEL_DIR = SHIPPED_MODEL
EXAMPLES = SHIPPED_MODEL_DIR.parent / "examples"
OVERLAY_ALPHA = 0.45  # fer_model.gradcam.overlay's default blend weight


@pytest.fixture(scope="module")
def shipped(monkeypatch_module: pytest.MonkeyPatch) -> EmotionRecognizer:
    monkeypatch_module.setenv("HF_HUB_OFFLINE", "1")
    return EmotionRecognizer.from_pretrained(resolve_model(None, SHIPPED_MODEL_DIR))


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_shipped_files_are_fp16_shards_under_50_mb_with_metrics() -> None:
    shards = sorted(SHIPPED_MODEL_DIR.glob("model-*.safetensors"))
    assert shards and all(shard.stat().st_size < 50 * 1024 * 1024 for shard in shards)
    config = json.loads((SHIPPED_MODEL_DIR / "config.json").read_text())
    assert config["block_repeats"] == [10, 20, 10]
    assert config["metrics"]["accuracy"] >= 0.62
    assert (SHIPPED_MODEL_DIR / "training_history.csv").is_file()
    assert (SHIPPED_MODEL_DIR / "confusion_matrix.png").is_file()


def test_shipped_model_metadata_names_the_data_not_machine_paths() -> None:
    config = json.loads((SHIPPED_MODEL_DIR / "config.json").read_text())
    card = (SHIPPED_MODEL_DIR / "README.md").read_text()
    assert (config["metrics"]["dataset"], config["metrics"]["split"]) == ("FER2013", "PublicTest")
    assert re.fullmatch(r"FER2013 [\w ]+ \(28709 images\)", config["training"]["train_data"])
    assert re.fullmatch(r"FER2013 [\w ,]+ \(3589 images\)", config["training"]["validation_data"])
    assert "/" not in json.dumps({key: config["training"][key] for key in ("train_data", "validation_data")})
    assert "shared/data" not in json.dumps(config) + card and "../" not in json.dumps(config) + card
    assert [value for value in config["training"].values() if str(value).startswith("/")] == []  # e.g. init_from
    header = card.split("---")[1]
    assert "datasets:\n- fer2013" in header and "model-index:" in header and "split: PublicTest" in header
    assert f"value: {config['metrics']['accuracy']:.4f}" in header and "type: f1" in header


def test_shipped_model_is_trained(shipped: EmotionRecognizer) -> None:
    assert shipped.trained
    assert shipped.model.training_info["image_size"] == shipped.model.image_size


def test_smiling_astronaut_is_confidently_happy(shipped: EmotionRecognizer) -> None:
    prediction = shipped.predict(EXAMPLES / "astronaut-face.jpg")
    face = prediction.faces[0]
    assert prediction.face_detected
    assert face.label == "happy"
    assert face.confidence > 0.6


def heat_under(overlay_rgb: np.ndarray, crop: np.ndarray) -> np.ndarray:
    """The heatmap (0..1) that ``fer_model.gradcam.overlay`` blended onto ``crop``: the nearest JET colour's level."""
    colours = (overlay_rgb.astype(np.float32) - crop.astype(np.float32) * (1 - OVERLAY_ALPHA)) / OVERLAY_ALPHA
    jet = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_JET)[:, 0, ::-1].astype(np.float32)
    return ((colours[:, :, None, :] - jet) ** 2).sum(-1).argmin(-1) / 255


def test_explain_returns_a_heatmap_over_the_face(shipped: EmotionRecognizer, astronaut: np.ndarray) -> None:
    """The overlay is the largest face's crop, and the trained model's Grad-CAM lies on the face, not its margin."""
    box = shipped.predict(astronaut).faces[0].box
    crop = crop_face(astronaut, box)
    explained = shipped.explain(astronaut)
    assert explained.dtype == np.uint8 and explained.shape == crop.shape
    heat = heat_under(explained, crop)
    grow_x, grow_y = int(box.width * DEFAULT_MARGIN), int(box.height * DEFAULT_MARGIN)
    on_face = np.zeros(heat.shape, bool)
    on_face[grow_y : grow_y + box.height, grow_x : grow_x + box.width] = True
    assert heat.max() > 0.9  # a heatmap, not a blank one
    density_ratio = heat[on_face].mean() / max(heat[~on_face].mean(), 1e-6)
    assert density_ratio > 1.6, f"heat per pixel on the face is {density_ratio:.2f}x that on the margin"


def test_flip_and_ten_crop_tta_average_the_views_logits_as_evaluate_does(astronaut: np.ndarray) -> None:
    """tta='flip' scores softmax of the mean of a face's and its mirror's logits, as train.evaluate --tta flip does
    (train/metrics.score); 'ten-crop' the same over its ten crops; faces batched together keep their own views."""
    model = InceptionResNetV2.from_pretrained(SHIPPED_MODEL_DIR)
    single = EmotionRecognizer(model, device="cpu", backend="torch", precision="fp32")
    crops = [astronaut[50:200, 150:300], astronaut[:120, :160]]  # the face and a corner of the image
    batch = torch.stack([single.transform(crop) for crop in crops])
    with torch.inference_mode():
        logits = (model(batch) + model(batch.flip(-1))) / 2
    flip = EmotionRecognizer(model, device="cpu", backend="torch", precision="fp32", tta="flip")
    np.testing.assert_allclose(flip.classify_faces(crops), logits.softmax(-1).numpy(), atol=1e-5)
    ten = EmotionRecognizer(model, device="cpu", backend="torch", precision="fp32", tta="ten-crop")
    with torch.inference_mode():
        per_crop = [model(ten.ten_crop(crop)).mean(0).softmax(-1).numpy() for crop in crops]
    np.testing.assert_allclose(ten.classify_faces(crops), np.stack(per_crop), atol=1e-5)
    assert np.abs(ten.classify_faces(crops) - single.classify_faces(crops)).max() > 1e-3  # the views do differ
    assert np.abs(flip.classify_faces(crops) - single.classify_faces(crops)).max() > 1e-3
    with pytest.raises(ValueError, match="tta: expected one of none, flip, ten-crop, got 'mirror'"):
        EmotionRecognizer(model, device="cpu", tta="mirror")
