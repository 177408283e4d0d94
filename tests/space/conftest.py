"""A running app (tiny model, so it starts fast) shared by the space tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.app_server import RunningApp, running_app
from fer_model import InceptionResNetV2


@pytest.fixture(scope="session")
def gradio_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app's Gradio file cache (GRADIO_TEMP_DIR), where uploads and served result files are written."""
    return tmp_path_factory.mktemp("gradio-cache")


@pytest.fixture(scope="session")
def app(tiny_model: InceptionResNetV2, tmp_path_factory: pytest.TempPathFactory,
        gradio_cache: Path) -> Iterator[RunningApp]:
    folder = tmp_path_factory.mktemp("app")
    tiny_model.save_pretrained(folder / "model")
    with running_app(folder / "model", folder / "app.log", {"GRADIO_TEMP_DIR": str(gradio_cache)}) as started:
        yield started


@pytest.fixture(scope="session")
def app_url(app: RunningApp) -> str:
    return app.url
