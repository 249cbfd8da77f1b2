"""One Chrome DevTools Protocol connection over aiohttp's websocket client.

Commands are JSON messages `{id, method, params[, sessionId]}` answered by `{id, result|error}`;
everything without an id is an event, handed in arrival order to a synchronous callback (so the
frames of one socket keep their order and nothing awaits between receipt and the daemon's stamp).
With flat sessions (`Target.setAutoAttach {flatten: true}`) every attached page speaks through this
one connection, its messages tagged with the page's `sessionId`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Callable
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

# (method, params, sessionId or None) -> None; called on the event loop, must not block
EventHandler = Callable[[str, dict[str, Any], str | None], None]
# A gameHistory frame is ~375 KB; CDP escapes it once more inside its own JSON. No frame is refused.
MAX_MESSAGE_BYTES = 0


class CdpError(RuntimeError):
    """A command answered with an error, or the connection went away before it was answered."""


class CdpConnection:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, on_event: EventHandler) -> None:
        self._ws = ws
        self._on_event = on_event
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.messages = 0

    @classmethod
    async def open(cls, http: aiohttp.ClientSession, ws_url: str, on_event: EventHandler,
                   timeout: float = 10.0) -> CdpConnection:
        ws = await http.ws_connect(ws_url, max_msg_size=MAX_MESSAGE_BYTES, timeout=aiohttp.ClientWSTimeout(
            ws_receive=None, ws_close=timeout), autoping=True, heartbeat=None)
        return cls(ws, on_event)

    @property
    def closed(self) -> bool:
        return self._ws.closed

    async def send(self, method: str, params: dict[str, Any] | None = None, session_id: str | None = None,
                   timeout: float = 10.0) -> dict[str, Any]:
        """Send a command and wait for its result (raises CdpError on an error answer or a lost link)."""
        msg_id = next(self._ids)
        message: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session_id is not None:
            message["sessionId"] = session_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        try:
            await self._ws.send_str(json.dumps(message))
            return await asyncio.wait_for(future, timeout)
        except (ConnectionError, aiohttp.ClientError) as exc:
            raise CdpError(f"{method}: connection lost ({exc})") from exc
        except TimeoutError as exc:
            raise CdpError(f"{method}: no answer within {timeout}s") from exc
        finally:
            self._pending.pop(msg_id, None)

    async def run(self) -> str:
        """Read until the connection closes; returns why it ended."""
        reason = "closed by the browser"
        try:
            async for msg in self._ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    self._dispatch(msg.data)
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    reason = f"websocket error: {self._ws.exception()}"
                    break
        finally:
            self._fail_pending(reason)
        return reason

    def _dispatch(self, text: str) -> None:
        self.messages += 1
        try:
            message = json.loads(text)
        except ValueError:
            log.warning("CDP sent a message that is not JSON (%d chars): ignored", len(text))
            return
        msg_id = message.get("id")
        if msg_id is not None:
            future = self._pending.get(msg_id)
            if future is not None and not future.done():
                if "error" in message:
                    future.set_exception(CdpError(f"{message['error'].get('message')} ({message['error'].get('code')})"))
                else:
                    future.set_result(message.get("result") or {})
            return
        method = message.get("method")
        if isinstance(method, str):
            try:
                self._on_event(method, message.get("params") or {}, message.get("sessionId"))
            except Exception:  # one bad event must not end the connection (the handler logs and counts)
                log.exception("handling CDP event %s failed", method)

    def _fail_pending(self, reason: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(CdpError(f"connection ended: {reason}"))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._ws.close()
