"""JSON manifests and small state files under the data root."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from vectra_capture.store.atomic import atomic_write_bytes, atomic_write_json, remove_file
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.root import is_disk_full
from vectra_capture.store.root_context import refresh_root_context


def manifest_path(paths: DataPaths, name: str) -> Path:
    return paths.manifests / f"{name}.json"


def read_manifest(paths: DataPaths, name: str) -> dict[str, Any] | None:
    """None when missing; ValueError (with the path) when it does not parse."""
    path = manifest_path(paths, name)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from exc


def write_manifest(paths: DataPaths, name: str, data: dict[str, Any]) -> Path:
    path = manifest_path(paths, name)
    atomic_write_json(path, data)
    refresh_root_context(paths)  # the root's CONTEXT.md states the schema version and doc_types
    return path


def write_run_file(paths: DataPaths, name: str, data: dict[str, Any]) -> Path:
    path = paths.run / name
    atomic_write_json(path, data)
    return path


STATUS_SLOT_BYTES = 16 << 10


def write_status_file(paths: DataPaths, name: str, data: dict[str, Any]) -> Path:
    """A live status file under run/: replaced atomically, and padded (JSON allows trailing blanks)
    to a fixed size so that on a full disk, where a new file cannot be written, the same blocks
    are overwritten in place instead: `vectra status` can still say the disk is full. A reader
    may then catch a half-written file, so it retries on a parse error."""
    path = paths.run / name
    body = (json.dumps(data, indent=2, sort_keys=True, default=str) + "\n").encode()
    padded = body + b" " * max(0, STATUS_SLOT_BYTES - len(body))
    try:
        atomic_write_bytes(path, padded)
    except OSError as exc:
        if not is_disk_full(exc) or not _overwrite_in_place(path, padded):
            raise
    return path


def _overwrite_in_place(path: Path, data: bytes) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError:
        return False
    try:
        if os.fstat(fd).st_size < len(data):  # would need new blocks
            return False
        os.pwrite(fd, data, 0)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def remove_run_file(paths: DataPaths, name: str) -> None:
    remove_file(paths.run / name)
