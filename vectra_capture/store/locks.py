"""Advisory locks under run/: one capture daemon per data root, one writer per derived table."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from vectra_capture.store.atomic import ensure_dir
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.modes import open_private


class LockHeld(RuntimeError):
    pass


class FileLock:
    """An flock held for the life of the process (or until release); the kernel drops it on death."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> FileLock:
        ensure_dir(self.path.parent)
        fd = open_private(self.path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockHeld(f"{self.path} is held by another process") from None
        with contextlib.suppress(OSError):  # the pid is only informative: a full disk must not stop the lock
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FileLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def is_locked(path: Path) -> bool:
    """True when some live process holds the lock at `path`."""
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def lock_path(paths: DataPaths, name: str) -> Path:
    return paths.run / f"{name}.lock"
