"""The page in Debian's chromium (Playwright): upload a photo, see the annotated faces; a fake webcam streams back."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
EXAMPLES = Path(__file__).resolve().parents[2] / "space" / "examples"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run", "--disable-sync", "--disable-dev-shm-usage"]

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed (.ci/run installs it)"),
]


def write_y4m(path: Path, rgb: np.ndarray, frames: int = 30, side: int = 320) -> Path:
    """A short 4:2:0 y4m clip of one still image, for --use-file-for-fake-video-capture."""
    image = Image.fromarray(rgb).resize((side, side))
    y, cb, cr = (np.asarray(channel) for channel in image.convert("YCbCr").split())
    cb, cr = cb[::2, ::2], cr[::2, ::2]
    with path.open("wb") as handle:
        handle.write(f"YUV4MPEG2 W{side} H{side} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            handle.write(b"FRAME\n" + y.tobytes() + cb.tobytes() + cr.tobytes())
    return path


@pytest.fixture(scope="module")
def playwright():
    with sync_api.sync_playwright() as instance:
        yield instance


def test_upload_shows_annotated_faces_and_labels(playwright, app_url: str) -> None:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(app_url, wait_until="load", timeout=120_000)
        page.locator("input[type=file]").first.set_input_files(str(EXAMPLES / "astronaut.jpg"))
        page.locator("#annotated img").wait_for(timeout=120_000)
        page.locator("#note").get_by_text("1 face(s) found.").wait_for(timeout=60_000)
        label_text = page.locator("#label").inner_text(timeout=30_000)
        assert any(emotion in label_text for emotion in ("angry", "happy", "neutral", "sad", "fear", "surprise"))
        assert page.locator("#untrained-warning").count() == 1  # the test model is untrained, and the page says so
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "photo-tab.png"), full_page=True)
    finally:
        browser.close()


def test_fake_webcam_frames_come_back_annotated(playwright, app_url: str, tmp_path: Path,
                                                astronaut: np.ndarray) -> None:
    clip = write_y4m(tmp_path / "face.y4m", astronaut[30:250, 110:330])
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True,
        args=[*FLAGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              f"--use-file-for-fake-video-capture={clip}"],
    )
    try:
        context = browser.new_context(viewport={"width": 1280, "height": 1000}, permissions=["camera"])
        page = context.new_page()
        page.goto(app_url, wait_until="load", timeout=120_000)
        page.get_by_role("tab", name="Webcam").click()
        page.get_by_text("Click to Access Webcam").click(timeout=30_000)
        page.get_by_role("button", name="capture photo").click(timeout=30_000)  # starts the stream
        page.locator("#live img").wait_for(timeout=120_000)
        smoothed = page.locator("#live-label").inner_text(timeout=60_000)
        assert any(emotion in smoothed for emotion in ("angry", "happy", "neutral", "sad", "fear", "surprise"))
        frame = page.request.get(page.locator("#live img").get_attribute("src"))
        assert frame.ok and frame.headers["content-type"].startswith("image/")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "webcam-tab.png"), full_page=True)
    finally:
        browser.close()
