"""The store: the only code that writes under the data root (a test enforces it).

Everything else reads freely and asks the store to write.
"""

from vectra_capture.store.atomic import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_table,
    atomic_writer,
    ensure_dir,
    remove_empty_dirs,
    remove_file,
)
from vectra_capture.store.locks import FileLock, LockHeld, is_locked, lock_path
from vectra_capture.store.manifests import (
    read_manifest,
    remove_run_file,
    write_manifest,
    write_run_file,
)
from vectra_capture.store.partitions import (
    delete_partition,
    replace_file_set,
    replace_partition,
    utc_date,
    write_partition_file,
    write_records,
)
from vectra_capture.store.quarantine_files import replace_quarantine_file_set
from vectra_capture.store.raw_sink import CompactResult, RawSink, recover_spool
from vectra_capture.store.stream_partition import replace_partition_batches
from vectra_capture.store.vector_tables import (
    DEBUG_NOTE,
    DEBUG_NOTE_SCHEMA,
    remove_vector_table,
    write_debug_note,
)
from vectra_capture.store.vectors import connect_vectors

__all__ = [
    "DEBUG_NOTE",
    "DEBUG_NOTE_SCHEMA",
    "CompactResult",
    "FileLock",
    "LockHeld",
    "is_locked",
    "lock_path",
    "RawSink",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_table",
    "atomic_writer",
    "connect_vectors",
    "delete_partition",
    "ensure_dir",
    "read_manifest",
    "recover_spool",
    "remove_empty_dirs",
    "remove_file",
    "remove_run_file",
    "remove_vector_table",
    "replace_file_set",
    "replace_partition",
    "replace_partition_batches",
    "replace_quarantine_file_set",
    "utc_date",
    "write_manifest",
    "write_partition_file",
    "write_debug_note",
    "write_records",
    "write_run_file",
]
