"""Reading a DynamoGraphDeployment: which services are prefill and decode, their replicas, readiness.

Service resolution is shared with the reconciler and lives in `gitops_sla.replicas_patch`."""

from __future__ import annotations

from typing import Any, Mapping

from gitops_sla.replicas_patch import DgdError, resolve_services, role_replicas
from planner.policy import Replicas

__all__ = ["DgdError", "is_ready", "resolve_services", "service_replicas"]


def service_replicas(dgd: Mapping[str, Any], services: Mapping[str, str]) -> Replicas:
    """`spec.services.<svc>.replicas` of both roles (a missing field means 1, the CRD default)."""
    return Replicas(**role_replicas(dgd, services))


def is_ready(dgd: Mapping[str, Any]) -> bool:
    """The `Ready` condition is True (or, for operators that only set it, `status.state` is successful)."""
    status = dgd.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready":
            return str(condition.get("status")) == "True"
    return str(status.get("state", "")).lower() in ("successful", "ready")
