"""The bad-input corpus through the Space's /predict: a readable message or an answer, and the server stays up."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from devtools.app_server import app_client, running_app
from fer_model import InceptionResNetV2

from ..corpus import CASES, MODEL_CASES, Case

GOOD = Path(__file__).resolve().parents[2] / "space" / "examples" / "astronaut-face.jpg"


@pytest.fixture(scope="module")
def client(app_url: str) -> Client:
    return app_client(app_url)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.kind)
def test_predict(client: Client, corpus: tuple[Path, list[Case]], case: Case) -> None:
    folder, _ = corpus
    upload = handle_file(str(folder / case.file))
    if case.error:
        with pytest.raises(AppError, match=case.error) as raised:
            client.predict(upload, api_name="/predict")
        message = str(raised.value)
        assert message.startswith("That file can't be used.") and case.file in message
        assert str(folder) not in message  # the server's paths are not shown
        _, _, answer, _ = client.predict(handle_file(str(GOOD)), api_name="/predict")  # the next request works
        assert answer["face_detected"]
    else:
        _, label, answer, note = client.predict(upload, api_name="/predict")
        assert sum(confidence["confidence"] for confidence in label["confidences"]) == pytest.approx(1.0, abs=1e-3)
        if case.faces is not None:
            assert sum(face["box"] is not None for face in answer["faces"]) == case.faces, case.kind
        if case.note is not None:
            assert re.search(case.note, note), (case.kind, note)


@pytest.mark.parametrize("kind", ["metrics a list", "training a string", "metrics without accuracy"])
def test_spoiled_model_metadata_stops_the_app_at_start_with_the_reason(tiny_model: InceptionResNetV2, tmp_path: Path,
                                                                      kind: str) -> None:
    (case,) = [case for case in MODEL_CASES if case.kind == kind]
    tiny_model.save_pretrained(tmp_path / "model")
    case.spoil(tmp_path / "model")
    with (pytest.raises(RuntimeError, match=rf"app exited with [12]:[\s\S]*{case.error}"),
          running_app(tmp_path / "model", tmp_path / "app.log")):
        pass
