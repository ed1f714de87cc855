"""Reading a DynamoGraphDeployment: which services are prefill and decode, their replicas, readiness.

Service resolution is shared with the reconciler and lives in `gitops_sla.replicas_patch`."""

from __future__ import annotations

from typing import Any, Mapping

from gitops_sla.replicas_patch import DgdError, resolve_services, role_replicas
from planner.policy import Replicas

__all__ = ["DgdError", "is_ready", "resolve_services", "running_replicas", "service_replicas"]


def service_replicas(dgd: Mapping[str, Any], services: Mapping[str, str]) -> Replicas:
    """`spec.services.<svc>.replicas` of both roles (a missing field means 1, the CRD default)."""
    return Replicas(**role_replicas(dgd, services))


def running_replicas(dgd: Mapping[str, Any], services: Mapping[str, str]) -> Replicas | None:
    """The replicas serving now: `status.services.<svc>.availableReplicas` (else `readyReplicas`) of both roles,
    as Dynamo's planner counts them; `None` when the operator does not report them."""
    status = (dgd.get("status") or {}).get("services") or {}
    counts = {}
    for role, service in services.items():
        entry = status.get(service) or {}
        value = entry.get("availableReplicas", entry.get("readyReplicas"))
        if value is None:
            return None
        counts[role] = int(value)
    return Replicas(**counts)


def is_ready(dgd: Mapping[str, Any]) -> bool:
    """The `Ready` condition is True (or, for operators that only set it, `status.state` is successful)."""
    status = dgd.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready":
            return str(condition.get("status")) == "True"
    return str(status.get("state", "")).lower() in ("successful", "ready")
