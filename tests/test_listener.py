"""The watch loop's HTTP listener under abuse: idle floods, slow clients, oversized and deeply nested bodies,
crash loops, and a port that is already taken. Everything runs on 127.0.0.1."""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from gitops_sla.cli import main
from gitops_sla.git import Mirror
from gitops_sla.listener import Listener, ListenerLimits, Response
from gitops_sla.reconcile.engine import Reconciler
from gitops_sla.reconcile.offline import offline_profile
from gitops_sla.reconcile.profiling import InlineBackend
from gitops_sla.server import UNHEALTHY_AFTER_FAILED_PASSES, WatchLoop
from gitops_sla.template import init_repository
from profiler.version import PROFILER_VERSION


def _echo(request) -> Response:
    return Response(200, f"{request.method} {request.path} {len(request.body)}\n".encode())


@pytest.fixture
def listener():
    served = Listener(_echo, ListenerLimits(max_connections=16, request_timeout_s=0.5, max_body_bytes=1024))
    address = served.start("127.0.0.1", 0)
    try:
        yield served, address
    finally:
        served.stop()


def _read_all(conn: socket.socket) -> bytes:
    answer = b""
    try:
        while chunk := conn.recv(65536):
            answer += chunk
    except ConnectionResetError:
        pass
    return answer


def test_a_client_that_sends_nothing_or_too_slowly_is_closed(listener) -> None:
    _, address = listener
    with socket.create_connection(address, timeout=30) as silent:
        assert _read_all(silent) == b""  # closed by the listener, not by the 30 s guard
    with socket.create_connection(address, timeout=30) as slow:
        slow.sendall(b"GET /x HTTP/1.1\r\n")  # the rest of the head never comes
        assert _read_all(slow) == b""


def test_after_a_413_the_connection_closes_and_the_rest_is_never_parsed(listener) -> None:
    _, address = listener
    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n" * 50
    with socket.create_connection(address, timeout=30) as conn:
        conn.sendall(b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n" + smuggled)
        answer = _read_all(conn)
    assert answer.startswith(b"HTTP/1.1 413") and b"connection: close" in answer.lower()
    assert answer.count(b"HTTP/1.1") == 1 and b"smuggled" not in answer
    with socket.create_connection(address, timeout=30) as chunked:  # no Content-Length: counted as it arrives
        chunked.sendall(b"POST /hook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + b"400\r\n" + b"a" * 1024 + b"\r\n" + b"400\r\n" + b"b" * 1024 + b"\r\n0\r\n\r\n" + smuggled)
        answer = _read_all(chunked)
    assert answer.startswith(b"HTTP/1.1 413") and answer.count(b"HTTP/1.1") == 1


def test_keep_alive_still_serves_several_requests_and_malformed_http_gets_400(listener) -> None:
    _, address = listener
    with httpx.Client(base_url=f"http://{address[0]}:{address[1]}") as client:
        assert [client.get(f"/{i}").text for i in range(3)] == [f"GET /{i} 0\n" for i in range(3)]
    with socket.create_connection(address, timeout=30) as conn:
        conn.sendall(b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n")
        answer = _read_all(conn)
    assert answer.startswith(b"HTTP/1.1 400") and b"non-negative integer" in answer


def test_more_connections_than_allowed_evict_the_idle_ones(listener) -> None:
    served, address = listener
    idle = [socket.create_connection(address, timeout=30) for _ in range(40)]
    try:
        assert httpx.get(f"http://{address[0]}:{address[1]}/healthz", timeout=30).status_code == 200
        assert served.open_connections <= 16
    finally:
        for conn in idle:
            conn.close()


def _bare_repository(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    init_repository(work)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(tmp_path / "gitops.git")], check=True)
    return tmp_path / "gitops.git"


def _limit_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def test_1025_idle_connections_neither_exhaust_descriptors_nor_stall_healthz(tmp_path: Path) -> None:
    """`reconcile --watch` with 256 file descriptors; the old thread-per-connection listener ran out, and a
    listener that let asyncio hit the limit logged a traceback per refused socket until its stderr pipe was full."""
    bare = _bare_repository(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    stderr = tmp_path / "stderr.log"
    with stderr.open("w") as stderr_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "gitops_sla", "reconcile", "--repo", str(bare), "--watch", "--interval", "3600",
             "--listen", "127.0.0.1:0", "--cache-dir", str(tmp_path / "cache")],
            stdout=subprocess.PIPE, stderr=stderr_file, text=True, env=env, preexec_fn=_limit_files,
            start_new_session=True,
        )
    idle: list[socket.socket] = []
    try:
        line = process.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:"), line + stderr.read_text()
        base = line.split()[2]
        port = int(base.rsplit(":", 1)[1])
        for _ in range(1200):  # the first pass (a fresh process) ends
            if httpx.get(f"{base}/healthz", timeout=30).status_code == 200:
                break
            time.sleep(0.1)
        for _ in range(1025):
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=30))
        health = httpx.get(f"{base}/healthz", timeout=30)
        assert health.status_code == 200 and health.json()["failedPassesInARow"] == 0
        assert process.poll() is None
        assert "Too many open files" not in stderr.read_text()
    finally:
        for conn in idle:
            conn.close()
        os.killpg(process.pid, 9)
        process.communicate()


def _unreachable_reconciler(tmp_path: Path) -> Reconciler:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mirror = Mirror(f"http://127.0.0.1:{port}/gitops.git", tmp_path / "cache")
    return Reconciler(mirror, InlineBackend(offline_profile, PROFILER_VERSION))


def _wait_until(condition, tries: int = 600) -> None:
    """Polls `condition` every 50 ms (at most `tries` times); the assertions after it say what was expected."""
    for _ in range(tries):
        if condition():
            return
        time.sleep(0.05)


def test_healthz_says_unhealthy_while_passes_keep_failing_and_metrics_count_them(tmp_path: Path) -> None:
    loop = WatchLoop(_unreachable_reconciler(tmp_path), interval_s=0.05)
    host, port = loop.listen("127.0.0.1", 0)
    worker = threading.Thread(target=loop.run, daemon=True)
    worker.start()
    try:
        _wait_until(lambda: loop.failed_in_a_row >= UNHEALTHY_AFTER_FAILED_PASSES)
        health = httpx.get(f"http://{host}:{port}/healthz")
        assert health.status_code == 503
        assert health.json()["failedPassesInARow"] >= UNHEALTHY_AFTER_FAILED_PASSES
        assert "127.0.0.1" in health.json()["lastError"]
        metrics = httpx.get(f"http://{host}:{port}/metrics").text
        failed = [line for line in metrics.splitlines() if line.startswith("gitops_sla_failed_passes_in_a_row ")]
        assert failed and float(failed[0].split()[1]) >= UNHEALTHY_AFTER_FAILED_PASSES
        assert 'gitops_sla_reconcile_passes_total{result="error"}' in metrics
    finally:
        loop.stop()
        worker.join(timeout=30)


def test_healthz_says_unhealthy_during_a_crash_loop_and_metrics_count_crashed_passes(tmp_path: Path,
                                                                                     monkeypatch) -> None:
    """A pass that raises (a bug, not a request's failure) is counted as crashed, three in a row make /healthz
    503, and the first pass that works again makes it healthy."""
    from gitops_sla.reconcile import engine

    def crash(snapshot):
        raise RuntimeError("a bug in the pass")

    monkeypatch.setattr(engine, "load_repo_config", crash)
    reconciler = Reconciler(Mirror(str(_bare_repository(tmp_path)), tmp_path / "cache"),
                            InlineBackend(offline_profile, PROFILER_VERSION))
    loop = WatchLoop(reconciler, interval_s=0.05)
    host, port = loop.listen("127.0.0.1", 0)
    worker = threading.Thread(target=loop.run, daemon=True)
    worker.start()
    try:
        _wait_until(lambda: loop.failed_in_a_row >= UNHEALTHY_AFTER_FAILED_PASSES)
        health = httpx.get(f"http://{host}:{port}/healthz")
        assert health.status_code == 503 and health.json()["failedPassesInARow"] >= UNHEALTHY_AFTER_FAILED_PASSES
        metrics = httpx.get(f"http://{host}:{port}/metrics").text
        [crashed] = [line for line in metrics.splitlines()
                     if line.startswith('gitops_sla_reconcile_passes_total{result="crashed"}')]
        assert float(crashed.split()[1]) >= UNHEALTHY_AFTER_FAILED_PASSES
        assert worker.is_alive()

        monkeypatch.undo()  # the bug is gone: the next pass works
        _wait_until(lambda: loop.failed_in_a_row == 0)
        health = httpx.get(f"http://{host}:{port}/healthz")
        assert health.status_code == 200 and health.json()["failedPassesInARow"] == 0
    finally:
        loop.stop()
        worker.join(timeout=30)


def test_a_200k_deep_json_body_gets_400_not_a_recursion_error(tmp_path: Path) -> None:
    loop = WatchLoop(_unreachable_reconciler(tmp_path), interval_s=3600)
    host, port = loop.listen("127.0.0.1", 0)
    try:
        body = b"[" * 200_000 + b"]" * 200_000
        answer = httpx.post(f"http://{host}:{port}/hook", content=body, headers={"X-GitHub-Event": "push"})
        assert answer.status_code == 400 and answer.json()["result"] == "bad-request"
        assert httpx.get(f"http://{host}:{port}/metrics").status_code == 200
    finally:
        loop.stop()


def test_a_second_watch_on_a_busy_port_says_so(tmp_path: Path, capsys) -> None:
    bare = _bare_repository(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["reconcile", "--repo", str(bare), "--watch", "--listen", f"127.0.0.1:{port}",
                     "--cache-dir", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert f"cannot listen on 127.0.0.1:{port} (Address already in use)" in err and "--listen" in err
