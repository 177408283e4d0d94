"""Atomic file writes: a crash, a kill or a full disk never leaves a half-written file in place."""

from __future__ import annotations

import errno
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from safetensors import SafetensorError


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temp file beside ``path``, fsync it, then rename over ``path``.

    A crash or a full disk leaves the previous ``path`` untouched; the temp file is removed on failure.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        if isinstance(error, (OSError, SafetensorError)):  # safetensors reports a full disk as its own error
            if isinstance(error, OSError):
                code, reason = error.errno or errno.EIO, error.strerror
            else:  # "... I/O error: No space left on device (os error 28)"
                found = re.search(r"os error (\d+)", str(error))
                code, reason = int(found.group(1)) if found else errno.EIO, str(error)
            raise OSError(code, f"could not write {path} ({reason}); the previous file is intact") from error
        raise


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Delete the temp files that writers killed mid-write left in ``folder``; call only when no writer runs there."""
    stale = [path for path in folder.glob(".*.tmp") if path.is_file()] if folder.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale
