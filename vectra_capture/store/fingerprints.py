"""How every reader tells that a file changed: stat first (size + mtime_ns, one syscall), and hash
the content only when the stat moved, so a touched-but-identical file is not treated as new.
Used by the legacy import, the vector index checkpoint and the Dagster sensors."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any


def stat_entry(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def same_stat(entry: dict[str, Any] | None, current: dict[str, int]) -> bool:
    return bool(entry) and entry.get("size") == current["size"] and entry.get("mtime_ns") == current["mtime_ns"]


def content_digest(path: Path, algorithm: str = "sha1") -> str:
    h = hashlib.new(algorithm)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def changed_files(
    files: dict[str, Path], previous: dict[str, dict], algorithm: str = "sha1"
) -> tuple[dict[str, dict], list[str]]:
    """Current state of each file ({size, mtime_ns, <algorithm>}) and the keys whose content changed
    (new keys included)."""
    states, changed = {}, []
    for key, path in files.items():
        current = stat_entry(path)
        old = previous.get(key)
        if same_stat(old, current):
            states[key] = old
            continue
        state = {**current, algorithm: content_digest(path, algorithm)}
        states[key] = state
        if not old or old.get(algorithm) != state[algorithm]:
            changed.append(key)
    return states, changed


def listing_digest(files: list[Path]) -> str:
    """A short digest of a folder's files by name, size and mtime (cheap: stats only)."""
    h = hashlib.sha1()
    for f in sorted(files):
        st = f.stat()
        h.update(f"{f.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]
