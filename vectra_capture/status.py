"""Reading the running daemon's status file (written once a second by its writer thread)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from vectra_capture.store.layout import DataPaths
from vectra_capture.store.locks import is_locked

STALE_AFTER_SECONDS = 10.0
READ_ATTEMPTS = 5


def read_status(paths: DataPaths) -> dict[str, Any]:
    """The daemon's last status plus `running` (its lock is held) and `stale` (no update lately)."""
    running = is_locked(paths.capture_lock)
    status = None
    for attempt in range(READ_ATTEMPTS):
        try:
            status = json.loads(paths.capture_status.read_text())
            break
        except FileNotFoundError:
            return {"running": running, "data_dir": paths.location,
                    "state": "not running" if not running else "starting"}
        except ValueError:  # on a full disk the file is rewritten in place: a read can catch it half done
            if attempt == READ_ATTEMPTS - 1:
                return {"running": running, "data_dir": paths.location, "state": "unreadable status file"}
            time.sleep(0.05)
    assert status is not None
    updated = status.get("updated_at")
    age = time.time() - datetime.fromisoformat(updated).timestamp() if updated else None
    status["running"] = running
    status["status_age_seconds"] = round(age, 1) if age is not None else None
    status["stale"] = age is None or age > STALE_AFTER_SECONDS
    if not running:
        status["state"] = "not running (last status shown)"
    return status
