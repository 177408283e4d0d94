"""Atomic writes: a failure while writing (e.g. a full disk) leaves the previous file intact and says so."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import torch

from train.checkpoint import atomic_write, load_checkpoint, save_checkpoint


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
