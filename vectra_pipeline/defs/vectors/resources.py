"""The vector index resource: data root and model, resolved when a run starts (never at import time)."""

from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from vectra_capture.store.layout import DataPaths
from vectra_pipeline.index.embedder import get_embedder


class VectorIndexResource(dg.ConfigurableResource):
    """data_dir defaults to $RUGS_DATA_DIR; model to $VECTRA_EMBED_MODEL or all-MiniLM-L6-v2.

    setup builds the embedder object (a cheap import, no torch); the model itself loads on the first
    document to embed, so the 15-minute incremental run that finds nothing new never pays ~10 s for it.
    """

    data_dir: str | None = None
    model: str | None = None
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
