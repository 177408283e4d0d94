"""The app's public API through gradio_client: /predict, /explain, bad uploads, and start-up errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from fer_model import EMOTIONS

from .server import running_app

EXAMPLES = Path(__file__).resolve().parents[2] / "space" / "examples"


@pytest.fixture(scope="module")
def client(app_url: str) -> Client:
    return Client(app_url, verbose=False)


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
    assert note == "1 face(s) found."


def test_bad_upload_is_a_readable_error_and_the_next_request_works(client: Client, tmp_path: Path) -> None:
    (tmp_path / "holiday.jpg").write_bytes(b"this is not a jpeg")
    with pytest.raises(AppError, match=r"holiday.jpg: not a readable image; accepted formats"):
        client.predict(handle_file(str(tmp_path / "holiday.jpg")), api_name="/predict")
    _, _, faces, _ = client.predict(handle_file(str(EXAMPLES / "astronaut-face.jpg")), api_name="/predict")
    assert len(faces["faces"]) == 1


def test_no_face_note(client: Client, tmp_path: Path) -> None:
    Image.fromarray(np.full((100, 100, 3), 200, np.uint8)).save(tmp_path / "wall.png")
    _, _, faces, note = client.predict(handle_file(str(tmp_path / "wall.png")), api_name="/predict")
    assert faces["face_detected"] is False
    assert note == "no face detected: classified the whole image"


def test_explain_returns_a_heatmap(client: Client) -> None:
    heatmap = client.predict(handle_file(str(EXAMPLES / "astronaut.jpg")), api_name="/explain")
    assert Image.open(heatmap).size[0] > 50


def test_missing_model_folder_fails_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"app exited with [12]:[\s\S]*no model.safetensors"):
        (tmp_path / "nothing").mkdir()
        with running_app(tmp_path / "nothing", tmp_path / "log.txt"):
            pass
