"""The profile config: Dynamo's `profilingConfig.config`, typed.

Dynamo's profiler reads each key in camelCase (0.8.1 and later) or snake_case (earlier); so does this model.
Every section forbids unknown keys, so a typo in an SLA file is an error, not a silently ignored setting.
The internal form is the snake_case dump (`ProfileConfig.model_dump()`).

Keys that Dynamo's documentation shows but its profiler never read (the top-level `aic` block,
`hardware.gpu_type`, `engine.is_moe_model`, `sweep.skip_existing_results`, `sweep.force_rerun`) are accepted
and given a meaning here: `aic.*` and `hardware.gpu_type` fill in the AI Configurator settings, and
`engine.is_moe_model` overrides MoE detection.
"""

from __future__ import annotations

import difflib
import math
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator
from pydantic.alias_generators import to_camel

from profiler.planner_flags import DYNAMO_PLANNING_MODES, FLAGS_BY_PASSTHROUGH_KEY, PlannerFlag

Backend = Literal["vllm", "sglang", "trtllm"]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]  # `.inf` is no target

# Upper bounds of every number that sizes the profiler's work: a request beyond them would stall a reconcile
# pass (the set-up grows with OSL, the sweeps with the granularities), so they are refused at validation.
MAX_ISL = 1_048_576  # 1M tokens: longer than any context AI Configurator bundles a model for
MAX_OSL = 262_144
MAX_GPUS_PER_ENGINE = 512
MAX_GPUS_PER_NODE = 64
MAX_GPU_VRAM_MIB = 1_048_576
MAX_PREFILL_GRANULARITY = 64  # Dynamo's default 16
MAX_DECODE_GRANULARITY = 32  # Dynamo's default 6; the decode sweep costs granularity squared estimates
MAX_CONTEXT_LENGTH = 16_777_216
MAX_TIMEOUT_S = 86_400
MAX_PORT = 65_535
MAX_REQUEST_RATE = 1_000_000.0  # requests/s of workload.requestRate
MAX_CONCURRENCY = 10_000_000.0  # requests in flight of workload.concurrency
GpuCount = Annotated[int, Field(ge=0, le=MAX_GPUS_PER_ENGINE)]
TimeoutS = Annotated[int, Field(gt=0, le=MAX_TIMEOUT_S)]
# AI Configurator systems, backend versions and models are names from its own lists, never paths: a name with
# `/` (other than one in a Hugging Face `org/model` id), `..` or a leading `.` could make it open a host file.
AicName = Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")]
ModelId = Annotated[str, Field(max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$")]
Margin = Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)]
OptimizationType = Literal["throughput", "latency"]
SelectionRule = Literal["fine", "dynamo"]

# AI Configurator's own calibration of its estimates (aiconfigurator.cli.api, DEFAULT_PREFILL_/
# DEFAULT_DECODE_LATENCY_CORRECTION_SCALE = 1.1 / 1.08): the default safety margins of the selection.
DEFAULT_TTFT_MARGIN = 0.10
DEFAULT_ITL_MARGIN = 0.08


_KIND_TYPES: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,)}
_KIND_WORDS = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false"}


def planner_key_error(key: str) -> str | None:
    """Why a `planner` passthrough key is not known (with a "did you mean" suggestion), or None if it is."""
    snake = camel_to_snake(key)
    if snake in FLAGS_BY_PASSTHROUGH_KEY:
        return None
    candidates = list(FLAGS_BY_PASSTHROUGH_KEY)
    close = difflib.get_close_matches(snake, candidates, n=1, cutoff=0.6)
    if not close and not snake.startswith("planner_"):
        close = difflib.get_close_matches(f"planner_{snake}", candidates, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else "; planner keys are planner_<flag> for a planner flag"
    return f"unknown planner key '{key}'{hint}"


def planner_value_error(flag: PlannerFlag, value: Any) -> str | None:
    """Why `value` does not fit the planner flag (type, choices), or None if it does."""
    if value is None:
        return None if flag.default is None else f"{flag.passthrough_key} needs {_KIND_WORDS[flag.kind]}, not null"
    if isinstance(value, bool) and flag.kind != "bool" or not isinstance(value, _KIND_TYPES[flag.kind]):
        return f"{flag.passthrough_key} needs {_KIND_WORDS[flag.kind]}, not {value!r}"
    if flag.kind == "float" and not math.isfinite(value):
        return f"{flag.passthrough_key} needs a finite number, not {value!r}"
    if flag.dest == "mode" and value in DYNAMO_PLANNING_MODES:
        if value == "disagg":
            return None
        return (f"{flag.passthrough_key} {value!r} is Dynamo's single-component planning mode, which this planner "
                "does not offer (it plans prefill and decode together): use disagg, or patch, git or advisory "
                "to choose how decisions are applied")
    if flag.bounds and not flag.bounds[0] <= value <= flag.bounds[1]:
        low, high = flag.bounds
        return f"{flag.passthrough_key} must be between {low} and {high}, not {value!r}"
    if flag.choices and value not in flag.choices:
        return f"{flag.passthrough_key} must be one of {', '.join(flag.choices)}, not {value!r}"
    return None


def camel_to_snake(name: str) -> str:
    """`minNumGpusPerEngine` -> `min_num_gpus_per_engine`; hyphens become underscores."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).replace("-", "_").lower()


class Section(BaseModel):
    """A config section: camelCase or snake_case keys, no unknown keys, no key given in both spellings.

    Numbers given as strings are read as numbers (Dynamo's argparse converts them too); switches take YAML
    booleans only (`StrictBool`): argparse reads a quoted "false" as a non-empty, so true, string."""

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, alias_generator=to_camel, frozen=True, strict=False
    )

    @model_validator(mode="before")
    @classmethod
    def _reject_double_spelling(cls, data: Any) -> Any:
        if isinstance(data, dict):
            seen: dict[str, str] = {}
            for key in data:
                if not isinstance(key, str):
                    continue
                snake = camel_to_snake(key)
                if snake in seen and seen[snake] != key:
                    raise ValueError(f"'{seen[snake]}' and '{key}' are the same setting; keep one of them")
                seen[snake] = key
        return data


class SLAConfig(Section):
    """Workload shape and latency targets (milliseconds)."""

    isl: Annotated[int, Field(gt=0, le=MAX_ISL)] = 3000
    osl: Annotated[int, Field(gt=0, le=MAX_OSL)] = 500
    ttft: PositiveFloat = 50.0
    itl: PositiveFloat = 10.0
    # Dynamo 1.x's sla.optimizationType: among the points that meet the SLA, the most tokens/s per GPU
    # (throughput, the default) or the lowest TTFT/ITL (latency).
    optimization_type: OptimizationType | None = None


class WorkloadConfig(Section):
    """The expected load (Dynamo 1.x's `workload.requestRate` / `concurrency`): sizes the initial prefill and
    decode replicas. Unset: replicas stay as in the base config and the planner sizes them at runtime."""

    request_rate: Annotated[float, Field(gt=0, le=MAX_REQUEST_RATE, allow_inf_nan=False)] | None = None  # requests/s
    concurrency: Annotated[float, Field(gt=0, le=MAX_CONCURRENCY, allow_inf_nan=False)] | None = None  # in flight

    @model_validator(mode="after")
    def _one_load(self) -> "WorkloadConfig":
        if self.request_rate is not None and self.concurrency is not None:
            raise ValueError("requestRate and concurrency are mutually exclusive; give one of them")
        return self


class SelectionConfig(Section):
    """How the engines are picked. `rule: fine` (default) searches each decode mapping's concurrency finely and
    requires the estimate plus a safety margin to meet the SLA; `rule: dynamo` is Dynamo's rule (the 6-point
    concurrency grid, no margin). A margin of 0.08 means `estimate x 1.08 <= target`."""

    rule: SelectionRule | None = None
    ttft_margin: Margin | None = None
    itl_margin: Margin | None = None


class HardwareConfig(Section):
    """GPU search space and, for offline profiling, the GPU type."""

    min_num_gpus_per_engine: GpuCount = 0
    max_num_gpus_per_engine: GpuCount = 0
    num_gpus_per_node: Annotated[int, Field(ge=0, le=MAX_GPUS_PER_NODE)] = 0
    enable_gpu_discovery: StrictBool = False
    gpu_type: AicName | None = None
    gpu_model: str | None = None
    gpu_vram_mib: Annotated[int, Field(ge=0, le=MAX_GPU_VRAM_MIB)] | None = None

    @model_validator(mode="after")
    def _min_not_above_max(self) -> "HardwareConfig":
        if self.min_num_gpus_per_engine and self.max_num_gpus_per_engine:
            if self.min_num_gpus_per_engine > self.max_num_gpus_per_engine:
                raise ValueError(
                    f"min_num_gpus_per_engine ({self.min_num_gpus_per_engine}) is greater than "
                    f"max_num_gpus_per_engine ({self.max_num_gpus_per_engine}); lower the minimum or raise the maximum"
                )
        return self


class SweepConfig(Section):
    """How the profiler sweeps (AI Configurator or real engines) and how finely it interpolates."""

    prefill_interpolation_granularity: Annotated[int, Field(ge=2, le=MAX_PREFILL_GRANULARITY)] = 16
    decode_interpolation_granularity: Annotated[int, Field(ge=2, le=MAX_DECODE_GRANULARITY)] = 6
    use_ai_configurator: StrictBool = False
    aic_system: AicName | None = None
    aic_hf_id: ModelId | None = None
    aic_backend: str = ""
    aic_backend_version: AicName | None = None
    dry_run: StrictBool = False
    pick_with_webui: StrictBool = False
    webui_port: Annotated[int, Field(ge=0, le=MAX_PORT)] | None = None
    skip_existing_results: StrictBool = False
    force_rerun: StrictBool = False
    # Shown in Dynamo's troubleshooting docs ("reduce search space"); they set the hardware GPU range.
    min_num_gpus: GpuCount | None = None
    max_num_gpus: GpuCount | None = None


class AICConfig(Section):
    """The documented top-level `aic` block (`system`, `model_name`, `backend_version`)."""

    system: AicName | None = None
    model_name: ModelId | None = None
    backend_version: AicName | None = None
    backend: str | None = None


class ModelCacheConfig(Section):
    """Model weights from a PVC instead of the Hugging Face Hub."""

    pvc_name: str = ""
    pvc_path: str = ""
    mount_path: str = "/opt/model-cache"


class DeploymentConfig(Section):
    """Where temporary and final deployments go; `model` is injected from `spec.model`."""

    namespace: str | None = None
    service_name: str = ""
    model: str = ""
    dgd_image: str = ""
    deployment_timeout: TimeoutS | None = None
    model_cache: ModelCacheConfig = ModelCacheConfig()


class EngineConfig(Section):
    """Engine settings; `backend` is injected from `spec.backend`, `config` is a base DGD file path."""

    backend: Backend = "vllm"
    config: str = ""
    max_context_length: Annotated[int, Field(ge=0, le=MAX_CONTEXT_LENGTH)] = 0
    is_moe_model: StrictBool | None = None


class ProfileConfig(Section):
    """Dynamo's profile config (`profilingConfig.config`), with `planner` passthrough keys checked."""

    output_dir: str = "profiling_results"
    deployment_ready_timeout_s: TimeoutS | None = None
    sla: SLAConfig = SLAConfig()
    hardware: HardwareConfig = HardwareConfig()
    sweep: SweepConfig = SweepConfig()
    aic: AICConfig = AICConfig()
    deployment: DeploymentConfig = DeploymentConfig()
    engine: EngineConfig = EngineConfig()
    workload: WorkloadConfig = WorkloadConfig()
    selection: SelectionConfig = SelectionConfig()
    planner: dict[str, Any] = Field(default_factory=dict)

    @field_validator("planner", mode="before")
    @classmethod
    def _normalise_planner_keys(cls, value: Any) -> Any:
        """Planner keys as Dynamo reads them: camelCase -> snake_case, hyphens -> underscores."""
        if not isinstance(value, dict):
            return value
        normalised: dict[str, Any] = {}
        for key, item in value.items():
            snake = camel_to_snake(str(key))
            if snake in normalised:
                raise ValueError(f"planner key '{key}' is given twice in different spellings; keep one")
            key_error = planner_key_error(str(key))
            if key_error:
                raise ValueError(key_error)
            value_error = planner_value_error(FLAGS_BY_PASSTHROUGH_KEY[snake], item)
            if value_error:
                raise ValueError(value_error)
            normalised[snake] = item
        return normalised

    @model_validator(mode="after")
    def _sweep_gpu_range_sets_hardware(self) -> "ProfileConfig":
        """`sweep.min_num_gpus`/`max_num_gpus` (as Dynamo's docs write them) fill the hardware GPU range."""
        update: dict[str, int] = {}
        for sweep_name, hardware_name in (("min_num_gpus", "min_num_gpus_per_engine"),
                                          ("max_num_gpus", "max_num_gpus_per_engine")):
            wanted = getattr(self.sweep, sweep_name)
            current = getattr(self.hardware, hardware_name)
            if wanted is None:
                continue
            if current and current != wanted:
                raise ValueError(f"sweep.{sweep_name} ({wanted}) and hardware.{hardware_name} ({current}) disagree; "
                                 "keep one of them")
            update[hardware_name] = wanted
        if not update:
            return self
        low = update.get("min_num_gpus_per_engine", self.hardware.min_num_gpus_per_engine)
        high = update.get("max_num_gpus_per_engine", self.hardware.max_num_gpus_per_engine)
        if low and high and low > high:
            if "min_num_gpus_per_engine" in update:
                raise ValueError(f"sweep.min_num_gpus ({low}) is greater than the most GPUs per engine ({high}); "
                                 "lower the minimum or raise the maximum")
            raise ValueError(f"sweep.max_num_gpus ({high}) is less than the fewest GPUs per engine ({low}); "
                             "lower the minimum or raise the maximum")
        return self.model_copy(update={"hardware": self.hardware.model_copy(update=update)})

    @model_validator(mode="after")
    def _aic_settings_agree(self) -> "ProfileConfig":
        pairs = (
            ("sweep.aic_system", self.sweep.aic_system, "aic.system", self.aic.system),
            ("sweep.aic_backend_version", self.sweep.aic_backend_version, "aic.backend_version",
             self.aic.backend_version),
            ("sweep.aic_backend", self.sweep.aic_backend or None, "aic.backend", self.aic.backend),
        )
        for left_name, left, right_name, right in pairs:
            if left and right and left != right:
                raise ValueError(f"{left_name} ({left!r}) and {right_name} ({right!r}) disagree; keep one of them")
        return self

    def with_request_fields(
        self,
        *,
        model: str,
        backend: Backend,
        namespace: str,
        workers_image: str | None = None,
        base_config_path: str | None = None,
    ) -> "ProfileConfig":
        """The config as Dynamo's operator hands it to the profiler: `spec.model` and `spec.backend` always
        win, the DGDR namespace fills `deployment.namespace` if unset, `workersImage` becomes
        `deployment.dgd_image`, and a base config (the `configMapRef`) becomes `engine.config`."""
        deployment = self.deployment.model_copy(
            update={
                "model": model,
                "namespace": self.deployment.namespace or namespace,
                **({"dgd_image": workers_image} if workers_image else {}),
            }
        )
        engine = self.engine.model_copy(
            update={"backend": backend, **({"config": base_config_path} if base_config_path else {})}
        )
        return self.model_copy(update={"deployment": deployment, "engine": engine})

    @property
    def aic_system(self) -> str | None:
        """The AI Configurator system: `sweep.aic_system`, else `aic.system`, else `hardware.gpu_type`."""
        return self.sweep.aic_system or self.aic.system or self.hardware.gpu_type

    @property
    def aic_model(self) -> str:
        """The model AI Configurator estimates: `sweep.aic_hf_id`, else `aic.model_name`, else the served model."""
        return self.sweep.aic_hf_id or self.aic.model_name or self.deployment.model

    @property
    def aic_backend(self) -> str:
        """The AI Configurator backend: `sweep.aic_backend`, else `aic.backend`, else `engine.backend`."""
        return self.sweep.aic_backend or self.aic.backend or self.engine.backend

    @property
    def aic_backend_version(self) -> str | None:
        """The requested backend version for AI Configurator's database, if any."""
        return self.sweep.aic_backend_version or self.aic.backend_version

    @property
    def planner_overrides(self) -> dict[str, Any]:
        """Planner passthrough values keyed by flag dest (`min_endpoint`), prefix stripped."""
        return {key.removeprefix("planner_"): value for key, value in self.planner.items()}
