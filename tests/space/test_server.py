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
