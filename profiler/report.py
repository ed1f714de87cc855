"""The Markdown report a reviewer reads in a pull request: choices vs the SLA, warnings, sweeps, plots."""

from __future__ import annotations

from profiler.findings import Findings
from profiler.plots import PLOT_FILES
from profiler.result import EngineChoice


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


def render_report(findings: Findings) -> bytes:
    config, target, sla = findings.config, findings.target, findings.config.sla
    status = "SLA met" if findings.sla_met else "SLA not attainable"
    planner = "Dynamo's stock planner" if findings.stock_planner else "this project's planner (`python3 -m planner`)"
    lines = [
        f"# Profile of {findings.dgd_namespace}/{findings.dgd_name}: {status}",
        "",
        f"- Model: `{config.deployment.model}` (AI Configurator model `{target.model}`), backend `{config.engine.backend}`",
        f"- Estimated with AI Configurator on `{target.system}`, {target.backend} {target.version} database",
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
        f"The decode figure is at concurrency {findings.decode.concurrency} per engine. Replicas start at the base "
        f"config's counts; {planner} scales them at runtime from the profile data in ConfigMap "
        f"`{findings.configmap_name}`.",
        "",
    ]
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
