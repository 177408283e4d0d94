"""``python -m fer_model predict``: folders in batches, videos, face options, JSON lines, CSV, failures per file."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fer_model import EMOTIONS, EmotionRecognizer, InceptionResNetV2
from fer_model.__main__ import main

from ..conftest import SHIPPED_MODEL
from .test_video import write_clip

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
    Image.new("RGB", (64, 64)).save(tmp_path / "photo.png")
    result = run_cli("predict", str(tmp_path / "photo.png"), "--model", str(tmp_path / "empty"))
    assert result.returncode == 2
    assert f"{tmp_path / 'empty'}: no config.json there; expected a folder written by save_pretrained" in result.stderr


@pytest.fixture
def saved_model(tiny_model: InceptionResNetV2, tmp_path: Path) -> Path:
    tiny_model.save_pretrained(tmp_path / "model")
    return tmp_path / "model"


def test_a_folder_is_classified_in_one_batch(saved_model: Path, astronaut: np.ndarray, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    for index in range(3):
        Image.fromarray(np.roll(astronaut, 10 * index, axis=1)).save(tmp_path / f"photo{index}.png")
    calls = []
    classify = EmotionRecognizer.classify_faces
    monkeypatch.setattr(EmotionRecognizer, "classify_faces", lambda self, crops: calls.append(len(crops))
                        or classify(self, crops))
    assert main(["predict", str(tmp_path), "--model", str(saved_model), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [Path(line["path"]).name for line in lines] == ["photo0.png", "photo1.png", "photo2.png"]
    assert calls == [sum(len(line["faces"]) for line in lines)]  # every face of every file in one call


def test_face_crops_without_detection_and_given_boxes(saved_model: Path, astronaut: np.ndarray, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    Image.fromarray(astronaut[60:108, 180:228]).convert("L").save(tmp_path / "crop48.png")  # a FER2013-like crop
    assert main(["predict", str(tmp_path / "crop48.png"), "--model", str(saved_model), "--no-detect", "--json"]) == 0
    (crop,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert crop["faces"][0]["box"] == [0, 0, 48, 48] and crop["face_detected"] and crop["notes"] == []
    Image.fromarray(astronaut).save(tmp_path / "astronaut.png")
    args = ["predict", str(tmp_path / "astronaut.png"), "--model", str(saved_model), "--json"]
    assert main([*args, "--box", "170,70,100,100", "--box", "0,0,60,60"]) == 0
    (boxed,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [face["box"] for face in boxed["faces"]] == [[170, 70, 100, 100], [0, 0, 60, 60]]
    with pytest.raises(SystemExit):
        main([*args, "--box", "1,2,3"])
    assert "expected x,y,width,height" in capsys.readouterr().err


def test_a_video_gives_a_timeline_as_json_and_csv(saved_model: Path, astronaut: np.ndarray, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    clip = write_clip(tmp_path / "clip.webm", astronaut[:256, 64:320], frames=16)  # 2 s at 8 fps
    assert main(["predict", str(clip), "--model", str(saved_model), "--json"]) == 0
    (result,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [sample["time_s"] for sample in result["video"]["samples"]] == [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75]
    assert result["video"]["complete"] and result["video"]["samples"][0]["faces"][0]["label"] in EMOTIONS
    assert main(["predict", str(clip), "--model", str(saved_model), "--csv", str(tmp_path / "t.csv")]) == 0
    rows = list(csv.DictReader((tmp_path / "t.csv").open(encoding="utf-8")))
    assert [row["time_s"] for row in rows if row["face"] == "0"] == ["0.0", "0.25", "0.5", "0.75", "1.0", "1.25",
                                                                    "1.5", "1.75"]


@pytest.mark.parametrize("rate", ["0", "-4", "inf", "nan", "four"])
def test_a_sample_rate_that_is_not_a_positive_number_is_refused(saved_model: Path, astronaut_jpeg: Path, rate: str,
                                                                  capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["predict", str(astronaut_jpeg), "--model", str(saved_model), "--samples-per-s", rate])
    printed = capsys.readouterr()
    assert stop.value.code == 2 and printed.out == ""
    assert f"--samples-per-s: {rate!r}: expected video frames a second as a finite number above 0" in printed.err


def test_csv_into_a_missing_folder_is_refused_before_any_work(saved_model: Path, astronaut_jpeg: Path,
                                                               tmp_path: Path) -> None:
    result = run_cli("predict", str(astronaut_jpeg), "--model", str(tmp_path / "no-such-model"),
                     "--csv", str(tmp_path / "missing" / "out.csv"))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"the folder {tmp_path / 'missing'} does not exist" in result.stderr  # before the model is even loaded


def test_odd_file_names_and_bad_images_never_stop_the_run(saved_model: Path, astronaut: np.ndarray,
                                                          tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(astronaut).save(os.fsdecode(bytes(photos) + b"/caf\xe9.png"))  # a name that is not UTF-8
    Image.fromarray(np.full((1, 2000, 3), 80, np.uint8)).save(photos / "b-thin.png")
    (photos / "c-broken.jpg").write_bytes(b"\xff\xd8 not really")
    Image.fromarray(astronaut).save(photos / "d-last.png")
    result = run_cli("predict", str(photos), "--model", str(saved_model), "--csv", str(tmp_path / "out.csv"))
    assert result.returncode == 1 and "Traceback" not in result.stderr  # c-broken failed, the run went on
    rows = list(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8")))
    names = {Path(row["path"]).name for row in rows}
    assert {"caf\\xe9.png", "b-thin.png", "c-broken.jpg", "d-last.png"} == names
    assert next(row for row in rows if row["path"].endswith("c-broken.jpg"))["error"]
    assert next(row for row in rows if row["path"].endswith("d-last.png"))["label"] in EMOTIONS
    text = run_cli("predict", str(photos), "--model", str(saved_model))
    assert "caf\\xe9.png: " in text.stdout and "d-last.png: " in text.stdout


def test_the_one_time_onnx_export_says_what_it_is_doing(saved_model: Path, astronaut_jpeg: Path,
                                                        tmp_path: Path) -> None:
    def predict() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "fer_model", "predict", str(astronaut_jpeg), "--model",
                               str(saved_model)], capture_output=True, text=True, timeout=600, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT), "FER_CACHE_DIR": str(tmp_path / "cache")})

    first, second = predict(), predict()
    assert first.returncode == second.returncode == 0, first.stderr
    assert "Exporting the model to ONNX for ONNX Runtime, once per model and machine" in first.stderr
    assert str(tmp_path / "cache") in first.stderr and "Exported in" in first.stderr
    assert "Exporting" not in second.stderr and len(list((tmp_path / "cache").glob("*.onnx"))) == 1


def test_a_folder_without_images_is_an_error_not_silence(saved_model: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no pictures here")
    result = run_cli("predict", str(tmp_path / "empty"), "--model", str(saved_model), "--json")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == f"error: no images or videos in {tmp_path / 'empty'}"


def test_device_is_a_choice_and_verbose_logs_name_their_source(saved_model: Path, astronaut_jpeg: Path,
                                                               tmp_path: Path) -> None:
    wrong = run_cli("predict", str(astronaut_jpeg), "--model", str(saved_model), "--device", "gpu")
    assert wrong.returncode == 2
    assert "argument --device: invalid choice: 'gpu' (choose from 'auto', 'cpu', 'cuda')" in wrong.stderr
    verbose = subprocess.run([sys.executable, "-m", "fer_model", "predict", "-v", str(astronaut_jpeg), "--model",
                              str(saved_model), "--device", "cpu"], capture_output=True, text=True, timeout=600,
                             cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "FER_CACHE_DIR": str(tmp_path)})
    assert verbose.returncode == 0, verbose.stderr
    assert "fer_model.onnx_backend: Exporting the model to ONNX" in verbose.stderr  # INFO, with the logger's name
    assert verbose.stdout.startswith(f"{astronaut_jpeg}: ")


def test_tta_flag_gives_the_recognizers_averaged_views(astronaut_jpeg: Path, capsys: pytest.CaptureFixture) -> None:
    options = {"device": "cpu", "backend": "torch", "precision": "fp32"}
    args = ["predict", str(astronaut_jpeg), "--model", str(SHIPPED_MODEL), "--json", "--tta", "flip",
            *[f"--{name}={value}" for name, value in options.items()]]
    assert main(args) == 0
    face = json.loads(capsys.readouterr().out)["faces"][0]
    expected = EmotionRecognizer.from_pretrained(SHIPPED_MODEL, tta="flip", **options).predict(astronaut_jpeg).faces[0]
    assert face["label"] == expected.label == "happy"
    for label, probability in expected.probabilities.items():
        assert face["probabilities"][label] == pytest.approx(probability, abs=1e-5)


@pytest.mark.parametrize(("flags", "message"), [
    (["--precision", "fp16", "--device", "cpu"], "error: precision fp16 runs on CUDA only, not on cpu"),
    pytest.param(["--device", "cuda"], "error: device cuda: no CUDA device is available; use cpu or auto",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")),
])
def test_a_device_or_precision_this_machine_lacks_is_one_error_line(flags: list[str], message: str,
                                                                     astronaut_jpeg: Path,
                                                                     capsys: pytest.CaptureFixture) -> None:
    assert main(["predict", str(astronaut_jpeg), "--model", str(SHIPPED_MODEL), *flags]) == 2
    assert capsys.readouterr().err.strip() == message + ("; use bf16 or fp32" if "fp16" in message else "")


def test_a_missing_file_is_named_once(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    missing = tmp_path / "missing.jpg"
    assert main(["predict", str(missing), "--model", str(SHIPPED_MODEL)]) == 1
    assert capsys.readouterr().out == f"{missing}: no such file\n"
