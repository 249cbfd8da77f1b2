"""Is the data root usable? One check for every command, and one sentence for every storage error.

`check_data_root` runs before a command touches the root: a file where the folder should be, a
folder it cannot read, a read-only file system or a full disk become a `DataRootError` whose
message says what is wrong and what to do (the CLI prints it and exits 2, no traceback).
`storage_problem` gives the same kind of sentence for an OSError met later, mid-command.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from pathlib import Path

from vectra_capture.store.atomic import ensure_dir
from vectra_capture.store.layout import DATA_DIR_ENV, DataPaths
from vectra_capture.store.modes import DATA_MODE_ENV, DataModeError, dir_mode, open_private

log = logging.getLogger(__name__)

FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
STORAGE_ERRNOS = FULL_ERRNOS | {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EIO}
PROBE_BYTES = 64 << 10  # a write this small must succeed for a command to start writing
_warned_open: set[Path] = set()


class DataRootError(RuntimeError):
    """The data root cannot be used; the message says what is wrong and what to do."""


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in FULL_ERRNOS


def storage_problem(exc: OSError, root: Path | None = None) -> str | None:
    """One line for an OSError caused by the storage under the data root, None for any other error."""
    where = exc.filename or root or "the data root"
    if exc.errno in FULL_ERRNOS:
        return (f"the disk holding {where} is full ({exc.strerror}): free some space, or point "
                f"{DATA_DIR_ENV} (--data-dir) at another disk, and run again")
    if exc.errno == errno.EROFS:
        return (f"{where} is on a read-only file system: remount it read-write, or point "
                f"{DATA_DIR_ENV} (--data-dir) at a writable folder")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"no permission for {where}: fix its owner or mode, or point {DATA_DIR_ENV} (--data-dir) elsewhere"
    if exc.errno == errno.ENOTDIR:
        return (f"{where}: a file is where a folder is expected: point {DATA_DIR_ENV} (--data-dir) at a "
                f"folder (or move the file away)")
    if exc.errno == errno.EIO:
        return f"input/output error on {where}: check the disk (dmesg) before running again"
    return None


def check_data_root(paths: DataPaths, write: bool = False, allow_full: bool = False) -> DataPaths:
    """Raise DataRootError unless the root can be read (and, with `write`, created and written).

    `allow_full` is for the capture daemon, which buffers in memory and retries on a full disk
    instead of refusing to start."""
    if paths.remote is not None:
        check_object_root(paths)
    root = paths.root
    try:
        dir_mode()
    except DataModeError as exc:
        raise DataRootError(str(exc)) from None
    if root.exists() and not root.is_dir():
        raise DataRootError(f"the data root {root} is a file, not a folder: point {DATA_DIR_ENV} "
                            f"(or --data-dir) at a folder")
    if not write:
        if root.exists() and not os.access(root, os.R_OK | os.X_OK):
            raise DataRootError(f"cannot read the data root {root}: fix its owner or mode, or point "
                                f"{DATA_DIR_ENV} (--data-dir) elsewhere")
        return paths
    try:
        ensure_dir(root)
        _probe_write(root)
    except OSError as exc:
        if allow_full and is_disk_full(exc):
            log.warning("the disk holding %s is full: capturing into memory until space is back", root)
            return paths
        raise DataRootError(storage_problem(exc, root) or f"cannot write in the data root {root}: {exc}") from None
    _warn_if_open(root)
    return paths


def check_object_root(paths: DataPaths) -> None:
    """The bucket of an s3:// root exists and answers (checked once per command, like the folder)."""
    from pyarrow import fs as pafs

    assert paths.remote is not None
    where = f"{paths.location} (endpoint {paths.remote.settings.endpoint_url or 'AWS default'})"
    try:
        info = paths.data_root.fs.get_file_info(paths.remote.bucket)  # type: ignore[union-attr]
    except OSError as exc:
        raise DataRootError(f"cannot reach the object-storage root {where}: {exc}; check AWS_ENDPOINT_URL, "
                            f"the credentials and the network") from None
    if info.type == pafs.FileType.NotFound:
        raise DataRootError(f"the bucket of {where} does not exist: create it, or point {DATA_DIR_ENV} "
                            f"(--data-dir) at another s3://bucket/prefix") from None


def _probe_write(root: Path) -> None:
    """Write, fsync and delete a small file: catches read-only mounts, missing permission (which
    os.access misses for root on some mounts) and a full disk before any real work starts."""
    probe = root / f".write-probe.{os.getpid()}"
    fd = open_private(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        os.write(fd, b"\0" * PROBE_BYTES)
        os.fsync(fd)
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(probe)


def _warn_if_open(root: Path) -> None:
    """A root made before (or by hand) may be readable by others: say so once, change nothing."""
    with contextlib.suppress(OSError):
        extra = os.stat(root).st_mode & 0o777 & ~dir_mode()
        if extra and root not in _warned_open:
            _warned_open.add(root)
            log.warning("the data root %s is readable by others (mode %o): `chmod %o %s` makes it private "
                        "(or set %s)", root, os.stat(root).st_mode & 0o777, dir_mode(), root, DATA_MODE_ENV)
