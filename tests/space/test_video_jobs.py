"""Video jobs in the Space: freed when the client goes away (the next user does not wait), clear errors."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from devtools.app_server import app_client, running_app
from fer_model import InceptionResNetV2

from ..fer_model.test_video import write_clip

START_TIMEOUT_S = 240


def test_a_killed_clients_video_job_stops_and_the_next_one_runs(tiny_model: InceptionResNetV2, astronaut: np.ndarray,
                                                                 tmp_path: Path) -> None:
    tiny_model.save_pretrained(tmp_path / "model")
    frame = astronaut[:256, 64:320]
    long_clip = write_clip(tmp_path / "long.webm", frame, frames=8 * 28)  # 28 s: 112 samples
    short_clip = write_clip(tmp_path / "short.webm", frame, frames=16)
    work = tmp_path / "tmp"
    work.mkdir()
    with running_app(tmp_path / "model", tmp_path / "app.log", extra_env={"TMPDIR": str(work)}) as app:
        code = f"from gradio_client import Client, handle_file; " \
               f"Client({app.url!r}).predict(handle_file({str(long_clip)!r}), api_name='/video')"
        abandoned = subprocess.Popen([sys.executable, "-c", code])
        deadline = time.monotonic() + START_TIMEOUT_S
        while not list(work.glob("fer-space-*/*/annotated.webm")) and time.monotonic() < deadline:
            time.sleep(0.2)  # the job has started once its annotated video is open
        (first,) = [path.parent for path in work.glob("fer-space-*/*/annotated.webm")]
        abandoned.kill()
        abandoned.wait()
        started = time.monotonic()
        _plot, _video, table = app_client(app.url).predict(handle_file(str(short_clip)), api_name="/video")
        assert len(Path(table).read_text().splitlines()) == 1 + 8  # the next user's 2 s clip: 8 samples
        # Had the abandoned job gone on (112 samples, 14 times the short clip), it would finish well within this:
        window_s = max(30.0, 2 * 14 * (time.monotonic() - started))
        while time.monotonic() - started < window_s:
            assert not (first / "emotions.csv").exists(), "the abandoned video job ran to the end"
            time.sleep(1)


def test_a_two_pixel_high_video_is_a_clear_error_not_a_missing_file(app_url: str, tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "thin.avi", np.full((2, 2000, 3), 120, np.uint8), frames=8, fourcc="MJPG")
    with pytest.raises(AppError, match=r"thin\.avi: 2000x2 px; a video needs at least 16 px a side"):
        app_client(app_url).predict(handle_file(str(clip)), api_name="/video")
