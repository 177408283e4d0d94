"""Uploads and results stay in temp folders that the app cleans: by age while it runs, entirely when it stops."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from gradio_client import Client, handle_file
from PIL import Image

from fer_model import InceptionResNetV2

from .server import running_app
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
        client = Client(app.url, verbose=False)
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
