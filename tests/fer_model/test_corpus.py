"""The bad-input corpora through the Python API and the CLI: clear errors for bad images, arrays and model folders,
answers for the rest."""

from __future__ import annotations

import io
import json
import math
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from fer_model import EmotionRecognizer, InceptionResNetV2, ModelLoadError
from fer_model.images import ImageError, load_image

from ..corpus import CASES, MODEL_CASES, Case, ModelCase

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def recognizer(tiny_model: InceptionResNetV2) -> EmotionRecognizer:
    return EmotionRecognizer(tiny_model, device="cpu")


def check_answer(case: Case, faces: list[dict], notes: list[str]) -> None:
    """A successful answer: the expected face count and note, and probabilities that are finite and sum to 1."""
    assert faces, case.kind  # at least the whole image is classified
    if case.faces is not None:
        assert sum(face["box"] is not None for face in faces) == case.faces, case.kind
    if case.note is not None:
        assert any(re.search(case.note, note) for note in notes), (case.kind, notes)
    for face in faces:
        values = list(face["probabilities"].values())
        assert all(math.isfinite(v) for v in values) and sum(values) == pytest.approx(1.0, abs=1e-4), case.kind


def test_the_corpus_has_at_least_30_kinds(corpus: tuple[Path, list[Case]]) -> None:
    folder, cases = corpus
    assert len({case.kind for case in cases}) == len(cases) >= 30
    assert all((folder / case.file).is_file() for case in cases)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.kind)
def test_api(recognizer: EmotionRecognizer, corpus: tuple[Path, list[Case]], case: Case) -> None:
    folder, _ = corpus
    if case.error:
        with pytest.raises(ImageError, match=case.error) as raised:
            recognizer.predict(folder / case.file)
        assert case.file in str(raised.value)
        if "accepted" not in case.error and "limit" not in case.error:
            assert "accepted" in str(raised.value)  # says what would have been fine
    else:
        check_answer(case, **_faces_and_notes(recognizer.predict(folder / case.file).to_dict()))
        assert load_image(folder / case.file).dtype.name == "uint8"


def _faces_and_notes(result: dict) -> dict:
    return {"faces": result["faces"], "notes": result["notes"]}


def test_cli(tiny_model: InceptionResNetV2, corpus: tuple[Path, list[Case]], tmp_path: Path) -> None:
    folder, cases = corpus
    tiny_model.save_pretrained(tmp_path / "model")
    result = subprocess.run(
        [sys.executable, "-m", "fer_model", "predict", "--json", "--model", str(tmp_path / "model"),
         *(str(folder / case.file) for case in cases)],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )
    assert result.returncode == 1, result.stderr  # some files failed, and the run still went through all of them
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(answer["path"]).name for answer in answers] == [case.file for case in cases]
    for case, answer in zip(cases, answers, strict=True):
        if case.error:
            assert re.search(case.error, answer["error"]), (case.kind, answer)
        else:
            assert "error" not in answer, (case.kind, answer)
            check_answer(case, **_faces_and_notes(answer))


ARRAYS = {  # name: (array, error regex or None when it must be answered)
    "np.matrix": (lambda: np.matrix(np.full((120, 160), 128.0)), None),
    "bool mask": (lambda: np.ones((120, 160), bool), None),
    "int64 over 255": (lambda: np.full((120, 160, 3), 1000, np.int64), None),
    "float with inf and nan": (lambda: np.array([[np.inf, np.nan] * 80] * 120), "contains NaN or infinite values"),
    "float all nan": (lambda: np.full((100, 100, 3), np.nan, np.float32), "contains NaN or infinite values"),
    "strings": (lambda: np.full((120, 160), "x"), "dtype <U1: expected numbers"),
    "bytes": (lambda: np.full((120, 160), b"x"), "dtype |S1: expected numbers"),
    "datetimes": (lambda: np.zeros((120, 160), "datetime64[s]"), r"dtype datetime64\[s\]: expected numbers"),
    "structured": (lambda: np.zeros((120, 160), [("r", "u1"), ("g", "f4")]), "dtype .*: expected numbers"),
    "objects": (lambda: np.full((120, 160), None, object), "dtype object: expected numbers"),
    "complex": (lambda: np.zeros((120, 160), complex), "dtype complex128: expected numbers"),
    "2000x1": (lambda: np.zeros((1, 2000, 3), np.uint8), "2000x1 px is too thin"),
    "1x2000x4": (lambda: np.zeros((2000, 1, 4), np.uint8), "1x2000 px is too thin"),
}


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix, on purpose
@pytest.mark.parametrize("name", ARRAYS)
def test_api_arrays(recognizer: EmotionRecognizer, name: str) -> None:
    make, error = ARRAYS[name]
    if error:
        with pytest.raises(ImageError, match=error):
            recognizer.predict(make())
    else:
        check_answer(Case(name, "array"), **_faces_and_notes(recognizer.predict(make()).to_dict()))
        assert type(load_image(make())) is np.ndarray and load_image(make()).shape[2] == 3


NOT_IMAGES = {  # inputs of a type load_image does not take: named in an ImageError, never a bare TypeError
    "None": None, "int": 5, "nested list": [[1, 2], [3, 4]], "file object": io.BytesIO(b"\xff\xd8"),
    "tensor": torch.zeros(3, 8, 8),
}


@pytest.mark.parametrize("name", NOT_IMAGES)
def test_api_refuses_inputs_of_other_types_by_name(recognizer: EmotionRecognizer, name: str) -> None:
    source = NOT_IMAGES[name]
    with pytest.raises(ImageError, match=f"^{type(source).__name__}: expected a path, bytes, a PIL image or a numpy"):
        recognizer.predict(source)


def test_api_names_a_path_that_is_not_a_regular_file(recognizer: EmotionRecognizer, tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="not a regular file"):
        recognizer.predict(tmp_path)
    with pytest.raises(ImageError, match="no such file"):
        recognizer.predict(tmp_path / "absent.jpg")
    (tmp_path / "loop.jpg").symlink_to(tmp_path / "loop.jpg")
    with pytest.raises(ImageError, match=r"loop.jpg: cannot be opened \(Too many levels of symbolic links\)"):
        recognizer.predict(tmp_path / "loop.jpg")


LOAD_TIMEOUT_S = 120  # a load that blocks (a FIFO opened for reading) fails the test instead of hanging it


@pytest.fixture(scope="module")
def saved_model(tiny_model: InceptionResNetV2, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("saved") / "model"
    tiny_model.save_pretrained(folder)
    assert (folder / "model.safetensors.index.json").is_file()  # sharded, so the index cases apply
    return folder


def spoiled_copy(saved_model: Path, case: ModelCase, parent: Path) -> Path:
    folder = parent / "model"
    shutil.copytree(saved_model, folder)
    case.spoil(folder)
    return folder


@pytest.mark.parametrize("case", MODEL_CASES, ids=lambda case: case.kind)
def test_api_model_folders(saved_model: Path, case: ModelCase, tmp_path: Path) -> None:
    folder = spoiled_copy(saved_model, case, tmp_path)
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(InceptionResNetV2.from_pretrained, folder)
        with pytest.raises(ModelLoadError, match=case.error) as raised:
            future.result(timeout=LOAD_TIMEOUT_S)
    assert str(folder) in str(raised.value)  # names the folder or the file in it


def test_cli_model_folders(saved_model: Path, corpus: tuple[Path, list[Case]], tmp_path: Path) -> None:
    """Every spoiled folder through ``python -m fer_model predict --model``: exit code 2 and the reason, no hang."""
    folders = [spoiled_copy(saved_model, case, tmp_path / str(index)) for index, case in enumerate(MODEL_CASES)]
    photo = corpus[0] / "gray.jpg"
    script = (
        "import contextlib, io, json, sys\nfrom fer_model.__main__ import main\n"
        "for folder in sys.argv[1:]:\n    err = io.StringIO()\n"
        "    with contextlib.redirect_stderr(err):\n"
        f"        code = main(['predict', '--model', folder, {str(photo)!r}])\n"
        "    print(json.dumps([code, err.getvalue()]), flush=True)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, *map(str, folders)], capture_output=True, text=True,
                            cwd=ROOT, timeout=LOAD_TIMEOUT_S * 3)
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(answers) == len(MODEL_CASES), result.stderr
    for case, (code, stderr) in zip(MODEL_CASES, answers, strict=True):
        assert code == 2 and re.search(case.error, stderr) and "Traceback" not in stderr, (case.kind, code, stderr)
