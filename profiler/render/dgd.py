"""Render the DynamoGraphDeployment: base config + chosen mappings + image + Planner service (Dynamo's
`generate_dgd_config_with_planner`), with this project's naming and labels.

Replicas stay as in the base config unless the expected load sized them (`replicas`); the planner scales at
runtime. Each worker gets
`resources.limits.gpu` (and `requests.gpu` when the base sets it) = `min(gpus, gpus_per_node)` and
`multinode.nodeCount = ceil(gpus / gpus_per_node)` when an engine spans nodes.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

from profiler.config import ProfileConfig
from profiler.errors import ProfilingError
from profiler.render import args as A
from profiler.render.backends import WORKER_NAMES, apply_mapping, set_model
from profiler.render.model_cache import mount_v1alpha1, weights_dir
from profiler.render.planner import planner_service
from profiler.search_space import ParallelMapping

DGD_API_VERSION = "nvidia.com/v1alpha1"
DGD_KIND = "DynamoGraphDeployment"
LABEL_DGDR_NAME = "dgdr.nvidia.com/name"
LABEL_DGDR_NAMESPACE = "dgdr.nvidia.com/namespace"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "gitops-sla"
GROVE_NAME_LIMIT = 45  # Grove's webhook: PodCliqueSet + scaling group + PodClique names (Dynamo issue #8469)


@dataclass(frozen=True)
class DeploymentIdentity:
    """Where the DGD goes and how it is labelled."""

    name: str
    namespace: str
    request_name: str
    request_namespace: str
    labels: dict[str, str]
    annotations: dict[str, str]


def render_dgd(
    base: dict[str, Any],
    *,
    user_base: bool,
    config: ProfileConfig,
    prefill: ParallelMapping,
    decode: ParallelMapping,
    gpus_per_node: int,
    identity: DeploymentIdentity,
    configmap_name: str,
    project_planner_image: str | None,
    runtime_image: str,
    replicas: tuple[int, int] | None = None,
) -> tuple[dict[str, Any], bool, list[tuple[str, str]]]:
    """The rendered DGD, whether its Planner is Dynamo's own planner, and `(planner key, why)` of each planner
    setting that planner cannot take (left out). `project_planner_image` runs this project's planner; None runs Dynamo's from the workers' image
    (`runtime_image` when neither the request nor the base config names one). `replicas`: (prefill, decode)
    worker replicas sized for the expected load; None keeps the base config's."""
    services = _services(base)
    backend = config.engine.backend
    image = config.deployment.dgd_image or None
    prefill_key = _worker_key(services, backend, "prefill")
    decode_key = _worker_key(services, backend, "decode")
    planner_key = next((k for k, s in services.items() if (s or {}).get("componentType") == "planner"), "Planner")
    base_planner = services.pop(planner_key, None)
    cache = config.deployment.model_cache
    weights = weights_dir(cache) if cache.pvc_name else None

    for key, mapping in ((prefill_key, prefill), (decode_key, decode)):
        container = services[key].get("extraPodSpec", {}).get("mainContainer")
        if not isinstance(container, dict) or "args" not in container:
            raise ProfilingError(
                f"base config service '{key}' has no extraPodSpec.mainContainer.args; the worker's engine "
                "arguments must be there"
            )
        worker_args = set_model(backend, A.as_list(container["args"]), config.deployment.model, user_base, weights)
        container["args"] = apply_mapping(backend, worker_args, mapping)
        _set_gpus(services[key], mapping.num_gpus, gpus_per_node)
    if replicas is not None:
        services[prefill_key]["replicas"], services[decode_key]["replicas"] = replicas

    if image:
        for service in services.values():
            service.setdefault("extraPodSpec", {}).setdefault("mainContainer", {})["image"] = image
    frontend_image = next(
        (
            s.get("extraPodSpec", {}).get("mainContainer", {}).get("image")
            for s in services.values()
            if s.get("componentType") == "frontend"
        ),
        None,
    )
    planner, stock, dropped = planner_service(
        base_planner,
        config=config,
        prefill_gpus=prefill.num_gpus,
        decode_gpus=decode.num_gpus,
        configmap_name=configmap_name,
        project_image=project_planner_image,
        runtime_image=image or frontend_image or runtime_image,
    )
    services[planner_key] = planner

    metadata = base.get("metadata") or {}
    dgd = {
        "apiVersion": DGD_API_VERSION,
        "kind": DGD_KIND,
        "metadata": {
            "name": identity.name,
            "namespace": identity.namespace,
            "labels": {
                **(metadata.get("labels") or {}),
                LABEL_DGDR_NAME: identity.request_name,
                LABEL_DGDR_NAMESPACE: identity.request_namespace,
                LABEL_MANAGED_BY: MANAGED_BY,
                **identity.labels,
            },
            **(
                {"annotations": {**(metadata.get("annotations") or {}), **identity.annotations}}
                if metadata.get("annotations") or identity.annotations
                else {}
            ),
        },
        "spec": {**{k: v for k, v in base["spec"].items() if k != "services"}, "services": services},
    }
    if weights:
        frontends = [k for k, s in services.items() if (s or {}).get("componentType") == "frontend"]
        mount_v1alpha1(dgd["spec"], services, [*frontends, prefill_key, decode_key], cache)
    check_name_lengths(dgd)
    return dgd, stock, dropped


def _services(base: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(base, dict):
        raise ProfilingError("the base config must be a YAML mapping (a DynamoGraphDeployment)")
    if base.get("kind") != DGD_KIND:
        raise ProfilingError(f"the base config must have kind: {DGD_KIND}; it has kind {base.get('kind')!r}")
    services = (base.get("spec") or {}).get("services")
    if not isinstance(services, dict) or not services:
        raise ProfilingError("the base config has no spec.services; start from Dynamo's disagg.yaml for the backend")
    return copy.deepcopy(services)


def _worker_key(services: dict[str, Any], backend: str, role: str) -> str:
    """The service of the `role` workers: by `subComponentType`, else Dynamo's default name."""
    for key, service in services.items():
        if isinstance(service, dict) and service.get("subComponentType") == role:
            return key
    default = getattr(WORKER_NAMES[backend], role)
    if default in services:
        return default
    raise ProfilingError(
        f"the base config has no {role} worker (a service with subComponentType: {role}, or one named "
        f"'{default}'); the profiler renders disaggregated deployments, so start from Dynamo's disagg.yaml"
    )


def _set_gpus(service: dict[str, Any], gpus: int, gpus_per_node: int) -> None:
    resources = service.setdefault("resources", {})
    per_node = str(min(gpus, gpus_per_node))
    resources.setdefault("limits", {})["gpu"] = per_node
    if "gpu" in (resources.get("requests") or {}):
        resources["requests"]["gpu"] = per_node
    if gpus > gpus_per_node:
        service["multinode"] = {"nodeCount": math.ceil(gpus / gpus_per_node)}
    else:
        service.pop("multinode", None)


def grove_name_length(dgd_name: str, service_key: str, service: dict[str, Any]) -> int:
    """The characters Grove's webhook counts for one service (at most `GROVE_NAME_LIMIT`): the PodCliqueSet
    (`<dgd>`) plus the PodClique (`<service>`); a multinode service adds its scaling group (`<service>`) and
    its cliques are `<service>-ldr`/`<service>-wkr` (Dynamo 0.8's Grove rendering, lowercase)."""
    key = service_key.lower()
    node_count = ((service.get("multinode") or {}) if isinstance(service, dict) else {}).get("nodeCount") or 1
    if node_count > 1:
        return len(dgd_name) + len(key) + len(key) + len("-ldr")
    return len(dgd_name) + len(key)


def check_name_lengths(dgd: dict[str, Any]) -> None:
    """Refuse a DGD that Grove's webhook would reject for its name lengths, saying how short the name must be."""
    name = dgd["metadata"]["name"]
    lengths = {key: grove_name_length(name, key, service) for key, service in dgd["spec"]["services"].items()}
    key, longest = max(lengths.items(), key=lambda item: (item[1], item[0]))
    if longest > GROVE_NAME_LIMIT:
        multinode = longest != len(name) + len(key)
        what = (f"PodCliqueSet '{name}' + scaling group '{key.lower()}' + PodClique '{key.lower()}-ldr'"
                if multinode else f"PodCliqueSet '{name}' + PodClique '{key.lower()}'")
        raise ProfilingError(
            f"the names Grove derives for service {key} are {longest} characters ({what}); Grove allows "
            f"{GROVE_NAME_LIMIT}. Set deploymentOverrides.name to at most {GROVE_NAME_LIMIT - longest + len(name)} "
            "characters (or shorten the service names in the base config)"
        )
