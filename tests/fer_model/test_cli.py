"""``python -m fer_model predict``: folders, JSON lines, CSV, and failures reported per file."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from fer_model import EMOTIONS, InceptionResNetV2

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fer_model", *args], capture_output=True, text=True, timeout=600,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_predict_a_folder_as_json_and_csv(tiny_model: InceptionResNetV2, astronaut: np.ndarray,
                                          tmp_path: Path) -> None:
    tiny_model.save_pretrained(tmp_path / "model")
    photos = tmp_path / "photos" / "nested"
    photos.mkdir(parents=True)
    Image.fromarray(astronaut).save(photos / "astronaut one.jfif", "JPEG")
    Image.fromarray(np.full((80, 80, 3), 90, np.uint8)).save(photos.parent / "flat.png")
    (photos.parent / "broken.jpg").write_bytes(b"nope")
    result = run_cli("predict", str(tmp_path / "photos"), "--model", str(tmp_path / "model"), "--json")
    assert result.returncode == 1, result.stderr  # one file failed
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    by_name = {Path(line["path"]).name: line for line in lines}
    assert set(by_name) == {"astronaut one.jfif", "flat.png", "broken.jpg"}
    astronaut_faces = by_name["astronaut one.jfif"]["faces"]
    assert len(astronaut_faces[0]["box"]) == 4 and astronaut_faces[0]["label"] in EMOTIONS
    assert sum(astronaut_faces[0]["probabilities"].values()) == pytest_approx_one()
    assert by_name["flat.png"]["face_detected"] is False and by_name["flat.png"]["faces"][0]["box"] is None
    assert "not a readable image" in by_name["broken.jpg"]["error"]

    result = run_cli("predict", str(photos), "--model", str(tmp_path / "model"), "--csv", str(tmp_path / "out.csv"))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader((tmp_path / "out.csv").open()))
    assert len(rows) == 1 and rows[0]["label"] in EMOTIONS and float(rows[0]["happy"]) > 0


def pytest_approx_one():
    import pytest

    return pytest.approx(1.0, abs=1e-4)


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run_cli("predict", str(tmp_path), "--model", str(tmp_path / "empty"))
    assert result.returncode == 2
    assert "no model.safetensors" in result.stderr
