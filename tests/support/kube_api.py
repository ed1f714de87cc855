"""kmock's Kubernetes API emulator on 127.0.0.1 for processes that read a kubeconfig (no real API server runs here).

What kmock emulates: discovery (the bundled core groups, including `coordination.k8s.io/v1` Leases, plus the
Dynamo resources registered here), GET, create, merge-PATCH, delete, 404 for unknown objects, 409 when a
create finds the object. What `ConsistentEmulator` adds, as a real API server does: `metadata.resourceVersion`
on every create and update, 409 Conflict for a write that carries a stale one, and one write at a time (the
check and the write happen together); `forbidden` answers chosen requests 403 without writing, as RBAC does
(a kmock reaction would answer 403 but still apply the write). With `keep_requests`, only the newest requests stay in kmock's history
(kmock matches every request against its whole history, so a long test slows down linearly) and `calls` keeps
who called what instead. `kubeconfig()` writes a file that points the official client (in this
process or in a child process) at the emulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import kmock
import yaml

DGD = "nvidia.com/v1alpha1/dynamographdeployments"
LEASES = "coordination.k8s.io/v1/leases"


@dataclass(frozen=True)
class Call:
    """One API request, as RBAC sees it."""

    authorization: str
    group: str
    plural: str
    action: str  # kmock's: fetch, list, watch, create, update, delete


class ConsistentEmulator(kmock.KubernetesEmulator):
    """resourceVersion on writes, 409 on a stale resourceVersion, writes serialised; optionally a bounded history."""

    def __init__(self, *args, keep_requests: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._versions = itertools.count(1000)
        self._writes = asyncio.Lock()
        self.keep_requests = keep_requests
        self.calls: set[Call] = set()
        self.forbidden: set[tuple[str, str]] = set()  # (method, path): 403 and nothing written, as RBAC refuses

    async def _handle(self, request):
        if self.keep_requests is not None:
            self._forget_old_requests(request)
        if (getattr(request.method, "name", str(request.method)).upper(), request.url.path) in self.forbidden:
            raise kmock.KubernetesError(status=403, reason="Forbidden", message=f"{request.url.path} is forbidden")
        action = kmock.action
        if request.resource is None or request.action not in (action.CREATE, action.UPDATE, action.DELETE):
            return await super()._handle(request)
        async with self._writes:  # never a watch here: a write answers at once
            if request.action == action.UPDATE and request.name and isinstance(request.data, dict):
                key = (request.resource, request.namespace, request.name)
                if key in self.objects and not self.objects[key].deleted:
                    current = self.objects[key].raw.get("metadata", {}).get("resourceVersion")
                    wanted = (request.data.get("metadata") or {}).get("resourceVersion")
                    if wanted is not None and wanted != current:
                        raise kmock.KubernetesError(status=409, reason="Conflict",
                                                    message="the object has been modified; please apply your "
                                                            "changes to the latest version and try again")
                request.data.setdefault("metadata", {})["resourceVersion"] = str(next(self._versions))
            elif request.action == action.CREATE and isinstance(request.data, dict):
                request.data.setdefault("metadata", {})["resourceVersion"] = str(next(self._versions))
            return await super()._handle(request)

    def _forget_old_requests(self, request) -> None:
        if request.resource is not None:
            self.calls.add(Call(request.headers.get("Authorization", ""), request.resource.group or "",
                                request.resource.plural or "", getattr(request.action, "name", "").lower()))
        del self._requests[:-self.keep_requests]
        for payload in self._payloads:  # the built-in reactions record what they served, too
            del payload._requests[:-self.keep_requests]

    def put(self, resource: str, namespace: str, name: str, body: dict) -> None:
        """Create or replace an object as a controller would (a new resourceVersion)."""
        body.setdefault("metadata", {}).update(name=name, namespace=namespace,
                                               resourceVersion=str(next(self._versions)))
        self.objects[resource, namespace, name] = body

    def remove(self, resource: str, namespace: str, name: str) -> None:
        self.objects[resource, namespace, name].delete()


class KubeApi:
    """A running emulator: `km` (objects, requests), `url`, `kubeconfig(path)`."""

    def __init__(self, km: ConsistentEmulator, url: str, loop: asyncio.AbstractEventLoop):
        self.km, self.url, self.loop = km, url, loop

    def kubeconfig(self, path: Path, token: str = "test-token") -> Path:
        """A kubeconfig file whose current context is this emulator (bearer token, plain HTTP on loopback)."""
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "kmock",
            "clusters": [{"name": "kmock", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": token}}],
            "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "tester"}}],
        }))
        return path

    def call(self, fn, *args):
        """Run `fn(km, *args)` on the emulator's event loop (objects are not thread-safe) and return its result."""
        async def run():
            return fn(self.km, *args)
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)


@contextlib.contextmanager
def kube_api(keep_requests: int | None = None) -> Iterator[KubeApi]:
    """kmock in a background thread, stopped on every path; `keep_requests` bounds its request history."""
    ready, box = threading.Event(), {}

    async def serve() -> None:
        box["stop"] = asyncio.Event()
        async with ConsistentEmulator(keep_requests=keep_requests) as km, kmock.Server(km) as server:
            km.resources.load_bundled()
            km.resources[DGD] = kmock.ResourceInfo(
                kind="DynamoGraphDeployment", singular="dynamographdeployment", namespaced=True,
                verbs={"get", "list", "watch", "create", "update", "patch", "delete"}, subresources={"status"})
            box.update(api=KubeApi(km, str(server.url).rstrip("/"), asyncio.get_running_loop()))
            ready.set()
            await box["stop"].wait()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True, name="kmock")
    thread.start()
    try:
        assert ready.wait(10), "kmock did not start"
        assert box["api"].url.startswith("http://127.0.0.1:"), box["api"].url
        yield box["api"]
    finally:
        if "stop" in box and "api" in box:
            box["api"].loop.call_soon_threadsafe(box["stop"].set)
        thread.join(10)
