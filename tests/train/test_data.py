"""Dataset layouts and their errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fer_model import EMOTIONS
from train.data import DataError, find_splits, load_fer2013_csv, load_image_folder

from ..conftest import make_face_folder


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


def test_unreadable_image_names_the_file_unless_skipped(tmp_path: Path) -> None:
    make_face_folder(tmp_path, ["sad"], per_class=2)
    (tmp_path / "sad" / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match=r"sad/broken.jpg: unreadable image"):
        load_image_folder(tmp_path, EMOTIONS)
    assert len(load_image_folder(tmp_path, EMOTIONS, skip_bad=True)) == 2


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
