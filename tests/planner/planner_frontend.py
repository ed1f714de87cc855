"""Frontend metric history for backfilling, and an in-memory stand-in for the deployed replicas."""

from __future__ import annotations

from dataclasses import dataclass, field

from planner.policy import Decision, Replicas
from tests.support.prometheus import Series

LABELS = {"dynamo_namespace": "dyn-ns", "model": "Qwen/Qwen3-0.6B"}
STEP = 15


@dataclass(frozen=True)
class Segment:
    """From `start` (unix s) on: `rate` req/s with these per-request averages (None: the histogram is absent)."""

    start: float
    rate: float
    isl: float = 2048
    osl: float = 256
    ttft_s: float | None = 0.3
    itl_s: float = 0.012
    duration_s: float = 4.0


def frontend_history(segments: list[Segment], end: float, labels: dict[str, str] = LABELS) -> list[Series]:
    """Counters `dynamo_frontend_requests_total` and the `_sum`/`_count` pairs Dynamo's queries read."""
    stamps = [segments[0].start + k * STEP for k in range(int((end - segments[0].start) // STEP) + 1)]
    metrics = {"requests_total": [], "ttft_sum": [], "ttft_count": [], "itl_sum": [], "itl_count": [],
               "dur_sum": [], "dur_count": [], "isl_sum": [], "isl_count": [], "osl_sum": [], "osl_count": []}
    totals = dict.fromkeys(metrics, 0.0)
    previous = stamps[0]
    for stamp in stamps:
        segment = [s for s in segments if s.start <= previous][-1]
        requests = segment.rate * (stamp - previous)
        tokens = requests * segment.osl
        totals["requests_total"] += requests
        if segment.ttft_s is not None:
            totals["ttft_sum"] += requests * segment.ttft_s
            totals["ttft_count"] += requests
        totals["itl_sum"] += tokens * segment.itl_s
        totals["itl_count"] += tokens
        totals["dur_sum"] += requests * segment.duration_s
        totals["dur_count"] += requests
        totals["isl_sum"] += requests * segment.isl
        totals["isl_count"] += requests
        totals["osl_sum"] += requests * segment.osl
        totals["osl_count"] += requests
        for key in metrics:
            metrics[key].append((stamp, totals[key]))
        previous = stamp
    names = {"ttft": "time_to_first_token_seconds", "itl": "inter_token_latency_seconds",
             "dur": "request_duration_seconds", "isl": "input_sequence_tokens", "osl": "output_sequence_tokens"}
    series = [Series("dynamo_frontend_requests_total", labels, metrics["requests_total"])]
    for short, metric in names.items():
        for part in ("sum", "count"):
            series.append(Series(f"dynamo_frontend_{metric}_{part}", labels, metrics[f"{short}_{part}"],
                                 kind="unknown"))
    return series


@dataclass
class InMemoryDeployment:
    """Holds replicas and applies every decision that is not a hold (what the cluster would end up with)."""

    replicas: Replicas | None
    name: str = "in-memory"
    applied: list[Replicas] = field(default_factory=list)

    def current(self) -> Replicas | None:
        return self.replicas

    def apply(self, decision: Decision, now: float) -> dict:
        if decision.action == "hold":
            return {"result": "held"}
        self.replicas = Replicas(decision.prefill_replicas, decision.decode_replicas)
        self.applied.append(self.replicas)
        return {"result": "applied"}
