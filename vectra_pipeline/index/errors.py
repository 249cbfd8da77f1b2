"""What can go wrong using a vector table, each with a message that says what to do."""

from __future__ import annotations


class VectorIndexError(RuntimeError):
    """A vector table cannot be used as asked; the message says what to do."""


class ModelMismatch(VectorIndexError):
    """The table, the checkpoint and the configured model disagree: only a full rebuild helps."""


class TableMissing(VectorIndexError):
    """The table has not been built yet."""


class InvalidFilter(VectorIndexError):
    """A search filter (`--where`) that LanceDB cannot parse or that names an unknown column."""
