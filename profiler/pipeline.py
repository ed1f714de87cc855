"""`profile(request)`: estimate (or measure) | select | interpolate | render. Pure: no Git, no cluster, no network
(the measured path reaches engines only through an engine provider)."""

from __future__ import annotations

import importlib
from functools import cache, lru_cache
from pathlib import Path
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from profiler import interpolation, plots
from profiler.estimate.aic import AicTarget, Estimator, estimation_failed, resolve_target, support_matrix_warning
from profiler.config import ProfileConfig, WorkloadConfig
from profiler.errors import ProfilingError
from profiler.engines.types import EngineProvider
from profiler.findings import Findings, MeasurementReport, profile_json
from profiler.planner_flags import FLAGS_BY_DEST
from profiler.render import to_yaml
from profiler.render.configmap import configmap_name, profile_configmap
from profiler.render.dgd import LABEL_DGDR_NAME, LABEL_DGDR_NAMESPACE, LABEL_MANAGED_BY, MANAGED_BY, DeploymentIdentity, render_dgd
from profiler.render.mocker import mocker_dgd
from profiler.render.schema import validate_dgd
from profiler.report import render_report
from profiler.result import EngineChoice, ParetoPoint, ProfileRequest, ProfileResult, ReplicaCounts
from profiler.search_space import (
    EngineRole, ModelShape, ParallelMapping, auto_gpu_range, candidate_mappings, gpu_counts,
)
from profiler.selection import (
    DecodeProbe, EnginePick, ReplicaPlan, Selection, SelectionPolicy, select_engines, size_replicas,
)
from profiler.estimate.sweep import SweepResult, sweep
from profiler.dynamo_release import BACKEND_IMAGE_NAMES, is_1x, published_image
from profiler.render.dgd_v1beta1 import V1Beta1Options, render_dgd_v1beta1
from profiler.render.schema_v1beta1 import validate_dgd_v1beta1
from profiler.version import PROFILER_VERSION

if TYPE_CHECKING:
    from profiler.measure.sweep import MeasureSettings

BASE_CONFIGS = Path(__file__).resolve().parent / "vendor/dynamo/base-configs"
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # LibYAML when PyYAML has it: same objects, faster


@cache
def _vendored_base(backend: str) -> dict[str, Any]:
    return yaml.load((BASE_CONFIGS / backend / "disagg.yaml").read_text(), Loader=_SAFE_LOADER)


@lru_cache(maxsize=4)
def _estimator(target: AicTarget) -> Estimator:
    """One estimator per target per process: the database and built models are reused across requests."""
    return Estimator(target)


def _ignored_settings(config: ProfileConfig) -> list[str]:
    warnings = []
    if not config.sweep.use_ai_configurator:
        warnings.append(
            "sweep.useAiConfigurator is false, but this profiler only estimates with AI Configurator "
            "(no deployments are made); set it to true to say so"
        )
    if config.sweep.dry_run:
        warnings.append("sweep.dryRun is ignored: AI Configurator estimates take seconds, so the full sweep runs")
    if config.sweep.pick_with_webui:
        warnings.append("sweep.pickWithWebui is ignored: the choice follows Dynamo's rule and is reviewed in Git")
    if config.aic_backend != config.engine.backend:
        warnings.append(
            f"estimates use AI Configurator's {config.aic_backend} data for a {config.engine.backend} deployment"
        )
    return warnings


def _base_config_warnings(request: ProfileRequest) -> list[str]:
    config = request.config
    if request.base_config is None and config.engine.backend == "trtllm" and "qwen3" not in config.deployment.model.lower():
        return [
            "Dynamo's TensorRT-LLM disagg.yaml points the workers at Qwen3 engine configs "
            "(--extra-engine-args .../engine_configs/qwen3/*.yaml); give a base config with engine configs for "
            f"{config.deployment.model}"
        ]
    return []


def _gpu_range(config: ProfileConfig, estimator: Estimator, shape: ModelShape, gpus_per_node: int) -> list[int]:
    hardware = config.hardware
    low, high = hardware.min_num_gpus_per_engine, hardware.max_num_gpus_per_engine
    if not low or not high:
        auto_low, auto_high = auto_gpu_range(estimator.weights_gib(), estimator.gpu_memory_gib, gpus_per_node, shape.is_moe)
        low, high = low or auto_low, high or max(auto_high, low)
    counts = gpu_counts(low, high)
    if not counts:
        raise ProfilingError(
            f"no power-of-two GPU count lies in [{low}, {high}]; widen hardware.minNumGpusPerEngine/maxNumGpusPerEngine"
        )
    return counts


def _preload_engines(config: ProfileConfig, shape: ModelShape) -> list[tuple[ParallelMapping, EngineRole]]:
    """Each role's first candidate at the lowest GPU count known before the weights are sized: the engines whose
    estimates load the performance tables the sweep needs."""
    low = max(1, config.hardware.min_num_gpus_per_engine or 1)
    count = 1 << (low - 1).bit_length()
    return [(kept[0], role) for role in ("prefill", "decode") if (kept := candidate_mappings(count, shape, role)[0])]


def _prepare_output() -> None:
    """Import what rendering the output needs and the sweep does not: jsonschema (DGD validation). A tenth of a
    second in a fresh process, nothing afterwards."""
    importlib.import_module("jsonschema")


def _max_context(config: ProfileConfig, shape: ModelShape) -> int:
    user, model = config.engine.max_context_length, shape.max_context_length
    if not user and not model:
        raise ProfilingError("the model's maximum context length is unknown; set engine.maxContextLength")
    return min(user, model) if user and model else (user or model)


def _check_request_fits_context(config: ProfileConfig, max_context: int) -> None:
    """An SLA whose requests (ISL + OSL tokens) exceed the context length cannot be served by any engine."""
    sla, user = config.sla, config.engine.max_context_length
    if sla.isl + sla.osl <= max_context:
        return
    limit = ("engine.maxContextLength" if user and user == max_context
             else f"the context length of {config.aic_model}")
    raise ProfilingError(
        f"sla.isl + sla.osl = {sla.isl + sla.osl} tokens exceeds {limit} ({max_context} tokens); "
        f"lower sla.isl/sla.osl so a request fits" + (" or raise engine.maxContextLength" if limit.startswith("engine") else "")
    )


def _require_points(result: SweepResult) -> None:
    skipped = "; ".join(result.skipped) or "no candidate"
    if not result.prefill:
        raise ProfilingError(f"No prefill results produced ({skipped}); widen the GPU range or pick a larger system")
    if not result.decode:
        raise ProfilingError(f"No decode results produced ({skipped}); widen the GPU range or pick a larger system")


def _decode_probe(estimator: Estimator, isl: int, osl: int) -> DecodeProbe:
    """The fine search's estimate: ITL and tokens/s/GPU of a decode mapping at one concurrency (None: failed)."""
    def probe(mapping: ParallelMapping, concurrency: int) -> tuple[float, float] | None:
        try:
            estimate = estimator.decode(mapping, isl, osl, concurrency)
        except BaseException as error:  # AI Configurator raises many types for missing data
            if not estimation_failed(error):
                raise
            return None
        return estimate.itl_ms, estimate.thpt_per_gpu
    return probe


def _engine_choice(chosen: EnginePick) -> EngineChoice:
    point = chosen.candidate
    return EngineChoice(
        role=point.role, mapping=point.mapping.label, num_gpus=point.mapping.num_gpus, latency_ms=point.latency_ms,
        target_ms=chosen.target_ms, thpt_per_gpu=point.thpt_per_gpu, meets_sla=chosen.meets_sla,
        concurrency=point.concurrency, margin=chosen.margin,
    )


def _pareto(selection: Selection) -> list[ParetoPoint]:
    chosen = {selection.prefill.candidate, selection.decode.candidate}
    return [
        ParetoPoint(role=point.role, mapping=point.mapping.label, num_gpus=point.mapping.num_gpus,
                    concurrency=point.concurrency, latency_ms=point.latency_ms, thpt_per_gpu=point.thpt_per_gpu,
                    selected=point in chosen)
        for point in selection.prefill_front + selection.decode_front
    ]


def _unattainable(choice: EngineChoice) -> str:
    return (
        f"SLA not attainable: no {choice.role} configuration meets {choice.metric} {choice.target_ms:g} ms; "
        f"the closest is {choice.summary()} — relax the SLA, allow more GPUs per engine, or use a faster system"
    )


def _budget_warning(config: ProfileConfig, plan: ReplicaPlan | None, prefill: EngineChoice,
                    decode: EngineChoice) -> list[str]:
    """The sized replicas need more GPUs than the planner's budget, which would scale them down."""
    budget = config.planner_overrides.get("max_gpu_budget", FLAGS_BY_DEST["max_gpu_budget"].default)
    if plan is None or budget < 0:
        return []
    gpus = plan.prefill * prefill.num_gpus + plan.decode * decode.num_gpus
    if gpus <= budget:
        return []
    return [f"the expected load needs {plan.prefill} prefill x {prefill.num_gpus} + {plan.decode} decode x "
            f"{decode.num_gpus} = {gpus} GPUs, more than the planner's GPU budget of {budget}, which would scale "
            f"them down; raise planner.planner_max_gpu_budget to at least {gpus} (-1: no budget)"]


def _effective_config(request: ProfileRequest) -> ProfileConfig:
    """The config with the request's expected load, optimization type and GPU budget (v1beta1's `workload`,
    `sla.optimizationType`, `hardware.totalGpus`, carried on `ProfileRequest`) filling what the config leaves
    unset."""
    config = request.config
    load = {"request_rate": request.request_rate, "concurrency": request.concurrency}
    if any(value is not None for value in load.values()) and config.workload == WorkloadConfig():
        config = config.model_copy(update={"workload": WorkloadConfig.model_validate(load)})
    if request.optimization_type and config.sla.optimization_type is None:
        config = config.model_copy(update={"sla": config.sla.model_copy(
            update={"optimization_type": request.optimization_type})})
    if request.total_gpus is not None and "max_gpu_budget" not in config.planner_overrides:
        # v1beta1's `hardware.totalGpus` is the GPU budget "for profiling and deployment": the planner's too,
        # instead of Dynamo's default of 8 (which caps loads the request's GPUs could serve)
        config = config.model_copy(update={"planner": {**config.planner,
                                                       "planner_max_gpu_budget": request.total_gpus}})
    return config


def _render(request: ProfileRequest, prefill: ParallelMapping, decode: ParallelMapping, gpus_per_node: int,
            identity: DeploymentIdentity, cm_name: str, replicas: tuple[int, int] | None,
            ) -> tuple[dict[str, Any], bool, dict[str, Any], list[str]]:
    """The DGD for the request's Dynamo version, checked; whether its Planner is Dynamo's; other manifests to
    apply with it (file name -> object); warnings. `replicas`: (prefill, decode) sized for the expected load."""
    config, warnings = request.config, []
    if is_1x(request.dynamo_version):
        if request.base_config is not None:
            warnings.append("the base config is not used for a v1beta1 deployment (Dynamo 1.x starts from its own "
                            "template); say changes in the request's overrides.dgd")
        override = request.dgd_override
        spec_override = (override or {}).get("spec") or {}
        if override and (override.get("apiVersion") == "nvidia.com/v1alpha1" or "services" in spec_override):
            warnings.append("overrides.dgd is written for v1alpha1 DGDs (spec.services); it is not applied to this "
                            "v1beta1 DGD: write it with spec.components (by component name) and apiVersion "
                            "nvidia.com/v1beta1")
            override = None
        options = V1Beta1Options(
            dynamo_version=request.dynamo_version, request_image=request.request_image,
            project_planner_image=request.project_planner_image, planner_enabled=request.planner_enabled,
            planner_settings=dict(request.planner_settings), mocker=request.use_mocker, kv_router=request.kv_router,
            dgd_override=override, replicas=replicas,
        )
        rendered = render_dgd_v1beta1(config=config, prefill=prefill, decode=decode, gpus_per_node=gpus_per_node,
                                      identity=identity, configmap_name=cm_name, options=options)
        validate_dgd_v1beta1(rendered.dgd)
        warnings += [f"planner.{key}: {why}" for key, why in rendered.dropped]
        manifests = {"planner-config.yaml": cm for cm in rendered.configmaps}
        return rendered.dgd, rendered.stock_planner, manifests, warnings
    for wanted, what in ((request.kv_router, "KV routing"),
                         (not request.planner_enabled, "a deployment without a Planner"),
                         (request.dgd_override, "overrides.dgd"), (request.planner_settings, "Dynamo 1.x planner "
                                                                   "settings")):
        if wanted:
            warnings.append(f"{what} is not rendered for Dynamo {request.dynamo_version} (v1alpha1 DGDs); set "
                            "dynamo.version in gitops-sla.yaml to a 1.x release for it")
    runtime_image = published_image(BACKEND_IMAGE_NAMES[config.engine.backend], request.dynamo_version)
    dgd, stock, dropped = render_dgd(
        request.base_config if request.base_config is not None else _vendored_base(config.engine.backend),
        user_base=request.base_config is not None, config=config, prefill=prefill, decode=decode,
        gpus_per_node=gpus_per_node, identity=identity, configmap_name=cm_name,
        project_planner_image=request.project_planner_image, runtime_image=runtime_image, replicas=replicas,
    )
    warnings += [f"planner.{key}: {why}, so it is not rendered (name this project's planner image in "
                 "gitops-sla.yaml, planner.image, to use it)" for key, why in dropped]
    if request.use_mocker:
        dgd = mocker_dgd(dgd, backend=config.engine.backend, model=config.deployment.model, configmap_name=cm_name,
                         image=config.deployment.dgd_image or None)
    validate_dgd(dgd)
    return dgd, stock, {}, warnings


def profile(
    request: ProfileRequest,
    *,
    engines: EngineProvider | None = None,
    measure: MeasureSettings | None = None,
) -> ProfileResult:
    """Profile one request and render its DGD, ConfigMap, data, report and plots: estimate | measure | select |
    render. With `engines` (and `measure`: where AIPerf is, progress) a request with `useAiConfigurator: false`
    is measured on engines from that provider (`profiler.measure`); otherwise it is estimated with AI Configurator."""
    request = request.model_copy(update={"config": _effective_config(request)})
    if engines is not None and not request.config.sweep.use_ai_configurator:
        from profiler.measure.pipeline import profile_measured

        return profile_measured(request, engines, measure)
    config = request.config
    warnings = _ignored_settings(config) + _base_config_warnings(request)
    target, estimator, shape, counts, gpus_per_node, max_context, estimate_warnings = estimate_setup(config)
    warnings += estimate_warnings
    sla, granularity = config.sla, config.sweep

    result = sweep(estimator, shape, counts, sla.isl, sla.osl, granularity.decode_interpolation_granularity)  # estimate
    chosen = select(config, result, _decode_probe(estimator, sla.isl, sla.osl))  # select
    warnings += chosen.warnings

    prefill_mapping = chosen.selection.prefill.candidate.mapping
    decode_point = chosen.selection.decode.candidate
    curve, prefill_notes = interpolation.prefill_curve(
        estimator, prefill_mapping, max_context, granularity.prefill_interpolation_granularity
    )
    surface, decode_notes = interpolation.decode_surface(
        estimator, decode_point.mapping, decode_point.max_kv_tokens or 0, max_context, granularity.decode_interpolation_granularity
    )
    return render(  # render
        request, target=target, gpu_counts=counts, gpus_per_node=gpus_per_node, max_context=max_context,
        result=result, chosen=chosen, curve=curve, surface=surface, warnings=warnings,
        notes=result.skipped + prefill_notes + decode_notes,
    )


def estimate_setup(config: ProfileConfig) -> tuple[AicTarget, Estimator, ModelShape, list[int], int, int, list[str]]:
    """Resolve the AI Configurator target and the search space: target, estimator, model shape, GPU counts,
    GPUs per node, maximum context, and warnings. Raises `ProfilingError` when no estimate is possible."""
    target, warnings = resolve_target(
        system=config.aic_system, backend=config.aic_backend, version=config.aic_backend_version, model=config.aic_model
    )
    support_warning = support_matrix_warning(target)
    warnings += [support_warning] if support_warning else []
    estimator = _estimator(target)
    shape = estimator.model_shape(config.engine.is_moe_model)
    with estimator.preloading(_preload_engines(config, shape), config.sla.isl, config.sla.osl):
        _prepare_output()
    gpus_per_node = config.hardware.num_gpus_per_node or estimator.gpus_per_node
    counts = _gpu_range(config, estimator, shape, gpus_per_node)
    max_context = _max_context(config, shape)
    _check_request_fits_context(config, max_context)
    return target, estimator, shape, counts, gpus_per_node, max_context, warnings


@dataclass(frozen=True)
class Chosen:
    """The select step's outcome: the selection, the engines as reported, replicas, and warnings."""

    selection: Selection
    policy: SelectionPolicy
    prefill: EngineChoice
    decode: EngineChoice
    plan: ReplicaPlan | None
    warnings: list[str]


def select(config: ProfileConfig, result: SweepResult, probe: DecodeProbe | None) -> Chosen:
    """Pick both engines from the sweep's points (and `probe`'s, for the fine concurrency search) and size replicas."""
    _require_points(result)
    sla = config.sla
    policy, policy_warnings = SelectionPolicy.from_config(config)
    selection = select_engines(result, sla, policy, probe)
    prefill, decode = _engine_choice(selection.prefill), _engine_choice(selection.decode)
    plan = size_replicas(config.workload, sla, selection.prefill.candidate, selection.decode.candidate, policy)
    warnings = policy_warnings + selection.warnings
    warnings += [_unattainable(choice) for choice in (prefill, decode) if not choice.meets_sla]
    warnings += _budget_warning(config, plan, prefill, decode)
    return Chosen(selection, policy, prefill, decode, plan, warnings)


def render(
    request: ProfileRequest,
    *,
    target: AicTarget | None,
    gpu_counts: list[int],
    gpus_per_node: int,
    max_context: int,
    result: SweepResult,
    chosen: Chosen,
    curve: interpolation.PrefillCurve,
    surface: interpolation.DecodeSurface,
    warnings: list[str],
    notes: list[str],
    measurement: MeasurementReport | None = None,
) -> ProfileResult:
    """The DGD, ConfigMap, interpolation data, report and plots for the chosen engines."""
    config = request.config
    selection, plan, prefill, decode = chosen.selection, chosen.plan, chosen.prefill, chosen.decode
    prefill_mapping = selection.prefill.candidate.mapping
    decode_point = selection.decode.candidate
    prefill_json, decode_json = interpolation.to_json(curve), interpolation.to_json(surface)

    namespace = request.dgd_namespace or request.request_namespace
    identity = DeploymentIdentity(
        name=request.dgd_name or request.request_name,
        namespace=namespace,
        request_name=request.request_name,
        request_namespace=request.request_namespace,
        labels=dict(request.labels),
        annotations=dict(request.annotations),
    )
    cm_name = configmap_name(request.request_namespace, request.request_name, prefill_json, decode_json)
    dgd, stock_planner, extra_manifests, render_warnings = _render(request, prefill_mapping, decode_point.mapping,
                                                                   gpus_per_node, identity, cm_name,
                                                                   (plan.prefill, plan.decode) if plan else None)
    warnings += render_warnings
    labels = {
        LABEL_DGDR_NAME: request.request_name,
        LABEL_DGDR_NAMESPACE: request.request_namespace,
        LABEL_MANAGED_BY: MANAGED_BY,
    }
    configmap = profile_configmap(cm_name, namespace, labels, prefill_json, decode_json)

    findings = Findings(
        config=config, target=target, gpu_counts=gpu_counts, gpus_per_node=gpus_per_node, max_context_length=max_context,
        sweep=result, selection=selection, replicas=plan, prefill=prefill, decode=decode, prefill_curve=curve, decode_surface=surface,
        warnings=warnings, notes=notes, dgd_name=identity.name,
        dgd_namespace=namespace, configmap_name=cm_name, stock_planner=stock_planner, profiler_version=PROFILER_VERSION,
        measurement=measurement,
    )
    files = {
        "dgd.yaml": to_yaml(dgd),
        "planner-profile-data.yaml": to_yaml(configmap),
        **{name: to_yaml(manifest) for name, manifest in extra_manifests.items()},
        interpolation.PREFILL_FILE: prefill_json.encode(),
        interpolation.DECODE_FILE: decode_json.encode(),
        interpolation.PREFILL_NPZ: interpolation.to_npz(curve),
        interpolation.DECODE_NPZ: interpolation.to_npz(surface),
        "profile.json": profile_json(findings),
        "report.md": render_report(findings),
        **plots.render_plots(findings),
    }
    return ProfileResult(
        files=dict(sorted(files.items())), sla_met=findings.sla_met, prefill=prefill, decode=decode,
        warnings=warnings, profiler_version=PROFILER_VERSION, dgd_name=identity.name, dgd_namespace=namespace,
        configmap_name=cm_name, selection_rule=chosen.policy.rule, dynamo_prefill=_engine_choice(selection.dynamo_prefill),
        dynamo_decode=_engine_choice(selection.dynamo_decode), pareto=_pareto(selection),
        replicas=ReplicaCounts(prefill=plan.prefill, decode=plan.decode, request_rate=plan.request_rate,
                               basis=plan.basis) if plan else None,
    )
