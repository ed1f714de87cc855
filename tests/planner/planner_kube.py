"""kmock's Kubernetes API emulator on 127.0.0.1 in a background thread, with resourceVersion and 409 Conflict.

What kmock emulates: discovery, GET, merge-PATCH (also of a subresource path such as `/scale`, merged into the
object), 404 for unknown objects. The subclass adds what a real API server does and kmock does not:
`metadata.resourceVersion` on create and update, and 409 Conflict when a patch carries a stale one
(test-environment notes §2.1). No controllers run: a DGDSA scale does not reach the DGD here.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from typing import Callable, Iterator

import kmock
from kubernetes import client

DGD = "nvidia.com/v1alpha1/dynamographdeployments"
DGDSA = "nvidia.com/v1alpha1/dynamographdeploymentscalingadapters"


class StrictEmulator(kmock.KubernetesEmulator):
    """Sets resourceVersion, answers 409 to a stale one; `before_update` hooks emulate concurrent writers."""

    _versions = itertools.count(1000)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.before_update: list[Callable[["StrictEmulator", object], None]] = []

    async def _handle(self, request):
        action = kmock.action
        if request.resource is not None and request.action == action.UPDATE and request.name:
            for hook in list(self.before_update):
                hook(self, request)
            key = (request.resource, request.namespace, request.name)
            if key in self.objects and not self.objects[key].deleted and isinstance(request.data, dict):
                current = self.objects[key].raw.get("metadata", {}).get("resourceVersion")
                wanted = request.data.get("metadata", {}).get("resourceVersion")
                if wanted is not None and wanted != current:
                    raise kmock.KubernetesError(status=409, reason="Conflict",
                                                message="the object has been modified")
                request.data.setdefault("metadata", {})["resourceVersion"] = str(next(self._versions))
        return await super()._handle(request)

    def seed(self, resource: str, namespace: str, name: str, body: dict) -> None:
        body.setdefault("metadata", {}).update(name=name, namespace=namespace,
                                               resourceVersion=str(next(self._versions)))
        self.objects[resource, namespace, name] = body


@contextlib.contextmanager
def kube_emulator() -> Iterator[tuple[StrictEmulator, client.CustomObjectsApi]]:
    ready, box = threading.Event(), {}

    async def serve() -> None:
        box["stop"] = asyncio.Event()
        async with StrictEmulator() as km, kmock.Server(km) as server:
            for plural, kind in (("dynamographdeployments", "DynamoGraphDeployment"),
                                 ("dynamographdeploymentscalingadapters", "DynamoGraphDeploymentScalingAdapter")):
                km.resources[f"nvidia.com/v1alpha1/{plural}"] = kmock.ResourceInfo(
                    kind=kind, singular=kind.lower(), namespaced=True,
                    verbs={"get", "list", "watch", "create", "update", "patch", "delete"},
                    subresources={"status", "scale"})
            box.update(km=km, url=str(server.url).rstrip("/"), loop=asyncio.get_running_loop())
            ready.set()
            await box["stop"].wait()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    assert ready.wait(10), "kmock did not start"
    assert box["url"].startswith("http://127.0.0.1:"), box["url"]
    api = client.ApiClient(client.Configuration(host=box["url"]))
    try:
        yield box["km"], client.CustomObjectsApi(api)
    finally:
        api.close()
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(10)
