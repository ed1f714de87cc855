"""PNG plots for the report (matplotlib, Agg). Deterministic: no timestamp or software tag in the files."""

from __future__ import annotations

import io
from collections import defaultdict

from profiler.findings import Findings

PLOT_FILES = {
    "prefill_performance.png": "Prefill: TTFT vs throughput per GPU",
    "decode_performance.png": "Decode: ITL vs throughput per GPU",
    "prefill_interpolation.png": "Prefill interpolation over ISL",
    "decode_interpolation.png": "Decode interpolation over KV usage",
}
_DPI = 80
# Fixed margins: cheaper than tight_layout and identical on every run.
_SINGLE = {"left": 0.14, "right": 0.97, "bottom": 0.12, "top": 0.92}
_PAIR = {"left": 0.08, "right": 0.98, "bottom": 0.14, "top": 0.9, "wspace": 0.3}
_SLA_STYLE = {"color": "tab:red", "linestyle": "--", "linewidth": 1}


def _png(figure) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def _prefill_performance(plt, findings: Findings) -> bytes:
    figure, axes = plt.subplots(figsize=(6, 4), gridspec_kw=_SINGLE)
    for point in findings.sweep.prefill:
        axes.scatter(point.ttft_ms, point.thpt_per_gpu, color="tab:blue")
        axes.annotate(point.mapping.label, (point.ttft_ms, point.thpt_per_gpu), textcoords="offset points", xytext=(4, 4))
    chosen = findings.prefill
    axes.scatter(chosen.latency_ms, chosen.thpt_per_gpu, s=160, facecolors="none", edgecolors="tab:green", label="chosen")
    axes.axvline(findings.config.sla.ttft, label=f"TTFT SLA {findings.config.sla.ttft:g} ms", **_SLA_STYLE)
    axes.set(xlabel="TTFT (ms)", ylabel="prefill tokens/s/GPU", title=f"Prefill at ISL {findings.config.sla.isl}")
    axes.legend(loc="lower right")
    return _png(figure)


def _decode_performance(plt, findings: Findings) -> bytes:
    figure, axes = plt.subplots(figsize=(6, 4), gridspec_kw=_SINGLE)
    series = defaultdict(list)
    for point in findings.sweep.decode:
        series[point.mapping.label].append(point)
    for label, points in series.items():
        axes.plot([p.itl_ms for p in points], [p.thpt_per_gpu for p in points], marker="o", label=label)
    chosen = findings.decode
    axes.scatter(chosen.latency_ms, chosen.thpt_per_gpu, s=160, facecolors="none", edgecolors="tab:green", label="chosen")
    axes.axvline(findings.config.sla.itl, label=f"ITL SLA {findings.config.sla.itl:g} ms", **_SLA_STYLE)
    axes.set(xlabel="ITL (ms)", ylabel="decode tokens/s/GPU", title=f"Decode at ISL {findings.config.sla.isl}, OSL {findings.config.sla.osl}")
    axes.legend(loc="upper left", fontsize="small")
    return _png(figure)


def _prefill_interpolation(plt, findings: Findings) -> bytes:
    curve = findings.prefill_curve
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5), gridspec_kw=_PAIR)
    left.plot(curve.prefill_isl, curve.prefill_ttft, marker="o")
    left.set(xlabel="ISL (tokens)", ylabel="TTFT (ms)", title=f"{findings.prefill.mapping}: TTFT")
    right.plot(curve.prefill_isl, curve.prefill_thpt_per_gpu, marker="o", color="tab:orange")
    right.set(xlabel="ISL (tokens)", ylabel="tokens/s/GPU", title=f"{findings.prefill.mapping}: throughput")
    return _png(figure)


def _decode_interpolation(plt, findings: Findings) -> bytes:
    surface = findings.decode_surface
    by_context = defaultdict(list)
    for x, y, itl, thpt in zip(surface.x_kv_usage, surface.y_context_length, surface.z_itl, surface.z_thpt_per_gpu):
        by_context[y].append((x, itl, thpt))
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5), gridspec_kw=_PAIR)
    for context, points in by_context.items():
        left.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=f"ctx {context:g}")
        right.plot([p[0] for p in points], [p[2] for p in points], marker="o", label=f"ctx {context:g}")
    left.set(xlabel="KV cache usage", ylabel="ITL (ms)", title=f"{findings.decode.mapping}: ITL")
    right.set(xlabel="KV cache usage", ylabel="tokens/s/GPU", title=f"{findings.decode.mapping}: throughput")
    left.legend(loc="upper left", fontsize="x-small")
    return _png(figure)


def prepare() -> None:
    """Import matplotlib with the Agg backend (about 0.3 s in a fresh process), e.g. while estimates run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401


def render_plots(findings: Findings) -> dict[str, bytes]:
    """The report's PNG files by name."""
    prepare()
    import matplotlib.pyplot as plt

    # A fixed title height: where matplotlib's automatic placement puts it on these plots (no tick labels on
    # top), without measuring every tick label to find out.
    with plt.rc_context({"figure.max_open_warning": 0, "axes.titley": 1.0}):
        renderers = (_prefill_performance, _decode_performance, _prefill_interpolation, _decode_interpolation)
        return {name: render(plt, findings) for name, render in zip(PLOT_FILES, renderers)}
