"""A running app (tiny model, so it starts fast) shared by the space tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fer_model import InceptionResNetV2

from .server import RunningApp, running_app


@pytest.fixture(scope="session")
def app(tiny_model: InceptionResNetV2, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    folder = tmp_path_factory.mktemp("app")
    tiny_model.save_pretrained(folder / "model")
    with running_app(folder / "model", folder / "app.log") as started:
        yield started


@pytest.fixture(scope="session")
def app_url(app: RunningApp) -> str:
    return app.url
