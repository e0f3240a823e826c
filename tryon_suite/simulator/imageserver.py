"""A loopback HTTP server for fixture images, so a target can fetch them by URL."""

from __future__ import annotations

import mimetypes
import socket
import sys
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["ImageServer"]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def _answer(self, *, with_body: bool) -> None:
        path = self.path.split("?", 1)[0]
        data = self.server.images.get(path)
        if data is None:
            self.send_error(404)
            return
        self.send_response(200)
        kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if with_body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        return  # quiet: the suite reports what matters


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    images: dict[str, bytes]

    def handle_error(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        """A target that stops reading an image (its fetch timed out, it hung up) is not an
        error of ours, and nothing to print in the middle of the run's console; anything else
        is, as the standard server prints it."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class ImageServer:
    """Serves `path -> bytes` on 127.0.0.1 in a thread; use as a context manager."""

    def __init__(self, images: Mapping[str, bytes] | None = None, host: str = "127.0.0.1") -> None:
        self._server = _Server((host, 0), _Handler)
        self._server.images = {}
        for path, data in (images or {}).items():
            self.add(path, data)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="tryon-images", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(self, path: str, data: bytes) -> str:
        """Serve `data` at `path`; returns its full URL."""
        path = path if path.startswith("/") else "/" + path
        self._server.images[path] = data
        return self.base_url + path

    def __enter__(self) -> ImageServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
