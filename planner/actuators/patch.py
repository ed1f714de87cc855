"""Patch mode: scale the DGD in the cluster, as Dynamo's KubernetesConnector does.

For each role whose `spec.services.<svc>.replicas` differs from the decision: PATCH the scale subresource of the
DGDSA `<dgd>-<service lower>` (`{"spec": {"replicas": N}}`); if the adapter does not exist (404, older operators),
merge-patch the DGD's `spec.services.<svc>.replicas` with `metadata.resourceVersion` as a precondition. Nothing
is patched unless the DGD is Ready. A 409 Conflict (someone changed the DGD between our read and our patch)
re-reads the DGD, checks readiness again and retries, a bounded number of times.
"""

from __future__ import annotations

import logging
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from planner.args import UsageError
from planner.dgd import DgdError, is_ready, resolve_services, running_replicas, service_replicas
from planner.policy import Decision, Replicas

log = logging.getLogger(__name__)

GROUP, VERSION = "nvidia.com", "v1alpha1"
DGD_PLURAL = "dynamographdeployments"
DGDSA_PLURAL = "dynamographdeploymentscalingadapters"
MAX_CONFLICT_RETRIES = 3
NETWORK_ERRORS = (ApiException, OSError)


def adapter_name(dgd_name: str, service: str) -> str:
    """Dynamo's DGDSA naming convention: `<dgd>-<lowercase service key>`."""
    return f"{dgd_name}-{service.lower()}"


class PatchActuator:
    """Scales one DGD through the Kubernetes API."""

    name = "patch"

    def __init__(self, api: client.CustomObjectsApi, namespace: str, dgd_name: str,
                 prefill_service: str | None = None, decode_service: str | None = None) -> None:
        self.api = api
        self.namespace = namespace
        self.dgd_name = dgd_name
        self.service_flags = (prefill_service, decode_service)

    def _get(self) -> dict[str, Any]:
        return self.api.get_namespaced_custom_object(GROUP, VERSION, self.namespace, DGD_PLURAL, self.dgd_name)

    def _services(self, dgd: dict[str, Any]) -> dict[str, str]:
        return resolve_services(dgd, *self.service_flags)

    def current(self) -> Replicas | None:
        try:
            dgd = self._get()
            return service_replicas(dgd, self._services(dgd))
        except (DgdError, *NETWORK_ERRORS) as error:
            log.warning("cannot read DGD %s/%s: %s", self.namespace, self.dgd_name, _brief(error))
            return None

    def running(self) -> Replicas | None:
        """The replicas serving now (the DGD's status), `None` if unknown."""
        try:
            dgd = self._get()
            return running_replicas(dgd, self._services(dgd))
        except (DgdError, *NETWORK_ERRORS) as error:
            log.warning("cannot read DGD %s/%s: %s", self.namespace, self.dgd_name, _brief(error))
            return None

    def apply(self, decision: Decision, now: float) -> dict:
        if decision.action == "hold" or decision.prefill_replicas is None:
            return {"result": "held"}
        target = {"prefill": decision.prefill_replicas, "decode": decision.decode_replicas}
        for attempt in range(1, MAX_CONFLICT_RETRIES + 1):
            try:
                return self._apply_once(target)
            except ApiException as error:
                if error.status != 409:
                    log.error("scaling DGD %s/%s failed: %s", self.namespace, self.dgd_name, _brief(error))
                    return {"result": "failed", "error": _brief(error)}
                log.warning("conflict scaling DGD %s/%s (attempt %d of %d): it changed since it was read; "
                            "re-reading", self.namespace, self.dgd_name, attempt, MAX_CONFLICT_RETRIES)
            except (DgdError, OSError) as error:
                log.error("scaling DGD %s/%s failed: %s", self.namespace, self.dgd_name, _brief(error))
                return {"result": "failed", "error": _brief(error)}
        return {"result": "conflict", "error": f"still conflicting after {MAX_CONFLICT_RETRIES} attempts"}

    def _apply_once(self, target: dict[str, int]) -> dict:
        dgd = self._get()
        if not is_ready(dgd):
            log.warning("DGD %s/%s is not Ready, ignoring this scaling", self.namespace, self.dgd_name)
            return {"result": "skipped", "reason": "DGD not Ready"}
        services = self._services(dgd)
        current = service_replicas(dgd, services)
        have = {"prefill": current.prefill, "decode": current.decode}
        patched: dict[str, str] = {}
        for role, replicas in target.items():
            if have[role] == replicas:
                continue
            patched[services[role]] = self._scale(dgd, services[role], replicas)
        return {"result": "applied" if patched else "unchanged", "patched": patched}

    def _scale(self, dgd: dict[str, Any], service: str, replicas: int) -> str:
        adapter = adapter_name(self.dgd_name, service)
        try:
            self.api.patch_namespaced_custom_object_scale(GROUP, VERSION, self.namespace, DGDSA_PLURAL, adapter,
                                                           {"spec": {"replicas": replicas}})
            log.info("scaled %s to %d through DGDSA %s", service, replicas, adapter)
            return f"dgdsa/{adapter}"
        except ApiException as error:
            if error.status != 404:
                raise
        body = {"metadata": {"resourceVersion": dgd["metadata"].get("resourceVersion")},
                "spec": {"services": {service: {"replicas": replicas}}}}
        if body["metadata"]["resourceVersion"] is None:
            del body["metadata"]
        updated = self.api.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, DGD_PLURAL,
                                                          self.dgd_name, body)
        if isinstance(updated, dict) and updated.get("metadata", {}).get("resourceVersion"):
            dgd["metadata"]["resourceVersion"] = updated["metadata"]["resourceVersion"]
        log.info("scaled %s to %d by patching DGD %s (no DGDSA %s)", service, replicas, self.dgd_name, adapter)
        return f"dgd/{self.dgd_name}"


def _brief(error: Exception) -> str:
    if isinstance(error, ApiException):
        return f"HTTP {error.status} {error.reason}"
    return str(error)


class KubeConfigError(UsageError):
    """Neither a pod's service account nor a usable kubeconfig: patch mode cannot reach the cluster."""


def kubernetes_api() -> client.CustomObjectsApi:
    """In-cluster config when running in a pod, else the local kubeconfig."""
    from kubernetes import config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        try:
            config.load_kube_config()
        except (config.ConfigException, OSError) as error:
            raise KubeConfigError(f"--mode=patch cannot reach the cluster: no pod service account and no usable "
                                  f"kubeconfig ({error}); run the planner in the DGD's pod, set KUBECONFIG, or use "
                                  "--mode=git or --mode=advisory") from None
    return client.CustomObjectsApi()
