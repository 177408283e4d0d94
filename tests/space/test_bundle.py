"""The Space as Hugging Face runs it: the bundle, and what ``python -m fer_model push`` uploads, each started with
``python app.py`` inside its own folder in a clean offline environment (no FER_MODEL, no PYTHONPATH to the repo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from gradio_client import handle_file

from devtools.app_server import app_client, running_app
from fer_model import EMOTIONS

from ..conftest import SHIPPED_MODEL
from ..fer_model.fake_hub import FakeHub

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not (SHIPPED_MODEL / "config.json").is_file(), reason="no shipped model")


def fer_model_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    """``python -m fer_model ...`` from the repository root, as ``make space-bundle`` runs it."""
    result = subprocess.run([sys.executable, "-m", "fer_model", *args], capture_output=True, text=True, timeout=600,
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def clean_env(tmp_path: Path) -> dict[str, str]:
    """What a Space's container has: no FER_MODEL, no PYTHONPATH, no network (the Hub is switched off), its own /tmp."""
    (tmp_path / "home").mkdir(exist_ok=True)
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1",
            "HF_HUB_CACHE": str(tmp_path / "hub"), "FER_CACHE_DIR": os.environ["FER_CACHE_DIR"],
            "TMPDIR": os.environ["TMPDIR"]}


def assert_serves_the_trained_model(folder: Path, tmp_path: Path, photo: Path) -> None:
    """Start ``python app.py`` in ``folder``; the page shows the trained model and /predict reads a smile."""
    with running_app(None, tmp_path / "app.log", app_dir=folder, env=clean_env(tmp_path)) as app:
        page = httpx.get(app.url + "config", timeout=30).text
        assert "UNTRAINED" not in page and "FER2013" in page
        _annotated, label, faces, note = app_client(app.url).predict(handle_file(str(photo)), api_name="/predict")
    assert label["label"] == "happy" and "1 face found." in note
    assert faces["face_detected"] and faces["faces"][0]["label"] == "happy"
    assert set(faces["faces"][0]["probabilities"]) == set(EMOTIONS)
    log = (tmp_path / "app.log").read_text()
    assert "UNTRAINED" not in log and str(ROOT) not in log


def test_space_bundle_runs_the_trained_model_from_its_own_folder(tmp_path: Path, astronaut_jpeg: Path) -> None:
    bundle = tmp_path / "dist" / "space"
    fer_model_cli("space-bundle", "--space", "space", "--model", "space/model", "--out", str(bundle))
    assert {"app.py", "README.md", "requirements.txt", "examples", "fer_model", "model"} == {
        p.name for p in bundle.iterdir()}
    assert (bundle / "fer_model" / "recognizer.py").is_file() and not list(bundle.rglob("__pycache__"))
    assert (bundle / "model" / "config.json").read_bytes() == (SHIPPED_MODEL / "config.json").read_bytes()
    requirements = [line for line in (bundle / "requirements.txt").read_text().splitlines()
                    if line and not line.startswith("#")]
    assert requirements and all("==" in line for line in requirements)
    assert "gradio==" in "\n".join(requirements)
    assert_serves_the_trained_model(bundle, tmp_path, astronaut_jpeg)


def test_push_uploads_the_model_repo_and_a_space_that_starts(tmp_path: Path, astronaut_jpeg: Path) -> None:
    with FakeHub() as hub:
        fer_model_cli("push", "--model", "space/model", "--model-repo", "someone/fer", "--space", "space",
                      "--space-repo", "someone/fer-demo", "--token", "hf_fake",
                      HF_ENDPOINT=hub.url, HF_HUB_DISABLE_XET="1")
    assert [(r["type"], r["organization"], r["name"], r.get("sdk")) for r in hub.created] == [
        ("model", "someone", "fer", None), ("space", "someone", "fer-demo", "gradio")]
    model, space = hub.commits
    assert (model["repo_type"], model["repo"], space["repo_type"], space["repo"]) == (
        "model", "someone/fer", "space", "someone/fer-demo")
    assert set(model["files"]) == {p.name for p in SHIPPED_MODEL.iterdir()}
    for name in ("config.json", "model.safetensors.index.json", "confusion_matrix.png", "training_history.csv"):
        assert model["files"][name] == (SHIPPED_MODEL / name).read_bytes()
    card = model["files"]["README.md"].decode()
    assert 'from_pretrained("someone/fer")' in card and "model-index:" in card and "split: PublicTest" in card
    assert {"app.py", "README.md", "requirements.txt", "fer_model/__init__.py", "fer_model/recognizer.py",
            "model/config.json", "examples/astronaut.jpg"} <= set(space["files"])
    shards = json.loads(model["files"]["model.safetensors.index.json"])["weight_map"].values()
    assert all(space["files"][f"model/{shard}"] == model["files"][shard] for shard in set(shards))

    downloaded = tmp_path / "downloaded-space"
    for name, content in space["files"].items():
        (downloaded / name).parent.mkdir(parents=True, exist_ok=True)
        (downloaded / name).write_bytes(content)
    assert_serves_the_trained_model(downloaded, tmp_path, astronaut_jpeg)
