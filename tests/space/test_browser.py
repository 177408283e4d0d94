"""The page in Debian's chromium (Playwright), as a first-time user meets it on a desktop and on a phone.

Screenshots land in test-artifacts/ (git-ignored) for review: desktop 1280x900 and phone 390x844.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image

from devtools.app_server import RunningApp
from fer_model.annotate import FONT_FRACTION

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run", "--disable-sync", "--disable-dev-shm-usage"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
EMOTION_WORDS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
WEBCAM_WINDOW_S = 15.0
WEBCAM_BUTTON = "Start or stop live emotion analysis"
MIN_READABLE_TAG_PX = 10  # on-screen height of a face tag's text
RESULT_TIMEOUT_MS = 120_000

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed (.ci/run installs it)"),
]


CAMERA_FPS = 30  # a real webcam's rate, above what the live view can reach on 2 cores


def write_y4m(path: Path, rgb: np.ndarray, frames: int = 600, width: int = 480, height: int = 360) -> Path:
    """A 4:2:0 y4m clip at CAMERA_FPS for --use-file-for-fake-video-capture whose every frame differs: the face slides
    sideways and the brightness changes, so each annotated frame the page shows is a new one. Chromium loops the
    clip, so it must last longer than the time measured (20 s here) or the distinct frames run out; at 30 frames/s
    the camera, not the clip, limits how often the live view can update."""
    with path.open("wb") as handle:
        handle.write(f"YUV4MPEG2 W{width} H{height} F{CAMERA_FPS}:1 Ip A1:1 C420jpeg\n".encode())
        for k in range(frames):
            shifted = np.roll(rgb, round(40 * np.sin(2 * np.pi * k / frames)), axis=1)
            gain = 0.75 + 0.5 * k / frames
            frame = Image.fromarray(np.clip(shifted * gain, 0, 255).astype(np.uint8)).resize((width, height))
            y, cb, cr = (np.asarray(channel) for channel in frame.convert("YCbCr").split())
            handle.write(b"FRAME\n" + y.tobytes() + cb[::2, ::2].tobytes() + cr[::2, ::2].tobytes())
    return path


def group_photo(astronaut: np.ndarray) -> np.ndarray:
    """Three copies of the astronaut's head at different sizes side by side: three faces, largest on the left."""
    head = Image.fromarray(astronaut[0:300, 60:360])
    canvas = Image.new("RGB", (760, 300), (235, 235, 235))
    left = 0
    for side in (300, 240, 190):
        canvas.paste(head.resize((side, side)), (left, 300 - side))
        left += side + 10
    return np.asarray(canvas)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory, astronaut: np.ndarray) -> dict[str, Path]:
    """Test photos built from scikit-image's bundled images: one face, three faces, a face at the top, no face."""
    folder = tmp_path_factory.mktemp("photos")
    images = {
        "head.jpg": astronaut[0:300, 60:360],  # (the whole photo's suit patch can pass for a second face)
        "group.jpg": group_photo(astronaut),
        "face-at-top.jpg": astronaut[70:330, 60:320],  # the face's box touches the top edge
        "rocket.jpg": skimage.data.rocket(),
    }
    for name, rgb in images.items():
        Image.fromarray(rgb).save(folder / name, quality=92)
    return {name: folder / name for name in images}


@pytest.fixture(scope="module")
def playwright():
    with sync_api.sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="module")
def browser(playwright) -> Iterator:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
    yield browser
    browser.close()


def open_page(browser, app_url: str, viewport: dict[str, int] = DESKTOP):
    page = browser.new_page(viewport=viewport)
    page.goto(app_url, wait_until="load", timeout=RESULT_TIMEOUT_MS)
    return page


def upload(page, photo: Path) -> None:
    page.locator("#photo input[type=file]").set_input_files(str(photo))


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def table_rows(page, faces: list[str]) -> list[list[str]]:
    """The per-face table's rows (cell texts), once its first column names ``faces``."""
    rows = "[...document.querySelectorAll('#face-table [role=row].virtual-row')]"
    cells = f"{rows}.map(row => [...row.querySelectorAll('[role=gridcell]')].map(cell => cell.innerText.trim()))"
    try:
        page.wait_for_function(f"faces => JSON.stringify({cells}.map(row => row[0])) === JSON.stringify(faces)",
                               arg=faces, timeout=RESULT_TIMEOUT_MS)
    except sync_api.TimeoutError as error:
        raise AssertionError(f"the table shows {page.evaluate(cells)}, not the faces {faces}") from error
    return page.evaluate(cells)


def test_upload_shows_annotated_faces_labels_and_alt_text(browser, app_url: str, photos: dict[str, Path]) -> None:
    page = open_page(browser, app_url)
    upload(page, photos["head.jpg"])
    page.locator("#note").get_by_text("1 face found.").wait_for(timeout=RESULT_TIMEOUT_MS)
    table_rows(page, ["Face 1"])
    assert any(emotion in page.locator("#label").inner_text() for emotion in EMOTION_WORDS)
    alt = page.locator("#annotated img").get_attribute("alt")
    assert alt.startswith("The photo with one face box:") and any(emotion in alt for emotion in EMOTION_WORDS)
    assert page.locator("#untrained-warning").count() == 1  # the test model is untrained, and the page says so
    screenshot(page, "desktop-photo-one-face.png")
    page.close()


def test_clicking_an_example_analyses_it(browser, app_url: str) -> None:
    page = open_page(browser, app_url)
    page.locator("#examples button").first.wait_for()
    names = page.locator("#examples button").all_inner_texts()
    assert "Three faces" in names and "Rocket: no face" in names  # the examples have names, not bare thumbnails
    page.get_by_role("button", name="Three faces").click()
    page.locator("#note").get_by_text("3 faces found").wait_for(timeout=RESULT_TIMEOUT_MS)
    table_rows(page, ["Face 1", "Face 2", "Face 3"])
    page.close()


def test_a_new_photo_clears_the_previous_results_at_once(browser, app_url: str, photos: dict[str, Path]) -> None:
    page = open_page(browser, app_url)
    upload(page, photos["head.jpg"])
    page.locator("#note").get_by_text("1 face found.").wait_for(timeout=RESULT_TIMEOUT_MS)
    page.get_by_role("button", name="Why this emotion? (Grad-CAM)").click()
    page.locator("#heatmap img").wait_for(timeout=RESULT_TIMEOUT_MS)
    page.locator("#heatmap-caption").get_by_text("Grad-CAM of face 1").wait_for(timeout=RESULT_TIMEOUT_MS)
    page.evaluate("""() => {  // what the note and the heatmap show at each change, from now on
        window.seen = [];
        const note = document.querySelector('#note'), heatmap = document.querySelector('#heatmap');
        new MutationObserver(() => window.seen.push([note.innerText.trim(), !!heatmap.querySelector('img')]))
            .observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
    }""")
    upload(page, photos["rocket.jpg"])
    page.locator("#note").get_by_text("no face detected").wait_for(timeout=RESULT_TIMEOUT_MS)
    seen = page.evaluate("window.seen")
    analysing = [i for i, (note, _) in enumerate(seen) if note == "Analysing…"]
    assert analysing, f"the old note stayed while the new photo was analysed: {seen[:5]}"
    assert not seen[analysing[0]][1], "the old Grad-CAM heatmap was still shown while the new photo was analysed"
    assert page.locator("#heatmap img").count() == 0
    assert "Grad-CAM of" not in page.locator("#heatmap-caption").inner_text()
    table_rows(page, ["Whole image"])
    page.close()


def test_a_photo_without_a_face_says_so_instead_of_naming_an_emotion(browser, app_url: str,
                                                                     photos: dict[str, Path]) -> None:
    page = open_page(browser, app_url)
    upload(page, photos["rocket.jpg"])
    page.locator("#note h3").get_by_text("Whole image classified: no face detected").wait_for(
        timeout=RESULT_TIMEOUT_MS)
    assert "close crop of one face" in page.locator("#note").inner_text()
    table_rows(page, ["Whole image"])
    label = page.locator("#label")
    assert "Whole image (no face detected)" in label.inner_text()
    assert label.locator("h2").count() == 0  # no big single-emotion headline for a whole-image guess
    assert "no face detected" in page.locator("#annotated img").get_attribute("alt")
    screenshot(page, "desktop-photo-no-face.png")
    page.close()


def test_several_faces_get_numbered_rows_and_a_chosen_grad_cam(browser, app_url: str,
                                                               photos: dict[str, Path]) -> None:
    page = open_page(browser, app_url)
    upload(page, photos["group.jpg"])
    page.locator("#note").get_by_text("3 faces found").wait_for(timeout=RESULT_TIMEOUT_MS)
    rows = table_rows(page, ["Face 1", "Face 2", "Face 3"])
    for _, emotion, confidence, top3 in rows:
        assert emotion in EMOTION_WORDS and confidence.endswith("%")
        assert top3.startswith(f"{emotion} {confidence}") and top3.count("%") == 3
    alt = page.locator("#annotated img").get_attribute("alt")
    assert alt.startswith("The photo with 3 numbered face boxes")
    page.locator("#face-choice input").click()
    page.get_by_role("option", name=f"Face 2: {rows[1][1]}").click()
    page.get_by_role("button", name="Why this emotion? (Grad-CAM)").click()
    page.locator("#heatmap img").wait_for(timeout=RESULT_TIMEOUT_MS)
    caption = page.locator("#heatmap-caption")
    caption.get_by_text("Grad-CAM of face 2").wait_for(timeout=RESULT_TIMEOUT_MS)
    assert f"drove '{rows[1][1]}' ({rows[1][2]})" in caption.inner_text()
    assert page.locator("#heatmap img").get_attribute("alt").startswith("Grad-CAM of face 2")
    screenshot(page, "desktop-photo-three-faces.png")
    page.close()


def test_face_tags_are_readable_and_uncovered_on_a_phone(browser, app_url: str, photos: dict[str, Path]) -> None:
    page = open_page(browser, app_url, PHONE)
    upload(page, photos["face-at-top.jpg"])
    page.locator("#note").get_by_text("1 face found.").wait_for(timeout=RESULT_TIMEOUT_MS)
    image = page.locator("#annotated img")
    image.scroll_into_view_if_needed()
    covering = image.evaluate("""img => {  // anything drawn over the picture: labels, toolbars, other elements
        const box = img.getBoundingClientRect(), hits = [];
        for (let x = box.left + 2; x < box.right; x += 12)
            for (let y = box.top + 2; y < box.bottom; y += 12) {
                const top = document.elementFromPoint(x, y);
                if (top && top !== img) hits.push(top.outerHTML.slice(0, 80));
            }
        return hits;
    }""")
    assert covering == [], f"elements cover the annotated photo on a phone: {covering[:3]}"
    natural, shown = image.evaluate("img => [img.naturalWidth, img.getBoundingClientRect().width]")
    tag_text_px = max(12, round(max(Image.open(photos["face-at-top.jpg"]).size) * FONT_FRACTION)) * shown / natural
    assert tag_text_px >= MIN_READABLE_TAG_PX, f"face tags are {tag_text_px:.1f} px high on a phone"
    screenshot(page, "phone-photo-face-at-top.png")
    page.close()


@pytest.fixture
def webcam_page(playwright, app_url: str, tmp_path: Path, astronaut: np.ndarray):
    clip = write_y4m(tmp_path / "face.y4m", astronaut[0:300, 60:460].astype(np.float32))
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True,
        args=[*FLAGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              f"--use-file-for-fake-video-capture={clip}"],
    )
    context = browser.new_context(viewport=PHONE, permissions=["camera"])
    yield context.new_page()
    browser.close()


def test_webcam_keeps_streaming_new_annotated_frames_without_writing_them(webcam_page, app: RunningApp,
                                                                        gradio_cache: Path) -> None:
    page = webcam_page
    page.goto(app.url, wait_until="load", timeout=RESULT_TIMEOUT_MS)
    page.get_by_role("tab", name="Webcam").click()
    assert "no frame is written to disk" in page.locator("#webcam-note").inner_text()
    page.get_by_text("Click to Access Webcam").click(timeout=30_000)
    button = page.get_by_role("button", name=WEBCAM_BUTTON)  # not "capture photo"
    button.wait_for(timeout=30_000)
    page.locator("#live").evaluate("""live => {  // the time of each distinct annotated frame shown
        window.frames_ms = []; const seen = new Set();
        new MutationObserver(() => {
            const src = live.querySelector('img')?.getAttribute('src');
            if (src && !seen.has(src)) { seen.add(src); window.frames_ms.push(performance.now()); }
        }).observe(live, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
    }""")
    cached_before = {path for path in gradio_cache.rglob("*") if path.is_file()}
    button.click()
    page.locator("#live img").wait_for(timeout=RESULT_TIMEOUT_MS)
    start_ms = page.evaluate("window.frames_ms[0]")
    time.sleep(WEBCAM_WINDOW_S)
    end_ms = page.evaluate("performance.now()")
    frames = [(t - start_ms) / 1000 for t in page.evaluate("window.frames_ms")]
    rate = (len(frames) - 1) / ((end_ms - start_ms) / 1000)
    print(f"\nwebcam: {len(frames)} distinct annotated frames in {(end_ms - start_ms) / 1000:.1f} s "
          f"({rate:.2f} frames/s after the first)")
    screenshot(page, "phone-webcam-streaming.png")
    thirds = [sum(k * WEBCAM_WINDOW_S / 3 <= t < (k + 1) * WEBCAM_WINDOW_S / 3 for t in frames) for k in range(3)]
    assert len(frames) >= 10 and min(thirds) >= 2, f"the live view stopped updating: frames per 5 s {thirds}"
    assert max(frames) >= WEBCAM_WINDOW_S - 3, f"no new frame in the last 3 s (last at {max(frames):.1f} s)"
    assert page.locator("#live img").get_attribute("src").startswith("data:image/jpeg;base64,")
    assert page.locator("#live img").get_attribute("alt")
    assert any(emotion in page.locator("#live-label").inner_text() for emotion in EMOTION_WORDS)
    written = {path for path in gradio_cache.rglob("*") if path.is_file()} - cached_before
    assert written == set(), f"webcam frames were written to disk: {sorted(written)[:3]}"
    stop = page.locator("#camera button", has_text="Stop")
    video = page.locator("#camera video")
    stop_box, video_box = stop.bounding_box(), video.bounding_box()
    assert stop_box["y"] >= video_box["y"] + video_box["height"] - 1, "the Stop button covers the camera picture"
    button.click()
