"""The watch loop's small HTTP/1.1 listener (`/healthz`, `/metrics`, webhooks) that stays up under abuse.

HTTP is parsed by h11 (a well-kept, sans-I/O HTTP/1.1 implementation, already a dependency through httpx) and
served by asyncio, one event loop in a background thread, so an idle connection costs one socket, never a
thread. The connection policy is this module's, because neither uvicorn nor waitress has all of it (uvicorn
never closes a connection that sends nothing; waitress stops accepting at its connection limit, so idle
connections stall `/healthz`):

- each request must arrive whole within `request_timeout_s` of the connection opening or of the previous
  response (a client that sends nothing, or one byte a second, is closed);
- at most `max_connections` are open (fewer when the file descriptor limit is low); a new one evicts the
  connection idle the longest, so a flood of idle connections neither exhausts descriptors nor keeps a health
  check out;
- a body over `max_body_bytes` gets 413 and the connection is closed (the rest is never parsed as requests);
  malformed HTTP gets 400 and a close; request heads are limited to `max_header_bytes`.

Handlers are plain functions `(Request) -> Response`, called on the event loop: they must be quick.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import h11

log = logging.getLogger(__name__)
RESERVED_DESCRIPTORS = 96  # for everything but the listener's connections


@dataclass(frozen=True)
class ListenerLimits:
    """How much the listener lets one client take."""

    max_connections: int = 128
    request_timeout_s: float = 10.0
    max_body_bytes: int = 5 * 1024 * 1024
    max_header_bytes: int = 64 * 1024


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


Handler = Callable[[Request], Response]


class _Refused(Exception):
    """The request is refused before it is read whole; the connection closes after the answer."""

    def __init__(self, response: Response):
        super().__init__(response.status)
        self.response = response


@dataclass(eq=False)
class _Connection:
    writer: asyncio.StreamWriter
    idle_since: float = field(default_factory=time.monotonic)
    busy: bool = False


class Listener:
    """Serves `handler` on HOST:PORT from a background thread until `stop()`."""

    def __init__(self, handler: Handler, limits: ListenerLimits = ListenerLimits()):
        self.handler = handler
        self.limits = limits
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[_Connection] = set()
        self._max_connections = limits.max_connections
        self._last_accept_warning = -60.0
        self._thread = threading.Thread(target=self._loop.run_forever, name="http", daemon=True)

    def start(self, host: str, port: int) -> tuple[str, int]:
        """Bind and serve; returns the bound address. Raises `OSError` when the address cannot be bound."""
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(host, port), self._loop)
        try:
            return future.result()
        except BaseException:
            self.stop()
            raise

    async def _start(self, host: str, port: int) -> tuple[str, int]:
        self._loop.set_exception_handler(self._on_loop_error)
        self._max_connections, burst = _connection_budget(self.limits.max_connections)
        self._server = await asyncio.start_server(self._serve, host, port, backlog=burst)
        address = self._server.sockets[0].getsockname()
        return address[0], address[1]

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict) -> None:
        """Log running out of descriptors on accept briefly, once a minute: asyncio retries by itself a second
        later, and its default handler logs a traceback per refused socket (thousands under a flood, enough to
        fill a stderr pipe and stop the loop)."""
        exception = context.get("exception")
        if isinstance(exception, OSError) and "accept" in context.get("message", ""):
            now = time.monotonic()
            if now - self._last_accept_warning >= 60.0:
                self._last_accept_warning = now
                log.warning("http listener: cannot accept connections (%s); retrying", exception)
            return
        loop.default_exception_handler(context)

    def stop(self) -> None:
        """Close the listening socket and every connection, then end the thread."""
        if not self._loop.is_running():
            return
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            connection.writer.transport.abort()
        if self._server is not None:
            await self._server.wait_closed()

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    def _admit(self, connection: _Connection) -> bool:
        """Make room for `connection` by closing the connection idle the longest; False when all are busy."""
        if len(self._connections) >= self._max_connections:
            idle = [c for c in self._connections if not c.busy]
            if not idle:
                return False
            oldest = min(idle, key=lambda c: c.idle_since)
            self._connections.discard(oldest)
            oldest.writer.transport.abort()
        self._connections.add(connection)
        return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = _Connection(writer)
        if not self._admit(connection):
            writer.transport.abort()
            return
        http = h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.max_header_bytes)
        try:
            while True:
                try:
                    request = await asyncio.wait_for(self._read(http, reader), self.limits.request_timeout_s)
                except (asyncio.TimeoutError, ConnectionError):
                    return
                except _Refused as refused:
                    await self._answer(http, writer, refused.response, close=True)
                    await _linger(reader, writer)
                    return
                if request is None:
                    return
                connection.busy = True
                try:
                    response = self.handler(request)
                except Exception:  # a bug in a handler answers 500 and keeps the listener serving
                    log.exception("http handler failed for %s %s", request.method, request.path)
                    response = Response(500, b"internal error\n")
                await self._answer(http, writer, response, close=False)
                connection.busy, connection.idle_since = False, time.monotonic()
                if http.our_state is not h11.DONE or http.their_state is not h11.DONE:
                    return
                http.start_next_cycle()
        except (ConnectionError, h11.LocalProtocolError):
            return
        finally:
            self._connections.discard(connection)
            writer.close()

    async def _read(self, http: h11.Connection, reader: asyncio.StreamReader) -> Request | None:
        """The next whole request, or None when the client closed the connection."""
        head: h11.Request | None = None
        body = bytearray()
        while True:
            try:
                event = http.next_event()
            except h11.RemoteProtocolError as exc:
                raise _Refused(_bad_request(exc)) from None
            if event is h11.NEED_DATA:
                http.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Request):
                head = event
                length = dict(event.headers).get(b"content-length")
                if length is not None and int(length) > self.limits.max_body_bytes:
                    raise _Refused(Response(413, b"payload too large\n"))
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > self.limits.max_body_bytes:
                    raise _Refused(Response(413, b"payload too large\n"))
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in head.headers}
                return Request(head.method.decode("ascii"), head.target.decode("latin-1"), headers, bytes(body))
            elif isinstance(event, (h11.ConnectionClosed, h11.PAUSED)):
                return None

    async def _answer(self, http: h11.Connection, writer: asyncio.StreamWriter, response: Response,
                      *, close: bool) -> None:
        headers = [("content-type", response.content_type), ("content-length", str(len(response.body)))]
        if close:
            headers.append(("connection", "close"))
        if http.our_state is not h11.SEND_RESPONSE:  # e.g. a protocol error before any request was seen
            writer.write(_raw_response(response, headers))
        else:
            writer.write(http.send(h11.Response(status_code=response.status, headers=headers)))
            writer.write(http.send(h11.Data(data=response.body)))
            writer.write(http.send(h11.EndOfMessage()))
        await writer.drain()


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Half-close and drop what the client still sends for a moment, so that it reads the refusal instead of a
    reset (closing a socket with unread data makes the kernel send RST); nothing read here is parsed."""
    writer.write_eof()
    try:
        async with asyncio.timeout(1.0):
            for _ in range(64):
                if not await reader.read(65536):
                    return
    except (TimeoutError, ConnectionError):
        return


def _connection_budget(wanted: int) -> tuple[int, int]:
    """(connections kept open, sockets accepted per wake-up) that fit the process's descriptor limit.

    asyncio accepts up to `backlog` sockets per wake-up before any is served, and each one served may evict an
    idle connection whose socket is closed one loop turn later; so at a peak the listener holds its connections
    plus two bursts, and that must fit beside what Git and the rest of the process use.
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted, min(128, wanted)
    available = max(24, soft - RESERVED_DESCRIPTORS)
    burst = max(8, min(128, available // 5))
    return max(8, min(wanted, available - 2 * burst)), burst


def _bad_request(exc: h11.RemoteProtocolError) -> Response:
    hint = "; Content-Length must be a non-negative integer" if "Content-Length" in str(exc) else ""
    status = exc.error_status_hint if 400 <= exc.error_status_hint < 500 else 400
    return Response(status, f"malformed HTTP request: {exc}{hint}\n".encode())


def _raw_response(response: Response, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {response.status} {'Bad Request' if response.status == 400 else 'Error'}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body
