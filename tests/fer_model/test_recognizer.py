"""EmotionRecognizer and image loading: every input form, faces found first, whole-image fallback, errors."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_model import EMOTIONS, Box, EmotionRecognizer, ImageError, InceptionResNetV2, ModelLoadError, load_image
from fer_model.images import IMAGE_SUFFIXES, PIL_FORMATS
from fer_model.recognizer import DEFAULT_REPO_ID, resolve_model

ASTRONAUT_FACE = (175, 76, 91, 91)  # x, y, w, h of the face in skimage's astronaut


@pytest.fixture(scope="module")
def recognizer(tiny_model: InceptionResNetV2) -> EmotionRecognizer:
    return EmotionRecognizer(tiny_model, device="cpu")


def assert_astronaut(prediction) -> None:
    assert prediction.face_detected
    face = prediction.faces[0]
    assert face.box is not None
    x, y, w, _h = face.box.as_list()
    assert abs(x - ASTRONAUT_FACE[0]) < 25 and abs(y - ASTRONAUT_FACE[1]) < 25 and 60 < w < 130
    assert list(face.probabilities) == list(EMOTIONS)
    assert sum(face.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    assert face.label == max(face.probabilities, key=face.probabilities.get)


def test_predict_path_pil_and_array_agree(recognizer: EmotionRecognizer, astronaut: np.ndarray,
                                          astronaut_jpeg: Path) -> None:
    from_path = recognizer.predict(astronaut_jpeg)
    from_pil = recognizer.predict(Image.open(astronaut_jpeg))
    from_bgr = recognizer.predict(np.asarray(Image.open(astronaut_jpeg))[:, :, ::-1].copy(), color="bgr")
    for prediction in (from_path, from_pil, from_bgr):
        assert_astronaut(prediction)
    assert from_path.faces[0].probabilities == pytest.approx(from_pil.faces[0].probabilities, abs=1e-6)
    assert from_path.faces[0].probabilities == pytest.approx(from_bgr.faces[0].probabilities, abs=1e-6)
    assert_astronaut(recognizer.predict(astronaut))


def test_grayscale_and_rgba_inputs(recognizer: EmotionRecognizer, astronaut: np.ndarray) -> None:
    gray = np.asarray(Image.fromarray(astronaut).convert("L"))
    assert_astronaut(recognizer.predict(gray))
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    assert_astronaut(recognizer.predict(rgba))


def test_exif_orientation_is_honoured(recognizer: EmotionRecognizer, astronaut: np.ndarray, tmp_path: Path) -> None:
    rotated = Image.fromarray(astronaut).rotate(90, expand=True)  # stored sideways ...
    exif = Image.Exif()
    exif[0x0112] = 6  # ... with "rotate 90 CW to display", which restores the upright photo
    rotated.save(tmp_path / "sideways.jpg", exif=exif, quality=92)
    assert load_image(tmp_path / "sideways.jpg").shape == astronaut.shape
    assert_astronaut(recognizer.predict(tmp_path / "sideways.jpg"))


def test_no_face_classifies_the_whole_image_and_says_so(recognizer: EmotionRecognizer) -> None:
    flat = np.full((120, 160, 3), 128, np.uint8)
    prediction = recognizer.predict(flat)
    assert not prediction.face_detected
    assert len(prediction.faces) == 1 and prediction.faces[0].box is None
    assert prediction.notes == ["no face detected: classified the whole image"]
    assert sum(prediction.faces[0].probabilities.values()) == pytest.approx(1.0, abs=1e-4)


def test_many_faces_are_capped_with_a_note(tiny_model: InceptionResNetV2, astronaut: np.ndarray) -> None:
    tiles = np.concatenate([np.concatenate([astronaut[40:220, 130:310]] * 3, axis=1)] * 2, axis=0)
    recognizer = EmotionRecognizer(tiny_model, device="cpu", max_faces=4)
    prediction = recognizer.predict(tiles)
    assert len(prediction.faces) == 4
    assert prediction.notes == ["6 faces found; showing the 4 largest"]


def test_predict_batch_matches_predict(recognizer: EmotionRecognizer, astronaut: np.ndarray) -> None:
    flat = np.full((90, 90, 3), 30, np.uint8)
    batch = recognizer.predict_batch([astronaut, flat, astronaut])
    assert [p.face_detected for p in batch] == [True, False, True]
    single = recognizer.predict(astronaut)
    assert batch[0].faces[0].probabilities == pytest.approx(single.faces[0].probabilities, abs=1e-3)


def test_default_model_is_the_given_one_else_the_shipped_folder_else_the_published_repo(tmp_path: Path) -> None:
    (tmp_path / "shipped").mkdir()
    assert resolve_model(None, tmp_path / "shipped") == DEFAULT_REPO_ID  # an empty folder is not a model
    (tmp_path / "shipped" / "config.json").write_text("{}")
    assert resolve_model(None, tmp_path / "shipped") == str(tmp_path / "shipped")
    assert resolve_model("org/other", tmp_path / "shipped") == "org/other"
    assert resolve_model(None) == DEFAULT_REPO_ID


def test_no_model_offline_is_one_clear_error_never_an_untrained_model(monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))  # read at call time by snapshot_download
    with pytest.raises(ModelLoadError, match=rf"no model given, and the default model {DEFAULT_REPO_ID} .*--model"):
        EmotionRecognizer.from_pretrained(local_files_only=True)


def test_an_unreachable_hub_is_said_at_once_instead_of_retried(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    """A mistyped folder reads as a repo id: with no network, one clear error, no Hub request (nor ~30 s of retries)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: (_ for _ in ()).throw(OSError("no DNS")))
    requested = []
    monkeypatch.setattr("huggingface_hub.file_download.get_hf_file_metadata",
                        lambda *args, **kwargs: requested.append(args) or None)
    with pytest.raises(ModelLoadError, match=r"space/model: not a model folder here .* the Hub cannot be reached"):
        EmotionRecognizer.from_pretrained("space/model")
    assert requested == []


def test_given_face_boxes_are_classified_instead_of_detected(recognizer: EmotionRecognizer,
                                                              astronaut: np.ndarray) -> None:
    detected = recognizer.predict(astronaut).faces[0]
    given = recognizer.predict(astronaut, boxes=[detected.box, Box(0, 0, 100, 80)])
    assert [face.box for face in given.faces] == [detected.box, Box(0, 0, 100, 80)] and given.face_detected
    assert given.faces[0].probabilities == pytest.approx(detected.probabilities, abs=1e-4)
    with pytest.raises(ValueError, match=r"face box \[500, 0, 50, 50\] .* not inside the 512x512 image"):
        recognizer.predict(astronaut, boxes=[Box(500, 0, 50, 50)])


def test_no_detect_classifies_a_face_crop_whole(recognizer: EmotionRecognizer, astronaut: np.ndarray) -> None:
    crop = astronaut[60:190, 160:290]
    prediction = recognizer.predict(crop, detect=False)
    assert [face.box for face in prediction.faces] == [Box(0, 0, 130, 130)] and prediction.notes == []
    expected = recognizer.classify_faces([crop])[0]
    assert list(prediction.faces[0].probabilities.values()) == pytest.approx(expected.tolist(), abs=1e-5)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_bytes(np.random.default_rng(0).bytes(2000)), "not a readable image"),
        (lambda p: p.write_text("just some text\n"), "not a readable image"),
        (lambda p: p.write_text('<svg xmlns="http://www.w3.org/2000/svg"/>'), "not a readable image"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "upload.jpg"
    make(path)
    with pytest.raises(ImageError, match=message):
        load_image(path)


def test_truncated_jpeg_is_a_clear_error(astronaut_jpeg: Path, tmp_path: Path) -> None:
    data = astronaut_jpeg.read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageError, match="corrupt or truncated"):
        load_image(tmp_path / "cut.jpg")


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("1", (30000, 30000)).save(buffer, "PNG")
    (tmp_path / "bomb.png").write_bytes(buffer.getvalue())
    with pytest.raises(ImageError, match=r"too many pixels|too large"):
        load_image(tmp_path / "bomb.png")


def test_unusual_modes_become_rgb(tmp_path: Path) -> None:
    sixteen = Image.fromarray((np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16))
    sixteen.save(tmp_path / "16bit.png")
    Image.new("CMYK", (40, 30), (0, 255, 0, 0)).save(tmp_path / "cmyk.jpg")
    Image.new("P", (40, 30)).save(tmp_path / "palette.png")
    frames = [Image.new("RGB", (20, 20), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    assert load_image(tmp_path / "16bit.png").shape == (64, 64, 3)
    assert load_image(tmp_path / "16bit.png").max() == 255
    assert load_image(tmp_path / "cmyk.jpg").shape == (30, 40, 3)
    assert load_image(tmp_path / "palette.png").shape == (30, 40, 3)
    first = load_image(tmp_path / "anim.gif")
    assert first.shape == (20, 20, 3) and first[0, 0, 0] > 200 and first[0, 0, 2] < 50


def test_huge_valid_photo_is_downscaled() -> None:
    assert max(load_image(np.zeros((5000, 6000, 3), np.uint8)).shape) == 4096


@pytest.mark.parametrize("shape", [(0, 10, 3), (10, 10, 2), (4, 4, 4, 4)])
def test_bad_arrays_name_their_shape(shape: tuple) -> None:
    with pytest.raises(ImageError, match="shape"):
        load_image(np.zeros(shape, np.uint8))


def test_every_accepted_suffix_names_a_format_that_is_decoded() -> None:
    """The folder readers' suffix list (CLI, training) and the decoders tried (PIL_FORMATS) say the same thing."""
    formats = Image.registered_extensions()
    assert {formats[suffix] for suffix in IMAGE_SUFFIXES} == set(PIL_FORMATS)


def test_random_weights_are_flagged_untrained_and_a_training_recipe_marks_trained(tiny_model: InceptionResNetV2,
                                                                                  tmp_path: Path) -> None:
    assert EmotionRecognizer(tiny_model, device="cpu").trained is False
    recipe = InceptionResNetV2(block_repeats=(1, 1, 1), image_size=75, training={"epochs": 1})
    recipe.save_pretrained(tmp_path / "trained")
    assert EmotionRecognizer.from_pretrained(tmp_path / "trained", device="cpu").trained is True
