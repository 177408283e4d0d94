"""Uploads: only files the app received can be opened (raw HTTP, as an attacker sends it), and they stay in temp
folders that the app cleans, by age while it runs and entirely when it stops."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from devtools.app_server import app_client, running_app
from fer_model import InceptionResNetV2

from .test_server import write_video

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "space" / "examples"


def files_named(folder: Path, name: str) -> list[Path]:
    return [path for path in folder.rglob(name) if path.is_file()] if folder.is_dir() else []


def test_uploads_and_results_are_kept_in_temp_and_deleted(tiny_model: InceptionResNetV2, tmp_path: Path) -> None:
    tiny_model.save_pretrained(tmp_path / "model")
    cache, system_tmp = tmp_path / "gradio-cache", tmp_path / "tmp"
    system_tmp.mkdir()
    photo = tmp_path / "upload-probe-7f3a.jpg"
    Image.open(EXAMPLES / "astronaut-face.jpg").save(photo)
    clip = write_video(tmp_path / "clip-probe-7f3a.mp4",
                       np.asarray(Image.open(EXAMPLES / "astronaut.jpg").resize((128, 128))), seconds=1)
    env = {"GRADIO_TEMP_DIR": str(cache), "TMPDIR": str(system_tmp), "FER_CACHE_MAX_AGE_S": "3"}
    with running_app(tmp_path / "model", tmp_path / "app.log", env) as app:
        client = app_client(app.url)
        client.predict(handle_file(str(photo)), api_name="/predict")
        client.predict(handle_file(str(clip)), api_name="/video")
        assert files_named(cache, photo.name) and files_named(cache, clip.name)  # uploads land in Gradio's cache
        assert not [p for p in ROOT.glob("**/*probe-7f3a*") if ".venv" not in p.parts]  # never in the project
        (work,) = system_tmp.glob("fer-space-*")  # the app's one work folder, holding the last annotated video
        assert [p.suffix for p in work.rglob("*") if p.is_file()] and not files_named(ROOT / "space", "*.webm")
        deadline = time.monotonic() + 30
        while (files_named(cache, photo.name) or files_named(cache, clip.name)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not files_named(cache, photo.name) and not files_named(cache, clip.name)  # deleted by age
    assert not work.exists() and not files_named(system_tmp, "*.webm")  # the work folder went with the app
    left = {p.name for p in cache.rglob("*") if p.is_file()}
    assert left <= {p.name for p in EXAMPLES.iterdir()}, left  # only Gradio's copies of the shipped examples


# Raw HTTP, as an attacker sends it: the /gradio_api/call/<name> protocol, and /queue/join for events without a name.
NOT_UPLOADED = "Only files uploaded to this app can be analysed."  # space/app.py's answer to any other path
SERVER_FILE_MESSAGES = (  # ours, then Gradio's for paths marked as uploads and for URLs (its SSRF guard)
    re.escape(NOT_UPLOADED), r"Cannot move \S+ to the gradio cache dir because it was not uploaded",
    r"Hostname \S+ failed validation",
)
FILE_META = {"_type": "gradio.FileData"}


def call(app_url: str, api_name: str, data: list[Any]) -> dict[str, Any]:
    """POST /gradio_api/call/<api_name>, then read the event stream: {'complete': outputs} or {'error': message}."""
    started = httpx.post(f"{app_url}gradio_api/call/{api_name}", json={"data": data}, timeout=30)
    started.raise_for_status()
    stream = httpx.get(f"{app_url}gradio_api/call/{api_name}/{started.json()['event_id']}", timeout=300)
    event, payload = re.search(r"event: (\w+)\ndata: (.*)", stream.text.split("event: heartbeat")[0]).groups()
    outputs = json.loads(payload)
    return {"error": (outputs or {}).get("error", "")} if event == "error" else {event: outputs}


def join_queue(app_url: str, fn_index: int, trigger_id: int, data: list[Any]) -> dict[str, Any]:
    """POST /gradio_api/queue/join for a dependency by index (also the unnamed webcam stream) and read its result."""
    session = uuid.uuid4().hex
    httpx.post(f"{app_url}gradio_api/queue/join", timeout=30, json={
        "data": data, "fn_index": fn_index, "trigger_id": trigger_id, "session_hash": session, "event_data": None,
    }).raise_for_status()
    with httpx.stream("GET", f"{app_url}gradio_api/queue/data", params={"session_hash": session}, timeout=300) as s:
        for line in s.iter_lines():
            message = json.loads(line[5:]) if line.startswith("data:") else {}
            if message.get("msg") == "process_completed":
                return message["output"]
    raise AssertionError("the stream ended without a result")


def upload(app_url: str, path: Path) -> str:
    """Upload ``path`` as the page does (POST /gradio_api/upload) and return its path in Gradio's upload cache."""
    with path.open("rb") as handle:
        response = httpx.post(f"{app_url}gradio_api/upload", files={"files": (path.name, handle)}, timeout=30)
    response.raise_for_status()
    return response.json()[0]


def hostile_paths(app_url: str, tmp_path: Path) -> list[str]:
    """Server paths an attacker might name: absolute, relative, traversal, URL-style, missing, symlinked out."""
    secret = tmp_path / "secret.png"
    Image.open(EXAMPLES / "astronaut-face.jpg").save(secret)
    cached = Path(upload(app_url, EXAMPLES / "astronaut-face.jpg"))
    link = cached.parent / f"link-{uuid.uuid4().hex}.png"  # a symlink inside the upload cache, pointing out of it
    link.symlink_to(secret)
    return [
        str(secret), str(EXAMPLES / "astronaut.jpg"), "/etc/passwd", str(tmp_path / "missing.png"),
        "space/examples/astronaut.jpg", "README.md", "../../../../../../etc/passwd",
        f"{cached.parent}/{'../' * 12}etc/passwd", f"{cached.parent}/{'../' * 12}{str(secret).lstrip('/')}", str(link),
        f"file={EXAMPLES / 'astronaut.jpg'}", f"/gradio_api/file={EXAMPLES / 'astronaut.jpg'}",
        f"file://{EXAMPLES / 'astronaut.jpg'}", f"{app_url}gradio_api/file={EXAMPLES / 'astronaut.jpg'}",
    ]


def assert_refused(answer: dict[str, Any], path: str) -> None:
    """An error that names no file content and reads the same whether or not ``path`` exists."""
    assert set(answer) == {"error"}, (path, answer)
    assert any(re.match(pattern, answer["error"]) for pattern in SERVER_FILE_MESSAGES), (path, answer)


def test_raw_api_calls_cannot_open_server_files(app_url: str, tmp_path: Path) -> None:
    for path in hostile_paths(app_url, tmp_path):
        for payload in ({"path": path}, {"path": path, "meta": FILE_META}, {"path": path, "url": path}):
            assert_refused(call(app_url, "predict", [payload]), path)
            assert_refused(call(app_url, "explain", [payload, 1]), path)
        # gr.Video's FileData payload: Gradio itself demands the upload marker, then a path in its upload cache
        without_meta = call(app_url, "video", [{"path": path}])
        assert "meta' field must be explicitly provided" in without_meta.get("error", ""), (path, without_meta)
        assert_refused(call(app_url, "video", [{"path": path, "meta": FILE_META}]), path)


def test_raw_webcam_stream_cannot_open_server_files(app_url: str, tmp_path: Path) -> None:
    config = httpx.get(f"{app_url}config", timeout=30).json()
    (stream,) = [d for d in config["dependencies"] if d["targets"][0][1] == "stream"]
    for path in hostile_paths(app_url, tmp_path):
        for payload in ({"path": path}, {"path": path, "meta": FILE_META}):
            answer = join_queue(app_url, stream["id"], stream["targets"][0][0], [payload, None])
            assert "data" not in answer and re.match("|".join(SERVER_FILE_MESSAGES), answer["error"]), (path, answer)


def test_raw_api_calls_with_an_uploaded_file_are_answered(app_url: str) -> None:
    cached = upload(app_url, EXAMPLES / "astronaut-face.jpg")
    for payload in ({"path": cached, "meta": FILE_META}, {"path": cached}):
        (_, label, faces, note) = call(app_url, "predict", [payload])["complete"]
        assert faces["face_detected"] and note == "**1 face found.**" and len(label["confidences"]) == 7
        (heatmap,) = call(app_url, "explain", [payload, 1])["complete"]
        assert Image.open(heatmap["path"]).size[0] > 0


def test_a_clicked_example_is_analysed_from_gradios_cached_copy(app_url: str) -> None:
    config = httpx.get(f"{app_url}config", timeout=30).json()
    (load,) = [d for d in config["dependencies"] if d.get("api_name") == "load_example"]
    value = join_queue(app_url, load["id"], load["targets"][0][0], [0])["data"][0]["value"]  # what the page then holds
    assert Path(value["path"]).name in {p.name for p in EXAMPLES.iterdir()}
    assert not Path(value["path"]).is_relative_to(EXAMPLES)  # a copy in the upload cache, not the shipped file
    (_, _, faces, _) = call(app_url, "predict", [value])["complete"]
    assert faces["faces"] and sum(faces["faces"][0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)


def test_an_expired_upload_is_named_as_such(app_url: str) -> None:
    cached = Path(upload(app_url, EXAMPLES / "astronaut-face.jpg"))
    cached.unlink()  # what the app's age-based cleanup does after FER_CACHE_MAX_AGE_S
    for api_name, data in (("predict", [{"path": str(cached)}]), ("explain", [{"path": str(cached)}, 1])):
        answer = call(app_url, api_name, data)
        assert answer == {"error": "That upload has been deleted (uploads are kept 60 minutes): upload it again."}
