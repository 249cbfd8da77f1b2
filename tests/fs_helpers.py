"""Small real file systems for the disk-full and read-only tests: a tmpfs mounted by the test
(needs root, as CI runs; skipped with the reason otherwise), and a filler that keeps it full."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def tmpfs(path: Path, size: str, read_only: bool = False) -> Iterator[Path]:
    """A tmpfs of `size` (e.g. "16m") mounted at `path` for the duration of the block."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs (CI runs the suite as root)")
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size},mode=0755" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def remount(path: Path, read_only: bool) -> None:
    subprocess.run(["mount", "-o", f"remount,{'ro' if read_only else 'rw'}", str(path)], check=True)


def fill_to_the_last_byte(fd: int) -> int:
    """Append to `fd` until the file system says ENOSPC; returns the bytes written."""
    total = 0
    for size in (1 << 20, 1 << 12, 1):
        block = b"\0" * size
        while True:
            try:
                total += os.write(fd, block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
    return total


class Filler:
    """Keeps a file system full: a thread tops the filler file up every 50 ms (the daemon under
    test frees space now and then, e.g. when a compacted segment is deleted). `release()` stops
    and deletes the filler: space is back."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "filler.bin"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        self._stop = threading.Event()
        fill_to_the_last_byte(self._fd)
        self._thread = threading.Thread(target=self._top_up, daemon=True)
        self._thread.start()

    def _top_up(self) -> None:
        while not self._stop.wait(0.05):
            fill_to_the_last_byte(self._fd)

    def release(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(5)
        os.close(self._fd)
        self.path.unlink()

    def __enter__(self) -> Filler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def resize(path: Path, size: str) -> None:
    """Grow (or shrink) a mounted tmpfs: space comes back without deleting anything."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True)
