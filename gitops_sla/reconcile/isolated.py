"""Profiling in a warm child process with a time budget per request, which the pass enforces.

The offline profiler runs seconds per request once AI Configurator's data are loaded, but some inputs make
it run for hours (its set-up grows with the SLA's OSL) or exhaust memory. `IsolatedBackend` keeps one child
process that imports the profiler once and then profiles request after request (a warm reconciler stays as
fast as in-process profiling); a request whose profiling exceeds the budget gets its child killed and is
`Failed` with reason `ProfilingTimedOut`; the next request starts a fresh child. A child that dies (out of
memory, a crash in native code) fails only its request, too. `IsolatedProfile` is a profile function: wrap it
in a `DiskCache` (answered in the reconciler's process: a cached request starts no child) and give it to
`InlineBackend` or `BackgroundBackend`.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from gitops_sla.reconcile.profiling import ProfileFn, ProfileJob, ProfileOutput
from profiler.errors import ProfilingError

log = logging.getLogger(__name__)

DEFAULT_BUDGET_S = 600.0
START_TIMEOUT_S = 300.0  # importing the profiler in a fresh child; not counted in any request's budget


class ProfilingTimedOut(ProfilingError):
    """The request's profiling ran past its time budget and was stopped."""

    reason = "ProfilingTimedOut"


class ProfilerProcessDied(ProfilingError):
    """The profiler's process ended while profiling the request (killed for memory, a native crash)."""

    reason = "ProfilingFailed"


def _serve(conn: Connection, profile: ProfileFn) -> None:
    """The child: import the profiler, say ready, then answer jobs until the pipe closes."""
    import profiler.pipeline  # noqa: F401  (AI Configurator's modules: loaded once per child)

    conn.send(("ready", None))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        try:
            answer: tuple[str, Any] = ("ok", profile(job))
        except ProfilingError as exc:
            answer = ("profiling-error", str(exc))
        except Exception as exc:  # noqa: BLE001 - sent to the parent, which records it for this request
            answer = ("error", exc)
        try:
            conn.send(answer)
        except Exception:  # noqa: BLE001 - the exception itself would not pickle: send its text
            conn.send(("error", RuntimeError(f"{type(answer[1]).__name__}: {answer[1]}")))


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection


class IsolatedProfile:
    """Runs `profile` (a picklable function) in a warm child process; each job gets `budget_s` seconds."""

    def __init__(self, profile: ProfileFn, budget_s: float = DEFAULT_BUDGET_S,
                 start_timeout_s: float = START_TIMEOUT_S):
        self._profile = profile
        self.budget_s = budget_s
        self.start_timeout_s = start_timeout_s
        self._context = multiprocessing.get_context("spawn")
        self._worker: _Worker | None = None
        self._lock = threading.Lock()

    def __call__(self, job: ProfileJob) -> ProfileOutput:
        """The output; `ProfilingTimedOut` past the budget, `ProfilingError` for the profiler's own errors, and
        the profiler's other exceptions re-raised as they were."""
        with self._lock:
            worker = self._started()
            worker.conn.send(job)
            if not worker.conn.poll(self.budget_s):
                self._stop()
                raise ProfilingTimedOut(
                    f"Profiling took longer than its budget of {self.budget_s:g} s and was stopped (the reconciler's "
                    "--profile-timeout); check the numbers that size the work (sla.isl/osl, sweep ranges)")
            try:
                kind, payload = worker.conn.recv()
            except (EOFError, OSError):
                code = worker.process.exitcode
                self._stop()
                raise ProfilerProcessDied(f"The profiler's process ended while profiling this request (exit code "
                                          f"{code}; out of memory?)") from None
        if kind == "ok":
            return payload
        if kind == "profiling-error":
            raise ProfilingError(payload)
        raise payload

    def _started(self) -> _Worker:
        if self._worker is not None and self._worker.process.is_alive():
            return self._worker
        self._stop()
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_serve, args=(child, self._profile), name="gitops-sla-profiler",
                                        daemon=True)
        process.start()
        child.close()
        worker = _Worker(process, parent)
        self._worker = worker
        if not parent.poll(self.start_timeout_s):
            self._stop()
            raise OSError(f"the profiler process did not start within {self.start_timeout_s:g} s")
        try:
            parent.recv()
        except (EOFError, OSError):
            self._stop()
            raise OSError("the profiler process ended while starting") from None
        return worker

    def _stop(self) -> None:
        worker, self._worker = self._worker, None
        if worker is None:
            return
        worker.conn.close()
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(10)

    def close(self) -> None:
        """Stop the child process (shutdown, tests)."""
        with self._lock:
            self._stop()
