"""What ``pip install`` gives a user: the built wheel in a fresh venv, ``fer-model`` run from another folder.

Offline and fast: the wheel is built without build isolation, installed with ``--no-deps --no-index``, and the fresh
venv finds its dependencies through a ``.pth`` line naming this venv's site-packages (after its own, so ``fer_model``
comes from the wheel). A separate check proves that every module the CLI imports belongs to a declared dependency.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from fer_model.recognizer import DEFAULT_REPO_ID

from ..conftest import SHIPPED_MODEL

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not (SHIPPED_MODEL / "config.json").is_file(), reason="no shipped model")


def run(*args: object, **kwargs: object) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only the wheel installed (dependencies borrowed, see the module docstring)."""
    work = tmp_path_factory.mktemp("install")
    source = work / "source"  # a copy, so the build leaves nothing in the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "fer_model", source / "fer_model", ignore=shutil.ignore_patterns("__pycache__"))
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
        "-w", work / "dist", source)
    (wheel,) = (work / "dist").glob("fer_model-*.whl")
    run(sys.executable, "-m", "venv", "--without-pip", work / "venv")
    python = work / "venv" / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel)
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    (site / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return work / "venv"


@pytest.fixture
def user(tmp_path: Path, astronaut_jpeg: Path) -> tuple[Path, dict[str, str]]:
    """A working folder outside the checkout holding photo.jpg, and a clean offline environment."""
    home = tmp_path / "home"
    (home / "photos").mkdir(parents=True)
    shutil.copy2(astronaut_jpeg, home / "photos" / "photo.jpg")
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "HF_HUB_OFFLINE": "1",
           "HF_HUB_CACHE": str(tmp_path / "hub"), "FER_CACHE_DIR": os.environ["FER_CACHE_DIR"],
           "TMPDIR": os.environ["TMPDIR"]}
    return home, env


def cli(venv: Path, home: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / "fer-model"), *args], capture_output=True, text=True, timeout=600,
                          cwd=home, env=env)


def test_the_package_comes_from_the_wheel(venv: Path) -> None:
    result = run(venv / "bin" / "python", "-c", "import fer_model; print(fer_model.__file__)", cwd=venv)
    assert Path(result.stdout.strip()).is_relative_to(venv)


def test_installed_cli_predicts_from_another_folder_with_model(venv: Path, user: tuple[Path, dict]) -> None:
    home, env = user
    result = cli(venv, home, env, "predict", "photos", "--model", str(SHIPPED_MODEL), "--json")
    assert result.returncode == 0, result.stderr
    (line,) = [json.loads(text) for text in result.stdout.splitlines()]
    assert line["path"] == "photos/photo.jpg" and line["face_detected"]
    assert line["faces"][0]["label"] == "happy" and line["faces"][0]["probabilities"]["happy"] > 0.5


def test_installed_cli_without_model_offline_says_what_to_pass(venv: Path, user: tuple[Path, dict]) -> None:
    home, env = user
    result = cli(venv, home, env, "predict", "photos/photo.jpg")
    assert result.returncode == 2
    assert result.stdout == ""
    (error,) = result.stderr.strip().splitlines()[-1:]
    assert error.startswith(f"error: no model given, and the default model {DEFAULT_REPO_ID}")
    assert "--model PATH_OR_REPO_ID" in error and "Traceback" not in result.stderr


def test_installed_cli_without_model_uses_the_cached_default(venv: Path, user: tuple[Path, dict],
                                                             tmp_path: Path) -> None:
    home, env = user
    repo = tmp_path / "hub" / f"models--{DEFAULT_REPO_ID.replace('/', '--')}"
    snapshot = repo / "snapshots" / ("0" * 40)  # as huggingface_hub caches a download: snapshot links, refs/main
    snapshot.mkdir(parents=True)
    for file in SHIPPED_MODEL.iterdir():
        (snapshot / file.name).symlink_to(file)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    result = cli(venv, home, env, "predict", "photos/photo.jpg")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("photos/photo.jpg: happy")


CHECK_IMPORTS = """
import json, sys
from importlib import metadata
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from fer_model.__main__ import main

OPTIONAL = {"brotli", "_brotli"}  # httpx2 imports these when they are installed, and does without them
assert main(sys.argv[1:-1]) == 0  # the last argument is the borrowed site-packages
def closure(names):
    seen, todo = set(), list(names)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [r.name for r in map(Requirement, requires) if r.marker is None or r.marker.evaluate({"extra": ""})]
    return seen
declared = closure(["fer-model"])
owners = {}  # top-level module -> the distributions whose RECORD holds it
for dist in metadata.distributions():
    for file in dist.files or []:
        top = file.parts[0].split(".")[0]
        owners.setdefault(top, set()).add(dist.metadata["Name"])
borrowed = sys.argv[-1]
imported = {name.split(".")[0] for name, module in list(sys.modules.items())
            if (getattr(module, "__file__", None) or "").startswith(borrowed)}
undeclared = {top for top in imported - OPTIONAL
              if not any(canonicalize_name(dist) in declared for dist in owners.get(top, []))}
print(json.dumps(sorted(undeclared)))
"""


def test_every_module_the_cli_imports_is_a_declared_dependency(venv: Path, user: tuple[Path, dict]) -> None:
    home, env = user
    args = ["predict", "photos/photo.jpg", "--model", str(SHIPPED_MODEL), "--json"]
    borrowed = sysconfig.get_paths()["purelib"]
    result = subprocess.run([str(venv / "bin" / "python"), "-c", CHECK_IMPORTS, *args, borrowed],
                            capture_output=True, text=True, timeout=600, cwd=home, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.splitlines()[-1]) == []

