"""Running the reference server: embedded in a thread for tests, or blocking for the CLI.

Both bind the listening socket themselves before uvicorn starts, so the real port (``0`` = a free
one) is known at once and a port in use is an ``OSError`` before anything claims to be serving.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from conformance.reference.app import create_app, inventory
from conformance.reference.state import ReferenceConfig


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening (``OSError`` when that is impossible:
    the port is in use, the host is unknown or not this machine's).

    ``SO_REUSEADDR`` lets a restarted server take its port back from TIME_WAIT at once; on Linux
    it does not let two servers listen on one port. ``proto=IPPROTO_TCP`` matters: asyncio only
    sets TCP_NODELAY on accepted sockets whose proto says TCP, and without it every answer waits
    ~40 ms on Nagle + delayed ACK.
    """
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def url_of(sock: socket.socket) -> str:
    """``http://host:port`` of a bound socket (IPv6 hosts in brackets)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class EmbeddedServer:
    """The reference server on 127.0.0.1 in a daemon thread, for the duration of a ``with``.

    The socket is bound here (port 0 = a free port) before uvicorn starts, so ``url`` is known
    at once and there is no race for the port.
    """

    def __init__(
        self,
        config: ReferenceConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        app: Any = None,
    ) -> None:
        self.config = config or ReferenceConfig()
        # Any ASGI app may be served instead (e.g. a proxy in front of another instance).
        self.app: Any = app if app is not None else create_app(self.config)
        self.host = host
        self._sock = listen(host, port)
        self.port: int = self._sock.getsockname()[1]
        self.url = url_of(self._sock)
        self._server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="off"))
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> EmbeddedServer:
        """Start serving; returns once the server accepts connections."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            name=f"embedded-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"reference server did not start on {self.url}")
            time.sleep(0.01)
        return self

    def inventory(self) -> dict[str, list[str]]:
        """Kind -> ids of what the server still stores: proves a run left nothing behind."""
        return inventory(self.app)

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for its thread."""
        if self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._thread = None
        self._sock.close()

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(sock: socket.socket, config: ReferenceConfig) -> None:
    """Serve the reference server on ``sock`` (from ``listen``) in the foreground until
    interrupted (CLI ``serve``); the socket is closed afterwards."""
    host, port = sock.getsockname()[:2]  # for uvicorn's own "running on" line, which is right then
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), host=host, port=port, log_level="info", lifespan="off")
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
