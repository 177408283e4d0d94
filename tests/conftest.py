"""Shared fixtures: small models, synthetic faces built from scikit-image's bundled photos, tiny datasets."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image

from fer_model import InceptionResNetV2

from .corpus import Case, build_corpus

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SHIPPED_MODEL = Path(__file__).resolve().parents[1] / "space" / "model"  # the checkpoint that ships in the repo
TINY_REPEATS = (1, 1, 1)


@pytest.fixture(scope="session", autouse=True)
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Temporary files of the tests and their subprocesses (tempfile, torch, Gradio, multiprocessing) go under pytest's
    own folder, which the "failed" retention policy (pyproject.toml) deletes after a passing run: none stay in /tmp."""
    path = tmp_path_factory.mktemp("tmp")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TMPDIR", str(path))
        patch.setattr(tempfile, "tempdir", str(path))
        yield path


@pytest.fixture(scope="session", autouse=True)
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ONNX exports go to a per-run folder (inherited by the app and CLI subprocesses), not the user's cache."""
    path = tmp_path_factory.mktemp("fer-cache")
    os.environ["FER_CACHE_DIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def tiny_model() -> InceptionResNetV2:
    """A fast 1/1/1-block model at 75 px: the full architecture's every block type, a fraction of the compute."""
    torch.manual_seed(0)
    return InceptionResNetV2(block_repeats=TINY_REPEATS, image_size=75).eval()


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """scikit-image's astronaut photo (public domain, NASA): one clear frontal face at about (175, 76, 91, 91)."""
    return skimage.data.astronaut()


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory, astronaut: np.ndarray) -> tuple[Path, list[Case]]:
    """The bad-input corpus (tests/corpus.py), written once per run: (folder, cases)."""
    folder = tmp_path_factory.mktemp("corpus")
    return folder, build_corpus(folder, astronaut)


@pytest.fixture
def astronaut_jpeg(tmp_path: Path, astronaut: np.ndarray) -> Path:
    path = tmp_path / "astronaut.jpg"
    Image.fromarray(astronaut).save(path, quality=92)
    return path

