"""The store: the only code that writes under the data root (a test enforces it).

Everything else reads freely and asks the store to write.
"""

from vectra_capture.store.atomic import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_table,
    atomic_writer,
    ensure_dir,
    folder_syncs_deferred,
    remove_empty_dirs,
    remove_file,
)
from vectra_capture.store.layout import DataPaths, default_data_dir, default_legacy_dir
from vectra_capture.store.lease import Lease, LeaseHeld
from vectra_capture.store.locks import FileLock, LockHeld, is_locked, lock_path
from vectra_capture.store.manifests import (
    read_manifest,
    remove_run_file,
    write_manifest,
    write_run_file,
    write_status_file,
)
from vectra_capture.store.notes import DEBUG_NOTE, DEBUG_NOTE_SCHEMA, write_debug_note
from vectra_capture.store.partitions import (
    US_PER_DAY,
    delete_partition,
    replace_file_set,
    replace_partition,
    replace_partition_batches,
    utc_date,
    write_partition_file,
    write_records,
)
from vectra_capture.store.quarantine import replace_quarantine_file_set
from vectra_capture.store.raw_sink import CompactResult, RawSink, recover_spool
from vectra_capture.store.root import DataRootError, check_data_root, is_disk_full, storage_problem

__all__ = [
    "DEBUG_NOTE",
    "DEBUG_NOTE_SCHEMA",
    "CompactResult",
    "DataPaths",
    "DataRootError",
    "check_data_root",
    "is_disk_full",
    "storage_problem",
    "FileLock",
    "LockHeld",
    "Lease",
    "LeaseHeld",
    "is_locked",
    "lock_path",
    "RawSink",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_table",
    "atomic_writer",
    "default_data_dir",
    "default_legacy_dir",
    "delete_partition",
    "ensure_dir",
    "folder_syncs_deferred",
    "read_manifest",
    "recover_spool",
    "remove_empty_dirs",
    "remove_file",
    "remove_run_file",
    "replace_file_set",
    "replace_partition",
    "replace_partition_batches",
    "replace_quarantine_file_set",
    "US_PER_DAY",
    "utc_date",
    "write_manifest",
    "write_partition_file",
    "write_debug_note",
    "write_records",
    "write_run_file",
    "write_status_file",
]
