"""A real `git http-backend` behind a small loopback HTTP server, for tests.

`ThreadingHTTPServer` on 127.0.0.1 checks HTTP basic auth, de-chunks request bodies (libgit2 may send
pushes chunked, which wsgiref cannot read) and runs `git http-backend` as a CGI per request. Bare repos
get `http.receivepack=true` and `receive.denyNonFastForwards=true`, so a stale or forced push is rejected
by the server exactly as a real forge would reject it.
"""

from __future__ import annotations

import base64
import os
import subprocess
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support.loopback import serve, shut_down


@dataclass
class GitHttpServer:
    """Serves every bare repo under `root` at `http://127.0.0.1:<port>/<name>.git`."""

    root: Path
    username: str = "bot"
    password: str = "s3cret"
    requests_seen: list[tuple[str, str]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}.git"

    def create_repo(self, name: str) -> Path:
        """An empty bare repo with branch `main` that accepts pushes and refuses non-fast-forwards."""
        path = self.root / f"{name}.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
        for key, value in (("http.receivepack", "true"), ("receive.denyNonFastForwards", "true")):
            subprocess.run(["git", "-C", str(path), "config", key, value], check=True)
        return path

    def start(self) -> "GitHttpServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _authorised(self) -> bool:
                header = self.headers.get("Authorization", "")
                if not header.startswith("Basic "):
                    return False
                try:
                    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                except ValueError:
                    return False
                return (user, password) == (server.username, server.password)

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _serve(self) -> None:
                body = self._read_body()
                path, _, query = self.path.partition("?")
                server.requests_seen.append((self.command, self.path))
                if not self._authorised():
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                env = dict(
                    os.environ,
                    GIT_PROJECT_ROOT=str(server.root),
                    GIT_HTTP_EXPORT_ALL="1",
                    REMOTE_USER=server.username,
                    REQUEST_METHOD=self.command,
                    PATH_INFO=path,
                    QUERY_STRING=query,
                    CONTENT_TYPE=self.headers.get("Content-Type", ""),
                    CONTENT_LENGTH=str(len(body)),
                    GIT_PROTOCOL=self.headers.get("Git-Protocol", ""),
                    HTTP_CONTENT_ENCODING=self.headers.get("Content-Encoding", ""),
                )
                done = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True)
                head, _, payload = done.stdout.partition(b"\r\n\r\n")
                status, headers = 200, []
                for line in head.decode("latin-1").split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.lower() == "status":
                        status = int(value.strip().split()[0])
                    elif name:
                        headers.append((name, value.strip()))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = serve(Handler)
        return self

    def stop(self) -> None:
        shut_down(self._server)
        self._server = None


def git(cwd: Path | str, *args: str, env: dict[str, str] | None = None) -> str:
    """Run the git CLI (the 'human' side of tests) and return stdout."""
    base = {"GIT_AUTHOR_NAME": "Human", "GIT_AUTHOR_EMAIL": "human@example.com",
            "GIT_COMMITTER_NAME": "Human", "GIT_COMMITTER_EMAIL": "human@example.com"}
    done = subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **base, **(env or {})},
                          check=True, capture_output=True, text=True)
    return done.stdout
