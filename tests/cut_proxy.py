"""A TCP proxy on 127.0.0.1 that can cut the network mid-transfer: after `cut_after(n)` it forwards
n more client bytes in total, then drops every open connection and refuses new ones until `heal()`;
`stall()` holds client bytes back instead (a hung network, to kill an uploader mid-upload).
Used to interrupt an upload to the (real) S3 server part-way, deterministically."""

from __future__ import annotations

import contextlib
import socket
import threading


class CutProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._lock = threading.Lock()
        self._budget: int | None = None  # None: unlimited
        self._conns: list[socket.socket] = []
        self.forwarded = 0
        self._stall = threading.Event()  # set: client bytes are held back (a hung network)
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut_after(self, n: int) -> None:
        with self._lock:
            self._budget = n

    def heal(self) -> None:
        with self._lock:
            self._budget = None
        self._stall.clear()

    def stall(self) -> None:
        """Stop forwarding client bytes (connections stay open, as on a hung network)."""
        self._stall.set()

    def close(self) -> None:
        self._server.close()
        self._drop()

    def _drop(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                refused = self._budget is not None and self._budget <= 0
            if refused:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, outbound: bool) -> None:
        try:
            while data := src.recv(65536):
                while outbound and self._stall.is_set():
                    threading.Event().wait(0.05)
                if outbound:
                    with self._lock:
                        if self._budget is not None:
                            allowed = max(0, min(len(data), self._budget))
                            self._budget -= allowed
                            data = data[:allowed]
                        self.forwarded += len(data)
                    if not data:
                        self._drop()
                        return
                dst.sendall(data)
                if outbound and self._budget is not None and self._budget <= 0:
                    self._drop()
                    return
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
