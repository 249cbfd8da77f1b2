"""Typed tables derived from the raw ws_event Parquet, one UTC date at a time (see CONTEXT.md)."""
