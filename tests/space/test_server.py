"""The app's public API through gradio_client: /predict, /explain, bad uploads, and start-up errors."""

from __future__ import annotations

import copy
import importlib.util
import re
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
import skimage.data
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from devtools.app_server import app_client, running_app
from fer_model import EMOTIONS, Box, EmotionRecognizer, InceptionResNetV2
from fer_model.faces import crop_face

SPACE = Path(__file__).resolve().parents[2] / "space"
EXAMPLES = SPACE / "examples"


@pytest.fixture(scope="module")
def client(app_url: str) -> Client:
    return app_client(app_url)


def test_api_names_are_public(client: Client) -> None:
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/predict", "/explain", "/video"} <= set(endpoints)


def test_predict_returns_boxes_labels_and_seven_probabilities(client: Client) -> None:
    annotated, label, faces, note = client.predict(handle_file(str(EXAMPLES / "astronaut.jpg")), api_name="/predict")
    assert Image.open(annotated).size == (512, 512)
    confidences = {c["label"]: c["confidence"] for c in label["confidences"]}
    assert set(confidences) == set(EMOTIONS)
    assert sum(confidences.values()) == pytest.approx(1.0, abs=1e-3)
    face = faces["faces"][0]
    assert faces["face_detected"] is True and len(face["box"]) == 4 and face["label"] in EMOTIONS
    assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert note == "**1 face found.**"


def test_bad_upload_is_a_readable_error_and_the_next_request_works(client: Client, tmp_path: Path) -> None:
    (tmp_path / "holiday.jpg").write_bytes(b"this is not a jpeg")
    with pytest.raises(AppError, match=r"holiday.jpg: not a readable image; accepted formats"):
        client.predict(handle_file(str(tmp_path / "holiday.jpg")), api_name="/predict")
    _, _, faces, _ = client.predict(handle_file(str(EXAMPLES / "astronaut-face.jpg")), api_name="/predict")
    assert len(faces["faces"]) == 1


def test_no_face_is_said_first_and_the_whole_image_result_is_named_as_such(client: Client, tmp_path: Path) -> None:
    Image.fromarray(skimage.data.rocket()).save(tmp_path / "rocket.jpg")
    _, label, faces, note = client.predict(handle_file(str(tmp_path / "rocket.jpg")), api_name="/predict")
    assert faces["face_detected"] is False and faces["faces"][0]["box"] is None
    assert note.startswith("### Whole image classified: no face detected") and "close crop of one face" in note
    assert label["label"] in EMOTIONS  # the whole-image guess is still given, under the note


def test_explain_shows_the_chosen_face(client: Client) -> None:
    photo = handle_file(str(EXAMPLES / "group.jpg"))
    _, _, result, note = client.predict(photo, api_name="/predict")
    assert note == "**3 faces found**, numbered from the largest."
    rgb = np.asarray(Image.open(EXAMPLES / "group.jpg").convert("RGB"))
    for number, face in enumerate(result["faces"], start=1):
        crop = crop_face(rgb, Box(*face["box"]))
        heatmap = client.predict(photo, number, api_name="/explain")
        assert Image.open(heatmap).size == (crop.shape[1], crop.shape[0]), number  # that face's crop, no other
    assert Image.open(client.predict(photo, api_name="/explain")).size == Image.open(  # face 1 by default
        client.predict(photo, 1, api_name="/explain")).size
    with pytest.raises(AppError, match="Face 4 is not in this photo: it has 3"):
        client.predict(photo, 4, api_name="/explain")
    for odd in ("²", "١", "9" * 5000, "-1", "x"):  # digits int() reads or refuses beyond ASCII, a huge number
        with pytest.raises(AppError, match=f"Face {re.escape(odd[:20])}.* is not in this photo: it has 3"):
            client.predict(photo, odd, api_name="/explain")


def test_missing_model_folder_fails_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"app exited with [12]:[\s\S]*nothing: no config.json there"):
        (tmp_path / "nothing").mkdir()
        with running_app(tmp_path / "nothing", tmp_path / "log.txt"):
            pass


def test_device_is_a_choice_of_auto_cpu_cuda(tiny_model: InceptionResNetV2, tmp_path: Path) -> None:
    tiny_model.save_pretrained(tmp_path / "model")
    refused = r"app exited with 2:[\s\S]*--device: invalid choice: 'gpu' \(choose from 'auto', 'cpu', 'cuda'\)"
    with pytest.raises(RuntimeError, match=refused), running_app(tmp_path / "model", tmp_path / "log.txt",
                                                                 options=("--device", "gpu")):
        pass
    with running_app(tmp_path / "model", tmp_path / "log.txt", options=("--device", "cpu")) as app:
        components = httpx.get(f"{app.url}config", timeout=30).json()["components"]
    info = next(c["props"]["value"] for c in components if c.get("props", {}).get("elem_id") == "model-info")
    assert "running on cpu with onnxruntime" in info


def write_video(path: Path, frame: np.ndarray, seconds: float, fps: int = 10) -> Path:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (frame.shape[1], frame.shape[0]))
    for _ in range(int(seconds * fps)):
        writer.write(np.ascontiguousarray(frame[:, :, ::-1]))
    writer.release()
    return path


def test_video_gives_a_timeline_csv_and_annotated_video(client: Client, tmp_path: Path) -> None:
    frame = np.asarray(Image.open(EXAMPLES / "astronaut.jpg").resize((256, 256)))
    clip = write_video(tmp_path / "clip.mp4", frame, seconds=2)
    _plot, video, table = client.predict(handle_file(str(clip)), api_name="/video")
    rows = (Path(table).read_text().strip().splitlines())
    assert rows[0].split(",") == ["time_s", *sorted(EMOTIONS)]
    assert len(rows) - 1 == 8  # 2 s sampled 4 times a second
    assert Path(video["video"] if isinstance(video, dict) else video).stat().st_size > 1000


def test_video_limits_and_non_videos_are_readable_errors(client: Client, tmp_path: Path) -> None:
    long_clip = write_video(tmp_path / "long.mp4", np.zeros((64, 64, 3), np.uint8), seconds=31, fps=2)
    with pytest.raises(AppError, match=r"31 s long; the limit is 30 s"):
        client.predict(handle_file(str(long_clip)), api_name="/video")
    (tmp_path / "fake.mp4").write_bytes(b"not a video at all")
    with pytest.raises(AppError, match="not a readable video"):
        client.predict(handle_file(str(tmp_path / "fake.mp4")), api_name="/video")


@pytest.mark.parametrize("probe", ["/etc/passwd", "../../../../etc/passwd", "/proc/self/environ"])
def test_files_outside_the_app_are_not_served(app_url: str, probe: str) -> None:
    import httpx

    response = httpx.get(f"{app_url}gradio_api/file={probe}", timeout=30)
    assert response.status_code in (403, 404)
    assert "root:" not in response.text


@pytest.fixture(scope="module")
def app_module():
    """space/app.py imported as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("space_app", SPACE / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # Gradio reads its components' source through the module
    spec.loader.exec_module(module)
    return module


def test_model_panel_gives_accuracy_meaning_and_limits_without_machine_paths(app_module,
                                                                           tiny_model: InceptionResNetV2) -> None:
    model = copy.deepcopy(tiny_model)
    per_class = {label: {"recall": 0.3 + 0.08 * i} for i, label in enumerate(EMOTIONS)}
    model.set_metadata(
        metrics={"accuracy": 0.667, "macro_f1": 0.632, "num_images": 3589, "tta": "flip", "per_class": per_class,
                 "dataset": "/home/someone/../shared/data/fer2013/validation"},
        training={"train_data": "../shared/data/fer2013/train (28709 images)", "epochs": 18},
    )
    recognizer = EmotionRecognizer(model, backend="torch")
    text = app_module.model_info(recognizer, "https://huggingface.co/org/fer")
    assert "/home" not in text and "shared" not in text and "../" not in text
    assert "fer2013/train (28709 images)" in text and "(fer2013/validation)" in text
    assert "**66.7%** of 3589 validation faces" in text and "flip test-time augmentation" in text
    assert "Best at surprise (78%) and sad (70%), worst at disgust (38%) and angry (30%)" in text
    assert "Not for decisions about people" in text and "48 x 48 grayscale" in text
    assert "[Model card](https://huggingface.co/org/fer)" in text
    model.set_metadata(metrics={**model.metrics, "tta": "none"})
    single = app_module.model_info(EmotionRecognizer(model, backend="torch"), None)
    assert "**66.7%** of 3589 validation faces (fer2013/validation) labelled correctly; macro-F1 0.632" in single
    assert "test-time augmentation" not in single and "fine-tuning" not in single
    model.set_metadata(training={**model.training_info, "init_from": "/home/someone/runs/v1/best"})
    tuned = app_module.model_info(EmotionRecognizer(model, backend="torch"), None)
    assert "- Trained on: fer2013/train (28709 images), 18 epochs, fine-tuning v1/best." in tuned
    assert "/home" not in tuned


def test_model_card_link_points_at_the_hub_or_the_spaces_files(app_module, monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    assert app_module.model_card_url("org/fer-model") == "https://huggingface.co/org/fer-model"
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert app_module.model_card_url(str(SPACE / "model")) is None  # a local run: no page to link to
    monkeypatch.setenv("SPACE_ID", "org/fer-space")
    assert app_module.model_card_url(str(SPACE / "model")) == (
        "https://huggingface.co/spaces/org/fer-space/blob/main/model/README.md")
    assert app_module.model_card_url(str(tmp_path)) is None  # not a folder of the Space


def test_an_untrained_model_is_flagged_on_the_page(app_url: str) -> None:
    """The test app runs random weights: its page config carries the warning (the browser test sees it shown)."""
    components = httpx.get(f"{app_url}config", timeout=30).json()["components"]
    warnings = [c["props"]["value"] for c in components if c.get("props", {}).get("elem_id") == "untrained-warning"]
    assert len(warnings) == 1 and "UNTRAINED model" in warnings[0]
