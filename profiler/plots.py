"""PNG plots for the report (matplotlib's `Figure` on the Agg canvas, no pyplot).

Deterministic: no timestamp or software tag in the files."""

from __future__ import annotations

import io
import os
from collections import defaultdict
from collections.abc import Iterable

from profiler.findings import Findings

PLOT_FILES = {
    "prefill_performance.png": "Prefill: TTFT vs throughput per GPU, Pareto front and picks",
    "decode_performance.png": "Decode: ITL vs throughput per GPU, Pareto front and picks",
    "prefill_interpolation.png": "Prefill interpolation over ISL",
    "decode_interpolation.png": "Decode interpolation over KV usage",
}
_DPI = 80
# Fixed margins: cheaper than tight_layout and identical on every run.
_SINGLE = {"left": 0.14, "right": 0.97, "bottom": 0.12, "top": 0.92}
_PAIR = {"left": 0.08, "right": 0.98, "bottom": 0.14, "top": 0.9, "wspace": 0.3}
_SLA_STYLE = {"color": "tab:red", "linestyle": "--", "linewidth": 1}


def _figure(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float], gridspec_kw: dict[str, float]):
    """A figure and its axes as `pyplot.subplots` makes them, without pyplot (its import and figure manager)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize)
    return figure, figure.subplots(nrows, ncols, gridspec_kw=gridspec_kw)


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    return buffer.getvalue()


def _mark_picks(axes, findings: Findings, role: str) -> None:
    """Ours (green circle) and Dynamo's rule (black cross) on the same axes."""
    selection = findings.selection
    ours, dynamo = ((selection.prefill, selection.dynamo_prefill) if role == "prefill"
                    else (selection.decode, selection.dynamo_decode))
    axes.scatter(ours.candidate.latency_ms, ours.candidate.thpt_per_gpu, s=160, facecolors="none",
                 edgecolors="tab:green", linewidths=2, label="chosen", zorder=4)
    axes.scatter(dynamo.candidate.latency_ms, dynamo.candidate.thpt_per_gpu, s=80, marker="x", color="black",
                 label="Dynamo's rule", zorder=5)


def _front_line(axes, front) -> None:
    axes.step([p.latency_ms for p in front], [p.thpt_per_gpu for p in front], where="post", color="tab:gray",
              linewidth=1, label="Pareto front", zorder=1)


def _prefill_performance(findings: Findings) -> bytes:
    figure, axes = _figure(figsize=(6, 4), gridspec_kw=_SINGLE)
    for point in findings.sweep.prefill:
        axes.scatter(point.ttft_ms, point.thpt_per_gpu, color="tab:blue")
        axes.annotate(point.mapping.label, (point.ttft_ms, point.thpt_per_gpu), textcoords="offset points", xytext=(4, 4))
    _front_line(axes, findings.selection.prefill_front)
    _mark_picks(axes, findings, "prefill")
    axes.axvline(findings.config.sla.ttft, label=f"TTFT SLA {findings.config.sla.ttft:g} ms", **_SLA_STYLE)
    axes.set(xlabel="TTFT (ms)", ylabel="prefill tokens/s/GPU", title=f"Prefill at ISL {findings.config.sla.isl}")
    axes.legend(loc="lower right", fontsize="small")
    return _png(figure)


def _decode_performance(findings: Findings) -> bytes:
    figure, axes = _figure(figsize=(6, 4), gridspec_kw=_SINGLE)
    series = defaultdict(list)
    for point in findings.selection.decode_points:
        series[point.mapping.label].append(point)
    for label, points in series.items():
        axes.plot([p.latency_ms for p in points], [p.thpt_per_gpu for p in points], marker="o", markersize=3,
                  label=label)
    _front_line(axes, findings.selection.decode_front)
    _mark_picks(axes, findings, "decode")
    axes.axvline(findings.config.sla.itl, label=f"ITL SLA {findings.config.sla.itl:g} ms", **_SLA_STYLE)
    axes.set(xlabel="ITL (ms)", ylabel="decode tokens/s/GPU", title=f"Decode at ISL {findings.config.sla.isl}, OSL {findings.config.sla.osl}")
    axes.legend(loc="upper left", fontsize="x-small")
    return _png(figure)


def _prefill_interpolation(findings: Findings) -> bytes:
    curve = findings.prefill_curve
    figure, (left, right) = _figure(1, 2, figsize=(9, 3.5), gridspec_kw=_PAIR)
    left.plot(curve.prefill_isl, curve.prefill_ttft, marker="o")
    left.set(xlabel="ISL (tokens)", ylabel="TTFT (ms)", title=f"{findings.prefill.mapping}: TTFT")
    right.plot(curve.prefill_isl, curve.prefill_thpt_per_gpu, marker="o", color="tab:orange")
    right.set(xlabel="ISL (tokens)", ylabel="tokens/s/GPU", title=f"{findings.prefill.mapping}: throughput")
    return _png(figure)


def _decode_interpolation(findings: Findings) -> bytes:
    surface = findings.decode_surface
    by_context = defaultdict(list)
    for x, y, itl, thpt in zip(surface.x_kv_usage, surface.y_context_length, surface.z_itl, surface.z_thpt_per_gpu):
        by_context[y].append((x, itl, thpt))
    figure, (left, right) = _figure(1, 2, figsize=(9, 3.5), gridspec_kw=_PAIR)
    for context, points in by_context.items():
        left.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=f"ctx {context:g}")
        right.plot([p[0] for p in points], [p[2] for p in points], marker="o", label=f"ctx {context:g}")
    left.set(xlabel="KV cache usage", ylabel="ITL (ms)", title=f"{findings.decode.mapping}: ITL")
    right.set(xlabel="KV cache usage", ylabel="tokens/s/GPU", title=f"{findings.decode.mapping}: throughput")
    left.legend(loc="upper left", fontsize="x-small")
    return _png(figure)


def prepare() -> None:
    """Import matplotlib's figure and Agg canvas (about 0.25 s in a fresh process), e.g. while estimates run."""
    import matplotlib.backends.backend_agg
    import matplotlib.figure  # noqa: F401


_RENDERERS = dict(
    zip(PLOT_FILES, (_prefill_performance, _decode_performance, _prefill_interpolation, _decode_interpolation))
)
# What a forked child draws: about half of the drawing time.
_CHILD_SHARE = ("prefill_performance.png", "decode_interpolation.png")


def _render(findings: Findings, names: Iterable[str]) -> dict[str, bytes]:
    return {name: _RENDERERS[name](findings) for name in names}


def _render_to(connection, findings: Findings, names: Iterable[str]) -> None:
    connection.send(_render(findings, names))
    connection.close()


def _render_forked(findings: Findings) -> dict[str, bytes]:
    """Draw `_CHILD_SHARE` in a forked child process while this one draws the rest. The child is a copy of this
    process (same modules, rcParams and data), so the bytes are the same; if it fails, its share is drawn here."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_render_to, args=(sender, findings, _CHILD_SHARE), daemon=True)
    try:
        child.start()
    except OSError:
        return _render(findings, PLOT_FILES)
    finally:
        sender.close()
    files = _render(findings, [name for name in PLOT_FILES if name not in _CHILD_SHARE])
    try:
        files.update(receiver.recv())
    except (EOFError, OSError):
        files.update(_render(findings, _CHILD_SHARE))
    finally:
        receiver.close()
        child.join()
    return files


def _can_fork() -> bool:
    """Whether a forked child would draw on another core (on one core it only adds the fork's cost)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return hasattr(os, "fork") and cpus > 1


def render_plots(findings: Findings, *, fork: bool = False) -> dict[str, bytes]:
    """The report's PNG files by name. `fork=True` draws half of them in a forked child process when the process
    may use more than one core: only for a process that runs no threads of its own (forking those is unsafe),
    such as the CLI."""
    prepare()
    import matplotlib

    # A fixed title height: where matplotlib's automatic placement puts it on these plots (no tick labels on
    # top), without measuring every tick label to find out.
    with matplotlib.rc_context({"axes.titley": 1.0}):
        files = _render_forked(findings) if fork and _can_fork() else _render(findings, PLOT_FILES)
    return {name: files[name] for name in PLOT_FILES}
