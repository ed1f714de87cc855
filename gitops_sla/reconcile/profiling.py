"""How the reconciler runs profiling: a backend answers `run(job)` with a finished output or "still running".

The offline profiler finishes within a pass (`InlineBackend`). A long run (online profiling on a cluster,
hours) must span many passes: its backend returns `Running`, the reconciler records `Profiling` in
`status.yaml`, and a later pass — of this process or another one, after a restart — asks again and
commits the result. `BackgroundBackend` does that for any synchronous profile function with a thread pool
(its jobs are keyed by spec hash, so asking again is idempotent).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Protocol

from gitops_sla.models import ResultSummary
from gitops_sla.models.request import SlaRequest
from profiler.config import ProfileConfig


@dataclass(frozen=True)
class ProfileJob:
    """One request to profile: everything the profiler needs, plus its identity."""

    namespace: str
    name: str
    spec_hash: str
    request: SlaRequest
    config: ProfileConfig
    base_config_path: str | None = None
    base_config: bytes | None = None


@dataclass(frozen=True)
class ProfileOutput:
    """A finished profile: the files for `generated/<ns>/<name>/` (names relative to that folder), the
    Kubernetes manifests among them (for `kustomization.yaml`), the Markdown report and a summary."""

    files: dict[str, bytes]
    resources: list[str]
    report: str
    summary: ResultSummary
    dgd_name: str | None = None
    dgd_namespace: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Running:
    """Profiling has started and is not finished; ask again in a later pass."""

    message: str = "Profiling is in progress"


class ProfilingBackend(Protocol):
    version: str

    def run(self, job: ProfileJob) -> ProfileOutput | Running:
        """The output, or `Running`; raises `profiler.errors.ProfilingError` when profiling failed."""


ProfileFn = Callable[[ProfileJob], ProfileOutput]


class InlineBackend:
    """Runs the profile function within the pass (the offline profiler: seconds)."""

    def __init__(self, profile: ProfileFn, version: str):
        self._profile = profile
        self.version = version

    def run(self, job: ProfileJob) -> ProfileOutput:
        return self._profile(job)


class BackgroundBackend:
    """Runs the profile function in worker threads; `run` returns `Running` until the job is done."""

    def __init__(self, profile: ProfileFn, version: str, workers: int = 1):
        self._profile = profile
        self.version = version
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="profile")
        self._jobs: dict[str, Future[ProfileOutput]] = {}
        self._lock = threading.Lock()

    def run(self, job: ProfileJob) -> ProfileOutput | Running:
        with self._lock:
            future = self._jobs.get(job.spec_hash)
            if future is None:
                future = self._jobs[job.spec_hash] = self._pool.submit(self._profile, job)
        if not future.done():
            return Running(f"Profiling is in progress (job {job.spec_hash[7:19]})")
        with self._lock:
            self._jobs.pop(job.spec_hash, None)
        return future.result()

    def wait(self, timeout_s: float | None = None) -> None:
        """Block until every submitted job is done (tests, shutdown)."""
        for future in list(self._jobs.values()):
            future.exception(timeout=timeout_s)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
