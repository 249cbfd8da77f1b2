"""Whole-or-nothing file writes: temp name in the same folder, fsync, rename, fsync the folder.

A writer of many small files (the legacy import) can defer the folder fsyncs (`folder_syncs_deferred`):
each folder is then fsynced once, when it calls `sync()` before writing the record that commits those
files (its manifest), instead of once per file."""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from vectra_capture.store.modes import dir_mode, open_private
from vectra_capture.store.remote_path import RemotePath
from vectra_capture.store.upload import delete_object, upload_file

PARTIAL_SUFFIX = ".partial"


def ensure_dir(path: Path) -> Path:
    """Create `path` and any missing parents with the data root's folder mode (private by default).
    An object root has no folders: a RemotePath is returned as it is."""
    if isinstance(path, RemotePath) or path.is_dir():
        return path
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    mode = dir_mode()
    for d in reversed(missing):
        try:
            os.mkdir(d, mode)
        except FileExistsError:  # another process made it meanwhile
            continue
        os.chmod(d, mode)  # mkdir's mode passes through the umask
    if not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "a file is where a folder is expected", str(path))
    return path


# The folders whose fsync waits for the caller's sync() (inside a folder_syncs_deferred block), else None.
_DEFERRED_FOLDERS: ContextVar[set[str] | None] = ContextVar("vectra_deferred_folder_syncs", default=None)


def _fsync_dir(path: Path) -> None:
    pending = _DEFERRED_FOLDERS.get()
    if pending is not None:
        pending.add(os.fspath(path))
        return
    _fsync_dir_now(path)


def _fsync_dir_now(path: Path | str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def folder_syncs_deferred() -> Iterator[Callable[[], None]]:
    """Within the block (this thread or task), the folder fsync that makes a rename or a delete durable
    is done once per folder when the yielded `sync()` is called, and at the end of the block, instead
    of after every file. Files still appear whole or not at all (rename is atomic); what waits is
    only their durability across a power cut, so call `sync()` before writing whatever records
    them as done (a manifest). A folder that cannot be synced any more (removed meanwhile) is skipped."""
    pending: set[str] = set()
    token = _DEFERRED_FOLDERS.set(pending)

    def sync() -> None:
        while pending:
            folder = pending.pop()
            with contextlib.suppress(FileNotFoundError):
                _fsync_dir_now(folder)

    try:
        yield sync
    finally:
        _DEFERRED_FOLDERS.reset(token)
        sync()


def _partial_name(path: Path) -> Path:
    # Hidden and not ending in .parquet/.json, so no glob a reader uses can match it.
    return path.with_name(f".{path.name}.{os.getpid()}{PARTIAL_SUFFIX}")


@contextlib.contextmanager
def _fsynced(path: Path, mode: str) -> Iterator[IO[Any]]:
    """A new owner-only file, flushed and fsynced once the caller has written it."""
    fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, mode) as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


@contextlib.contextmanager
def atomic_writer(path: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Yield a file to write; on success it appears at `path` whole, on error not at all.

    A RemotePath is written to a local staging file first (same guarantees), then uploaded in one
    PUT or one completed multipart upload under its deterministic key (a retry replaces it), and
    the staging file is deleted; a failed upload raises OSError and leaves no object."""
    if isinstance(path, RemotePath):
        staged = _partial_name(path.staging_path())  # per process: concurrent writers never share it
        ensure_dir(staged.parent)
        try:
            with _fsynced(staged, mode) as fh:
                yield fh
            upload_file(staged, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                staged.unlink()
        return
    ensure_dir(path.parent)
    tmp = _partial_name(path)
    try:
        with _fsynced(tmp, mode) as fh:
            yield fh
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_writer(path) as fh:
        fh.write(data)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode())


# Up to this many bytes of Arrow data, a table is encoded in memory and written with one write(): the
# Parquet writer's many small writes into a Python file object cost more CPU than the file itself
# for the small files an import writes by the thousand (same bytes either way).
_BUFFERED_TABLE_BYTES = 64 * 1024 * 1024


def atomic_write_table(path: Path, table: pa.Table, compression: str = "zstd") -> None:
    if table.get_total_buffer_size() > _BUFFERED_TABLE_BYTES:
        with atomic_writer(path) as fh:
            pq.write_table(table, fh, compression=compression)
        return
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression=compression)
    data = sink.getvalue()
    with atomic_writer(path) as fh:
        fh.write(data)


def remove_file(path: Path) -> bool:
    """Delete a file under the data root; True if it existed."""
    if isinstance(path, RemotePath):
        return delete_object(path)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    _fsync_dir(path.parent)
    return True


def remove_empty_dirs(top: Path) -> None:
    """Remove empty folders below (and including) `top`, deepest first (an object root has none)."""
    if isinstance(top, RemotePath) or not top.is_dir():
        return
    for dirpath, _dirnames, _files in sorted(os.walk(top), key=lambda t: -len(t[0])):
        with contextlib.suppress(OSError):
            os.rmdir(dirpath)


def _writer_alive(tmp: Path) -> bool:
    """Temp names carry the writer's pid (`.<name>.<pid>.partial`)."""
    try:
        pid = int(tmp.name[: -len(PARTIAL_SUFFIX)].rsplit(".", 1)[1])
    except (IndexError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_partials(top: Path) -> int:
    """Delete temp files whose writer died mid-write (never those of a live process, such as a
    Dagster run writing a partition right now). Returns how many. An object root holds no temp
    objects (uploads are staged locally, under the local root's upload/)."""
    if isinstance(top, RemotePath) or not top.is_dir():
        return 0
    count = 0
    for tmp in top.rglob(f".*{PARTIAL_SUFFIX}"):
        if _writer_alive(tmp):
            continue
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            count += 1
    return count
