"""Conversion between the DGDR versions and the version-free `SlaRequest`, as a conversion webhook does:
v1alpha1 <-> SlaRequest <-> v1beta1. Lossless where both versions can say a setting; every setting the target
version cannot say is named in a warning (`ConversionWarning`: the field, the value, what happens to it).

Field map (v1alpha1 `spec.profilingConfig.config` = `config` below):
| v1alpha1 | v1beta1 |
|---|---|
| `config.sla.isl` / `osl` | `workload.isl` / `osl` |
| `config.sla.ttft` / `itl` | `sla.ttft` / `itl` (`sla.e2eLatency`: both bounds, as Dynamo 1.6.1 reads it) |
| `config.sla.optimizationType`, `config.workload.{requestRate,concurrency}` | `sla.optimizationType`, `workload.*` |
| `config.sweep.useAiConfigurator` true / false | `searchStrategy: rapid` / `thorough` |
| AI Configurator system (`sweep.aicSystem`, `aic.system`, `hardware.gpuType`) | `hardware.gpuSku` |
| `config.hardware.numGpusPerNode`, `gpuVramMib` | `hardware.numGpusPerNode`, `vramMb` |
| `config.deployment.modelCache.{pvcName,pvcPath,mountPath}` | `modelCache.{pvcName,pvcModelPath,pvcMountPath}` |
| `config.planner.planner_<flag>` (Dynamo 0.8 flags) | `features.planner.<PlannerConfig key>` (`PLANNER_KEY_OF_FLAG`) |
| `profilingConfig.profilerImage` | `image` |
| `useMocker` / `deployMocker` | `features.mocker.enabled` |
| `deploymentOverrides.{name,labels,annotations}` | `overrides.dgd.metadata.{name,labels,annotations}` |
| `autoApply`, `metadata` | `autoApply`, `metadata` |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

from pydantic.alias_generators import to_camel

from gitops_sla.models.dgdr import API_VERSION, KIND, DeploymentOverrides, DynamoGraphDeploymentRequest
from gitops_sla.models.dgdr_v1beta1 import (
    API_VERSION_V1BETA1, DGDRSpecV1Beta1, DynamoGraphDeploymentRequestV1Beta1, GpuSku,
)
from gitops_sla.models.request import PlannerFeature, ProfilingJobSettings, SlaRequest
from profiler.config import ProfileConfig
from profiler.dgdr_v1beta1 import profile_config_fields as v1beta1_profile_config_fields
from profiler.dgdr_v1beta1 import request_fields as v1beta1_request_fields
from profiler.dynamo_planner_config import PLANNER_CHOICES_1X, PLANNER_KEY_OF_FLAG
from profiler.planner_flags import FLAGS_BY_PASSTHROUGH_KEY

DGD_KIND = "DynamoGraphDeployment"
GPU_SKUS = frozenset(get_args(GpuSku))

# Profile config fields (snake_case paths) that v1beta1 says elsewhere, or that the request fields inject.
_MAPPED_CONFIG_PATHS = {
    "sla.isl", "sla.osl", "sla.ttft", "sla.itl", "sla.optimization_type", "workload.request_rate",
    "workload.concurrency", "sweep.use_ai_configurator", "sweep.aic_system", "aic.system",
    "hardware.gpu_type", "hardware.num_gpus_per_node", "hardware.gpu_vram_mib", "deployment.model_cache.pvc_name",
    "deployment.model_cache.pvc_path", "deployment.model_cache.mount_path", "deployment.model", "engine.backend",
    "deployment.namespace", "planner",
}


@dataclass(frozen=True)
class ConversionWarning:
    """A setting the target version cannot say: where it was (dotted path in the source), and what happens."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


# ---------------------------------------------------------------------------------------------------------------
# v1alpha1


def from_v1alpha1(request: DynamoGraphDeploymentRequest) -> SlaRequest:
    """The version-free request of a v1alpha1 DGDR (nothing is lost: the hub says all v1alpha1 says)."""
    spec, profiling = request.spec, request.spec.profiling_config
    return SlaRequest(
        api_version=API_VERSION,
        metadata=request.metadata,
        model=spec.model,
        backend=spec.backend,
        auto_apply=spec.auto_apply_explicit,
        config=profiling.config,
        config_map_ref=profiling.config_map_ref,
        deployment=spec.deployment_overrides,
        profiling_job=ProfilingJobSettings(
            image=profiling.profiler_image, output_pvc=profiling.output_pvc, resources=profiling.resources,
            tolerations=profiling.tolerations, node_selector=profiling.node_selector,
        ),
        enable_gpu_discovery=spec.enable_gpu_discovery,
        mocker=spec.mocker,
    )


def to_v1alpha1(request: SlaRequest) -> tuple[dict[str, Any], list[ConversionWarning]]:
    """The request as a v1alpha1 DGDR document, and what v1alpha1 cannot say."""
    warnings: list[ConversionWarning] = []
    lost = warnings.append
    backend = request.backend
    if backend == "auto":
        backend = request.resolved_backend
        lost(ConversionWarning("spec.backend", f"v1alpha1 has no 'auto' backend; written as {backend}"))
    for path, value, what in (
        ("spec.hardware.totalGpus", request.total_gpus, "the GPU budget"),
        ("spec.hardware.interconnect", request.interconnect, "the interconnect"),
        ("spec.hardware.rdma", request.rdma, "RDMA availability"),
        ("spec.features.kvRouter.enabled", request.kv_router, "KV routing"),
        ("spec.runtimeVersionOverride", request.runtime_version_override, "the runtime version"),
        ("spec.overrides.profilingJob", request.profiling_job.overrides, "the profiling Job override"),
        ("spec.overrides.dgd", request.dgd_override, "the DGD override"),
    ):
        if value is not None:
            lost(ConversionWarning(path, f"v1alpha1 cannot say {what} ({_shown(value)}); dropped"))
    if request.e2e_latency_ms is not None:
        lost(ConversionWarning("spec.sla.e2eLatency", f"v1alpha1 has no end-to-end latency target; written as "
                               f"ttft and itl {request.e2e_latency_ms:g} ms (the bounds it profiles with)"))
    if request.trust_remote_code:
        lost(ConversionWarning("spec.overrides.trustRemoteCode", "v1alpha1 cannot say it; dropped"))
    if not request.planner.enabled:
        lost(ConversionWarning("spec.features.planner", "v1alpha1 deployments always have a Planner; one is added"))
    for key, value in request.planner.config_extra.items():
        lost(ConversionWarning(f"spec.features.planner.{key}", f"Dynamo 0.8's planner has no such flag "
                               f"({_shown(value)}); dropped"))
    if not request.profiling_job.image:
        lost(ConversionWarning("spec.image", "v1alpha1 requires profilingConfig.profilerImage; set it"))

    config = request.config.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    profiling: dict[str, Any] = {"config": config}
    if request.config_map_ref is not None:
        profiling["configMapRef"] = request.config_map_ref.model_dump(by_alias=True, exclude_none=True)
    job = request.profiling_job
    if job.image:
        profiling["profilerImage"] = job.image
    profiling.update(job.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True,
                                    include={"output_pvc", "resources", "tolerations", "node_selector"}))
    spec: dict[str, Any] = {"model": request.model, "backend": backend}
    if request.auto_apply is not None:
        spec["autoApply"] = request.auto_apply
    if request.enable_gpu_discovery:
        spec["enableGpuDiscovery"] = True
    if request.mocker:
        spec["useMocker"] = True
    if request.deployment is not None:
        spec["deploymentOverrides"] = request.deployment.model_dump(mode="json", by_alias=True, exclude_none=True,
                                                                    exclude_defaults=True)
    spec["profilingConfig"] = profiling
    document = {"apiVersion": API_VERSION, "kind": KIND, "metadata": _metadata(request), "spec": spec}
    return document, warnings


# ---------------------------------------------------------------------------------------------------------------
# v1beta1


def from_v1beta1(request: DynamoGraphDeploymentRequestV1Beta1) -> SlaRequest:
    """The version-free request of a v1beta1 DGDR (nothing is lost), with v1beta1's defaults resolved."""
    return from_v1beta1_spec(request.spec, request.metadata)


def from_v1beta1_spec(spec: DGDRSpecV1Beta1, metadata: Any) -> SlaRequest:
    """The version-free request of a v1beta1 spec and its metadata (the profile config and the fields only v1beta1
    says are `profiler.dgdr_v1beta1`'s mapping, the one `python -m profiler` uses too)."""
    written = spec.model_dump(mode="json", by_alias=True)
    fields = v1beta1_request_fields(written)
    hardware, overrides = spec.hardware, spec.overrides
    identity = {key: value for key, value in (("name", fields["dgd_name"]), ("labels", fields["labels"]),
                                              ("annotations", fields["annotations"])) if value}
    return SlaRequest(
        api_version=API_VERSION_V1BETA1,
        metadata=metadata,
        model=spec.model,
        backend=spec.backend,
        auto_apply=spec.auto_apply_explicit,
        config=ProfileConfig.model_validate(v1beta1_profile_config_fields(written)),
        deployment=DeploymentOverrides.model_validate(identity) if identity else None,
        profiling_job=ProfilingJobSettings(image=spec.image, overrides=overrides.profiling_job if overrides else None),
        mocker=fields["use_mocker"],
        e2e_latency_ms=spec.sla.e2e_latency if spec.sla else None,
        total_gpus=hardware.total_gpus if hardware else None,
        interconnect=hardware.interconnect if hardware else None,
        rdma=hardware.rdma if hardware else None,
        kv_router=fields["kv_router"],
        planner=PlannerFeature(enabled=fields["planner_enabled"], config_extra=fields["planner_settings"]),
        dgd_override=fields["dgd_override"],
        trust_remote_code=overrides.trust_remote_code if overrides else False,
        runtime_version_override=spec.runtime_version_override,
    )


def to_v1beta1(request: SlaRequest) -> tuple[dict[str, Any], list[ConversionWarning]]:
    """The request as a v1beta1 DGDR document, and what v1beta1 cannot say."""
    warnings: list[ConversionWarning] = []
    config = request.config
    prefix = "spec.profilingConfig.config."
    for path, value in _unmapped_config(config):
        warnings.append(ConversionWarning(prefix + _camel_path(path), f"v1beta1 cannot say it ({_shown(value)}); "
                                          "dropped"))
    spec: dict[str, Any] = {"model": request.model, "backend": request.backend}
    if request.profiling_job.image:
        spec["image"] = request.profiling_job.image
    if request.runtime_version_override:
        spec["runtimeVersionOverride"] = request.runtime_version_override
    cache = config.deployment.model_cache
    if cache.pvc_name:
        spec["modelCache"] = {"pvcName": cache.pvc_name, **({"pvcModelPath": cache.pvc_path} if cache.pvc_path else {}),
                              "pvcMountPath": cache.mount_path}
    hardware: dict[str, Any] = {}
    system = config.aic_system
    if system in GPU_SKUS:
        hardware["gpuSku"] = system
    elif system:
        warnings.append(ConversionWarning(prefix + "sweep.aicSystem", f"'{system}' is no v1beta1 gpuSku; dropped"))
    for key, value in (("vramMb", config.hardware.gpu_vram_mib), ("totalGpus", request.total_gpus),
                       ("numGpusPerNode", config.hardware.num_gpus_per_node or None),
                       ("interconnect", request.interconnect), ("rdma", request.rdma)):
        if value is not None:
            hardware[key] = value
    if hardware:
        spec["hardware"] = hardware
    workload: dict[str, Any] = {"isl": config.sla.isl, "osl": config.sla.osl}
    if config.workload.concurrency is not None:
        workload["concurrency"] = config.workload.concurrency
    if config.workload.request_rate is not None:
        workload["requestRate"] = config.workload.request_rate
    spec["workload"] = workload
    if request.e2e_latency_ms is not None:
        sla: dict[str, Any] = {"ttft": None, "itl": None, "e2eLatency": request.e2e_latency_ms}
    else:
        sla = {"ttft": config.sla.ttft, "itl": config.sla.itl}
    if config.sla.optimization_type:
        sla["optimizationType"] = config.sla.optimization_type
    spec["sla"] = sla
    overrides = _overrides_1x(request, warnings)
    if overrides:
        spec["overrides"] = overrides
    features: dict[str, Any] = {}
    if request.planner.enabled:
        features["planner"] = _planner_to_1x(config.planner, request.planner.config_extra, warnings)
    if request.kv_router is not None:
        features["kvRouter"] = {"enabled": request.kv_router}
    if request.mocker:
        features["mocker"] = {"enabled": True}
    if features:
        spec["features"] = features
    spec["searchStrategy"] = request.search_strategy
    if request.auto_apply is not None:
        spec["autoApply"] = request.auto_apply
    for path, present, what in (
        ("spec.profilingConfig.configMapRef", request.config_map_ref is not None,
         "a base config (give it as overrides.dgd)"),
        ("spec.enableGpuDiscovery", request.enable_gpu_discovery, "GPU discovery (leave hardware out instead)"),
        ("spec.profilingConfig.outputPVC", request.profiling_job.output_pvc is not None, "the output PVC"),
        ("spec.profilingConfig.resources", request.profiling_job.resources is not None,
         "the profiling Job's resources (use overrides.profilingJob)"),
        ("spec.profilingConfig.tolerations", bool(request.profiling_job.tolerations),
         "the profiling Job's tolerations (use overrides.profilingJob)"),
        ("spec.profilingConfig.nodeSelector", bool(request.profiling_job.node_selector),
         "the profiling Job's node selector (use overrides.profilingJob)"),
    ):
        if present:
            warnings.append(ConversionWarning(path, f"v1beta1 cannot say {what}; dropped"))
    document = {"apiVersion": API_VERSION_V1BETA1, "kind": KIND, "metadata": _metadata(request), "spec": spec}
    return document, warnings


def _planner_to_1x(passthrough: dict[str, Any], extra: dict[str, Any],
                   warnings: list[ConversionWarning]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for key, value in passthrough.items():
        flag = FLAGS_BY_PASSTHROUGH_KEY[key]
        target = PLANNER_KEY_OF_FLAG.get(flag.dest)
        choices = PLANNER_CHOICES_1X.get(flag.dest)
        if target is None or (choices and value not in choices):
            what = "has no such setting" if target is None else f"has no {flag.dest} {value!r}"
            warnings.append(ConversionWarning(f"spec.profilingConfig.config.planner.{key}",
                                              f"Dynamo 1.x's planner {what} ({_shown(value)}); dropped"))
            continue
        settings[target] = value
    return {**settings, **extra}


def _overrides_1x(request: SlaRequest, warnings: list[ConversionWarning]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if request.profiling_job.overrides is not None:
        overrides["profilingJob"] = request.profiling_job.overrides
    if request.trust_remote_code:
        overrides["trustRemoteCode"] = True
    dgd = dict(request.dgd_override or {})
    deployment = request.deployment
    if deployment is not None:
        metadata = dict(dgd.get("metadata") or {})
        if deployment.name:
            metadata["name"] = deployment.name
        for key in ("labels", "annotations"):
            if getattr(deployment, key):
                metadata[key] = {**(metadata.get(key) or {}), **getattr(deployment, key)}
        if metadata:
            dgd = {"apiVersion": API_VERSION_V1BETA1, "kind": DGD_KIND, **dgd, "metadata": metadata}
        if deployment.namespace:
            warnings.append(ConversionWarning("spec.deploymentOverrides.namespace", "v1beta1 deploys into the "
                                              f"request's namespace; '{deployment.namespace}' dropped"))
        if deployment.workers_image:
            warnings.append(ConversionWarning("spec.deploymentOverrides.workersImage", "v1beta1 says worker images "
                                              "per component in overrides.dgd; dropped"))
    if dgd:
        overrides["dgd"] = dgd
    return overrides


def _unmapped_config(config: ProfileConfig) -> list[tuple[str, Any]]:
    """(snake_case path, value) of every profile config setting off its default that v1beta1 cannot say."""
    dumped = config.model_dump(mode="json", exclude_defaults=True)
    found: list[tuple[str, Any]] = []

    def walk(value: Any, path: str) -> None:
        if path in _MAPPED_CONFIG_PATHS:
            return
        if isinstance(value, dict) and value and path.split(".")[0] != "planner":
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else key)
        elif path:
            found.append((path, value))

    walk(dumped, "")
    if config.aic.system and config.sweep.aic_system is None and config.hardware.gpu_type and \
            config.hardware.gpu_type != config.aic.system:
        found.append(("hardware.gpu_type", config.hardware.gpu_type))
    return found


def _camel_path(path: str) -> str:
    return ".".join(to_camel(part) for part in path.split("."))


def _metadata(request: SlaRequest) -> dict[str, Any]:
    return request.metadata.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
