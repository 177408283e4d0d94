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
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise _write_error(path, error.errno or errno.EIO, error.strerror) from error
    except SafetensorError as error:  # safetensors reports a full disk as "... (os error 28)"
        tmp.unlink(missing_ok=True)
        found = re.search(r"os error (\d+)", str(error))
        raise _write_error(path, int(found.group(1)) if found else errno.EIO, str(error)) from error
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_error(path: Path, code: int, reason: str) -> OSError:
    """The error of a failed atomic write: what failed, why, and that the previous file survived."""
    return OSError(code, f"could not write {path} ({reason}); the previous file is intact")


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Delete the temp files that writers killed mid-write left in ``folder``; call only when no writer runs there."""
    stale = [path for path in folder.glob(".*.tmp") if path.is_file()] if folder.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale
