"""Start and stop a threaded HTTP server on 127.0.0.1 (a free port) for the test stand-ins."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """A server for `handler` on 127.0.0.1, answering from a daemon thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def shut_down(server: ThreadingHTTPServer | None) -> None:
    """Stop `server` (if any) and close its socket."""
    if server is not None:
        server.shutdown()
        server.server_close()
