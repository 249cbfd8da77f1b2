"""Run the explorer: one aiohttp server on 127.0.0.1 (unless told otherwise) over one data root."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from vectra_capture.store.layout import DataPaths
from vectra_pipeline.explorer.app import make_app
from vectra_pipeline.service.context import Context

log = logging.getLogger(__name__)


def serve(paths: DataPaths, host: str = "127.0.0.1", port: int = 8765,
          on_ready: Callable[[str], None] | None = None) -> None:
    """Serve until SIGINT/SIGTERM. `on_ready(url)` is called once the socket listens."""
    app = make_app(Context(paths), host, port)
    url = f"http://{'127.0.0.1' if host in ('127.0.0.1', 'localhost') else host}:{port}/"

    async def ready(_app: web.Application) -> None:
        if on_ready:
            on_ready(url)

    app.on_startup.append(ready)
    web.run_app(app, host=host, port=port, print=None, access_log=None, handle_signals=True)
