"""DynamoGraphDeploymentRequest `nvidia.com/v1beta1`, field by field as Dynamo 1.6.1 defines it.

Source of the facts: Dynamo 1.6.1's `dynamo/profiler/utils/dgdr_v1beta1_types.py` (generated from the
operator's Go types; PyPI `ai-dynamo==1.6.1`, Apache-2.0) — field names, enums, defaults and the checks its
validators make (`sla`: `ttft`+`itl` or `e2eLatency`; `workload`: `concurrency` or `requestRate`). Kubernetes
fields are camelCase only, unknown keys are errors (with a "did you mean"), as for v1alpha1.

`features.planner` is Dynamo 1.x's `PlannerConfig` (snake_case keys), checked key by key against
`profiler/vendor/dynamo/planner_config_1.6.1.json` by the validator.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from gitops_sla.models.base import StrictModel, WrittenModel
from gitops_sla.models.dgdr import KIND, NonEmptyStr, ObjectMeta
from profiler.config import MAX_GPU_VRAM_MIB, MAX_GPUS_PER_NODE, MAX_ISL, MAX_OSL
from profiler.dgdr_v1beta1 import (  # Dynamo's defaults when a field is left out (dgdr_v1beta1_types.py)
    API_VERSION_V1BETA1, DEFAULT_ISL, DEFAULT_ITL_MS, DEFAULT_MOUNT_PATH, DEFAULT_OSL, DEFAULT_TTFT_MS,
)

BackendV1Beta1 = Literal["auto", "sglang", "trtllm", "vllm"]
SearchStrategy = Literal["rapid", "thorough"]
OptimizationType = Literal["latency", "throughput"]
GpuSku = Literal[
    "vr_nvl72", "gb200", "gb200_sxm", "gb10", "b300_sxm", "b200_sxm", "h200_sxm", "h100_sxm", "h100_pcie",
    "a100_sxm", "a100_pcie", "a30", "l40s", "l40", "l4", "v100_sxm", "v100_pcie", "t4", "mi200", "mi300",
]
Phase = Literal["Pending", "Profiling", "Ready", "Deploying", "Deployed", "Failed"]
ProfilingPhase = Literal[
    "Initializing", "SweepingPrefill", "SweepingDecode", "SelectingConfig", "BuildingCurves", "GeneratingDGD", "Done",
]
PositiveNumber = Annotated[float, Field(gt=0, allow_inf_nan=False)]
PositiveInt = Annotated[int, Field(gt=0)]
MAX_TOTAL_GPUS = 4096


class WorkloadSpec(StrictModel):
    """Expected traffic: sequence lengths and either a concurrency or a request rate."""

    isl: Annotated[int, Field(gt=0, le=MAX_ISL)] | None = DEFAULT_ISL
    osl: Annotated[int, Field(gt=0, le=MAX_OSL)] | None = DEFAULT_OSL
    concurrency: PositiveNumber | None = None
    request_rate: PositiveNumber | None = None

    @model_validator(mode="after")
    def _one_load(self) -> "WorkloadSpec":
        if self.concurrency is not None and self.request_rate is not None:
            raise ValueError("requestRate and concurrency are mutually exclusive (Dynamo refuses both); keep one")
        return self


class SLASpec(StrictModel):
    """Latency targets in milliseconds: `ttft` + `itl`, or `e2eLatency`."""

    ttft: PositiveNumber | None = DEFAULT_TTFT_MS
    itl: PositiveNumber | None = DEFAULT_ITL_MS
    e2e_latency: PositiveNumber | None = Field(default=None, alias="e2eLatency")
    optimization_type: OptimizationType | None = None

    @model_validator(mode="after")
    def _ttft_itl_or_e2e(self) -> "SLASpec":
        touched = {"ttft", "itl"} & self.model_fields_set
        if self.e2e_latency is not None and touched and (self.ttft is not None or self.itl is not None):
            raise ValueError("e2eLatency and ttft/itl exclude each other (Dynamo refuses both); keep one")
        if (self.ttft is None) != (self.itl is None):
            raise ValueError("ttft and itl go together (Dynamo refuses one without the other); give both")
        return self


class ModelCacheSpec(StrictModel):
    """Model weights from a PVC."""

    pvc_name: str | None = None
    pvc_model_path: str | None = None
    pvc_mount_path: str = DEFAULT_MOUNT_PATH


class HardwareSpec(StrictModel):
    """GPU type and budget (auto-detected by Dynamo's operator when left out)."""

    gpu_sku: GpuSku | None = None
    vram_mb: Annotated[float, Field(gt=0, le=MAX_GPU_VRAM_MIB, allow_inf_nan=False)] | None = None
    total_gpus: Annotated[int, Field(gt=0, le=MAX_TOTAL_GPUS)] | None = None
    num_gpus_per_node: Annotated[int, Field(gt=0, le=MAX_GPUS_PER_NODE)] | None = None
    interconnect: str | None = None
    rdma: bool | None = None


class OverridesSpec(StrictModel):
    """Partial overrides of the profiling Job and of the generated DGD (free-form, as in Dynamo)."""

    profiling_job: dict[str, Any] | None = None
    trust_remote_code: bool = False
    dgd: dict[str, Any] | None = None


class Switch(StrictModel):
    enabled: bool | None = None


class FeaturesSpec(StrictModel):
    """Optional platform features: the planner (its `PlannerConfig`), KV routing, the mocker backend."""

    planner: dict[str, Any] | None = None
    kv_router: Switch | None = None
    mocker: Switch | None = None


class DGDRSpecV1Beta1(StrictModel):
    """`spec` of a v1beta1 DGDR (also what Dynamo 1.x's profiler reads with `--config`)."""

    model: NonEmptyStr
    backend: BackendV1Beta1 = "auto"
    image: str | None = None
    runtime_version_override: str | None = None
    model_cache: ModelCacheSpec | None = None
    hardware: HardwareSpec | None = None
    workload: WorkloadSpec | None = None
    sla: SLASpec | None = None
    overrides: OverridesSpec | None = None
    features: FeaturesSpec | None = None
    search_strategy: SearchStrategy = "rapid"
    auto_apply: bool = True

    @property
    def auto_apply_explicit(self) -> bool | None:
        """`autoApply` if the file sets it, else None (the repo config's `defaultMode` then decides)."""
        return self.auto_apply if "auto_apply" in self.model_fields_set else None


class ParetoPoint(WrittenModel):
    """One entry of `status.profilingResults.pareto`: a full deployment configuration."""

    config: dict[str, Any]


class ProfilingResultsStatus(WrittenModel):
    pareto: list[ParetoPoint] | None = None
    selected_config: dict[str, Any] | None = None


class DeploymentInfoStatus(WrittenModel):
    replicas: int | None = None
    available_replicas: int | None = None


class DGDRStatusV1Beta1(WrittenModel):
    """`status` of a v1beta1 DGDR."""

    phase: Phase | None = None
    profiling_phase: ProfilingPhase | None = None
    dgd_name: str | None = None
    profiling_job_name: str | None = None
    profiling_results: ProfilingResultsStatus | None = None
    deployment_info: DeploymentInfoStatus | None = None
    observed_generation: int | None = None
    conditions: list[dict[str, Any]] = Field(default_factory=list)


class DynamoGraphDeploymentRequestV1Beta1(StrictModel):
    """A v1beta1 DGDR as committed to `requests/<namespace>/<name>.yaml`."""

    api_version: Literal["nvidia.com/v1beta1"]
    kind: Literal["DynamoGraphDeploymentRequest"]
    metadata: ObjectMeta
    spec: DGDRSpecV1Beta1
    status: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.metadata.name

    def to_document(self) -> dict[str, Any]:
        """The request as plain data, camelCase keys, unset optional fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


__all__ = [
    "API_VERSION_V1BETA1",
    "DGDRSpecV1Beta1",
    "DGDRStatusV1Beta1",
    "DynamoGraphDeploymentRequestV1Beta1",
    "KIND",
]
