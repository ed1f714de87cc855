"""The measured profile: estimate (a prior, when AI Configurator can) | measure | select | render."""

from __future__ import annotations

from profiler import pipeline
from profiler.config import ProfileConfig
from profiler.engines.types import EngineProvider
from profiler.errors import ProfilingError
from profiler.estimate.sweep import SweepResult, sweep
from profiler.findings import MeasurementReport
from profiler.measure import curves
from profiler.measure.fit import fit
from profiler.measure.sweep import DECODE_MAX_OSL, MeasureSettings, MeasuredSweep, measure_sweep
from profiler.result import ProfileRequest, ProfileResult
from profiler.search_space import ModelShape, ParallelMapping, candidate_mappings, gpu_counts

DEFAULT_GPU_RANGE = (1, 8)
DEFAULT_MAX_CONTEXT = 40960


def _ignored(config: ProfileConfig) -> list[str]:
    return [w for w in pipeline._ignored_settings(config)
            if not w.startswith(("sweep.useAiConfigurator", "sweep.dryRun", "estimates use AI Configurator"))]


def _model_shape(config: ProfileConfig) -> ModelShape:
    """From AI Configurator's bundled model config when it has one (no system needed), else unknown: a dense
    model, TP only, no divisibility rules."""
    try:
        from aiconfigurator_core.sdk import utils

        from profiler.estimate.aic import resolve_model

        info = utils.get_model_config_from_model_path(resolve_model(config.aic_model))
        return ModelShape(str(info.get("architecture", "")), int(info.get("n") or 0), int(info.get("n_kv") or 0),
                          int(info.get("inter_size") or 0), int(info.get("num_experts") or 0),
                          int(info.get("context") or 0), bool(config.engine.is_moe_model))
    except ProfilingError:  # not a bundled model (e.g. Llama-3.1-8B-Instruct)
        return ModelShape("", 0, 0, 0, 0, 0, bool(config.engine.is_moe_model))


def _prior(config: ProfileConfig) -> tuple[tuple | None, str]:
    """The AI Configurator estimate as a prior, or None and why not."""
    if not (config.aic_system):
        return None, "none (no AI Configurator system named: the default GPU grid was measured)"
    try:
        setup = pipeline.estimate_setup(config)
    except ProfilingError as error:
        return None, f"none (no AI Configurator estimate: {error}; the default GPU grid was measured)"
    target, estimator, shape, counts, _, _, _ = setup
    result = sweep(estimator, shape, counts, config.sla.isl, config.sla.osl, config.sweep.decode_interpolation_granularity)
    return (setup, result), f"AI Configurator estimate on {target.system}, {target.backend} {target.version}"


def profile_measured(request: ProfileRequest, engines: EngineProvider, settings: MeasureSettings | None) -> ProfileResult:
    if settings is None:
        raise ProfilingError("measured profiling needs AIPerf: pass MeasureSettings(aiperf=...)")
    config = request.config
    progress = settings.progress
    progress.update(phase="planning")
    warnings = _ignored(config) + pipeline._base_config_warnings(request)
    estimate, prior_text = _prior(config)
    prior: SweepResult | None = None
    if estimate is not None:
        (target, _, shape, counts, gpus_per_node, max_context, estimate_warnings), prior = estimate
        warnings += estimate_warnings
    else:
        target = None
        fixed = engines.fixed_mapping
        shape = _model_shape(config)
        hardware = config.hardware
        low = hardware.min_num_gpus_per_engine or DEFAULT_GPU_RANGE[0]
        high = hardware.max_num_gpus_per_engine or max(DEFAULT_GPU_RANGE[1], low)
        counts = [fixed.num_gpus] if fixed else gpu_counts(low, high)
        if not counts:
            raise ProfilingError(f"no power-of-two GPU count lies in [{low}, {high}]; widen "
                                 "hardware.minNumGpusPerEngine/maxNumGpusPerEngine")
        gpus_per_node = hardware.num_gpus_per_node or 8
        max_context = pipeline._max_context(config, shape) if (config.engine.max_context_length or shape.max_context_length) \
            else DEFAULT_MAX_CONTEXT
        pipeline._check_request_fits_context(config, max_context)
    pipeline._prepare_output()
    mappings: list[ParallelMapping] = []
    for count in counts:
        mappings += candidate_mappings(count, shape, "decode")[0]
    measured = measure_sweep(config, engines, settings, prior, mappings)
    if not measured.sweep.prefill or not measured.sweep.decode:
        raise ProfilingError(f"no measurement succeeded on {engines.name} engines")
    progress.update(phase="rendering", mapping="", point="")
    chosen = pipeline.select(config, measured.sweep, None)  # only measured points: no estimates in the pick
    warnings += chosen.warnings
    prefill_found = measured.measurements[chosen.selection.prefill.candidate.mapping]
    decode_point = chosen.selection.decode.candidate
    decode_found = measured.measurements[decode_point.mapping]
    granularity = config.sweep
    curve = curves.prefill_curve(prefill_found.prefill_fit, prefill_found.mapping, max_context,
                                 granularity.prefill_interpolation_granularity)
    context = config.sla.isl + min(config.sla.osl, DECODE_MAX_OSL) / 2
    itl_line = fit([c * context for c, _ in decode_found.line_points()], [i for _, i in decode_found.line_points()], 1)
    kv_tokens = decode_found.kv_tokens or _kv_from_prior(prior, decode_point.mapping)
    notes = []
    if not kv_tokens:
        kv_tokens = max(c for c, _, _ in decode_found.decode) * (config.sla.isl + config.sla.osl)
        notes.append("the decode engine's KV capacity is unknown (no frontend metric, no estimate): the interpolation "
                     "surface stops at the largest measured concurrency")
    surface = curves.decode_surface(itl_line, decode_found.mapping, kv_tokens, max_context,
                                    granularity.decode_interpolation_granularity)
    report = _report(engines, measured, prefill_found, decode_found, kv_tokens if decode_found.kv_tokens else None, prior_text)
    result = pipeline.render(
        request, target=target, gpu_counts=counts, gpus_per_node=gpus_per_node, max_context=max_context,
        result=measured.sweep, chosen=chosen, curve=curve, surface=surface, warnings=warnings,
        notes=(prior.skipped if prior else []) + notes, measurement=report,
    )
    progress.update(phase="done")
    return result


def _kv_from_prior(prior: SweepResult | None, mapping: ParallelMapping) -> int | None:
    return next((p.max_kv_tokens for p in prior.decode if p.mapping == mapping), None) if prior else None


def _report(engines: EngineProvider, measured: MeasuredSweep, prefill_found, decode_found, kv_tokens, prior: str) -> MeasurementReport:
    isls = [isl for isl, _ in prefill_found.prefill_records]
    return MeasurementReport(
        provider=engines.name, measured_mappings=[m.label for m in measured.measurements],
        estimated_only=measured.estimated_only, deployments=measured.deployments, aiperf_runs=measured.aiperf_runs,
        seconds=measured.seconds, ttft_ratio=measured.ttft_ratio, itl_ratio=measured.itl_ratio,
        prefill_isl_range=(min(isls), max(isls)), decode_points=[(c, i) for c, i, _ in decode_found.decode],
        decode_anchor=decode_found.itl_anchor,
        kv_tokens=kv_tokens, prior=prior,
    )
