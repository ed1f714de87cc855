"""Reading a DynamoGraphDeployment: which services are prefill and decode, their replicas, readiness."""

from __future__ import annotations

from typing import Any, Mapping

from planner.policy import Replicas

ROLES = ("prefill", "decode")
# Service keys Dynamo's base configs use when `subComponentType` is absent.
DEFAULT_SERVICE_NAMES = {
    "prefill": ("VllmPrefillWorker", "TRTLLMPrefillWorker", "prefill", "PrefillWorker"),
    "decode": ("VllmDecodeWorker", "TRTLLMDecodeWorker", "decode", "DecodeWorker"),
}


class DgdError(ValueError):
    """A DGD the planner cannot scale; the message says which field and what to do."""


def resolve_services(dgd: Mapping[str, Any], prefill: str | None = None, decode: str | None = None
                     ) -> dict[str, str]:
    """Service keys of the prefill and decode workers: the flags, else `subComponentType`, else Dynamo's names."""
    services = (dgd.get("spec") or {}).get("services") or {}
    name = (dgd.get("metadata") or {}).get("name", "<unnamed>")
    given = {"prefill": prefill, "decode": decode}
    result: dict[str, str] = {}
    for role in ROLES:
        if given[role]:
            if given[role] not in services:
                raise DgdError(f"DGD {name}: --{role}-service={given[role]} is not in spec.services "
                               f"({', '.join(sorted(services))})")
            result[role] = given[role]
            continue
        typed = [key for key, svc in services.items() if (svc or {}).get("subComponentType") == role]
        named = [key for key in DEFAULT_SERVICE_NAMES[role] if key in services]
        found = typed or named
        if not found:
            raise DgdError(f"DGD {name}: no {role} service in spec.services (none has subComponentType: {role}); "
                           f"set --{role}-service")
        result[role] = found[0]
    return result


def service_replicas(dgd: Mapping[str, Any], services: Mapping[str, str]) -> Replicas:
    """`spec.services.<svc>.replicas` of both roles (a missing field means 1, the CRD default)."""
    spec_services = dgd["spec"]["services"]
    def replicas(role: str) -> int:
        value = (spec_services[services[role]] or {}).get("replicas", 1)
        return int(value) if value is not None else 1
    return Replicas(replicas("prefill"), replicas("decode"))


def is_ready(dgd: Mapping[str, Any]) -> bool:
    """The `Ready` condition is True (or, for operators that only set it, `status.state` is successful)."""
    status = dgd.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready":
            return str(condition.get("status")) == "True"
    return str(status.get("state", "")).lower() in ("successful", "ready")
