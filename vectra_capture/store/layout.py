"""Where everything lives under the data root. The only place paths are derived."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DATA_DIR_ENV = "RUGS_DATA_DIR"
LEGACY_DIR_ENV = "RUGS_LEGACY_DIR"


def default_data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV) or Path.home() / "rugs_data").expanduser()


def default_legacy_dir() -> Path:
    return Path(os.environ.get(LEGACY_DIR_ENV) or Path.home() / "rugs_recordings").expanduser()


@dataclass(frozen=True)
class DataPaths:
    """Every path under one data root."""

    root: Path

    @classmethod
    def resolve(cls, data_dir: str | Path | None = None) -> DataPaths:
        return cls(Path(data_dir).expanduser().resolve() if data_dir else default_data_dir().resolve())

    @property
    def spool(self) -> Path:
        return self.root / "spool"

    @property
    def events_parquet(self) -> Path:
        return self.root / "events_parquet"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def vectors(self) -> Path:
        return self.root / "vectors"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def manifests(self) -> Path:
        return self.root / "manifests"

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

    def doc_type_dir(self, doc_type: str) -> Path:
        return self.events_parquet / f"doc_type={doc_type}"

    def partition_dir(self, doc_type: str, date: str) -> Path:
        return self.doc_type_dir(doc_type) / f"date={date}"

    def glob(self, doc_type: str = "*") -> str:
        """A read_parquet glob for DuckDB over one doc_type (or all)."""
        return str(self.events_parquet / f"doc_type={doc_type}" / "date=*" / "*.parquet")
