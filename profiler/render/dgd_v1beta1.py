"""Render a `nvidia.com/v1beta1` DynamoGraphDeployment (Dynamo 1.x) the way Dynamo 1.6.1's profiler emits it.

Starting point: Dynamo 1.6.1's own disaggregated template for the backend (or the mocker's), vendored in
`vendor/dynamo-1.6.1/templates/` (`spec.components[]` with `name`, `type`, `replicas`, `podTemplate`; the
container named `main` runs the engine). The chosen mappings go into the prefill and decode workers' args,
their GPUs into `resources.limits["nvidia.com/gpu"]` (and `multinode.nodeCount` when an engine spans nodes).

Images (Dynamo 1.6.1's rule): a workers image the request names wins; else the image a v1beta1 request names
(`spec.image`) with its name replaced by the backend's runtime image name; else Dynamo's published image for
the cluster's Dynamo version. The Planner:
- Dynamo's own planner by default: `python3 -m dynamo.planner --config /workspace/planner_config/planner_config.json`
  from `dynamo-planner:<version>` (or derived from `spec.image`), its `PlannerConfig` in a `planner-config-<hash>`
  ConfigMap: the request's planner settings plus the SLA, the engines' GPUs, the model name and the profile data
  directory (`optimization_target: sla`, so it scales on the SLA, unless the request says otherwise);
- this project's planner (`python3 -m planner` with its flags) when an image for it is given.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from profiler.config import ProfileConfig
from profiler.dynamo_planner_config import PLANNER_KEY_OF_FLAG, refused_by_dynamo_planner
from profiler.dynamo_release import (
    BACKEND_IMAGE_NAMES, PLANNER_IMAGE_NAME, published_image, replace_image_name,
)
from profiler.errors import ProfilingError
from profiler.planner_flags import FLAGS_BY_PASSTHROUGH_KEY
from profiler.render import args as A
from profiler.render.backends import apply_mapping, set_model
from profiler.render.model_cache import weights_dir
from profiler.render.dgd import LABEL_DGDR_NAME, LABEL_DGDR_NAMESPACE, LABEL_MANAGED_BY, MANAGED_BY, DeploymentIdentity
from profiler.render.planner import PROFILE_DATA_MOUNT, PROFILE_DATA_VOLUME, PROJECT_PLANNER_MODULE, planner_args
from profiler.search_space import ParallelMapping

DGD_API_VERSION_V1BETA1 = "nvidia.com/v1beta1"
TEMPLATES = Path(__file__).resolve().parent.parent / "vendor/dynamo-1.6.1/templates"
MAIN_CONTAINER = "main"
GPU_RESOURCE = "nvidia.com/gpu"
MODEL_CACHE_VOLUME = "model-cache"  # as Dynamo 1.x's generator names the model cache volume
PLANNER_COMPONENT = "Planner"
PLANNER_CONFIG_PREFIX = "planner-config"
PLANNER_CONFIG_MOUNT = "/workspace/planner_config"
PLANNER_CONFIG_FILE = "planner_config.json"
DYNAMO_PLANNER_WORKDIR = "/workspace/components/src/dynamo/planner"
GROVE_NAME_LIMIT = 45


@dataclass(frozen=True)
class V1Beta1Options:
    """What a v1beta1 deployment adds to the profile: the Dynamo version, images, planner, features."""

    dynamo_version: str
    request_image: str | None = None  # v1beta1 `spec.image`: planner and worker images derive from it
    project_planner_image: str | None = None  # run this project's planner from it; None: Dynamo's own
    planner_enabled: bool = True
    planner_settings: dict[str, Any] = field(default_factory=dict)  # PlannerConfig keys no planner flag says
    mocker: bool = False
    kv_router: bool | None = None
    dgd_override: dict[str, Any] | None = None
    replicas: tuple[int, int] | None = None  # (prefill, decode) sized for the expected load; None: the template's


@dataclass(frozen=True)
class RenderedV1Beta1:
    dgd: dict[str, Any]
    configmaps: list[dict[str, Any]]  # the planner config (Dynamo's planner), to apply with the DGD
    stock_planner: bool
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (planner key, why) of settings left out


@cache
def _template(name: str) -> dict[str, Any]:
    return yaml.safe_load((TEMPLATES / name / "disagg.yaml").read_text())


def _main(component: dict[str, Any]) -> dict[str, Any]:
    containers = component.setdefault("podTemplate", {}).setdefault("spec", {}).setdefault("containers", [])
    for container in containers:
        if container.get("name") == MAIN_CONTAINER:
            return container
    container = {"name": MAIN_CONTAINER}
    containers.append(container)
    return container


def worker_image(backend: str, options: V1Beta1Options, workers_image: str | None) -> str:
    """The workers' image: the request's workers image, else derived from `spec.image`, else published."""
    name = PLANNER_IMAGE_NAME if options.mocker else BACKEND_IMAGE_NAMES[backend]
    if workers_image:
        return workers_image
    if options.request_image:
        return replace_image_name(options.request_image, name)
    return published_image(name, options.dynamo_version)


def dynamo_planner_image(options: V1Beta1Options) -> str:
    """Dynamo's planner image: derived from `spec.image` when the request names one, else published."""
    if options.request_image:
        return replace_image_name(options.request_image, PLANNER_IMAGE_NAME)
    return published_image(PLANNER_IMAGE_NAME, options.dynamo_version)


def render_dgd_v1beta1(
    *,
    config: ProfileConfig,
    prefill: ParallelMapping,
    decode: ParallelMapping,
    gpus_per_node: int,
    identity: DeploymentIdentity,
    configmap_name: str,
    options: V1Beta1Options,
) -> RenderedV1Beta1:
    """The v1beta1 DGD, the ConfigMaps it needs besides the profile data, and whether its Planner is Dynamo's."""
    backend, model = config.engine.backend, config.deployment.model
    template = copy.deepcopy(_template("mocker" if options.mocker else backend))
    components: list[dict[str, Any]] = template["spec"]["components"]
    image = worker_image(backend, options, config.deployment.dgd_image or None)
    for component in components:
        _main(component)["image"] = image
    cache = config.deployment.model_cache
    weights = weights_dir(cache) if cache.pvc_name and not options.mocker else None
    if weights:
        for component in components:
            if component.get("type") in ("frontend", "prefill", "decode"):
                _mount(component, MODEL_CACHE_VOLUME, {"persistentVolumeClaim": {"claimName": cache.pvc_name,
                                                                             "readOnly": True}}, cache.mount_path)
    for index, (role, mapping) in enumerate((("prefill", prefill), ("decode", decode))):
        worker = next((c for c in components if c.get("type") == role), None)
        if worker is None:
            raise ProfilingError(f"Dynamo's v1beta1 template has no {role} component")
        if options.replicas is not None:
            worker["replicas"] = options.replicas[index]
        container = _main(worker)
        args = A.as_list(container.get("args"))
        if options.mocker:
            args = A.set_value(A.set_value(args, "--model-path", model), "--model-name", model)
            args = A.set_value(args, "--planner-profile-data", PROFILE_DATA_MOUNT)
            _mount(worker, PROFILE_DATA_VOLUME, {"configMap": {"name": configmap_name}}, PROFILE_DATA_MOUNT)
        else:
            args = apply_mapping(backend, set_model(backend, args, model, False, weights), mapping)
            _set_gpus(worker, container, mapping.num_gpus, gpus_per_node)
        container["args"] = args
    if options.kv_router:
        frontend = next(c for c in components if c.get("type") == "frontend")
        env = [e for e in _main(frontend).get("env") or [] if e.get("name") != "DYN_ROUTER_MODE"]
        _main(frontend)["env"] = env + [{"name": "DYN_ROUTER_MODE", "value": "kv"}]

    configmaps: list[dict[str, Any]] = []
    stock = options.project_planner_image is None
    dropped: list[tuple[str, str]] = []
    if options.planner_enabled:
        if stock:
            dropped = planner_refusals(config)
        elif config.planner.get("planner_mode") == "git":
            config, dropped = _without_git_mode(config)
        planner, planner_cm = _planner(config, prefill, decode, configmap_name, identity, options)
        components.append(planner)
        configmaps += [planner_cm] if planner_cm else []

    dgd: dict[str, Any] = {
        "apiVersion": DGD_API_VERSION_V1BETA1,
        "kind": "DynamoGraphDeployment",
        "metadata": {
            "name": identity.name,
            "namespace": identity.namespace,
            "labels": {LABEL_DGDR_NAME: identity.request_name, LABEL_DGDR_NAMESPACE: identity.request_namespace,
                       LABEL_MANAGED_BY: MANAGED_BY, **identity.labels},
            **({"annotations": dict(identity.annotations)} if identity.annotations else {}),
        },
        "spec": {"components": components},
    }
    if options.dgd_override:
        dgd = merge_override(dgd, options.dgd_override)
    check_component_name_lengths(dgd)
    return RenderedV1Beta1(dgd, configmaps, stock and options.planner_enabled, dropped)


def dynamo_planner_config(config: ProfileConfig, prefill_gpus: int, decode_gpus: int,
                          settings: dict[str, Any], *, mocker: bool = False) -> dict[str, Any]:
    """Dynamo 1.x's `PlannerConfig` for this deployment, as Dynamo 1.6.1's profiler builds it: the request's
    settings (planner passthrough keys under their 1.x names, then the 1.x-only keys), the model name, the
    SLA and the engines' GPUs, and the profile data directory. A passthrough value Dynamo's `PlannerConfig`
    refuses (`planner_refusals`) is left out."""
    backend = "mocker" if mocker else config.engine.backend
    refused = dict(planner_refusals(config))
    mapped = {PLANNER_KEY_OF_FLAG[FLAGS_BY_PASSTHROUGH_KEY[key].dest]: value
              for key, value in config.planner.items()
              if FLAGS_BY_PASSTHROUGH_KEY[key].dest in PLANNER_KEY_OF_FLAG and key not in refused}
    planner: dict[str, Any] = {"backend": backend, "mode": "disagg", "optimization_target": "sla",
                               "model_name": config.deployment.model, "ttft_ms": config.sla.ttft,
                               "itl_ms": config.sla.itl, **mapped, **settings}
    for alias, name in (("ttft", "ttft_ms"), ("itl", "itl_ms")):
        if alias in planner:
            planner[name] = planner.pop(alias)
    if mocker:
        planner["backend"] = "mocker"  # the workers are mockers whatever backend the estimates are for
    planner["prefill_engine_num_gpu"] = prefill_gpus
    planner["decode_engine_num_gpu"] = decode_gpus
    planner["profile_results_dir"] = PROFILE_DATA_MOUNT
    return dict(sorted(planner.items()))


def planner_refusals(config: ProfileConfig) -> list[tuple[str, str]]:
    """`(passthrough key, why)` of each planner setting whose value Dynamo 1.6.1's `PlannerConfig` refuses (such
    as `planner_load_predictor: auto`, which only this project's planner has)."""
    found = []
    for key, value in config.planner.items():
        if why := refused_by_dynamo_planner(FLAGS_BY_PASSTHROUGH_KEY[key].dest, value, dynamo_1x=True):
            found.append((key, f"{why}, so it is not in its PlannerConfig (name this project's planner image in "
                               "gitops-sla.yaml, planner.image, to use it)"))
    return found


def _without_git_mode(config: ProfileConfig) -> tuple[ProfileConfig, list[tuple[str, str]]]:
    """This project's planner in advisory mode instead of git mode, and why: git mode commits `replicas.yaml`, a
    kustomize patch over `spec.services`, which a v1beta1 DGD (`spec.components`) does not have yet."""
    planner = {key: value for key, value in config.planner.items() if not key.startswith("planner_git_")}
    planner["planner_mode"] = "advisory"
    why = ("git mode is not available for v1beta1 DGDs yet (its replicas.yaml patches spec.services; v1beta1 has "
           "spec.components), so this project's planner runs in advisory mode; use planner.mode: patch, or "
           "dynamo.version 0.8.x in gitops-sla.yaml for git mode")
    return config.model_copy(update={"planner": planner}), [("planner_mode", why)]


def _planner(config: ProfileConfig, prefill: ParallelMapping, decode: ParallelMapping, configmap_name: str,
             identity: DeploymentIdentity, options: V1Beta1Options) -> tuple[dict[str, Any], dict[str, Any] | None]:
    component: dict[str, Any] = {"name": PLANNER_COMPONENT, "type": "planner", "replicas": 1,
                                 "podTemplate": {"spec": {"containers": [{"name": MAIN_CONTAINER}]}}}
    container = _main(component)
    planner_cm = None
    if options.project_planner_image:
        container.update(image=options.project_planner_image, command=["python3", "-m", PROJECT_PLANNER_MODULE],
                         args=planner_args(config, prefill.num_gpus, decode.num_gpus, stock=False))
    else:
        settings = dynamo_planner_config(config, prefill.num_gpus, decode.num_gpus, options.planner_settings,
                                         mocker=options.mocker)
        text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(f"{identity.namespace}\0{identity.name}\0{text}".encode()).hexdigest()[:10]
        cm_name = f"{PLANNER_CONFIG_PREFIX}-{digest}"
        planner_cm = {"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": cm_name, "namespace": identity.namespace,
                                   "labels": {LABEL_DGDR_NAME: identity.request_name,
                                              LABEL_DGDR_NAMESPACE: identity.request_namespace,
                                              LABEL_MANAGED_BY: MANAGED_BY}},
                      "data": {PLANNER_CONFIG_FILE: text}}
        container.update(image=dynamo_planner_image(options), workingDir=DYNAMO_PLANNER_WORKDIR,
                         command=["python3", "-m", "dynamo.planner"],
                         args=["--config", f"{PLANNER_CONFIG_MOUNT}/{PLANNER_CONFIG_FILE}"])
        _mount(component, cm_name, {"configMap": {"name": cm_name}}, PLANNER_CONFIG_MOUNT)
    _mount(component, PROFILE_DATA_VOLUME, {"configMap": {"name": configmap_name}}, PROFILE_DATA_MOUNT)
    return component, planner_cm


def _mount(component: dict[str, Any], volume: str, source: dict[str, Any], path: str) -> None:
    """Mounts `source` (a pod volume's source: `configMap`, `persistentVolumeClaim`) read-only at `path`."""
    spec = component.setdefault("podTemplate", {}).setdefault("spec", {})
    spec["volumes"] = [v for v in spec.get("volumes") or [] if v.get("name") != volume] + [{"name": volume, **source}]
    container = _main(component)
    container["volumeMounts"] = [m for m in container.get("volumeMounts") or [] if m.get("name") != volume] + [
        {"name": volume, "mountPath": path, "readOnly": True}]


def _set_gpus(component: dict[str, Any], container: dict[str, Any], gpus: int, gpus_per_node: int) -> None:
    resources = container.setdefault("resources", {})
    resources.setdefault("limits", {})[GPU_RESOURCE] = str(min(gpus, gpus_per_node))
    if GPU_RESOURCE in (resources.get("requests") or {}):
        resources["requests"][GPU_RESOURCE] = str(min(gpus, gpus_per_node))
    if gpus > gpus_per_node:
        component["multinode"] = {"nodeCount": math.ceil(gpus / gpus_per_node)}
    else:
        component.pop("multinode", None)


def merge_override(dgd: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A v1beta1 request's `overrides.dgd` merged into the DGD as Dynamo 1.6.1 merges it: mappings deeply,
    `spec.components` by `name` (only components the DGD has), other lists replaced; metadata name, labels and
    annotations are applied by the request's deployment fields, other metadata is ignored."""
    merged = copy.deepcopy(dgd)
    spec_override = override.get("spec") or {}
    for key, value in spec_override.items():
        if key == "components" and isinstance(value, list):
            by_name = {c.get("name"): c for c in merged["spec"]["components"]}
            unknown = [c.get("name") for c in value if c.get("name") not in by_name]
            if unknown:
                raise ProfilingError(f"overrides.dgd names components the deployment does not have: "
                                     f"{', '.join(map(str, unknown))}; use {', '.join(map(str, by_name))}")
            for item in value:
                _deep_merge(by_name[item["name"]], item)
        else:
            merged["spec"][key] = _deep_merge(merged["spec"].get(key), value) if isinstance(value, dict) \
                else copy.deepcopy(value)
    return merged


def _deep_merge(base: Any, change: Any) -> Any:
    if not isinstance(base, dict) or not isinstance(change, dict):
        return copy.deepcopy(change)
    for key, value in change.items():
        base[key] = _deep_merge(base.get(key), value)
    return base


def check_component_name_lengths(dgd: dict[str, Any]) -> None:
    """Refuse names Grove's webhook would reject: PodCliqueSet `<dgd>` + PodClique `<component>` (a multinode
    component adds its scaling group and `-ldr`) at most 45 characters."""
    name = dgd["metadata"]["name"]
    for component in dgd["spec"]["components"]:
        key = str(component.get("name", "")).lower()
        nodes = (component.get("multinode") or {}).get("nodeCount") or 1
        length = len(name) + len(key) + ((len(key) + len("-ldr")) if nodes > 1 else 0)
        if length > GROVE_NAME_LIMIT:
            raise ProfilingError(
                f"the names Grove derives for component {component.get('name')} are {length} characters; Grove "
                f"allows {GROVE_NAME_LIMIT}. Give the DGD a name of at most {GROVE_NAME_LIMIT - length + len(name)} "
                "characters (overrides.dgd.metadata.name)"
            )
