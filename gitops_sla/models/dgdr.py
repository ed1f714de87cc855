"""DynamoGraphDeploymentRequest (`nvidia.com/v1alpha1`), field by field as in Dynamo's CRD
(`gitops_sla/vendor/crds/`), with `profilingConfig.config` typed as `profiler.config.ProfileConfig`.

Kubernetes fields are camelCase only (the API server drops any other spelling silently, so here it is an
error); inside `profilingConfig.config` both camelCase and snake_case are accepted, as Dynamo's profiler does.
The mocker switch is accepted under both names Dynamo used: `useMocker` (0.8.1) and `deployMocker` (later).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import re

from pydantic import Field, PlainValidator, StringConstraints, WithJsonSchema

from gitops_sla.models.base import StrictModel
from gitops_sla.models.status import DGDRStatus
from profiler.config import Backend, ProfileConfig

API_VERSION = "nvidia.com/v1alpha1"
KIND = "DynamoGraphDeploymentRequest"

QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
_QUANTITY = re.compile(QUANTITY_PATTERN)


def _quantity(value: Any) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _QUANTITY.match(value):
        return value
    raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. 4, \"500m\", \"10Gi\")")


Quantity = Annotated[
    int | str,
    PlainValidator(_quantity),
    WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "string", "pattern": QUANTITY_PATTERN}]}),
]
NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]


class ObjectMeta(StrictModel):
    """The metadata a request file may carry. `namespace` defaults to the request's folder."""

    name: NonEmptyStr
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class DeploymentOverrides(StrictModel):
    """Metadata and image of the generated DGD."""

    name: str | None = None
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    workers_image: str | None = None


class ConfigMapRef(StrictModel):
    """A base DGD config; in Git it lives at `layout.base_config_path(namespace, name, key)`."""

    name: NonEmptyStr
    key: str = "disagg.yaml"


class ResourceClaim(StrictModel):
    name: NonEmptyStr
    request: str | None = None


class ResourceRequirements(StrictModel):
    """`corev1.ResourceRequirements` of the profiling job container."""

    claims: list[ResourceClaim] = Field(default_factory=list)
    limits: dict[str, Quantity] = Field(default_factory=dict)
    requests: dict[str, Quantity] = Field(default_factory=dict)


class Toleration(StrictModel):
    """`corev1.Toleration` of the profiling job pod."""

    effect: Literal["", "NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    key: str | None = None
    operator: Literal["Exists", "Equal"] | None = None
    toleration_seconds: int | None = None
    value: str | None = None


class ProfilingConfigSpec(StrictModel):
    """`spec.profilingConfig`: the profile config plus how the profiling job runs."""

    config: ProfileConfig
    config_map_ref: ConfigMapRef | None = None
    profiler_image: NonEmptyStr
    output_pvc: str | None = Field(default=None, alias="outputPVC")
    resources: ResourceRequirements | None = None
    tolerations: list[Toleration] = Field(default_factory=list)
    node_selector: dict[str, str] = Field(default_factory=dict)


class DGDRSpec(StrictModel):
    """`spec` of a DynamoGraphDeploymentRequest."""

    model: NonEmptyStr
    backend: Backend
    enable_gpu_discovery: bool = False
    auto_apply: bool = False
    use_mocker: bool = False
    deploy_mocker: bool = False
    deployment_overrides: DeploymentOverrides | None = None
    profiling_config: ProfilingConfigSpec

    @property
    def auto_apply_explicit(self) -> bool | None:
        """`autoApply` if the file sets it, else None (the repo config's `defaultMode` then decides)."""
        return self.auto_apply if "auto_apply" in self.model_fields_set else None

    @property
    def mocker(self) -> bool:
        """True when either mocker switch (`useMocker` or `deployMocker`) is on."""
        return self.use_mocker or self.deploy_mocker


class DynamoGraphDeploymentRequest(StrictModel):
    """A DGDR as committed to `requests/<namespace>/<name>.yaml`."""

    api_version: Literal["nvidia.com/v1alpha1"]
    kind: Literal["DynamoGraphDeploymentRequest"]
    metadata: ObjectMeta
    spec: DGDRSpec
    status: DGDRStatus | None = None

    @property
    def name(self) -> str:
        return self.metadata.name

    def namespace_or(self, default: str) -> str:
        """`metadata.namespace`, else `default` (the request's folder namespace)."""
        return self.metadata.namespace or default

    def dgd_name(self) -> str:
        """Name of the generated DGD: `deploymentOverrides.name`, else the request's name."""
        overrides = self.spec.deployment_overrides
        return (overrides.name if overrides and overrides.name else None) or self.metadata.name

    def dgd_namespace(self, default: str) -> str:
        """Namespace of the generated DGD: `deploymentOverrides.namespace`, else the request's namespace."""
        overrides = self.spec.deployment_overrides
        return (overrides.namespace if overrides and overrides.namespace else None) or self.namespace_or(default)

    def to_profile_config(self, base_config_path: str | None = None, *, namespace: str | None = None) -> ProfileConfig:
        """The profile config as Dynamo's operator hands it to the profiler (`ProfileConfig.with_request_fields`):
        `spec.model`/`spec.backend` injected, the namespace (argument, else `metadata.namespace`, else
        `default`) filling `deployment.namespace`, `workersImage` as `deployment.dgd_image`, the base config path
        as `engine.config`, and `spec.enableGpuDiscovery` as `hardware.enable_gpu_discovery`."""
        overrides = self.spec.deployment_overrides
        config = self.spec.profiling_config.config.with_request_fields(
            model=self.spec.model,
            backend=self.spec.backend,
            namespace=namespace or self.metadata.namespace or "default",
            workers_image=overrides.workers_image if overrides else None,
            base_config_path=base_config_path,
        )
        if self.spec.enable_gpu_discovery and not config.hardware.enable_gpu_discovery:
            hardware = config.hardware.model_copy(update={"enable_gpu_discovery": True})
            config = config.model_copy(update={"hardware": hardware})
        return config

    def to_document(self) -> dict[str, Any]:
        """The request as plain data, camelCase keys throughout, unset optional fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
