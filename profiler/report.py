"""The Markdown report a reviewer reads in a pull request: choices vs the SLA, warnings, sweeps, plots."""

from __future__ import annotations

from profiler.findings import Findings, MeasurementReport
from profiler.plots import PLOT_FILES
from profiler.config import DEFAULT_ITL_MARGIN, DEFAULT_TTFT_MARGIN
from profiler.result import EngineChoice
from profiler.selection import Candidate, EnginePick


def _row(choice: EngineChoice) -> str:
    verdict = "yes" if choice.meets_sla else "**no**"
    return (
        f"| {choice.role} | {choice.mapping} | {choice.num_gpus} | {choice.metric} {choice.latency_ms:.2f} ms "
        f"| {choice.target_ms:g} ms | {verdict} | {choice.thpt_per_gpu:.2f} |"
    )


def _decode_rows(findings: Findings) -> list[str]:
    """Per decode mapping: its best point within the ITL target (else its lowest ITL)."""
    target = findings.config.sla.itl
    rows = []
    for label in dict.fromkeys(p.mapping.label for p in findings.sweep.decode):
        points = [p for p in findings.sweep.decode if p.mapping.label == label]
        within = [p for p in points if p.itl_ms <= target]
        best = max(within, key=lambda p: p.thpt_per_gpu) if within else min(points, key=lambda p: p.itl_ms)
        rows.append(
            f"| {label} | {best.mapping.num_gpus} | {best.concurrency} | {best.itl_ms:.2f} | {best.thpt_per_gpu:.2f} "
            f"| {'yes' if within else 'no'} | {points[-1].concurrency} | {best.max_kv_tokens} |"
        )
    return rows


_CALIBRATION = {"prefill": 1 + DEFAULT_TTFT_MARGIN, "decode": 1 + DEFAULT_ITL_MARGIN}


def _pick_row(name: str, chosen: EnginePick) -> str:
    point, factor = chosen.candidate, _CALIBRATION[chosen.candidate.role]
    calibrated = point.latency_ms * factor
    verdict = "yes" if calibrated <= chosen.target_ms else "**no**"
    return (
        f"| {point.role} | {name} | {point.mapping.label} | {point.concurrency if point.concurrency else '-'} "
        f"| {point.latency_ms:.2f} ms | {chosen.target_ms:g} ms | {chosen.headroom:+.1%} "
        f"| {verdict} ({calibrated:.2f} ms) | {point.thpt_per_gpu:.2f} |"
    )


def _front_rows(front: list[Candidate], ours: Candidate, dynamo: Candidate) -> list[str]:
    rows = []
    for point in front:
        marks = [name for name, chosen in (("**selected**", ours), ("Dynamo's rule", dynamo)) if point == chosen]
        rows.append(
            f"| {point.mapping.label} | {point.mapping.num_gpus} | {point.concurrency if point.concurrency else '-'} "
            f"| {point.latency_ms:.2f} | {point.thpt_per_gpu:.2f} | {', '.join(marks)} |"
        )
    return rows


def _selection_lines(findings: Findings) -> list[str]:
    selection = findings.selection
    calibration = (f"x {_CALIBRATION['prefill']:g} TTFT, x {_CALIBRATION['decode']:g} ITL: AI Configurator's "
                   "latency correction scales")
    lines = [
        "## Selection",
        "",
        f"Rule `{selection.policy.rule}`: {selection.policy.describe()}. Dynamo's rule on the same estimates is "
        f"shown for comparison; headroom is the share of the target the estimate leaves unused; calibrated = "
        f"estimate {calibration}.",
        "",
        "| engine | rule | mapping | concurrency | estimate | target | headroom | meets calibrated | tokens/s/GPU |",
        "|---|---|---|---|---|---|---|---|---|",
        _pick_row("this profiler", selection.prefill),
        _pick_row("Dynamo's rule", selection.dynamo_prefill),
        _pick_row("this profiler", selection.decode),
        _pick_row("Dynamo's rule", selection.dynamo_decode),
        "",
        f"Decode points estimated: {len(selection.decode_points)} "
        f"({sum(p.source == 'search' for p in selection.decode_points)} by the fine concurrency search).",
        "",
        "## Pareto front",
        "",
        "Points no other point beats on both latency and tokens/s/GPU (`profile.json`: `selection`; plots above).",
        "",
        "| decode mapping | GPUs | concurrency | ITL ms | tokens/s/GPU | pick |",
        "|---|---|---|---|---|---|",
        *_front_rows(selection.decode_front, selection.decode.candidate, selection.dynamo_decode.candidate),
        "",
        "| prefill mapping | GPUs | - | TTFT ms | tokens/s/GPU | pick |",
        "|---|---|---|---|---|---|",
        *_front_rows(selection.prefill_front, selection.prefill.candidate, selection.dynamo_prefill.candidate),
        "",
    ]
    return lines


def _replicas_text(findings: Findings, planner: str) -> str:
    plan = findings.replicas
    if plan is None:
        return (f"Replicas start at the base config's counts (no expected load given: set workload.requestRate or "
                f"workload.concurrency to size them); {planner} scales them at runtime from the profile data in "
                f"ConfigMap `{findings.configmap_name}`.")
    return (f"Replicas: **{plan.prefill} prefill, {plan.decode} decode**, sized for {plan.basis} with the safety "
            f"margins; {planner} scales them at runtime from the profile data in ConfigMap "
            f"`{findings.configmap_name}`.")


def _ratio(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "n/a (no estimate)"


def _measurement_lines(m: MeasurementReport) -> list[str]:
    low, high = m.prefill_isl_range
    points = ", ".join(f"{c}: {itl:.2f} ms" for c, itl in m.decode_points)
    return [
        "## Measurements",
        "",
        f"- Measured (deployed, AIPerf): {', '.join(m.measured_mappings)}; {m.deployments} deployment(s), "
        f"{m.aiperf_runs} AIPerf run(s)",
        f"- Estimated only (could not win after calibration, not deployed): {', '.join(m.estimated_only) or 'none'}",
        f"- Calibration, measured / estimated: TTFT {_ratio(m.ttft_ratio)}, ITL {_ratio(m.itl_ratio)}",
        f"- Prefill: TTFT measured per request at ISL {low}–{high}; the interpolation curve is a quadratic fitted to "
        "them (points outside that range are extrapolated)",
        f"- Decode: ITL measured at concurrency {points or 'none'}"
        + (f", and {m.decode_anchor[1]:.2f} ms at concurrency {m.decode_anchor[0]} in the prefill run (one decode "
           "step per two-token answer; a point of the line, not of the selection)" if m.decode_anchor else "")
        + "; the interpolation surface is a line in active KV tokens fitted to them",
        f"- KV capacity: {m.kv_tokens} tokens (frontend metric dynamo_frontend_model_total_kv_blocks x block size)"
        if m.kv_tokens else "- KV capacity: not published by the endpoint; the estimate (or the measured range) is used",
        "",
    ]


def render_report(findings: Findings) -> bytes:
    config, target, sla = findings.config, findings.target, findings.config.sla
    status = "SLA met" if findings.sla_met else "SLA not attainable"
    planner = "Dynamo's stock planner" if findings.stock_planner else "this project's planner (`python3 -m planner`)"
    measurement = findings.measurement
    lines = [
        f"# Profile of {findings.dgd_namespace}/{findings.dgd_name}: {status}",
        "",
        (f"- Model: `{config.deployment.model}` (AI Configurator model `{target.model}`), backend `{config.engine.backend}`"
         if target else f"- Model: `{config.deployment.model}`, backend `{config.engine.backend}`"),
        (f"- Measured with AIPerf on `{measurement.provider}` engines; prior: {measurement.prior}" if measurement
         else f"- Estimated with AI Configurator on `{target.system}`, {target.backend} {target.version} database"),
        f"- SLA: ISL {sla.isl}, OSL {sla.osl}, TTFT {sla.ttft:g} ms, ITL {sla.itl:g} ms",
        f"- GPUs per engine swept: {', '.join(map(str, findings.gpu_counts))} ({findings.gpus_per_node} per node)",
        "",
        "## Chosen engines",
        "",
        "| engine | mapping | GPUs | expected | target | meets SLA | tokens/s/GPU |",
        "|---|---|---|---|---|---|---|",
        _row(findings.prefill),
        _row(findings.decode),
        "",
        f"The decode figure is at concurrency {findings.decode.concurrency} per engine. "
        + _replicas_text(findings, planner),
        "",
        *_selection_lines(findings),
    ]
    if measurement:
        lines += _measurement_lines(measurement)
    if findings.warnings:
        lines += ["## Warnings", "", *[f"- {warning}" for warning in findings.warnings], ""]
    lines += [
        "## Prefill sweep (TTFT at the SLA's ISL)",
        "",
        "| mapping | GPUs | TTFT ms | tokens/s/GPU | meets TTFT |",
        "|---|---|---|---|---|",
        *[
            f"| {p.mapping.label} | {p.mapping.num_gpus} | {p.ttft_ms:.2f} | {p.thpt_per_gpu:.2f} "
            f"| {'yes' if p.ttft_ms <= sla.ttft else 'no'} |"
            for p in findings.sweep.prefill
        ],
        "",
        "## Decode sweep (best point per mapping)",
        "",
        "| mapping | GPUs | concurrency | ITL ms | tokens/s/GPU | meets ITL | max concurrency swept | KV tokens |",
        "|---|---|---|---|---|---|---|---|",
        *_decode_rows(findings),
        "",
    ]
    if findings.notes:
        lines += ["## Notes", "", *[f"- {note}" for note in findings.notes], ""]
    curve, surface = findings.prefill_curve, findings.decode_surface
    lines += [
        "## Plots",
        "",
        *[f"![{title}]({name})" for name, title in PLOT_FILES.items()],
        "",
        "## Files",
        "",
        "- `dgd.yaml`: the DynamoGraphDeployment with its Planner service",
        f"- `planner-profile-data.yaml`: ConfigMap `{findings.configmap_name}`, mounted into the Planner",
        f"- `prefill_raw_data.json`, `selected_prefill_interpolation/raw_data.npz`: {len(curve.prefill_isl)} ISL points",
        f"- `decode_raw_data.json`, `selected_decode_interpolation/raw_data.npz`: {len(surface.z_itl)} points, "
        f"{surface.max_kv_tokens} KV tokens",
        "- `profile.json`: every sweep point",
        "",
        f"Profiler {findings.profiler_version}.",
        "",
    ]
    return "\n".join(lines).encode()
