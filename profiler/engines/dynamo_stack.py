"""Dynamo 1.6.1's frontend and mocker workers on 127.0.0.1, from the Dynamo virtualenv
(`scripts/setup-dynamo-venv`): file discovery, TCP request plane, and a loopback ZMQ broker, so nothing listens
beyond loopback. Every process runs in its own process group, dies with this process (`PR_SET_PDEATHSIG`), and
is stopped when the context exits on every path; its HOME and TMPDIR are inside a temporary directory that is
removed afterwards, so nothing is left in /tmp.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

from profiler.errors import ProfilingError

SCRIPTS = Path(__file__).resolve().parent / "venv_scripts"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 5.0
WorkerMode = Literal["agg", "disagg"]
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class WorkerTiming:
    """How a mocker worker is timed and sized: a mocker-format NPZ (`prefill_isl`, `prefill_ttft_ms`,
    `decode_active_kv_tokens`, `decode_context_length`, `decode_itl`) and its KV cache (blocks x block size)."""

    npz: Path | None = None
    kv_blocks: int | None = None
    block_size: int = 16
    extra_args: tuple[str, ...] = ()


@dataclass
class DynamoStack:
    """A running stack: where to reach it and what to stop."""

    url: str
    metrics_url: str
    model: str
    model_dir: Path
    run_dir: Path
    processes: list[subprocess.Popen] = field(default_factory=list)


def die_with_parent() -> None:
    """In the child: be killed when the process that started us dies (even by SIGKILL)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: the context exit still stops the group
        pass


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _spawn(command: list[str], env: dict[str, str], log: Path, stdout: int | None = None) -> subprocess.Popen:
    with log.open("ab") as handle:
        return subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=stdout if stdout is not None else handle,
            stderr=handle, start_new_session=True, preexec_fn=die_with_parent, cwd=log.parent,
        )


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group, SIGKILL after a grace period; reaps the process."""
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, STOP_TIMEOUT_S)):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    try:
        os.killpg(process.pid, signal.SIGKILL)  # whatever the group still holds (the leader is gone)
    except (ProcessLookupError, PermissionError):
        pass
    if process.poll() is None:
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


def _log_tail(run_dir: Path) -> str:
    lines = []
    for log in sorted(run_dir.glob("*.log")):
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        lines += [f"{log.name}: {line}" for line in tail]
    return "\n".join(lines)


def _wait_ready(stack: DynamoStack, deadline: float) -> None:
    """Until the model is listed at /v1/models."""
    while time.monotonic() < deadline:
        for process in stack.processes:
            if process.poll() is not None:
                raise ProfilingError(
                    f"a Dynamo process exited with status {process.returncode} while starting:\n{_log_tail(stack.run_dir)}"
                )
        try:
            models = httpx.get(f"{stack.url}/v1/models", timeout=2).json().get("data", [])
            if any(item.get("id") == stack.model for item in models):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.1)
    raise ProfilingError(f"Dynamo's frontend did not list {stack.model} within {READY_TIMEOUT_S:g} s:\n{_log_tail(stack.run_dir)}")


@contextmanager
def dynamo_stack(
    python: Path,
    model_dir: Path,
    model: str,
    *,
    mode: WorkerMode = "agg",
    timing: WorkerTiming = WorkerTiming(),
    decode_timing: WorkerTiming | None = None,
) -> Iterator[DynamoStack]:
    """Start a frontend and one aggregated mocker (or a prefill and a decode mocker), yield the stack, stop it."""
    run_dir = Path(tempfile.mkdtemp(prefix="gitops-sla-dynamo-"))
    try:
        with ExitStack() as cleanup:
            env = _environment(run_dir)
            broker = _spawn([str(python), "-P", str(SCRIPTS / "zmq_broker.py")], env, run_dir / "broker.log",
                            stdout=subprocess.PIPE)
            cleanup.callback(stop, broker)
            ports = broker.stdout.readline().split() if broker.stdout else []
            if len(ports) != 2:
                raise ProfilingError(f"the loopback ZMQ broker did not start:\n{_log_tail(run_dir)}")
            env["DYN_ZMQ_BROKER_URL"] = f"xsub=tcp://127.0.0.1:{int(ports[0])} , xpub=tcp://127.0.0.1:{int(ports[1])}"
            port = free_port()
            stack = DynamoStack(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/metrics", model, model_dir,
                                run_dir, [broker])
            common = ["--discovery-backend", "file", "--request-plane", "tcp"]
            frontend = _spawn([str(python), "-m", "dynamo.frontend", *common, "--http-host", "127.0.0.1",
                               "--http-port", str(port)], env, run_dir / "frontend.log")
            cleanup.callback(stop, frontend)
            stack.processes.append(frontend)
            roles = [("agg", timing)] if mode == "agg" else [("prefill", timing), ("decode", decode_timing or timing)]
            for role, worker_timing in roles:
                command = [str(python), "-m", "dynamo.mocker", *common, "--model-path", str(model_dir),
                           "--model-name", model, "--block-size", str(worker_timing.block_size),
                           *worker_timing.extra_args]
                if worker_timing.npz is not None:
                    command += ["--planner-profile-data", str(worker_timing.npz)]
                if worker_timing.kv_blocks:
                    command += ["--num-gpu-blocks-override", str(worker_timing.kv_blocks)]
                if role != "agg":
                    command += ["--disaggregation-mode", role]
                worker = _spawn(command, env, run_dir / f"mocker-{role}.log")
                cleanup.callback(stop, worker)
                stack.processes.append(worker)
            _wait_ready(stack, time.monotonic() + READY_TIMEOUT_S)
            yield stack
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def _environment(run_dir: Path) -> dict[str, str]:
    """Loopback-only discovery and planes; HOME and TMPDIR inside `run_dir` (Dynamo writes $HOME/.cache/dynamo
    and a logging config per process into the temp dir)."""
    home, tmp = run_dir / "home", run_dir / "tmp"
    home.mkdir()
    tmp.mkdir()
    keep = {key: value for key, value in os.environ.items() if key in ("PATH", "LANG", "LC_ALL", "TZ")}
    return {
        **keep,
        "HOME": str(home), "TMPDIR": str(tmp), "DYN_FILE_KV": str(run_dir / "kv"),
        "DYN_TCP_RPC_HOST": "127.0.0.1", "DYN_TCP_RESPONSE_STREAM_HOST": "127.0.0.1",
        "DYN_EVENT_PLANE_HOST": "127.0.0.1", "DYN_SYSTEM_HOST": "127.0.0.1", "DYN_HTTP_RPC_HOST": "127.0.0.1",
        "DYN_LOG": os.environ.get("DYN_LOG", "warn"),
    }
