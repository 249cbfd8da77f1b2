"""The socket capture as a frame source: one python-socketio client at a time, reconnecting forever.

The daemon's reconnects are done here (python-socketio's are off) so each attempt, error (with its
real cause, `errors.error_chain`) and disconnect reason lands as a system_event. Frames reach the
daemon through CaptureClient, which decodes every WebSocket message it receives or sends with
`frames.FrameDecoder` at the websocket itself (`client.py`); the `connect` system_event is recorded
by the daemon when the server's CONNECT packet is decoded, so it precedes the frames that follow it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

import socketio

from vectra_capture.client import CaptureClient
from vectra_capture.errors import error_chain
from vectra_capture.urls import redact_url

if TYPE_CHECKING:
    from vectra_capture.daemon import CaptureConfig, CaptureDaemon

STABLE_SECONDS = 30.0  # a connection that lasted this long resets the reconnect backoff


class SocketSource:
    """A frame source for CaptureDaemon (see daemon.FrameSource): the Socket.IO server at config.url."""

    def __init__(self, config: CaptureConfig) -> None:
        self.config = config
        self.name = config.source
        self._client: CaptureClient | None = None
        self._disconnected = asyncio.Event()

    def status(self) -> dict[str, Any]:
        return {}

    def connect_details(self, socket_id: str | None) -> dict[str, Any]:
        client = self._client
        return {"url": redact_url(self.config.url), "transport": client.transport() if client else None,
                "sid": client.sid if client else None}

    def _new_client(self, daemon: CaptureDaemon) -> CaptureClient:
        client = CaptureClient(daemon.on_frame, max_frame_bytes=self.config.max_frame_bytes)
        self._client = client

        @client.event
        async def disconnect(reason: str = "unknown") -> None:
            daemon.state = "disconnected"
            daemon.connected_since = None
            daemon.live.mark_stale()
            daemon.system_event("disconnect", reason=str(reason))
            self._disconnected.set()

        return client

    async def run(self, daemon: CaptureDaemon) -> None:
        config = self.config
        attempt = 0
        while not daemon.stop_requested:
            if attempt:
                delay = min(config.backoff_max, config.backoff_initial * 2 ** (attempt - 1))
                daemon.system_event("reconnect_attempt", attempt=attempt, delay_seconds=delay)
                if await daemon.stopped_within(delay):
                    return
                daemon.reconnects += 1
            client = self._new_client(daemon)
            self._disconnected.clear()
            daemon.state = "connecting"
            try:
                await client.connect(config.url, headers=config.headers, transports=config.transports,
                                     wait_timeout=config.connect_timeout)
            except (socketio.exceptions.ConnectionError, OSError, ValueError) as exc:
                daemon.state = "disconnected"
                daemon.system_event("connect_error", attempt=attempt, error=error_chain(exc))
                attempt += 1
                await _quietly(client.disconnect())
                continue
            connected_at = time.monotonic()
            stop = asyncio.create_task(daemon.wait_stop())
            dropped = asyncio.create_task(self._disconnected.wait())
            await asyncio.wait({stop, dropped}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            dropped.cancel()
            if daemon.stop_requested:
                daemon.state = "stopping"
                await _quietly(client.disconnect())
                return
            await _quietly(client.disconnect())
            # Back off from a server that accepts and drops at once; start over after a stable link.
            attempt = 1 if time.monotonic() - connected_at >= STABLE_SECONDS else attempt + 1


async def _quietly(coro: Any) -> None:
    with contextlib.suppress(Exception):
        await coro
