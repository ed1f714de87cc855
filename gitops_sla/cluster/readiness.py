"""`DeploymentReader` over the Kubernetes API: GET one DynamoGraphDeployment and read its status.

Dynamo's operator reports a DGD's lifecycle in `status.state` (`initializing`, `pending`, `successful`,
`failed`) and details in the `Ready` condition (reason, message). RBAC: `get` on
`dynamographdeployments.nvidia.com` in the namespaces the requests deploy to (`deploy/components/readiness`).
"""

from __future__ import annotations

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gitops_sla.reconcile.readiness import DeploymentReadError, LiveDeployment

GROUP = "nvidia.com"
PLURAL = "dynamographdeployments"


class KubeDeploymentReader:
    """Reads DGDs through `CustomObjectsApi` (version v1alpha1 by default; Dynamo 1.x also serves it)."""

    def __init__(self, api: client.ApiClient, version: str = "v1alpha1"):
        self._api = client.CustomObjectsApi(api)
        self.version = version

    def read(self, namespace: str, name: str) -> LiveDeployment:
        try:
            dgd = self._api.get_namespaced_custom_object(GROUP, self.version, namespace, PLURAL, name)
        except ApiException as exc:
            if exc.status == 404:
                return LiveDeployment(found=False)
            raise DeploymentReadError(f"GET {PLURAL}/{name} in {namespace}: {exc.status} {exc.reason}") from None
        except (OSError, urllib3.exceptions.HTTPError) as exc:  # connection refused, DNS, TLS
            raise DeploymentReadError(f"GET {PLURAL}/{name} in {namespace}: {exc}") from None
        return live_deployment(dgd)


def live_deployment(dgd: dict) -> LiveDeployment:
    """A DGD object's state, with the `Ready` condition's reason and message."""
    status = dgd.get("status") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
    return LiveDeployment(found=True, state=str(status.get("state") or ""), reason=str(ready.get("reason") or ""),
                          message=str(ready.get("message") or ""))
