"""The cluster the profiling tests run against: kmock as the API server (`support.kube_api`), fault injection, and
a small test controller that plays the parts kmock does not have.

What the controller does, as the real ones would:
- Job controller + kubelet: a new profiling Job's command runs as a local process (its `python` is this
  interpreter, its kubeconfig points at kmock); when it exits, the Job gets `Complete` or, after `backoffLimit`
  retries, `Failed` (reason BackoffLimitExceeded). `kill_first` kills a Job's first pod as its first temporary
  DGD appears (a node lost mid-sweep; the DGD stays behind): the Job starts a second pod, as `backoffLimit: 1`
  allows.
- Dynamo operator: a temporary DGD (label `app.kubernetes.io/component: profiling-engine`) gets a real Dynamo
  frontend + mocker worker on 127.0.0.1 started by `engines(dgd)` (a context manager yielding the frontend's
  port), a Service `<dgd>-frontend` whose cluster IP is 127.0.0.1, and `Ready`; or never Ready
  (`dgd_mode = "never"`), or `state: failed` (`"fail"`). Deleting the DGD stops its engines and Service.
Everything started is stopped on every path (`stop()`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ContextManager

import kmock
from kubernetes import client
from kubernetes.client.exceptions import ApiException

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.kube_api import KubeApi  # noqa: E402

GROUP, VERSION, PLURAL = "nvidia.com", "v1alpha1", "dynamographdeployments"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Fault:
    """Answer `status` to requests matching (action, plural[, name prefix]) for the next `times` of them."""

    action: str
    plural: str
    status: int
    times: int
    name_prefix: str = ""
    seen: int = 0


def inject_faults(api: KubeApi) -> list[Fault]:
    """Install fault injection on the emulator; append `Fault`s to the returned list to fail requests."""
    faults: list[Fault] = []
    km = api.km
    original = km._handle

    async def handle(request):
        resource = request.resource
        plural = getattr(resource, "plural", None)
        action = getattr(request.action, "name", str(request.action)).lower()
        name = request.name or ((request.data or {}).get("metadata", {}).get("name") if isinstance(request.data, dict)
                                else None) or ""
        for fault in faults:
            if (fault.times > 0 and fault.action == action and fault.plural == plural
                    and name.startswith(fault.name_prefix)):
                fault.times -= 1
                fault.seen += 1
                raise kmock.KubernetesError(status=fault.status, reason="Injected", message=f"injected {fault.status}")
        return await original(request)

    km._handle = handle
    return faults


def api_client(api: KubeApi) -> client.ApiClient:
    return client.ApiClient(client.Configuration(host=api.url))


def leftovers(api: KubeApi, namespace: str) -> dict[str, list[str]]:
    """Jobs, ConfigMaps and DGDs still in `namespace` (the tests assert none is left)."""
    with contextlib.closing(api_client(api)) as raw:
        jobs = client.BatchV1Api(raw).list_namespaced_job(namespace).items
        maps = client.CoreV1Api(raw).list_namespaced_config_map(namespace).items
        dgds = client.CustomObjectsApi(raw).list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"]
    return {"jobs": [j.metadata.name for j in jobs if j.metadata.namespace == namespace],
            "configmaps": [m.metadata.name for m in maps if m.metadata.namespace == namespace],
            "dgds": [d["metadata"]["name"] for d in dgds if d["metadata"].get("namespace") == namespace]}


@dataclass
class TestController:
    """Runs Jobs and serves temporary DGDs (see the module docstring) until `stop()`."""

    __test__ = False

    api: KubeApi
    kubeconfig: Path
    namespace: str
    engines: Callable[[dict], ContextManager[int]] | None = None
    dgd_mode: str = "ready"  # ready | never | fail
    kill_first: bool = False
    pod_env: dict[str, str] = field(default_factory=dict)  # the image's environment (e.g. aiperf on PATH)
    poll_s: float = 0.2
    job_runs: dict[str, int] = field(default_factory=dict)
    dgds_seen: list[str] = field(default_factory=list)
    _pods: dict[str, subprocess.Popen] = field(default_factory=dict)
    _stacks: dict[str, contextlib.ExitStack] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    errors: list[str] = field(default_factory=list)

    def start(self) -> "TestController":
        self._raw = api_client(self.api)
        self.batch = client.BatchV1Api(self._raw)
        self.core = client.CoreV1Api(self._raw)
        self.objects = client.CustomObjectsApi(self._raw)
        self._thread = threading.Thread(target=self._loop, daemon=True, name="test-controller")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        for pod in self._pods.values():
            _kill(pod)
        for stack in self._stacks.values():
            stack.close()
        self._pods.clear()
        self._stacks.clear()
        self._raw.close()

    # ----------------------------------------------------------------------------------------------- loop

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._jobs()
                self._dgds()
            except Exception as exc:  # noqa: BLE001 - reported to the test through `errors`
                self.errors.append(repr(exc))
            self._stop.wait(self.poll_s)

    def _jobs(self) -> None:
        jobs = {j.metadata.name: j for j in self.batch.list_namespaced_job(self.namespace).items
                if j.metadata.namespace == self.namespace}
        for name in list(self._pods):
            if name not in jobs:  # the Job was deleted: its pod goes too
                _kill(self._pods.pop(name))
        for name, job in jobs.items():
            if job.status and job.status.conditions:
                continue
            pod = self._pods.get(name)
            if pod is None:
                self._pods[name] = self._start_pod(job)
                continue
            rc = pod.poll()
            if rc is None:
                continue
            del self._pods[name]
            if rc == 0:
                self._finish(name, "Complete", "", "")
            elif self.job_runs[name] <= (job.spec.backoff_limit or 0):
                self._pods[name] = self._start_pod(job)
            else:
                self._finish(name, "Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")

    def _start_pod(self, job) -> subprocess.Popen:
        name = job.metadata.name
        self.job_runs[name] = self.job_runs.get(name, 0) + 1
        [container] = job.spec.template.spec.containers
        command = [sys.executable if part == "python" else part for part in container.command]
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "PYTHONPATH": str(ROOT), "CI": "1", **self.pod_env}
        env.pop("KUBERNETES_SERVICE_HOST", None)
        return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)

    def _finish(self, name: str, kind: str, reason: str, message: str) -> None:
        condition = {"type": kind, "status": "True", "reason": reason, "message": message}
        self.batch.patch_namespaced_job_status(name, self.namespace, {"status": {"conditions": [condition]}})

    def _dgds(self) -> None:
        items = self.objects.list_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL)["items"]
        present = {d["metadata"]["name"]: d for d in items
                   if (d["metadata"].get("labels") or {}).get("app.kubernetes.io/component") == "profiling-engine"}
        for name in list(self._stacks):
            if name not in present:
                self._stacks.pop(name).close()
                with contextlib.suppress(ApiException):
                    self.core.delete_namespaced_service(f"{name}-frontend", self.namespace)
        for name, dgd in present.items():
            if (dgd.get("status") or {}).get("state"):
                continue  # served already
            if name in self._stacks:  # deleted and made again between two looks
                self._stacks.pop(name).close()
                with contextlib.suppress(ApiException):
                    self.core.delete_namespaced_service(f"{name}-frontend", self.namespace)
            self.dgds_seen.append(name)
            stack = contextlib.ExitStack()
            self._stacks[name] = stack
            first_pods = [job for job, runs in self.job_runs.items() if runs == 1 and job in self._pods]
            if self.kill_first and first_pods:
                for job in first_pods:  # the node went away while the engines deployed: the DGD stays behind
                    _kill(self._pods[job])
                self._status(name, {"state": "pending", "conditions": [
                    {"type": "Ready", "status": "False", "reason": "PodsPending", "message": "node lost"}]})
                continue
            if self.dgd_mode == "fail":
                self._status(name, {"state": "failed", "conditions": [
                    {"type": "Ready", "status": "False", "reason": "PodsFailed",
                     "message": "worker CrashLoopBackOff"}]})
            elif self.dgd_mode == "ready":
                port = stack.enter_context(self.engines(dgd)) if self.engines else 8000
                self.core.create_namespaced_service(self.namespace, {
                    "metadata": {"name": f"{name}-frontend", "namespace": self.namespace},
                    "spec": {"clusterIP": "127.0.0.1", "ports": [{"name": "http", "port": port}]}})
                self._status(name, {"state": "successful", "conditions": [
                    {"type": "Ready", "status": "True", "reason": "AllComponentsReady", "message": ""}]})
            else:
                self._status(name, {"state": "pending", "conditions": [
                    {"type": "Ready", "status": "False", "reason": "PodsPending", "message": "0/1 nodes available"}]})

    def _status(self, name: str, status: dict) -> None:
        self.objects.patch_namespaced_custom_object_status(GROUP, VERSION, self.namespace, PLURAL, name,
                                                           {"status": status})


def _kill(pod: subprocess.Popen) -> None:
    if pod.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pod.pid, signal.SIGKILL)
    pod.wait()


def wait_for(predicate: Callable[[], object], timeout_s: float = 120.0, what: str = "condition"):
    """Poll until `predicate()` is truthy (a bound on waiting, not an assertion about speed)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
