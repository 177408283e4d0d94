"""Dataset layouts and their errors."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from devtools.synthetic import make_face_folder
from fer_model import EMOTIONS, ImageError, load_image
from fer_model.__main__ import iter_inputs
from fer_model.images import IMAGE_SUFFIXES
from train.data import DataError, find_splits, load_fer2013_csv, load_image_folder

from ..corpus import png_header_only


def test_kaggle_and_fer2013_image_layouts(tmp_path: Path) -> None:
    make_face_folder(tmp_path / "kaggle" / "images" / "train", ["happy"], 1)
    make_face_folder(tmp_path / "kaggle" / "images" / "validation", ["happy"], 1)
    make_face_folder(tmp_path / "fer" / "train", ["happy"], 1)
    make_face_folder(tmp_path / "fer" / "test", ["happy"], 1)
    kaggle = find_splits(tmp_path / "kaggle")
    images = tmp_path / "kaggle" / "images"
    assert (kaggle.train, kaggle.validation) == (images / "train", images / "validation")
    fer = find_splits(tmp_path / "fer")
    assert (fer.train, fer.validation) == (tmp_path / "fer/train", tmp_path / "fer/test")


def test_class_folders_match_labels_case_insensitively_with_aliases(tmp_path: Path) -> None:
    make_face_folder(tmp_path, ["Angry", "normal", "SURPRISED"], per_class=2)
    dataset = load_image_folder(tmp_path, EMOTIONS)
    counts = dict(zip(EMOTIONS, dataset.class_counts(), strict=True))
    assert counts == {"angry": 2, "disgust": 0, "fear": 0, "happy": 0, "neutral": 2, "sad": 0, "surprise": 2}
    image, target = dataset[0]
    assert image.shape == (1, 48, 48) and target == 0


def test_unknown_class_names_the_folder(tmp_path: Path) -> None:
    make_face_folder(tmp_path, ["angri"], per_class=1)
    with pytest.raises(DataError, match=r"angri: unknown class 'angri'; expected one of angry, disgust"):
        load_image_folder(tmp_path, EMOTIONS)


def test_empty_split_names_the_folder(tmp_path: Path) -> None:
    (tmp_path / "validation").mkdir()
    with pytest.raises(DataError, match=r"validation: no class folders; expected one of angry, disgust"):
        load_image_folder(tmp_path / "validation", EMOTIONS)


def test_empty_class_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "happy").mkdir()
    with pytest.raises(DataError, match=r"happy: empty class folder"):
        load_image_folder(tmp_path, EMOTIONS)


def test_unreadable_image_names_the_file_unless_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    make_face_folder(tmp_path, ["sad"], per_class=2)
    (tmp_path / "sad" / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match=r"sad/broken.jpg: not a readable image; .* or pass --skip-bad"):
        load_image_folder(tmp_path, EMOTIONS)
    with caplog.at_level(logging.WARNING, logger="train.data"):
        assert len(load_image_folder(tmp_path, EMOTIONS, skip_bad=True)) == 2
    assert caplog.messages == [f"{tmp_path}: skipped 1 unreadable images"]


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("emotion,pixels,Usage\n" + "\n".join(rows) + "\n")
    return path


def test_fer2013_csv_splits_and_class_order(tmp_path: Path) -> None:
    pixels = " ".join(["7"] * 2304)
    path = write_csv(tmp_path / "fer2013.csv", [f"6,{pixels},Training", f"4,{pixels},Training",
                                                f"3,{pixels},PublicTest", f"0,{pixels},PrivateTest"])
    train = load_fer2013_csv(path, "train", EMOTIONS)
    assert [EMOTIONS[t] for t in train.targets] == ["neutral", "sad"]  # csv 6=Neutral, 4=Sad
    validation = load_fer2013_csv(path, "validation", EMOTIONS)
    assert [EMOTIONS[t] for t in validation.targets] == ["happy"]
    assert np.all(validation.images[0].numpy() == 7) and validation.images[0].shape == (1, 48, 48)


@pytest.mark.parametrize(("row", "message"), [("9,{p},Training", "emotion 9"), ("1,1 2 3,Training", "3 pixels"),
                                              ("x,{p},Training", "invalid literal")])
def test_bad_csv_row_names_file_and_line(tmp_path: Path, row: str, message: str) -> None:
    pixels = " ".join(["0"] * 2304)
    path = write_csv(tmp_path / "fer2013.csv", [f"0,{pixels},Training", row.format(p=pixels)])
    with pytest.raises(DataError, match=rf"fer2013.csv, line 3: bad row .*{message}"):
        load_fer2013_csv(path, "train", EMOTIONS)


def test_csv_without_expected_columns(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("label,data\n1,2\n")
    with pytest.raises(DataError, match="missing column"):
        load_fer2013_csv(tmp_path / "x.csv", "train", EMOTIONS)


PIXELS = " ".join(["0"] * 2304)
BAD_ROWS = {  # name: (the csv's text after its header, error regex naming the line)
    "row with missing fields": (f"0,{PIXELS},Training\n3\n", r"line 3: bad row \(missing pixels, Usage\)"),
    "row with an extra field": (f"0,{PIXELS},Training\n0,{PIXELS},Training,x\n", r"line 3: bad row \(1 extra field"),
    "field over 131,072 characters": (f"{'1' * 140_000},{PIXELS},Training\n0,{PIXELS},Training\n",
                                      r"line 2: bad row .*field limit"),
    "last row cut short": (f"0,{PIXELS},Training\n4,{PIXELS[:100]}", r"line 3: bad row \(missing Usage\)"),
    "last row with an open quote": (f'0,{PIXELS},Training\n4,"{PIXELS[:100]}', r"line 3: bad row \(missing Usage\)"),
}


@pytest.mark.parametrize("name", BAD_ROWS)
def test_bad_csv_rows_name_the_line_or_are_skipped(tmp_path: Path, name: str) -> None:
    body, error = BAD_ROWS[name]
    path = tmp_path / "fer2013.csv"
    path.write_text(f"emotion,pixels,Usage\n{body}")
    with pytest.raises(DataError, match=rf"fer2013.csv, {error}.*pass --skip-bad"):
        load_fer2013_csv(path, "train", EMOTIONS)
    dataset = load_fer2013_csv(path, "train", EMOTIONS, skip_bad=True)
    assert len(dataset) == 1  # only the good first row is kept


def test_csv_with_a_byte_order_mark_reads_its_first_column(tmp_path: Path) -> None:
    path = tmp_path / "fer2013.csv"
    path.write_text(f"emotion,pixels,Usage\n3,{PIXELS},Training\n", encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert [EMOTIONS[t] for t in load_fer2013_csv(path, "train", EMOTIONS).targets] == ["happy"]


def test_csv_that_is_not_utf8_is_an_error_even_with_skip_bad(tmp_path: Path) -> None:
    path = tmp_path / "fer2013.csv"
    path.write_bytes(f"emotion,pixels,Usage\n3,{PIXELS},Training\n".encode() + b"4,\xff\xfe,Training\n")
    with pytest.raises(DataError, match=r"fer2013.csv: not UTF-8 text .*save it as UTF-8"):
        load_fer2013_csv(path, "train", EMOTIONS, skip_bad=True)


def test_decompression_bomb_names_the_file_or_is_skipped(tmp_path: Path) -> None:
    make_face_folder(tmp_path, ["sad"], per_class=2)
    (tmp_path / "sad" / "bomb.png").write_bytes(png_header_only(30000, 30000))
    (tmp_path / "sad" / "big.png").write_bytes(png_header_only(8000, 7000))  # 56 M px: over our limit, under PIL's
    with pytest.raises(DataError, match=r"sad/big.png: 8000x7000 px is too large \(limit 50,000,000 pixels\)"):
        load_image_folder(tmp_path, EMOTIONS)
    (tmp_path / "sad" / "big.png").unlink()
    with pytest.raises(DataError, match=r"sad/bomb.png: too many pixels \(limit 50,000,000\)"):
        load_image_folder(tmp_path, EMOTIONS)
    assert len(load_image_folder(tmp_path, EMOTIONS, skip_bad=True)) == 2


def test_large_images_are_decoded_at_most_max_side(tmp_path: Path, astronaut: np.ndarray) -> None:
    (tmp_path / "happy").mkdir()
    Image.fromarray(astronaut).resize((4000, 3000)).save(tmp_path / "happy" / "large.jpg", quality=90)
    Image.fromarray(astronaut).resize((3000, 600)).save(tmp_path / "happy" / "wide.png")
    Image.fromarray(astronaut).resize((40, 30)).save(tmp_path / "happy" / "small.jpg")
    shapes = sorted(tuple(image.shape) for image, _ in load_image_folder(tmp_path, EMOTIONS, max_side_px=299))
    assert shapes == [(1, 30, 40), (1, 60, 299), (1, 224, 299)]
    assert max(load_image_folder(tmp_path, EMOTIONS)[0][0].shape) == 1024  # the default: a model's largest input


def training_and_inference_pixels(folder: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(training's decoded image, inference's load_image made gray) for each file of ``folder``'s class folders."""
    dataset = load_image_folder(folder, EMOTIONS)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    return [(image[0].numpy(), np.asarray(Image.fromarray(load_image(path)).convert("L")))
            for image, path in zip(dataset.images, files, strict=True)]


def test_training_decodes_files_as_inference_does(tmp_path: Path, astronaut: np.ndarray) -> None:
    """EXIF orientation, transparency and 16-bit images give training the pixels that inference sees."""
    (tmp_path / "happy").mkdir()
    portrait = Image.fromarray(astronaut[:, :384])  # 384x512: a rotation that is not applied shows in the shape
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways, "rotate 90 CW to display"
    portrait.rotate(90, expand=True).save(tmp_path / "happy" / "a-sideways.jpg", exif=exif, quality=92)
    rgba = np.dstack([astronaut[:200, :200], np.full((200, 200), 255, np.uint8)])
    rgba[:, :100, 3] = 0  # the left half transparent: white, not the hidden colours
    Image.fromarray(rgba, "RGBA").save(tmp_path / "happy" / "b-transparent.png")
    sixteen = (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)
    Image.fromarray(sixteen).save(tmp_path / "happy" / "c-16bit.png")
    pairs = training_and_inference_pixels(tmp_path)
    for trained, served in pairs:
        np.testing.assert_array_equal(trained, served)
    sideways, transparent, deep = (trained for trained, _ in pairs)
    assert sideways.shape == (512, 384)  # upright
    assert (transparent[:, :100] == 255).all() and transparent[:, 100:].std() > 10
    assert deep.min() == 0 and deep.max() == 255  # the 16-bit range stretched, not clipped


def test_training_and_the_cli_read_the_same_file_types(tmp_path: Path, astronaut: np.ndarray) -> None:
    """GIF (first frame) is read by both; PGM/PPM, which inference refuses, and other files are not picked up."""
    (tmp_path / "happy").mkdir()
    face = Image.fromarray(astronaut[:120, :120])
    face.save(tmp_path / "happy" / "a.gif", save_all=True, append_images=[Image.new("RGB", (120, 120))])
    face.convert("L").save(tmp_path / "happy" / "b.pgm")
    face.save(tmp_path / "happy" / "c.JPG")
    (tmp_path / "happy" / "notes.txt").write_text("not an image")
    with pytest.raises(ImageError, match="not a readable image"):
        load_image(tmp_path / "happy" / "b.pgm")
    assert [p.name for p in iter_inputs([tmp_path])] == ["a.gif", "c.JPG"]
    pairs = training_and_inference_pixels(tmp_path)
    assert len(pairs) == 2 and all(np.array_equal(trained, served) for trained, served in pairs)
    assert pairs[0][0].mean() > 50  # the GIF's first frame (the face), not the black second one
