"""The request in one version-free form: the hub that both DGDR versions convert to and from.

Like a Kubernetes conversion webhook's hub version, `SlaRequest` can say everything either version can:
`nvidia.com/v1alpha1` (Dynamo 0.8: a profile config with planner flags) and `nvidia.com/v1beta1` (Dynamo 1.x:
workload, SLA with optimization type, hardware budget, features). `gitops_sla.models.convert` maps each
version onto it and back, naming in a warning what the target version cannot say. The reconciler and the
profiler work on this model only; `to_profile_config()` is what the profiler reads.

The profile config (`profiler.config.ProfileConfig`) holds every setting it has a key for, with defaults
already resolved for the version read (v1alpha1 and v1beta1 default the SLA differently): SLA, sequence
lengths, optimization type and expected load (`workload`), hardware, `sweep.useAiConfigurator` (= `searchStrategy: rapid`), the model cache and the planner
settings as planner passthrough keys. The fields beside it hold what only v1beta1 can say.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from gitops_sla.models.base import WrittenModel
from gitops_sla.models.dgdr import ConfigMapRef, DeploymentOverrides, ObjectMeta, ResourceRequirements, Toleration
from profiler.config import ProfileConfig
from profiler.dgdr_v1beta1 import AUTO_BACKEND_CHOICE

RequestBackend = Literal["auto", "vllm", "sglang", "trtllm"]


class ProfilingJobSettings(WrittenModel):
    """The profiling Job: v1alpha1's typed fields, v1beta1's free-form `overrides.profilingJob`."""

    image: str | None = None
    output_pvc: str | None = Field(default=None, alias="outputPVC")
    resources: ResourceRequirements | None = None
    tolerations: list[Toleration] = Field(default_factory=list)
    node_selector: dict[str, str] = Field(default_factory=dict)
    overrides: dict[str, Any] | None = None


class PlannerFeature(WrittenModel):
    """Whether the generated DGD has a Planner, and the Dynamo 1.x `PlannerConfig` keys that have no planner
    flag (the others are planner passthrough keys in the profile config)."""

    enabled: bool = True
    config_extra: dict[str, Any] = Field(default_factory=dict)


class SlaRequest(WrittenModel):
    """A DGDR of either version, as one model."""

    api_version: str
    metadata: ObjectMeta
    model: str
    backend: RequestBackend
    auto_apply: bool | None = None
    config: ProfileConfig = Field(default_factory=ProfileConfig)
    config_map_ref: ConfigMapRef | None = None
    deployment: DeploymentOverrides | None = None
    profiling_job: ProfilingJobSettings = Field(default_factory=ProfilingJobSettings)
    enable_gpu_discovery: bool = False
    mocker: bool = False
    # What only v1beta1 can say.
    e2e_latency_ms: float | None = None
    total_gpus: int | None = None
    interconnect: str | None = None
    rdma: bool | None = None
    kv_router: bool | None = None
    planner: PlannerFeature = Field(default_factory=PlannerFeature)
    dgd_override: dict[str, Any] | None = None
    trust_remote_code: bool = False
    runtime_version_override: str | None = None

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def search_strategy(self) -> Literal["rapid", "thorough"]:
        """`rapid` (AI Configurator estimates) or `thorough` (measured on real engines)."""
        return "rapid" if self.config.sweep.use_ai_configurator else "thorough"

    @property
    def resolved_backend(self) -> Literal["vllm", "sglang", "trtllm"]:
        """The backend profiled and deployed (`auto` is resolved as Dynamo 1.6.1 tries first)."""
        return AUTO_BACKEND_CHOICE if self.backend == "auto" else self.backend

    def namespace_or(self, default: str) -> str:
        """`metadata.namespace`, else `default` (the request's folder namespace)."""
        return self.metadata.namespace or default

    def dgd_name(self) -> str:
        """Name of the generated DGD: the deployment override's name, else the request's name."""
        return (self.deployment.name if self.deployment and self.deployment.name else None) or self.metadata.name

    def dgd_namespace(self, default: str) -> str:
        """Namespace of the generated DGD: the override's namespace, else the request's namespace."""
        override = self.deployment.namespace if self.deployment else None
        return override or self.namespace_or(default)

    def to_profile_config(self, base_config_path: str | None = None, *, namespace: str | None = None) -> ProfileConfig:
        """The profile config as Dynamo's operator hands it to the profiler (`ProfileConfig.with_request_fields`):
        the model and backend injected, the namespace filling `deployment.namespace`, the workers image as
        `deployment.dgd_image`, the base config path as `engine.config`, GPU discovery as
        `hardware.enable_gpu_discovery` (v1beta1's `workload` and `sla.optimizationType` are already the profile
        config's `workload` and `sla.optimization_type`)."""
        config = self.config.with_request_fields(
            model=self.model,
            backend=self.resolved_backend,
            namespace=namespace or self.metadata.namespace or "default",
            workers_image=self.deployment.workers_image if self.deployment else None,
            base_config_path=base_config_path,
        )
        if self.enable_gpu_discovery and not config.hardware.enable_gpu_discovery:
            hardware = config.hardware.model_copy(update={"enable_gpu_discovery": True})
            config = config.model_copy(update={"hardware": hardware})
        return config
