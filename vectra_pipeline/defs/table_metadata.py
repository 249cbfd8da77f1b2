"""Dagster's standard table metadata, built the same way for every asset that writes rows:
`dagster/row_count`, `dagster/column_schema` (from the Arrow schema of what is written) and a
Markdown preview of a few rows."""

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
import pyarrow as pa

PREVIEW_ROWS = 5
CELL_CHARS = 40


def column_schema(schema: pa.Schema) -> dg.TableSchema:
    return dg.TableSchema(columns=[
        dg.TableColumn(f.name, str(f.type), constraints=dg.TableColumnConstraints(nullable=f.nullable))
        for f in schema
    ])


def markdown_rows(rows: Sequence[Mapping[str, Any]]) -> str:
    """A Markdown table of `rows` (cells cut to CELL_CHARS, pipes escaped); `_no rows_` when empty."""
    if not rows:
        return "_no rows_"
    cols = list(rows[0])

    def cell(value: Any) -> str:
        return str(value)[:CELL_CHARS].replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in cols) + " |" for r in rows[:PREVIEW_ROWS]]
    return "\n".join(lines)


def table_metadata(schema: pa.Schema, row_count: int, preview: str) -> dict[str, dg.MetadataValue]:
    return {
        "dagster/row_count": dg.MetadataValue.int(int(row_count)),
        "dagster/column_schema": dg.MetadataValue.table_schema(column_schema(schema)),
        "preview": dg.MetadataValue.md(preview),
    }
