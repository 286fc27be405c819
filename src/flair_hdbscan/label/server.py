"""Serve a labelling app on 127.0.0.1 only, on a free port (or the one asked).

The socket is bound here, before uvicorn starts, so the address is known and checked:
127.0.0.1, never a public interface. :class:`LabelServer` runs uvicorn in the foreground
(the command) or in a background thread (tests, the simulated annotator).
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from flair_hdbscan.errors import FaultError, OptionError

__all__ = ["HOST", "LabelServer", "bind_local"]

#: The only address the page listens on.
HOST = "127.0.0.1"


def bind_local(port: int | None = None) -> socket.socket:
    """A listening TCP socket on 127.0.0.1 (``port`` None or 0: a free port).

    Raises:
        OptionError: if the port is out of range or taken.
    """
    if port is not None and not 0 <= int(port) <= 65535:
        raise OptionError(f"--port {port} is out of range: use 1..65535, or leave it out")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, int(port or 0)))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise OptionError(
            f"cannot listen on {HOST}:{port}: {exc.strerror or exc}: choose another --port "
            "or leave it out for a free one"
        ) from None
    sock.set_inheritable(True)
    return sock


class LabelServer:
    """uvicorn serving an app on a socket bound to 127.0.0.1.

    Args:
        app: the ASGI app.
        token: the token of its URLs.
        port: the port, or None for a free one.
    """

    def __init__(self, app: Any, token: str, port: int | None = None) -> None:
        import uvicorn

        self.token = token
        self.socket = bind_local(port)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` the socket is bound to."""
        host, port = self.socket.getsockname()[:2]
        return str(host), int(port)

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT`` (no token)."""
        host, port = self.address
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """The page's URL, token included."""
        return f"{self.base}/?token={self.token}"

    def run(self) -> None:
        """Serve in this thread until interrupted (Ctrl-C)."""
        try:
            self._server.run(sockets=[self.socket])
        finally:
            self.socket.close()

    def start(self, timeout: float = 30.0) -> LabelServer:
        """Serve in a background thread; return once it accepts requests.

        Raises:
            FaultError: if it did not start within ``timeout`` seconds.
        """
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise FaultError(f"the labelling server did not start on {self.base}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop the background server and close the socket."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.socket.close()

    def __enter__(self) -> LabelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
