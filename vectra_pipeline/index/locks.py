"""The index's writer locks (flocks under run/, released by the kernel when a process dies):
one per table, so a CLI build and a Dagster run never write the same table at once, and one for
the checkpoint file, which builds of different tables share."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

from vectra_capture.store import FileLock, LockHeld, lock_path
from vectra_capture.store.layout import DataPaths

CHECKPOINT_LOCK = "vector_checkpoint"
CHECKPOINT_LOCK_WAIT_S = 60.0  # a checkpoint write holds it for milliseconds
POLL_S = 0.02


def table_lock_path(paths: DataPaths, table: str) -> Path:
    return lock_path(paths, f"vectors_{table}")


@contextlib.contextmanager
def held(path: Path, wait_s: float = 0.0) -> Iterator[None]:
    """Hold the lock at `path`, waiting up to wait_s for another holder; LockHeld after that."""
    lock = FileLock(path)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            lock.acquire()
            break
        except LockHeld:
            if time.monotonic() >= deadline:
                raise
            time.sleep(POLL_S)
    try:
        yield
    finally:
        lock.release()


def table_lock(paths: DataPaths, table: str, wait_s: float = 0.0) -> contextlib.AbstractContextManager[None]:
    return held(table_lock_path(paths, table), wait_s)


def checkpoint_lock(paths: DataPaths, wait_s: float = CHECKPOINT_LOCK_WAIT_S) -> contextlib.AbstractContextManager[None]:
    return held(lock_path(paths, CHECKPOINT_LOCK), wait_s)
