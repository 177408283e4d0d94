"""Start ``space/app.py`` on a free localhost port in a subprocess, for the server, browser and load tests and the load
benchmark."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from gradio_client import Client

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 240


def app_client(url: str, **kwargs: object) -> Client:
    """A gradio_client for the app at url whose downloads go where gradio_client's default (GRADIO_TEMP_DIR, else the
    temporary folder's gradio/) points when it is called: gradio_client fixes that default when it is imported."""
    downloads = os.environ.get("GRADIO_TEMP_DIR") or os.path.join(tempfile.gettempdir(), "gradio")
    return Client(url, verbose=False, download_files=downloads, **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class RunningApp:
    url: str
    pid: int


@contextmanager
def running_app(
    model_dir: Path | None,
    log_path: Path,
    extra_env: dict[str, str] | None = None,
    app_dir: Path | None = None,
    env: dict[str, str] | None = None,
    options: tuple[str, ...] = (),
) -> Iterator[RunningApp]:
    """Yield the URL and process id of a started app; the process is stopped (SIGTERM) afterwards.

    By default the repository's space/app.py with this environment; ``app_dir``: ``python app.py`` run inside that
    folder (as Hugging Face starts a Space) with exactly ``env``. ``options``: more command-line arguments.
    """
    port = free_port()
    app = "app.py" if app_dir else str(ROOT / "space" / "app.py")
    args = [sys.executable, app, "--port", str(port), *options]
    if model_dir is not None:
        args += ["--model", str(model_dir)]
    env = {**(env if env is not None else {**os.environ, "PYTHONPATH": str(ROOT)}),
           "GRADIO_ANALYTICS_ENABLED": "False", **(extra_env or {})}
    with log_path.open("w") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=app_dir or ROOT)
        url = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise RuntimeError(f"app exited with {process.returncode}:\n{log_path.read_text()}")
                try:
                    if httpx.get(url, timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(1)
            else:
                raise RuntimeError(f"app did not start in {START_TIMEOUT_S} s:\n{log_path.read_text()}")
            yield RunningApp(url, process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
