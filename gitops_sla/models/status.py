"""Request status, typed as Dynamo's DGDR status, and the `status.yaml` file the reconciler writes.

`DGDRStatus` mirrors the CRD's `status` (state, backend, conditions merged by type, profilingResults,
generatedDeployment, deployment). `RequestStatusFile` is what `generated/<namespace>/<name>/status.yaml`
holds: which request and inputs it describes (path, spec hash, source commit, profiler version), the
`DGDRStatus`, the validator's located issues when the request is invalid, and a short result summary.
Timestamps are optional so that a status that did not change serialises to identical bytes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from gitops_sla.models.base import WrittenModel
from gitops_sla.models.issues import ValidationIssue
from gitops_sla.yamlsafe import dump_yaml, load_yaml

State = Literal["", "Pending", "Profiling", "Deploying", "Ready", "DeploymentDeleted", "Failed"]
ConditionType = Literal["Validation", "Profiling", "SlaAttainable", "SpecGenerated", "DeploymentReady"]
ConditionStatus = Literal["True", "False", "Unknown"]
Reason = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", max_length=1024)]

API_GROUP = "gitops-sla.dev"  # the project's own group for its files; not served by any API server
LEGACY_API_GROUP = "gitops-sla.nvidia.com"  # wave 1's group: still read, never written
STATUS_API_VERSION = f"{API_GROUP}/v1alpha1"
LEGACY_STATUS_API_VERSION = f"{LEGACY_API_GROUP}/v1alpha1"
STATUS_KIND = "DynamoGraphDeploymentRequestStatus"

# Condition reasons Dynamo's controller uses (section 1.6 of the reference notes), for the reconciler to reuse.
REASON_VALIDATION_FAILED = "ValidationFailed"
REASON_VALIDATION_PASSED = "ValidationPassed"
REASON_PROFILING_RUNNING = "ProfilingRunning"
REASON_PROFILING_COMPLETED = "ProfilingCompleted"
REASON_PROFILING_FAILED = "ProfilingFailed"
REASON_GENERATION_FAILED = "GenerationFailed"
REASON_SPEC_GENERATED = "SpecGenerated"
REASON_DEPLOYMENT_CREATED = "DeploymentCreated"
REASON_DEPLOYMENT_READY = "DeploymentReady"
REASON_DEPLOYMENT_DEGRADED = "DeploymentDegraded"
# This project's own (Git has steps Dynamo's controller does not): the SLA check and review before merge.
REASON_SLA_MET = "SlaMet"
REASON_SLA_NOT_ATTAINABLE = "SlaNotAttainable"
REASON_AWAITING_REVIEW = "AwaitingReview"


class Condition(WrittenModel):
    """`metav1.Condition`; `lastTransitionTime` is optional here (Git history already dates each change)."""

    type: ConditionType
    status: ConditionStatus
    reason: Reason
    message: Annotated[str, StringConstraints(max_length=32768)] = ""
    last_transition_time: datetime | None = None
    observed_generation: Annotated[int, Field(ge=0)] | None = None


class DeploymentStatus(WrittenModel):
    """The generated DGD as the cluster reports it (`created`: it has been applied once)."""

    name: str | None = None
    namespace: str | None = None
    state: str | None = None
    created: bool | None = None


class ParetoEntry(WrittenModel):
    """One entry of v1beta1's `profilingResults.pareto`: a deployment configuration on the front."""

    config: dict[str, Any]


class ProfilingResultsV1Beta1(WrittenModel):
    """v1beta1's `profilingResults`: the Pareto front and the selected configuration."""

    pareto: list[ParetoEntry] | None = None
    selected_config: dict[str, Any] | None = None


class DGDRStatus(WrittenModel):
    """`status` of a DGDR, as Dynamo's CRD defines it; for a v1beta1 request also v1beta1's fields (`phase`,
    `profilingPhase`, `dgdName`, `profilingResults` with `pareto` and `selectedConfig`)."""

    state: State = ""
    backend: str | None = None
    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
    phase: str | None = None  # v1beta1: Pending, Profiling, Ready, Deploying, Deployed, Failed
    dgd_name: str | None = None  # v1beta1
    profiling_results: str | ProfilingResultsV1Beta1 | None = None  # v1alpha1: where; v1beta1: what
    profiling_phase: str | None = None  # Dynamo v1beta1's sub-phase while Profiling (e.g. SweepingDecode)
    profiling_progress: str | None = None  # while Profiling: measurements done/planned, e.g. "5/12"
    generated_deployment: dict[str, Any] | None = None
    deployment: DeploymentStatus | None = None

    def condition(self, condition_type: ConditionType) -> Condition | None:
        """The condition of that type, if set."""
        return next((c for c in self.conditions if c.type == condition_type), None)

    def with_condition(
        self,
        condition_type: ConditionType,
        status: ConditionStatus,
        reason: str,
        message: str = "",
        at: datetime | None = None,
    ) -> "DGDRStatus":
        """A copy with the condition set, merged by type as Kubernetes does: `lastTransitionTime` changes only
        when `status` changes; conditions keep Dynamo's order (Validation, Profiling, SpecGenerated,
        DeploymentReady), with this project's SlaAttainable after Profiling."""
        previous = self.condition(condition_type)
        keep_time = previous is not None and previous.status == status
        new = Condition(
            type=condition_type,
            status=status,
            reason=reason,
            message=message,
            last_transition_time=previous.last_transition_time if keep_time and previous else at,
        )
        others = [c for c in self.conditions if c.type != condition_type]
        ordered = sorted([*others, new], key=lambda c: _CONDITION_ORDER[c.type])
        return self.model_copy(update={"conditions": ordered})

    def with_state(self, state: State) -> "DGDRStatus":
        """A copy in another lifecycle state."""
        return self.model_copy(update={"state": state})


_CONDITION_ORDER = {"Validation": 0, "Profiling": 1, "SlaAttainable": 2, "SpecGenerated": 3, "DeploymentReady": 4}


class RequestRef(WrittenModel):
    """Which request a status file describes."""

    name: str
    namespace: str
    path: str
    model: str | None = None
    backend: str | None = None


class ResultSummary(WrittenModel):
    """What the profiler chose, in the few numbers `gitops-sla status` and PR bodies show."""

    sla_met: bool | None = None
    target_ttft_ms: float | None = None
    target_itl_ms: float | None = None
    expected_ttft_ms: float | None = None
    expected_itl_ms: float | None = None
    prefill_mapping: str | None = None
    decode_mapping: str | None = None
    prefill_gpus: int | None = None
    decode_gpus: int | None = None
    throughput_per_gpu: float | None = None
    warnings: list[str] = Field(default_factory=list)


class RequestStatusFile(WrittenModel):
    """`generated/<namespace>/<name>/status.yaml`."""

    api_version: Literal["gitops-sla.dev/v1alpha1", "gitops-sla.nvidia.com/v1alpha1"] = STATUS_API_VERSION
    kind: Literal["DynamoGraphDeploymentRequestStatus"] = STATUS_KIND
    request: RequestRef
    spec_hash: str | None = None
    source_commit: str | None = None
    profiler_version: str | None = None
    status: DGDRStatus = Field(default_factory=DGDRStatus)
    issues: list[ValidationIssue] = Field(default_factory=list)
    result: ResultSummary | None = None
    drift: list[str] = Field(default_factory=list)  # hand edits of the folder found (and restored, or reported)
    output_files: dict[str, str] | None = None  # written by `gitops_sla.reconcile.drift.stamp`, always last
    output_digest: str | None = None

    def to_yaml(self) -> str:
        """Deterministic YAML (the project's one style)."""
        return dump_yaml(self.model_dump(mode="json", by_alias=True, exclude_none=True))

    @field_validator("api_version")
    @classmethod
    def _current_group(cls, value: str) -> str:
        """A status written with wave 1's group is read as the current one (and written so when rewritten)."""
        return STATUS_API_VERSION if value == LEGACY_STATUS_API_VERSION else value

    @classmethod
    def from_yaml(cls, source: bytes | str, file: str = "status.yaml") -> "RequestStatusFile":
        """Parse a status file with the same safe loader as every other file from Git."""
        return cls.model_validate(load_yaml(source, file).data)
