"""What one replay measured: per-request SLA attainment, GPU-hours, the replica timeline and scaling actions."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from planner.replay.simulator import SimulatorRun


@dataclass
class PolicyResult:
    """One policy's replay, summarised; `to_json()` is the `--json` object."""

    policy: str
    requests: int
    attainment: float
    ttft_attainment: float
    itl_attainment: float
    gpu_hours: float
    scaling_actions: int
    p90_ttft_ms: float | None
    p99_ttft_ms: float | None
    p99_itl_ms: float | None
    timeline: list[dict] = field(default_factory=list)

    def to_json(self, oracle_gpu_hours: float | None = None) -> dict:
        data = {"policy": self.policy, "attainment": round(self.attainment, 5),
                "ttft_attainment": round(self.ttft_attainment, 5), "itl_attainment": round(self.itl_attainment, 5),
                "gpu_hours": round(self.gpu_hours, 4), "scaling_actions": self.scaling_actions,
                "requests": self.requests, "p90_ttft_ms": _round(self.p90_ttft_ms), "p99_ttft_ms": _round(self.p99_ttft_ms),
                "p99_itl_ms": _round(self.p99_itl_ms), "timeline": self.timeline}
        if oracle_gpu_hours:
            data["gpu_hours_over_oracle"] = round(self.gpu_hours / oracle_gpu_hours, 4)
        return data


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarize(policy: str, run: SimulatorRun, ttft_sla_ms: float, itl_sla_ms: float, prefill_gpus: int,
              decode_gpus: int) -> PolicyResult:
    """Attainment (a request meets the SLA when it completed, its TTFT <= the TTFT SLA and its mean ITL <= the
    ITL SLA; one-token outputs have no ITL), GPU-hours (worker-seconds, starting and draining included, times
    GPUs per engine), scaling actions (ticks whose decision changed a role's target) and the replica timeline."""
    ttft_ok = itl_ok = both = 0
    ttfts, itls = [], []
    for request in run.per_request:
        done = request.get("terminal_status") == "completed"
        ttft = request.get("ttft_ms")
        itl = request.get("itl_ms")
        t_ok = done and ttft is not None and ttft <= ttft_sla_ms
        i_ok = done and (itl is None or itl <= itl_sla_ms)
        ttft_ok += t_ok
        itl_ok += i_ok
        both += t_ok and i_ok
        if ttft is not None:
            ttfts.append(ttft)
        if itl is not None:
            itls.append(itl)
    total = max(1, len(run.per_request))
    summary = run.summary
    gpu_hours = (float(summary.get("prefill_worker_seconds", 0.0)) * prefill_gpus
                 + float(summary.get("decode_worker_seconds", 0.0)) * decode_gpus) / 3600.0
    actions = sum(1 for d in run.decisions
                  if d.get("target_prefill") is not None or d.get("target_decode") is not None)
    timeline = [{"t_s": round(float(t["now_ms"]) / 1000.0, 1),
                 "prefill": int(t["active_prefill_count"]), "decode": int(t["active_decode_count"]),
                 "prefill_starting": int(t["starting_prefill_count"]),
                 "decode_starting": int(t["starting_decode_count"]),
                 "target_prefill": d.get("target_prefill"), "target_decode": d.get("target_decode")}
                for t, d in zip(run.ticks, run.decisions)]
    return PolicyResult(policy, len(run.per_request), both / total, ttft_ok / total, itl_ok / total, gpu_hours,
                        actions, _quantile(ttfts, 0.90), _quantile(ttfts, 0.99), _quantile(itls, 0.99), timeline)


def table(results: list[PolicyResult], oracle_gpu_hours: float | None) -> str:
    """A Markdown table, one row per policy."""
    lines = ["| policy | SLA attainment | TTFT ok | ITL ok | GPU-hours | / oracle | scaling actions | p99 TTFT ms |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        ratio = f"{r.gpu_hours / oracle_gpu_hours:.2f}" if oracle_gpu_hours else "n/a"
        p99 = f"{r.p99_ttft_ms:.0f}" if r.p99_ttft_ms is not None else "n/a"
        lines.append(f"| {r.policy} | {r.attainment:.2%} | {r.ttft_attainment:.2%} | {r.itl_attainment:.2%} | "
                     f"{r.gpu_hours:.2f} | {ratio} | {r.scaling_actions} | {p99} |")
    return "\n".join(lines)


def plot(results: list[PolicyResult], path: str | Path, title: str, prefill_gpus: int, decode_gpus: int) -> Path:
    """GPUs in use (running and starting) over time, one line per policy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(9, 4.5))
    end_min = max((p["t_s"] / 60.0 for r in results for p in r.timeline), default=0.0)
    for r in results:
        if not r.timeline:
            continue
        xs = [p["t_s"] / 60.0 for p in r.timeline] + [end_min]
        ys = [(p["prefill"] + p["prefill_starting"]) * prefill_gpus + (p["decode"] + p["decode_starting"]) * decode_gpus
              for p in r.timeline]
        ys.append(ys[-1])
        axis.step(xs, ys, where="post", label=f"{r.policy} ({r.attainment:.1%}, {r.gpu_hours:.1f} GPU-h)")
    axis.set_xlabel("minutes")
    axis.set_ylabel("GPUs (running + starting)")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return Path(path)
