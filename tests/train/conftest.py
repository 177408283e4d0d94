"""A tiny learnable dataset in the Kaggle layout, and a helper that runs ``python -m train`` fast."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.synthetic import make_face_folder
from fer_model import EMOTIONS

ROOT = Path(__file__).resolve().parents[2]
FAST_FLAGS = ["--image-size", "75", "--block-repeats", "1", "1", "1", "--batch-size", "8", "--num-workers", "0",
              "--seed", "0"]


@pytest.fixture(scope="session")
def kaggle_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """images/train/<class>/ (6 per class) and images/validation/<class>/ (2 per class)."""
    root = tmp_path_factory.mktemp("kaggle")
    make_face_folder(root / "images" / "train", list(EMOTIONS), per_class=6, seed=1)
    make_face_folder(root / "images" / "validation", list(EMOTIONS), per_class=2, seed=2)
    return root


def run_module(module: str, *args: str, timeout: float = 900, **popen: object) -> subprocess.CompletedProcess:
    """``python -m module args`` from the repo root, output captured."""
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, **popen)
