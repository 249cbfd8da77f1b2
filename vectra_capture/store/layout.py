"""Where everything lives under the data root. The only place paths are derived.

The data root is a local folder, or an S3-compatible prefix (`RUGS_DATA_DIR=s3://bucket/prefix`).
On an object root the canonical stores (events_parquet/, quarantine/, manifests/, vectors/) are
`RemotePath`s there, and what cannot live on object storage (spool, locks, run/status files,
caches, exports, upload staging) stays in a local folder: `root`, from `--spool-dir` /
`VECTRA_LOCAL_DIR`, by default ~/.local/state/vectra/<bucket>/<prefix>.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from vectra_capture.store.objectstore import ObjectRoot, is_object_uri, mark_in_use
from vectra_capture.store.remote_path import RemotePath

DATA_DIR_ENV = "RUGS_DATA_DIR"
LEGACY_DIR_ENV = "RUGS_LEGACY_DIR"
LOCAL_DIR_ENV = "VECTRA_LOCAL_DIR"

StorePath = Union[Path, RemotePath]  # noqa: UP007 - a runtime alias, read by isinstance-free code


def default_data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV) or Path.home() / "rugs_data").expanduser()


def default_local_dir(remote: ObjectRoot) -> Path:
    """The local folder of an object root: $VECTRA_LOCAL_DIR, else
    $XDG_STATE_HOME/vectra/<bucket>/<prefix> (~/.local/state/...)."""
    if os.environ.get(LOCAL_DIR_ENV):
        return Path(os.environ[LOCAL_DIR_ENV]).expanduser()
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state").expanduser()
    return state / "vectra" / remote.bucket / remote.prefix


def default_legacy_dir() -> Path:
    return Path(os.environ.get(LEGACY_DIR_ENV) or Path.home() / "rugs_recordings").expanduser()


@dataclass(frozen=True)
class DataPaths:
    """Every path under one data root. `root` is the local folder; `remote` the object root, if any."""

    root: Path
    remote: ObjectRoot | None = None

    @classmethod
    def resolve(cls, data_dir: str | Path | None = None, local_dir: str | Path | None = None) -> DataPaths:
        text = str(data_dir) if data_dir else os.environ.get(DATA_DIR_ENV)
        if is_object_uri(text):
            remote = ObjectRoot.parse(text)  # type: ignore[arg-type]
            mark_in_use(remote)
            local = Path(local_dir).expanduser() if local_dir else default_local_dir(remote)
            return cls(local.resolve(), remote)
        return cls(Path(data_dir).expanduser().resolve() if data_dir else default_data_dir().resolve())

    @property
    def location(self) -> str:
        """The data root as a person names it: the folder, or the s3:// URI."""
        return self.remote.uri if self.remote else str(self.root)

    def canonical(self, relative: str) -> StorePath:
        """A canonical store's folder: on the object root when there is one, else under root."""
        if self.remote is not None:
            return RemotePath(self.remote, relative, self.root)
        return self.root / relative

    @property
    def data_root(self) -> StorePath:
        return self.canonical("")

    @property
    def leases(self) -> StorePath:
        """Object roots only: one lease object per writer (store/lease.py)."""
        return self.canonical("_leases")

    @property
    def spool(self) -> Path:
        return self.root / "spool"

    @property
    def events_parquet(self) -> StorePath:
        return self.canonical("events_parquet")

    @property
    def quarantine(self) -> StorePath:
        return self.canonical("quarantine")

    @property
    def vectors(self) -> StorePath:
        return self.canonical("vectors")

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def manifests(self) -> StorePath:
        return self.canonical("manifests")

    @property
    def run(self) -> Path:
        """Live files of running processes (daemon status, locks)."""
        return self.root / "run"

    @property
    def capture_status(self) -> Path:
        """Refreshed every second by the running capture daemon (read by `vectra status`)."""
        return self.run / "capture-status.json"

    @property
    def capture_lock(self) -> Path:
        """Held by the one capture daemon writing into this root."""
        return self.run / "capture.lock"

    def doc_type_dir(self, doc_type: str) -> StorePath:
        return self.events_parquet / f"doc_type={doc_type}"

    def partition_dir(self, doc_type: str, date: str) -> StorePath:
        return self.doc_type_dir(doc_type) / f"date={date}"

    def glob(self, doc_type: str = "*") -> str:
        """A read_parquet glob for DuckDB over one doc_type (or all)."""
        return str(self.events_parquet / f"doc_type={doc_type}" / "date=*" / "*.parquet")
