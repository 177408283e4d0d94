"""Small load runs in CI: ``python -m benchmarks.load --json`` as a user runs it, with concurrent users posting many
*different* photos, then large ones; and the photo generator it uses.

Concurrent different photos crashed the server when one dlib detector was shared by request threads; one photo
for every user did not, so these runs cycle through distinct generated photos, each user from its own offset.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from devtools.synthetic import LARGE_MAX_BYTES, LARGE_PIXELS_RANGE, generate_photos
from fer_model import InceptionResNetV2

ROOT = Path(__file__).resolve().parents[2]
RUN_LIMIT_S = 600  # app start, photo generation, 5 s warm-up and the 15 s run, on a busy 2-core machine


@pytest.fixture(scope="module")
def model_dir(tiny_model: InceptionResNetV2, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("load") / "model"
    tiny_model.save_pretrained(folder)
    return folder


def run_load(model_dir: Path, log: Path, *options: str) -> dict:
    """Run the load benchmark against an app with ``model_dir``; its exit status 0 means: no failed request, the
    server answering afterwards, and memory growth within the benchmark's bound. Returns its figures."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.load", "--model", str(model_dir), "--app-log", str(log),
                           "--json", *options], cwd=ROOT, capture_output=True, text=True, timeout=RUN_LIMIT_S)
    print(done.stdout, done.stderr[-2000:])
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr[-2000:]}\napp log:\n{log.read_text()[-2000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_generated_photos_are_distinct_and_of_many_sizes(tmp_path: Path) -> None:
    photos = generate_photos(tmp_path, 12)
    sizes = set()
    for photo in photos:
        with Image.open(photo) as image:
            sizes.add(image.size)
    assert len({photo.read_bytes() for photo in photos}) == 12
    assert len(sizes) == 12 and min(max(size) for size in sizes) < 800 < max(max(size) for size in sizes)


def test_generated_large_photos_are_20_to_48_megapixels_under_1_mb(tmp_path: Path) -> None:
    for photo in generate_photos(tmp_path, 4, large=True):
        with Image.open(photo) as image:
            assert LARGE_PIXELS_RANGE[0] <= image.width * image.height <= LARGE_PIXELS_RANGE[1]
        assert photo.stat().st_size < LARGE_MAX_BYTES


def test_eight_users_cycling_through_distinct_photos(model_dir: Path, tmp_path: Path) -> None:
    figures = run_load(model_dir, tmp_path / "app.log", "--users", "8", "--seconds", "15", "--photos", "24")
    assert figures["errors"] == 0 and figures["alive_after"], figures["error_messages"]
    assert figures["ok"] >= 16  # every user got answers
    assert (figures["users"], figures["photos"]) == (8, 24)


def test_four_users_posting_large_photos_all_get_answers_and_memory_returns(model_dir: Path, tmp_path: Path) -> None:
    """20-48 MP JPEGs under 1 MB: every request answered, the server alive, and its memory back near where it started
    (they decode at reduced scale, and the app has glibc return freed buffers): the benchmark's exit status."""
    figures = run_load(model_dir, tmp_path / "app.log", "--users", "4", "--seconds", "15", "--photos", "4", "--large")
    assert figures["errors"] == 0 and figures["alive_after"], figures["error_messages"]
    assert figures["ok"] >= 4
