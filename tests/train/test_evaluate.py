"""``python -m train.evaluate`` with each test-time augmentation, and export's card naming data instead of paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from devtools.synthetic import make_face_folder
from fer_model import EMOTIONS, InceptionResNetV2
from train.evaluate import main as evaluate_main
from train.export import export


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_face_folder(tmp_path_factory.mktemp("faces"), list(EMOTIONS), per_class=2)


@pytest.mark.parametrize("tta", ["none", "flip", "ten-crop"])
def test_evaluate_scores_every_image_with_each_tta(tiny_model: InceptionResNetV2, faces: Path, tmp_path: Path,
                                                   tta: str, capsys: pytest.CaptureFixture) -> None:
    tiny_model.save_pretrained(tmp_path / "model")
    args = ["--model", str(tmp_path / "model"), "--data", str(faces), "--tta", tta, "--json",
            "--confusion-png", str(tmp_path / "cm.png")]
    assert evaluate_main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tta"] == tta and report["num_images"] == 14 and sum(map(sum, report["confusion_matrix"])) == 14
    assert 0 <= report["accuracy"] <= 1 and report["loss"] > 0


def test_export_names_the_dataset_and_split_not_folders(tiny_model: InceptionResNetV2, faces: Path,
                                                        tmp_path: Path) -> None:
    training = {"train_data": f"{faces.parent}/fer2013/train (14 images)", "validation_data": f"{faces} (14 images)",
                "epochs": 1}
    tiny_model.set_metadata(training=training)
    tiny_model.save_pretrained(tmp_path / "best")
    config = export(tmp_path / "best", tmp_path / "out", data=faces, split="PublicTest")
    assert config["training"]["train_data"] == "FER2013 train (14 images)"
    assert config["training"]["validation_data"] == f"FER2013 {faces.name} (14 images)"
    assert (config["metrics"]["dataset"], config["metrics"]["split"]) == ("FER2013", "PublicTest")
    saved = (tmp_path / "out" / "config.json").read_text() + (tmp_path / "out" / "README.md").read_text()
    assert str(tmp_path) not in saved and str(faces) not in saved
    assert "split: PublicTest" in saved and "model-index:" in saved
    assert torch.equal(InceptionResNetV2.from_pretrained(tmp_path / "out").classifier.weight,
                       tiny_model.classifier.weight)


def test_export_without_data_keeps_the_training_figures_with_the_data_named(tiny_model: InceptionResNetV2,
                                                                             faces: Path, tmp_path: Path) -> None:
    """An epoch folder carries its validation report; exported as is, its folder becomes the split's name."""
    tiny_model.set_metadata(training={"epochs": 1}, metrics={"dataset": str(faces), "accuracy": 0.25,
                                                             "macro_f1": 0.2, "num_images": 14})
    tiny_model.save_pretrained(tmp_path / "epoch-001")
    config = export(tmp_path / "epoch-001", tmp_path / "out", fp16=True)
    assert config["metrics"]["accuracy"] == 0.25
    assert (config["metrics"]["dataset"], config["metrics"]["split"]) == ("FER2013", faces.name)
    assert str(tmp_path) not in (tmp_path / "out" / "config.json").read_text()


def test_export_never_replaces_a_folder_that_is_not_a_model(tiny_model: InceptionResNetV2, tmp_path: Path) -> None:
    tiny_model.save_pretrained(tmp_path / "best")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "keep.jpg").write_bytes(b"precious")
    (tmp_path / "project").mkdir()  # a config.json alone does not make a model folder
    (tmp_path / "project" / "config.json").write_text("{}")
    (tmp_path / "project" / "notes.txt").write_text("precious")
    (tmp_path / "link").symlink_to(tmp_path / "best")
    for out in ("photos", "project", "link"):
        with pytest.raises(ValueError, match=f"{out}: exists and is not a model folder"):
            export(tmp_path / "best", tmp_path / out)
    assert (tmp_path / "photos" / "keep.jpg").read_bytes() == b"precious"
    assert (tmp_path / "project" / "notes.txt").read_text() == "precious"
    export(tmp_path / "best", tmp_path / "model")
    export(tmp_path / "best", tmp_path / "model")  # a model folder is replaced as a whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best", "link", "model", "photos", "project"]


def test_evaluate_writes_a_confusion_png_only_when_asked(tiny_model: InceptionResNetV2, faces: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture) -> None:
    tiny_model.save_pretrained(tmp_path / "model")
    monkeypatch.chdir(tmp_path)
    assert evaluate_main(["--model", "model", "--data", str(faces), "--json"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    capsys.readouterr()
    for path in ("missing/cm.png", "model"):
        assert evaluate_main(["--model", "model", "--data", str(faces), "--confusion-png", path]) == 2
        assert capsys.readouterr().err == f"error: --confusion-png {path}: expected a file path in an existing folder\n"


@pytest.mark.parametrize(("init_from", "init_name", "card_says"), [
    ("{tmp}/runs/v1/best", None, "best"),  # a local folder as training recorded it: its name, not the machine's path
    ("{tmp}/alice smith/runs v2/best", None, "best"),
    ("someone/fer-model", None, "someone/fer-model"),  # a Hub repo id is kept whole
    ("{tmp}/runs/v1/best", "fer_model v1 (18 epochs)", "fer_model v1 (18 epochs)"),
])
def test_export_names_the_model_a_run_started_from_without_its_path(tiny_model: InceptionResNetV2, tmp_path: Path,
                                                                   init_from: str, init_name: str | None,
                                                                   card_says: str) -> None:
    tiny_model.set_metadata(training={"epochs": 1, "init_from": init_from.format(tmp=tmp_path)})
    tiny_model.save_pretrained(tmp_path / "best")
    config = export(tmp_path / "best", tmp_path / "out", init_name=init_name)
    assert config["training"]["init_from"] == card_says
    assert f"- init_from: {card_says}\n" in (tmp_path / "out" / "README.md").read_text()
    assert str(tmp_path) not in (tmp_path / "out" / "config.json").read_text()


def test_export_refuses_init_name_for_a_run_that_started_from_random_weights(tiny_model: InceptionResNetV2,
                                                                            tmp_path: Path) -> None:
    tiny_model.set_metadata(training={"epochs": 1})
    tiny_model.save_pretrained(tmp_path / "best")
    with pytest.raises(ValueError, match=r"--init-name 'v1': this run did not start from another model"):
        export(tmp_path / "best", tmp_path / "out", init_name="v1")
    assert not (tmp_path / "out").exists()
