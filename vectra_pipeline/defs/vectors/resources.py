"""The vector index resource: data root, model and lock wait, resolved when a run starts (never at
import time)."""

from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from vectra_capture.store.layout import DataPaths
from vectra_pipeline.index.embedder import get_embedder

DEFAULT_LOCK_WAIT_S = 120.0


class VectorIndexResource(dg.ConfigurableResource):
    """data_dir defaults to $RUGS_DATA_DIR; model to $VECTRA_EMBED_MODEL or all-MiniLM-L6-v2.

    setup builds the embedder object (a cheap import, no torch); the model itself loads on the first
    document to embed, so the 15-minute incremental run that finds nothing new never pays ~10 s for it.
    """

    data_dir: str | None = None
    model: str | None = None
    lock_wait_seconds: float = Field(
        default=DEFAULT_LOCK_WAIT_S, ge=0,
        description="How long a run waits for a table another build (e.g. `vectra index build`) is "
                    "writing before it skips that table.",
    )
    _embedder: Any = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._embedder = get_embedder(self.model)

    @property
    def embedder(self) -> Any:
        if self._embedder is None:  # called outside a run (tests calling assets directly)
            self._embedder = get_embedder(self.model)
        return self._embedder

    def data_paths(self) -> DataPaths:
        return DataPaths.resolve(self.data_dir)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources={"vector_index": VectorIndexResource()})
