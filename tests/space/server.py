"""Start ``space/app.py`` on a free localhost port in a subprocess, for the server and browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 240


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
    model_dir: Path | None, log_path: Path, extra_env: dict[str, str] | None = None
) -> Iterator[RunningApp]:
    """Yield the URL and process id of a started app; the process is stopped (SIGTERM) afterwards."""
    port = free_port()
    args = [sys.executable, str(ROOT / "space" / "app.py"), "--port", str(port)]
    if model_dir is not None:
        args += ["--model", str(model_dir)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False", **(extra_env or {})}
    with log_path.open("w") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
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
