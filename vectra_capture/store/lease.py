"""One writer per store across machines, on an object root: a lease object per writer.

flocks (locks.py) only see processes of one host. On an s3:// root a writer (`capture`: the
capture daemon; `typed-<date>`: one date's derivation; `legacy-import`; `index-<table>`: one
vector table's build) also writes `_leases/<writer>.json` (host, pid, started, heartbeat) when it starts and refreshes the
heartbeat while it runs. A start is refused, naming the host, when another host's lease had a
heartbeat less than `VECTRA_LEASE_MINUTES` (default 5) ago; a clean stop removes the lease, a
crashed host's lease goes stale. This is a guard, not a consensus protocol (S3 has no
compare-and-swap here): the rule it backs is that only one host runs each writer per root
(docs/decisions/0015-object-storage-root.md). Writers are as narrow as what they write, so the
cluster's workers on several hosts derive different dates side by side (decision 0016). A local root has no leases (flocks suffice).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from typing import Any

from vectra_capture.store.atomic import atomic_write_json, remove_file
from vectra_capture.store.layout import DataPaths

log = logging.getLogger(__name__)

LEASE_MINUTES_ENV = "VECTRA_LEASE_MINUTES"
DEFAULT_LEASE_MINUTES = 5.0
HEARTBEAT_SECONDS = 60.0
CAPTURE_WRITER = "capture"
LEGACY_IMPORT_WRITER = "legacy-import"


def derivation_writer(date: str) -> str:
    """The typed partitions of one date (every typed table of it)."""
    return f"typed-{date}"


def index_writer(table: str) -> str:
    return f"index-{table}"


class LeaseHeld(RuntimeError):
    """Another host runs this writer on the same object root."""


def lease_minutes() -> float:
    return float(os.environ.get(LEASE_MINUTES_ENV) or DEFAULT_LEASE_MINUTES)


def read_lease(paths: DataPaths, writer: str) -> dict[str, Any] | None:
    if paths.remote is None:
        return None
    obj = paths.leases / f"{writer}.json"
    try:
        return json.loads(obj.read_text())
    except (FileNotFoundError, ValueError):
        return None
    except OSError as exc:  # pyarrow: a missing key is an OSError too
        if obj.exists():
            raise
        log.debug("no lease %s: %s", obj, exc)
        return None


class Lease:
    def __init__(self, paths: DataPaths, writer: str, heartbeat_seconds: float = HEARTBEAT_SECONDS) -> None:
        self.paths = paths
        self.writer = writer
        self.heartbeat_seconds = heartbeat_seconds
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.started = time.time()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def active(self) -> bool:
        return self.paths.remote is not None

    def acquire(self) -> Lease:
        if not self.active:
            return self
        other = read_lease(self.paths, self.writer)
        if other and other.get("host") != self.host:
            age = time.time() - float(other.get("heartbeat", 0))
            if age < lease_minutes() * 60:
                raise LeaseHeld(
                    f"{self.writer} on {self.paths.location} is running on host {other.get('host')!r} "
                    f"(pid {other.get('pid')}, heartbeat {age:.0f} s ago): only one host may run it per data "
                    f"root; stop it there, or wait {lease_minutes():g} minutes after that host died")
        self._write()
        self._thread = threading.Thread(target=self._beat, name=f"vectra-lease-{self.writer}", daemon=True)
        self._thread.start()
        return self

    def _write(self) -> None:
        atomic_write_json(self.paths.leases / f"{self.writer}.json", {
            "writer": self.writer, "host": self.host, "pid": self.pid, "started": self.started,
            "heartbeat": time.time()})

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                self._write()
            except OSError as exc:  # the object store unreachable for a while: try again next beat
                log.warning("lease heartbeat for %s failed: %s", self.writer, exc)

    def release(self) -> None:
        if not self.active:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        try:
            current = read_lease(self.paths, self.writer)
            if current and current.get("host") == self.host and current.get("pid") == self.pid:
                remove_file(self.paths.leases / f"{self.writer}.json")
        except OSError as exc:
            log.warning("could not remove the lease of %s: %s (it goes stale)", self.writer, exc)

    def __enter__(self) -> Lease:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
