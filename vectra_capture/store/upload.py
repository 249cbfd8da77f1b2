"""Uploads to an object root: the one place objects are put or deleted.

A local file (already written whole and fsynced by atomic.py) goes up through pyarrow's S3
output stream under its deterministic key: small files as one PUT, large ones as a multipart
upload that is completed only after every part arrived, so a reader sees the previous object or
the new one, never a part. An upload cut mid-way raises OSError (pyarrow's errors are OSErrors),
leaves an incomplete multipart upload the store never completes (S3 lifecycle rules or the
next upload's replacement make it irrelevant), and is retried by the caller: the same key, so a
retry replaces, never duplicates.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from pyarrow import fs as pafs

from vectra_capture.store.objectstore import shared_fsspec_fs

if TYPE_CHECKING:
    from vectra_capture.store.remote_path import RemotePath

log = logging.getLogger(__name__)

CHUNK = 8 << 20


def upload_file(local: Path, target: RemotePath) -> int:
    """Upload `local` to `target`'s key; returns the bytes sent."""
    sent = 0
    with local.open("rb") as src, target.fs.open_output_stream(target.key, metadata={}) as out:
        while chunk := src.read(CHUNK):
            out.write(chunk)
            sent += len(chunk)
    log.debug("uploaded %s (%d bytes)", target, sent)
    return sent


# Deletes go through s3fs: pyarrow's delete_file writes an empty `folder/` marker object when it
# removes a folder's last key, and such markers would read as empty partitions.
def delete_object(target: RemotePath) -> bool:
    """Delete one object; True if it existed."""
    if target.fs.get_file_info(target.key).type != pafs.FileType.File:
        return False
    shared_fsspec_fs(target.root).rm_file(target.key)
    return True


def delete_tree(target: RemotePath) -> bool:
    """Delete every object under a prefix (a LanceDB table folder); True if any existed."""
    if target.fs.get_file_info(target.key).type == pafs.FileType.NotFound:
        return False
    shared_fsspec_fs(target.root).rm(target.key, recursive=True)
    return True
