"""The HTTP server under the forge stand-ins: one thread serving a ``dispatch`` function over HTTP/1.1."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# (method, raw path with query, headers, body) -> (status, headers, body)
Dispatch = Callable[[str, str, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]


def serve(host: str, dispatch: Dispatch, name: str) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Serve ``dispatch`` on ``host`` and a free port, from a daemon thread named ``name``."""

    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, the client's delayed ACK adds
        # ~40 ms to every call, which the real services do not.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            status, headers, payload = dispatch(self.command, self.path, dict(self.headers), raw)
            self.send_response(status)
            for header, value in headers.items():
                self.send_header(header, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _handle

    server = ThreadingHTTPServer((host, 0), RequestHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name=name, daemon=True)
    thread.start()
    return server, thread


def shut(server: ThreadingHTTPServer | None, thread: threading.Thread | None) -> None:
    if server is not None:
        server.shutdown()
        server.server_close()
    if thread is not None:
        thread.join(timeout=5)
