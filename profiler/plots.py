"""SVG plots for the report (`profiler.svgchart`): performance with the Pareto front and both picks, and the
interpolation data of the chosen engines. Deterministic: the same findings give the same bytes."""

from __future__ import annotations

from collections import defaultdict

from profiler.findings import Findings
from profiler.svgchart import Chart, to_svg

PLOT_FILES = {
    "prefill_performance.svg": "Prefill: TTFT vs throughput per GPU, Pareto front and picks",
    "decode_performance.svg": "Decode: ITL vs throughput per GPU, Pareto front and picks",
    "prefill_interpolation.svg": "Prefill interpolation over ISL",
    "decode_interpolation.svg": "Decode interpolation over KV usage",
}
_OURS, _DYNAMO, _SLA = "#2ca02c", "#000000", "#d62728"


def _mark_picks(chart: Chart, findings: Findings, role: str) -> None:
    """The Pareto front (grey staircase), our pick (green ring) and Dynamo's rule (black cross)."""
    selection = findings.selection
    front = selection.prefill_front if role == "prefill" else selection.decode_front
    ours, dynamo = ((selection.prefill, selection.dynamo_prefill) if role == "prefill"
                    else (selection.decode, selection.dynamo_decode))
    chart.steps([p.latency_ms for p in front], [p.thpt_per_gpu for p in front], "Pareto front")
    chart.scatter([ours.candidate.latency_ms], [ours.candidate.thpt_per_gpu], "chosen", color=_OURS, marker="ring",
                  size=8)
    chart.scatter([dynamo.candidate.latency_ms], [dynamo.candidate.thpt_per_gpu], "Dynamo's rule", color=_DYNAMO,
                  marker="cross", size=5)


def _prefill_performance(findings: Findings) -> bytes:
    sla = findings.config.sla
    chart = Chart(f"Prefill at ISL {sla.isl}", "TTFT (ms)", "prefill tokens/s/GPU", legend="lower right")
    points = findings.sweep.prefill
    chart.scatter([p.ttft_ms for p in points], [p.thpt_per_gpu for p in points], "mappings", color="#1f77b4")
    for point in points:
        chart.note(point.ttft_ms, point.thpt_per_gpu, point.mapping.label)
    _mark_picks(chart, findings, "prefill")
    chart.vline(sla.ttft, f"TTFT SLA {sla.ttft:g} ms", _SLA)
    return to_svg(chart)


def _decode_performance(findings: Findings) -> bytes:
    sla = findings.config.sla
    chart = Chart(f"Decode at ISL {sla.isl}, OSL {sla.osl}", "ITL (ms)", "decode tokens/s/GPU")
    series = defaultdict(list)
    for point in findings.selection.decode_points:
        series[point.mapping.label].append(point)
    for label, points in series.items():
        chart.plot([p.latency_ms for p in points], [p.thpt_per_gpu for p in points], label, size=2)
    _mark_picks(chart, findings, "decode")
    chart.vline(sla.itl, f"ITL SLA {sla.itl:g} ms", _SLA)
    return to_svg(chart)


def _prefill_interpolation(findings: Findings) -> bytes:
    curve, mapping = findings.prefill_curve, findings.prefill.mapping
    left = Chart(f"{mapping}: TTFT", "ISL (tokens)", "TTFT (ms)", width=450, legend="none")
    left.plot(curve.prefill_isl, curve.prefill_ttft)
    right = Chart(f"{mapping}: throughput", "ISL (tokens)", "tokens/s/GPU", width=450, legend="none")
    right.plot(curve.prefill_isl, curve.prefill_thpt_per_gpu, color="#ff7f0e")
    return to_svg(left, right)


def _decode_interpolation(findings: Findings) -> bytes:
    surface, mapping = findings.decode_surface, findings.decode.mapping
    by_context = defaultdict(list)
    for x, y, itl, thpt in zip(surface.x_kv_usage, surface.y_context_length, surface.z_itl, surface.z_thpt_per_gpu):
        by_context[y].append((x, itl, thpt))
    left = Chart(f"{mapping}: ITL", "KV cache usage", "ITL (ms)", width=450)
    right = Chart(f"{mapping}: throughput", "KV cache usage", "tokens/s/GPU", width=450, legend="none")
    for context, points in by_context.items():
        left.plot([p[0] for p in points], [p[1] for p in points], f"ctx {context:g}")
        right.plot([p[0] for p in points], [p[2] for p in points], f"ctx {context:g}")
    return to_svg(left, right)


_RENDERERS = dict(
    zip(PLOT_FILES, (_prefill_performance, _decode_performance, _prefill_interpolation, _decode_interpolation))
)


def render_plots(findings: Findings) -> dict[str, bytes]:
    """The report's SVG files by name."""
    return {name: render(findings) for name, render in _RENDERERS.items()}
