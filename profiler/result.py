"""The profiler's request and result types (the public API's data)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from profiler.config import ProfileConfig
from profiler.dynamo_release import DYNAMO_0_8


class ProfileRequest(BaseModel):
    """One profiling job: the profile config (DGDR fields already injected) and where the DGD goes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    config: ProfileConfig
    base_config: dict[str, Any] | None = None  # parsed base DGD; None: Dynamo's disagg.yaml for the backend
    request_name: str
    request_namespace: str
    dgd_name: str | None = None  # deploymentOverrides.name; None: the request name
    dgd_namespace: str | None = None  # deploymentOverrides.namespace; None: the request namespace
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    # The expected load and what to optimise for (v1beta1 `workload`, `sla.optimizationType`); None: not said.
    request_rate: float | None = None  # requests/s
    concurrency: float | None = None  # requests in flight
    optimization_type: Literal["latency", "throughput"] | None = None
    total_gpus: int | None = None  # v1beta1 `hardware.totalGpus`, the GPU budget: the planner's default budget
    use_mocker: bool = False  # the DGDR's useMocker/deployMocker: render Dynamo mocker workers instead of GPU workers
    # Which Dynamo the DGD is for (0.x: v1alpha1, 1.x: v1beta1), its images and which planner it runs.
    dynamo_version: str = DYNAMO_0_8
    request_image: str | None = None  # v1beta1 `spec.image`: Dynamo 1.x derives planner and worker images from it
    project_planner_image: str | None = None  # run this project's planner from this image; None: Dynamo's own
    planner_enabled: bool = True  # v1beta1 without `features.planner`: no Planner
    planner_settings: dict[str, Any] = Field(default_factory=dict)  # Dynamo 1.x PlannerConfig keys no flag says
    kv_router: bool | None = None
    dgd_override: dict[str, Any] | None = None  # v1beta1 `overrides.dgd` (its spec part)


class EngineChoice(BaseModel):
    """The chosen parallel mapping of one engine and its estimated performance."""

    model_config = ConfigDict(frozen=True)

    role: Literal["prefill", "decode"]
    mapping: str  # Dynamo's label, e.g. "TP=4"
    num_gpus: int
    latency_ms: float  # prefill: TTFT at the SLA's ISL; decode: ITL at the chosen concurrency
    target_ms: float  # the SLA's TTFT (prefill) or ITL (decode)
    thpt_per_gpu: float  # prefill: input tokens/s/GPU; decode: output tokens/s/GPU
    meets_sla: bool
    concurrency: int | None = None  # decode only: the concurrency of the chosen point
    margin: float = 0.0  # the safety margin it was picked with: latency_ms x (1 + margin) <= target_ms if possible

    @property
    def metric(self) -> str:
        return "TTFT" if self.role == "prefill" else "ITL"

    def summary(self) -> str:
        """Dynamo's log line, e.g. `TP=4 on 4 GPU(s) (TTFT 48.37 ms, throughput 15505.23 tokens/s/GPU)`."""
        return (
            f"{self.mapping} on {self.num_gpus} GPU(s) ({self.metric} {self.latency_ms:.2f} ms, "
            f"throughput {self.thpt_per_gpu:.2f} tokens/s/GPU)"
        )


class ParetoPoint(BaseModel):
    """One point of an engine's Pareto front (latency vs throughput per GPU); `selected` marks the pick."""

    model_config = ConfigDict(frozen=True)

    role: Literal["prefill", "decode"]
    mapping: str
    num_gpus: int
    concurrency: int | None = None  # decode only
    latency_ms: float  # prefill: TTFT; decode: ITL
    thpt_per_gpu: float
    selected: bool


class ReplicaCounts(BaseModel):
    """Initial replicas sized for the expected load (`workload`), rendered into the DGD."""

    model_config = ConfigDict(frozen=True)

    prefill: int
    decode: int
    request_rate: float  # requests/s they are sized for
    basis: str  # where the rate came from


class ProfileResult(BaseModel):
    """Everything the profiler produces: files by relative path, and the choices in brief."""

    model_config = ConfigDict(frozen=True)

    files: dict[str, bytes]
    sla_met: bool
    prefill: EngineChoice
    decode: EngineChoice
    warnings: list[str]
    profiler_version: str
    dgd_name: str
    dgd_namespace: str
    configmap_name: str
    selection_rule: Literal["fine", "dynamo"] = "dynamo"
    dynamo_prefill: EngineChoice | None = None  # Dynamo's rule on the same estimates, for comparison
    dynamo_decode: EngineChoice | None = None
    pareto: list[ParetoPoint] = []  # prefill front, then decode front, each by ascending latency
    replicas: ReplicaCounts | None = None  # None: replicas as in the base config
