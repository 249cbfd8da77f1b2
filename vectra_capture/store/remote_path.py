"""A file or folder under an s3:// data root that reads like the part of pathlib.Path the readers use
(`/`, name, parent, glob, exists, is_dir, stat, open, read_text, relative_to), so every reader that
lists partitions, fingerprints files or hands paths to DuckDB works on either root unchanged.

`str()` is the `s3://` URI (what DuckDB's registered filesystem reads). There is deliberately no
`__fspath__`: handing a RemotePath to `open()` or `os.*` fails loudly instead of creating a local
file named `s3:/...`. Writes go through store/atomic.py (stage locally, then one upload).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import SimpleNamespace
from typing import Any

from pyarrow import fs as pafs

from vectra_capture.store.objectstore import ObjectRoot, shared_pyarrow_fs


@dataclass(frozen=True)
class RemotePath:
    root: ObjectRoot
    rel: str  # relative to the data root, '/'-separated, no leading slash ('' is the root itself)
    local_root: Path  # the local state folder: uploads are staged under it

    # -- pure path ------------------------------------------------------------------------------
    def __truediv__(self, other: str) -> RemotePath:
        rel = f"{self.rel}/{other}".strip("/") if self.rel else str(other).strip("/")
        return RemotePath(self.root, rel, self.local_root)

    def __str__(self) -> str:
        return self.root.child_uri(self.rel)

    def __repr__(self) -> str:
        return f"RemotePath({str(self)!r})"

    def __lt__(self, other: RemotePath) -> bool:
        return self.rel < other.rel

    def as_posix(self) -> str:
        return str(self)

    @property
    def key(self) -> str:
        """The pyarrow filesystem path (`bucket/prefix/rel`)."""
        return self.root.key(self.rel)

    @property
    def name(self) -> str:
        return PurePosixPath(self.rel).name

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.rel).suffix

    @property
    def stem(self) -> str:
        return PurePosixPath(self.rel).stem

    @property
    def parent(self) -> RemotePath:
        parent = PurePosixPath(self.rel).parent.as_posix()
        return RemotePath(self.root, "" if parent == "." else parent, self.local_root)

    def with_name(self, name: str) -> RemotePath:
        return self.parent / name

    def relative_to(self, other: RemotePath | Path) -> PurePosixPath:
        """Relative to another RemotePath, or to the data root when `other` is the local root
        (`paths.root`): data-root relative keys (checkpoints, source_file) read the same on both roots."""
        if isinstance(other, RemotePath):
            return PurePosixPath(self.rel).relative_to(other.rel) if other.rel else PurePosixPath(self.rel)
        if Path(other) == self.local_root:
            return PurePosixPath(self.rel)
        raise ValueError(f"{self} is not under {other}")

    def staging_path(self) -> Path:
        """Where an upload of this object is staged on local disk."""
        return self.local_root / "upload" / self.rel

    # -- reads ----------------------------------------------------------------------------------
    @property
    def fs(self) -> pafs.S3FileSystem:
        return shared_pyarrow_fs(self.root)

    def info(self) -> pafs.FileInfo:
        return self.fs.get_file_info(self.key)

    def exists(self) -> bool:
        return self.info().type != pafs.FileType.NotFound

    def is_dir(self) -> bool:
        return self.info().type == pafs.FileType.Directory

    def is_file(self) -> bool:
        return self.info().type == pafs.FileType.File

    def stat(self) -> SimpleNamespace:
        info = self.info()
        if info.type == pafs.FileType.NotFound:
            raise FileNotFoundError(2, "no such object", str(self))
        mtime_ns = info.mtime_ns or 0
        return SimpleNamespace(st_size=info.size or 0, st_mtime_ns=mtime_ns, st_mtime=mtime_ns / 1e9)

    def open(self, mode: str = "rb") -> Any:
        if mode not in ("rb", "r"):
            raise ValueError("RemotePath opens for reading only; writes go through store/atomic.py")
        handle = self.fs.open_input_file(self.key)
        if mode == "r":
            import io

            return io.TextIOWrapper(io.BufferedReader(handle), encoding="utf-8")
        return handle

    def read_bytes(self) -> bytes:
        with self.fs.open_input_stream(self.key) as fh:
            return fh.read()

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def _listing(self, recursive: bool) -> list[pafs.FileInfo]:
        return self.fs.get_file_info(pafs.FileSelector(self.key, allow_not_found=True, recursive=recursive))

    def iterdir(self) -> list[RemotePath]:
        return [self._child(i.path) for i in self._listing(False)]

    def _child(self, key: str) -> RemotePath:
        base = self.root.key(self.rel)
        return self / key[len(base):].strip("/")

    def glob(self, pattern: str) -> list[RemotePath]:
        """Matches `pattern` ('*' within one level: `date=*/*.parquet`) against the objects below,
        and the folders they imply (S3 has keys, not folders)."""
        parts = pattern.strip("/").split("/")
        base = self.root.key(self.rel)
        found: set[str] = set()
        recursive = len(parts) > 1
        for info in self._listing(recursive):
            if recursive and info.type != pafs.FileType.File:
                continue  # folders count only as implied by a key (not empty marker objects)
            rel = info.path[len(base):].strip("/").split("/")
            # a key implies each of its parent folders
            for depth in range(1, len(rel) + 1):
                if depth == len(parts):
                    candidate = rel[:depth]
                    if all(fnmatch.fnmatchcase(c, p) for c, p in zip(candidate, parts, strict=True)):
                        found.add("/".join(candidate))
        return [self / r for r in sorted(found)]

    def rglob(self, pattern: str) -> list[RemotePath]:
        base = self.root.key(self.rel)
        return sorted(self / i.path[len(base):].strip("/") for i in self._listing(True)
                      if i.type == pafs.FileType.File and fnmatch.fnmatchcase(PurePosixPath(i.path).name, pattern))


def arrow_source(path: Path | RemotePath) -> Any:
    """What pyarrow's readers (pq.ParquetFile, read_schema, read_table) accept for either root:
    the local path, or a random-access file opened on the object store."""
    return path.open("rb") if isinstance(path, RemotePath) else path
