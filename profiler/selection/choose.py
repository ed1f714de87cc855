"""Pick the prefill and decode engines from the sweep, under a selection policy, next to Dynamo's rule."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from profiler.config import SLAConfig
from profiler.estimate.sweep import DECODE_MAX_CONCURRENCY, DecodePoint, PrefillPoint, SweepResult
from profiler.search_space import EngineRole, ParallelMapping
from profiler.select import pick as dynamo_pick
from profiler.selection.pareto import pareto_front
from profiler.selection.policy import SelectionPolicy
from profiler.selection.search import boundary_concurrency, probe_concurrencies

# (mapping, concurrency) -> (ITL ms, output tokens/s/GPU), or None when the estimate fails.
DecodeProbe = Callable[[ParallelMapping, int], "tuple[float, float] | None"]


@dataclass(frozen=True)
class Candidate:
    """One estimated operating point of an engine."""

    role: EngineRole
    mapping: ParallelMapping
    latency_ms: float  # prefill: TTFT at the SLA's ISL; decode: ITL at `concurrency`
    thpt_per_gpu: float
    concurrency: int | None = None  # decode only
    max_kv_tokens: int | None = None  # decode only
    source: Literal["sweep", "search"] = "sweep"  # Dynamo's grid, or the fine search


@dataclass(frozen=True)
class EnginePick:
    """A chosen point and how it stands against the target."""

    candidate: Candidate
    target_ms: float
    margin: float  # the safety margin it was checked with
    meets_sla: bool  # estimate <= target
    within_margin: bool  # estimate x (1 + margin) <= target

    @property
    def headroom(self) -> float:
        """Share of the target left unused by the estimate (0.1: the estimate is 10 % below the target)."""
        return 1 - self.candidate.latency_ms / self.target_ms


@dataclass(frozen=True)
class Selection:
    """Both picks under the policy, Dynamo's picks, every evaluated point and the Pareto fronts."""

    policy: SelectionPolicy
    prefill: EnginePick
    decode: EnginePick
    dynamo_prefill: EnginePick
    dynamo_decode: EnginePick
    prefill_points: list[Candidate]
    decode_points: list[Candidate]
    prefill_front: list[Candidate]
    decode_front: list[Candidate]
    warnings: list[str] = field(default_factory=list)


def _prefill_candidate(point: PrefillPoint) -> Candidate:
    return Candidate("prefill", point.mapping, point.ttft_ms, point.thpt_per_gpu)


def _decode_candidate(point: DecodePoint) -> Candidate:
    return Candidate("decode", point.mapping, point.itl_ms, point.thpt_per_gpu, point.concurrency, point.max_kv_tokens)


def _judge(candidate: Candidate, target_ms: float, margin: float) -> EnginePick:
    return EnginePick(candidate, target_ms, margin, candidate.latency_ms <= target_ms,
                      candidate.latency_ms * (1 + margin) <= target_ms)


def _best(candidates: Sequence[Candidate], target_ms: float, policy: SelectionPolicy) -> EnginePick:
    """The policy's objective among the points within the margin; none: the lowest latency (the most headroom).
    Ties go to the earlier point."""
    role = candidates[0].role
    limit = policy.limit_ms(role, target_ms)
    indexed = list(enumerate(candidates))
    within = [(i, c) for i, c in indexed if c.latency_ms <= limit]
    if not within:
        chosen = min(indexed, key=lambda item: (item[1].latency_ms, item[0]))[1]
    elif policy.optimization == "throughput":
        chosen = max(within, key=lambda item: (item[1].thpt_per_gpu, -item[1].latency_ms, -item[0]))[1]
    else:
        chosen = min(within, key=lambda item: (item[1].latency_ms, -item[1].thpt_per_gpu, item[0]))[1]
    return _judge(chosen, target_ms, policy.margin(role))


def _dynamo(candidates: Sequence[Candidate], target_ms: float) -> EnginePick:
    chosen = dynamo_pick([c.latency_ms for c in candidates], [c.thpt_per_gpu for c in candidates], target_ms)
    return _judge(candidates[chosen.index], target_ms, 0.0)


def _searched(grid: list[Candidate], probe: DecodeProbe, isl: int, osl: int, limit_ms: float) -> list[Candidate]:
    """Each mapping's grid points plus its ITL boundary and log-spaced probes, sorted by concurrency."""
    by_mapping: dict[ParallelMapping, list[Candidate]] = {}
    for point in grid:
        by_mapping.setdefault(point.mapping, []).append(point)
    found: list[Candidate] = []
    for mapping, points in by_mapping.items():
        known = {p.concurrency: p for p in points}
        max_kv_tokens = points[0].max_kv_tokens or 0
        step = mapping.attention_dp_size
        highest = min(max_kv_tokens // (isl + osl), DECODE_MAX_CONCURRENCY) // step * step

        def estimate(concurrency: int) -> float:
            if concurrency not in known:
                result = probe(mapping, concurrency)
                if result is None:
                    return float("inf")
                known[concurrency] = Candidate("decode", mapping, result[0], result[1], concurrency, max_kv_tokens,
                                               "search")
            return known[concurrency].latency_ms

        for concurrency in probe_concurrencies(step, highest):
            estimate(concurrency)
        boundary_concurrency(estimate, step, highest, limit_ms)
        found.extend(known[c] for c in sorted(known) if known[c].latency_ms != float("inf"))
    return found


def _front(candidates: list[Candidate]) -> list[Candidate]:
    return [candidates[i] for i in pareto_front([c.latency_ms for c in candidates], [c.thpt_per_gpu for c in candidates])]


def select_engines(sweep: SweepResult, sla: SLAConfig, policy: SelectionPolicy, probe: DecodeProbe | None) -> Selection:
    """Pick both engines. With `probe` (cheap estimates) and the `fine` rule, each decode mapping's concurrency is
    searched finely; without it, the picks come from the sweep's points. Dynamo's picks are always computed."""
    prefill_points = [_prefill_candidate(p) for p in sweep.prefill]
    grid = [_decode_candidate(p) for p in sweep.decode]
    decode_points = grid
    if policy.rule == "fine" and probe is not None:
        decode_points = _searched(grid, probe, sla.isl, sla.osl, policy.limit_ms("decode", sla.itl))
    dynamo_prefill, dynamo_decode = _dynamo(prefill_points, sla.ttft), _dynamo(grid, sla.itl)
    if policy.rule == "dynamo":
        prefill, decode = dynamo_prefill, dynamo_decode
    else:
        prefill, decode = _best(prefill_points, sla.ttft, policy), _best(decode_points, sla.itl, policy)
    warnings = [
        f"the {p.candidate.role} pick {p.candidate.mapping.label} meets {metric} {p.target_ms:g} ms only without the "
        f"safety margin ({p.candidate.latency_ms:.2f} ms x {1 + p.margin:g} > {p.target_ms:g} ms): no point meets it "
        "with the margin, so the one with the most headroom was chosen"
        for p, metric in ((prefill, "TTFT"), (decode, "ITL")) if p.meets_sla and not p.within_margin
    ]
    return Selection(policy, prefill, decode, dynamo_prefill, dynamo_decode, prefill_points, decode_points,
                     _front(prefill_points), _front(decode_points), warnings)
