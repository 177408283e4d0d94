"""A running app (tiny model, so it starts fast) shared by the space tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fer_model import InceptionResNetV2

from .server import running_app


@pytest.fixture(scope="session")
def app_url(tiny_model: InceptionResNetV2, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("app")
    tiny_model.save_pretrained(folder / "model")
    with running_app(folder / "model", folder / "app.log") as url:
        yield url
