"""JSON manifests and small state files under the data root."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vectra_capture.store.atomic import atomic_write_json, remove_file
from vectra_capture.store.layout import DataPaths
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


def remove_run_file(paths: DataPaths, name: str) -> None:
    remove_file(paths.run / name)
