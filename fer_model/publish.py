"""Publishing: a model folder as a Hub model repo, and the demo as a self-contained Hugging Face Space bundle.

The bundle is what the Space runs (``python app.py`` in its folder, no network needed at start): the app, its README
header and examples, this ``fer_model`` package, the model in ``model/``, and requirements pinned to the versions
installed here (the ones the tests ran with).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

from huggingface_hub import HfApi
from packaging.requirements import InvalidRequirement, Requirement

from .files import atomic_folder
from .model import InceptionResNetV2

LIBRARY_DIR = Path(__file__).resolve().parent
SPACE_FILES = ("app.py", "README.md", "examples")  # copied from the space folder; requirements.txt is pinned
MODEL_PATTERNS = ["README.md", "config.json", "*.safetensors", "model.safetensors.index.json", "*.png", "*.csv"]
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


class PublishError(ValueError):
    """A space or model folder that cannot be bundled or published; the message names the file and the fix."""


def pinned_requirements(text: str) -> str:
    """Each requirement of a requirements.txt as ``name==installed version`` (comments kept)."""
    lines = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            lines.append(line)
            continue
        try:
            name = Requirement(line.split("#")[0].strip()).name
            lines.append(f"{name}=={metadata.version(name)}")
        except InvalidRequirement as error:
            raise PublishError(f"requirements.txt: {line!r} is not a requirement ({error})") from error
        except metadata.PackageNotFoundError as error:
            raise PublishError(f"requirements.txt: {name} is not installed here, so it cannot be pinned") from error
    return "\n".join(lines) + "\n"


def pinned_readme(text: str) -> str:
    """The Space README with its ``sdk_version`` set to the installed Gradio (the Space installs that one)."""
    return re.sub(r"(?m)^sdk_version:.*$", f"sdk_version: {metadata.version('gradio')}", text, count=1)


def build_space_bundle(space_dir: Path, model_dir: Path, out: Path) -> Path:
    """Write ``out`` (replaced if present): app.py, README.md, examples/, requirements.txt, fer_model/, model/."""
    for name in (*SPACE_FILES, "requirements.txt"):
        if not (space_dir / name).exists():
            raise PublishError(f"{space_dir / name}: missing; pass the repository's space/ folder")
    InceptionResNetV2.from_pretrained(model_dir)  # refuse to bundle a model that does not load
    with atomic_folder(out) as staging:
        shutil.copy2(space_dir / "app.py", staging / "app.py")
        shutil.copytree(space_dir / "examples", staging / "examples", ignore=IGNORED)
        (staging / "README.md").write_text(pinned_readme((space_dir / "README.md").read_text()))
        (staging / "requirements.txt").write_text(pinned_requirements((space_dir / "requirements.txt").read_text()))
        shutil.copytree(LIBRARY_DIR, staging / "fer_model", ignore=IGNORED)
        shutil.copytree(model_dir, staging / "model", ignore=IGNORED)
    return out


def publish_model(api: HfApi, model_dir: Path, repo_id: str, private: bool = False) -> str:
    """Upload a ``save_pretrained`` folder (weights, config, card naming ``repo_id``, figures); returns the commit."""
    model = InceptionResNetV2.from_pretrained(model_dir)
    with tempfile.TemporaryDirectory() as tmp:
        upload = Path(tmp) / "model"
        shutil.copytree(model_dir, upload, ignore=IGNORED)
        model.generate_model_card(repo_id=repo_id).save(upload / "README.md")
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        commit = api.upload_folder(folder_path=upload, repo_id=repo_id, repo_type="model",
                                   allow_patterns=MODEL_PATTERNS, commit_message="Upload facial emotion model")
    return commit.commit_url


def publish_space(api: HfApi, space_dir: Path, model_dir: Path, repo_id: str, private: bool = False) -> str:
    """Build the Space bundle and upload it as a Gradio Space; returns the commit URL."""
    with tempfile.TemporaryDirectory() as tmp:
        bundle = build_space_bundle(space_dir, model_dir, Path(tmp) / "space")
        api.create_repo(repo_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
        commit = api.upload_folder(folder_path=bundle, repo_id=repo_id, repo_type="space",
                                   commit_message="Upload the facial emotion recognition demo")
    return commit.commit_url
