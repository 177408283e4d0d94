"""Atomic writes of files and folders: a failure while writing (e.g. a full disk) leaves the previous one intact."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest
import torch

from fer_model import InceptionResNetV2
from fer_model.files import atomic_folder, atomic_write, remove_stale_temp_files
from train.checkpoint import load_checkpoint, save_checkpoint, save_model


def test_failed_write_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"epoch": 3, "weights": torch.ones(4)})

    def disk_full(tmp: Path) -> None:
        tmp.write_bytes(b"half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    message = r"could not write .*checkpoint.pt \(No space left on device\); the previous file is intact"
    with pytest.raises(OSError, match=message):
        atomic_write(path, disk_full)
    assert load_checkpoint(path)["epoch"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # the partial temp file was removed


def test_failed_folder_write_keeps_the_previous_model_folder(tiny_model: InceptionResNetV2, tmp_path: Path) -> None:
    """A save that fails half-way (here: the disk fills after the first file) leaves the previous epoch folder."""
    save_model(tmp_path / "best", tiny_model)
    before = {p.name: p.read_bytes() for p in (tmp_path / "best").iterdir()}
    trained = InceptionResNetV2(**tiny_model.config)

    def half_written(staging: Path) -> None:
        (staging / "config.json").write_text("{}")
        raise OSError(errno.ENOSPC, "No space left on device")

    message = r"could not write .*best \(No space left on device\); the previous file is"
    with pytest.raises(OSError, match=message), atomic_folder(tmp_path / "best") as staging:
        half_written(staging)
    assert {p.name: p.read_bytes() for p in (tmp_path / "best").iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["best"]  # the half-written temp folder was removed
    save_model(tmp_path / "best", trained)  # a successful save replaces the folder as a whole
    loaded = InceptionResNetV2.from_pretrained(tmp_path / "best")
    assert torch.equal(loaded.classifier.weight, trained.classifier.weight)
    assert [p.name for p in tmp_path.iterdir()] == ["best"]


def test_a_kill_between_the_renames_gets_the_previous_folder_back(tiny_model: InceptionResNetV2,
                                                                  tmp_path: Path) -> None:
    """What atomic_folder leaves when killed after moving the old folder aside: the next run's clean-up restores it,
    and deletes a half-written temp folder."""
    save_model(tmp_path / "best", tiny_model)
    (tmp_path / "best").rename(tmp_path / ".best.k3x9_a.old.tmp")
    (tmp_path / ".epoch-002.q1w2e3.tmp").mkdir()
    (tmp_path / ".epoch-002.q1w2e3.tmp" / "config.json").write_text("{")
    removed = remove_stale_temp_files(tmp_path)
    assert sorted(p.name for p in removed) == [".best.k3x9_a.old.tmp", ".epoch-002.q1w2e3.tmp"]
    assert [p.name for p in tmp_path.iterdir()] == ["best"]
    InceptionResNetV2.from_pretrained(tmp_path / "best")


def test_atomic_files_and_folders_get_the_umask_permissions_not_private_ones(tiny_model: InceptionResNetV2,
                                                                            tmp_path: Path) -> None:
    """What another user (the server running the app) needs to read an exported model."""
    previous = os.umask(0o022)
    try:
        save_checkpoint(tmp_path / "checkpoint.pt", {"epoch": 1})
        save_model(tmp_path / "best", tiny_model)
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "checkpoint.pt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "best").stat().st_mode) == 0o755
    for file in (tmp_path / "best").iterdir():  # safetensors itself writes 0600 files
        assert stat.S_IMODE(file.stat().st_mode) == 0o644, file.name
