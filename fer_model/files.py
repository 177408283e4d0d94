"""Atomic file and folder writes: a crash, a kill or a full disk never leaves a half-written file in place."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from safetensors import SafetensorError


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temp file beside ``path``, fsync it, then rename over ``path``.

    A crash or a full disk leaves the previous ``path`` untouched; the temp file is removed on failure.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would keep the file from other users, unlike a plain write
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        _raise_write_error(path, error)
        raise


@contextlib.contextmanager
def atomic_folder(path: Path) -> Iterator[Path]:
    """Yield an empty temp folder beside ``path`` to fill; on success its files are fsynced and it replaces ``path``.

    A crash, a kill or a full disk leaves the previous ``path`` untouched (the temp folder is removed on failure, or
    by ``remove_stale_temp_files`` after a kill).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    staging.chmod(0o777 & ~_umask())  # mkdtemp's 0700, as a plain mkdir would not
    previous = staging.with_name(staging.name.removesuffix(".tmp") + ".old.tmp")
    try:
        yield staging
        for file in staging.rglob("*"):  # writers such as safetensors create 0600 files: give them the umask's mode
            if file.is_file() and not file.is_symlink():
                file.chmod(0o666 & ~_umask())
                with open(file, "rb") as handle:
                    os.fsync(handle.fileno())
            elif file.is_dir() and not file.is_symlink():
                file.chmod(0o777 & ~_umask())
        if path.exists():
            path.rename(previous)
        staging.rename(path)
        shutil.rmtree(previous, ignore_errors=True)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        if previous.exists() and not path.exists():  # failed between the two renames: put the old folder back
            previous.rename(path)
        _raise_write_error(path, error)
        raise


def _umask() -> int:
    """The process's umask, read without setting it (``os.umask`` can only set it, racing other threads)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def _raise_write_error(path: Path, error: BaseException) -> None:
    """Re-raise a failed write's OSError (or safetensors' "... (os error 28)") as one naming what failed, why, and
    that the previous file survived; other exceptions are left to the caller."""
    if isinstance(error, OSError):
        code, reason = error.errno or errno.EIO, error.strerror or str(error)
    elif isinstance(error, SafetensorError):
        found = re.search(r"os error (\d+)", str(error))
        code, reason = int(found.group(1)) if found else errno.EIO, str(error)
    else:
        return
    raise OSError(code, f"could not write {path} ({reason}); the previous file is intact") from error


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Delete the temp files and folders that writers killed mid-write left in ``folder``; call only when no writer
    runs there."""
    stale = sorted(folder.glob(".*.tmp")) if folder.is_dir() else []
    for path in stale:
        replaced = folder / path.name[1:].removesuffix(".old.tmp").rsplit(".", 1)[0]
        if path.name.endswith(".old.tmp") and path.is_dir() and not replaced.exists():
            path.rename(replaced)  # killed between atomic_folder's two renames: the previous folder comes back
        elif path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return stale
