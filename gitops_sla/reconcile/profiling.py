"""How the reconciler runs profiling: a backend answers `run(job)` with a finished output or "still running".

The offline profiler finishes within a pass (`InlineBackend`). A long run (online profiling on a cluster,
hours) must span many passes: its backend returns `Running`, the reconciler records `Profiling` in
`status.yaml`, and a later pass — of this process or another one, after a restart — asks again and
commits the result. `BackgroundBackend` does that for any synchronous profile function with a thread pool
(its jobs are keyed by spec hash, so asking again is idempotent).
"""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Literal, Protocol

from gitops_sla.models import ResultSummary
from gitops_sla.models.request import SlaRequest
from profiler.config import ProfileConfig
from profiler.errors import ProfilingError
from profiler.progress import ProgressState

OnlineFallback = Literal["fail", "estimate"]


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
    online_fallback: OnlineFallback = "fail"  # gitops-sla.yaml `onlineProfiling.fallback`
    planner_image: str | None = None  # gitops-sla.yaml `planner.image`: this project's planner; None: Dynamo's
    dynamo_version: str | None = None  # gitops-sla.yaml `dynamo.version`; None: by the request's API version


    @property
    def online(self) -> bool:
        """Does the request ask for measured profiling (`sweep.useAiConfigurator: false`)?"""
        return not self.config.sweep.use_ai_configurator


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
    """Profiling has started and is not finished; ask again in a later pass. `progress`: where a long run
    stands (phase, n/m measurements), when the backend knows. `record_now`: the message reports an event (a
    run restarted or resumed) that `status.yaml` should say now, not at the next progress interval."""

    message: str = "Profiling is in progress"
    progress: ProgressState | None = None
    record_now: bool = False


class BackendUnavailable(Exception):
    """The backend cannot tell how profiling stands right now (its API server failed after retries): not a
    profiling failure; the request stays pending and a later pass asks again."""


class ProfilingBackend(Protocol):
    version: str

    def run(self, job: ProfileJob) -> ProfileOutput | Running:
        """The output, or `Running`; raises `profiler.errors.ProfilingError` when profiling failed, and
        `BackendUnavailable` when it cannot tell for now."""

    def forget(self, namespace: str, name: str) -> None:
        """The request was deleted: stop its runs, whatever inputs they were for, and remove what they made
        (nothing when none runs); raises `BackendUnavailable` when that cannot be done for now."""


ProfileFn = Callable[[ProfileJob], ProfileOutput]


class InlineBackend:
    """Runs the profile function within the pass (the offline profiler: seconds)."""

    def __init__(self, profile: ProfileFn, version: str):
        self._profile = profile
        self.version = version

    def run(self, job: ProfileJob) -> ProfileOutput:
        return self._profile(job)

    def forget(self, namespace: str, name: str) -> None:
        """Nothing outlives a pass here."""


class BackgroundBackend:
    """Runs the profile function in worker threads; `run` returns `Running` until the job is done."""

    def __init__(self, profile: ProfileFn, version: str, workers: int = 1):
        self._profile = profile
        self.version = version
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="profile")
        self._jobs: dict[str, Future[ProfileOutput]] = {}
        self._requests: dict[str, tuple[str, str]] = {}  # spec hash -> (namespace, name)
        self._lock = threading.Lock()

    def run(self, job: ProfileJob) -> ProfileOutput | Running:
        with self._lock:
            future = self._jobs.get(job.spec_hash)
            if future is None:
                future = self._jobs[job.spec_hash] = self._pool.submit(self._profile, job)
                self._requests[job.spec_hash] = (job.namespace, job.name)
        if not future.done():
            return Running(f"Profiling is in progress (job {job.spec_hash[7:19]})")
        with self._lock:
            self._jobs.pop(job.spec_hash, None)
            self._requests.pop(job.spec_hash, None)
        return future.result()

    def forget(self, namespace: str, name: str) -> None:
        """Drop the request's jobs: one not started yet is cancelled; a running one finishes unread (a thread
        cannot be stopped)."""
        with self._lock:
            for spec_hash in [h for h, request in self._requests.items() if request == (namespace, name)]:
                self._jobs.pop(spec_hash).cancel()
                del self._requests[spec_hash]

    def wait(self, timeout_s: float | None = None) -> None:
        """Block until every submitted job is done (tests, shutdown)."""
        for future in list(self._jobs.values()):
            future.exception(timeout=timeout_s)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


FALLBACK_WARNING = ("measured profiling was asked for (sweep.useAiConfigurator: false) but this reconciler has no "
                    "engine provider; gitops-sla.yaml sets onlineProfiling.fallback: estimate, so these numbers are "
                    "AI Configurator estimates, not measurements")


class RoutingBackend:
    """Routes each request by its method: `useAiConfigurator: true` to `offline` (the estimate), false to `online`
    (measured on engines). Without an online backend an online request fails, naming what to configure, unless
    the repository's `onlineProfiling.fallback: estimate` allows the estimate, which the output then says."""

    def __init__(self, offline: ProfilingBackend, online: ProfilingBackend | None = None):
        self.offline = offline
        self.online = online
        self.version = offline.version

    def run(self, job: ProfileJob) -> ProfileOutput | Running:
        if not job.online:
            return self.offline.run(job)
        if self.online is not None:
            return self.online.run(job)
        if job.online_fallback != "estimate":
            raise ProfilingError(
                "this request asks for measured profiling (sweep.useAiConfigurator is false) and the reconciler has "
                "no engine provider: start it with --online-engines kubernetes (a profiling Job on the cluster) or "
                "--online-engines local-dynamo, or set sweep.useAiConfigurator: true in the request for the AI "
                "Configurator estimate, or allow that estimate for online requests with `onlineProfiling: "
                "{fallback: estimate}` in gitops-sla.yaml")
        result = self.offline.run(job)
        if isinstance(result, Running):
            return result
        warnings = [FALLBACK_WARNING, *result.warnings]
        return dataclasses.replace(result, warnings=warnings,
                                   summary=result.summary.model_copy(update={"warnings": warnings}))

    def forget(self, namespace: str, name: str) -> None:
        self.offline.forget(namespace, name)
        if self.online is not None:
            self.online.forget(namespace, name)
