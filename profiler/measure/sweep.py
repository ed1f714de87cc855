"""The measured sweep: which mappings to deploy, which points to measure on each, and what was measured.

Far fewer runs than Dynamo's online sweep (a deployment per candidate and an AIPerf run per point):
- with an AI Configurator estimate as prior, only mappings that could win are deployed: the estimated winner
  and those within `UNCERTAINTY` of it; the estimates of the others are then calibrated with the measured
  points (measured/estimated ratio) and a mapping is deployed only if its calibrated estimate would now win;
- without a prior, GPU counts are tried upwards, stopping once the last engine met its targets and did not
  gain throughput per GPU over the one before;
- one deployment per mapping serves all its points; prefill is one AIPerf run at concurrency 1 with prompt
  lengths spread around the SLA's ISL, TTFT over ISL fitted from its per-request records (outliers left out);
- decode aims at what the selection accepts (`Targets`: the SLA less the selection's safety margins); the
  prefill run's ITL at concurrency 1 anchors its line (a point of the line, never of the selection); it starts
  at the largest concurrency predicted within the target (the prior, scaled by what was measured; else the one
  above the anchor), goes to the largest concurrency predicted within it by the line through the known points,
  and stops once the target is bracketed, its last point where the line meets the target, or once the line puts
  the next candidate more than `UNCERTAINTY` past the target (`next_decode_concurrency`).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from profiler.config import ProfileConfig
from profiler.engines.types import EngineMapping, EngineProvider, ServingEndpoint
from profiler.estimate.sweep import DecodePoint, PrefillPoint, SweepResult, get_num_request_range
from profiler.measure.aiperf import Workload, run_aiperf
from profiler.measure.fit import Polynomial, fit
from profiler.measure.kv import kv_capacity_tokens
from profiler.progress import Progress
from profiler.search_space import ParallelMapping
from profiler.select import pick
from profiler.selection.policy import SelectionPolicy

UNCERTAINTY = 0.25  # how far a measurement may land from its estimate: mappings this close to the winner may win
PREFILL_REQUESTS = 24  # requests are short (two output tokens): AIPerf's fixed cost dominates the run
PREFILL_OSL = 2
DECODE_MAX_OSL = 100
MAX_DECODE_RUNS = 4
MAX_EXTRA_DEPLOYMENTS = 2  # mappings deployed because calibration made their estimate win
MAX_MEASURED_CONCURRENCY = 256  # beyond this a CPU-bound load generator, not the engine, sets the pace


@dataclass
class MappingMeasurement:
    """What was measured on one deployed mapping."""

    mapping: ParallelMapping
    prefill_records: list[tuple[int, float]] = field(default_factory=list)  # (ISL, TTFT ms) per request
    prefill_fit: Polynomial | None = None
    decode: list[tuple[int, float, float]] = field(default_factory=list)  # (concurrency, ITL ms, tokens/s/GPU)
    kv_tokens: int | None = None
    runs: int = 0
    # ITL at concurrency 1 from the prefill run (each of its answers has two tokens: one decode step at the prompt's
    # context): where the decode line starts, never a decode point itself (its throughput is the prefill's)
    itl_anchor: tuple[int, float] | None = None

    def line_points(self) -> list[tuple[int, float]]:
        """(concurrency, ITL ms) the decode line goes through: the measured points and the prefill run's anchor."""
        measured = [(c, itl) for c, itl, _ in self.decode]
        anchor = [self.itl_anchor] if self.itl_anchor and self.itl_anchor[0] not in {c for c, _ in measured} else []
        return sorted(measured + anchor)


@dataclass
class MeasuredSweep:
    """Measured points (`sweep`, what the selection sees), per-mapping measurements and what they cost."""

    sweep: SweepResult
    measurements: dict[ParallelMapping, MappingMeasurement]
    deployments: int = 0
    aiperf_runs: int = 0
    seconds: float = 0.0
    ttft_ratio: float | None = None  # measured / estimated, median over measured mappings
    itl_ratio: float | None = None
    estimated_only: list[str] = field(default_factory=list)  # candidates left to their calibrated estimates


@dataclass(frozen=True)
class Targets:
    """The latencies a measured point must meet to be picked: the SLA's, less the selection's safety margins (a
    sweep aimed at the SLA itself brackets points the selection then refuses)."""

    ttft_ms: float
    itl_ms: float

    @classmethod
    def of(cls, config: ProfileConfig) -> "Targets":
        policy, _ = SelectionPolicy.from_config(config)
        return cls(policy.limit_ms("prefill", config.sla.ttft), policy.limit_ms("decode", config.sla.itl))


@dataclass
class MeasureSettings:
    """Where AIPerf is and who tracks progress."""

    aiperf: Path
    progress: Progress = field(default_factory=Progress)


class _Sweep:
    def __init__(self, config: ProfileConfig, provider: EngineProvider, settings: MeasureSettings,
                 prior: SweepResult | None) -> None:
        self.config, self.provider, self.settings, self.prior = config, provider, settings, prior
        self.found: dict[ParallelMapping, MappingMeasurement] = {}
        self.targets = Targets.of(config)
        self.deployments = 0
        self.runs = 0

    # ---- measuring one deployment -------------------------------------------------------------
    def _run(self, endpoint: ServingEndpoint, mapping: EngineMapping, point: str, workload: Workload):
        progress = self.settings.progress
        progress.update(phase="measuring", mapping=mapping.describe(), point=point)
        run = run_aiperf(self.settings.aiperf, endpoint, workload)
        self.runs += 1
        progress.measured(run.seconds)
        return run

    def deploy(self, parallel: ParallelMapping, prefill: bool, decode: bool) -> MappingMeasurement:
        mapping = EngineMapping.of(parallel, "agg", self.config.engine.backend, self.config.deployment.model)
        fixed = self.provider.fixed_mapping
        if fixed is not None:
            mapping = fixed
        found = self.found.setdefault(parallel, MappingMeasurement(parallel))
        self.settings.progress.update(phase="deploying", mapping=mapping.describe(), point="")
        with self.provider.acquire(mapping) as endpoint:
            self.deployments += 1
            found.kv_tokens = kv_capacity_tokens(endpoint.metrics_url, endpoint.model)
            if prefill:
                self._prefill(endpoint, mapping, found)
            if decode:
                self._decode(endpoint, mapping, found)
        return found

    def _prefill(self, endpoint: ServingEndpoint, mapping: EngineMapping, found: MappingMeasurement) -> None:
        isl = self.config.sla.isl
        workload = Workload(isl=isl, osl=PREFILL_OSL, concurrency=1, request_count=PREFILL_REQUESTS,
                            isl_stddev=max(1, isl // 2))
        run = self._run(endpoint, mapping, f"TTFT over ISL around {isl}", workload)
        found.runs += 1
        found.prefill_records = sorted((r.isl, r.ttft_ms) for r in run.records)
        found.prefill_fit = fit([x for x, _ in found.prefill_records], [y for _, y in found.prefill_records], 2)
        steps = [r.itl_ms for r in run.records if r.itl_ms is not None]
        if steps and mapping.parallel.attention_dp_size == 1:
            found.itl_anchor = (1, statistics.median(steps))

    def _candidates(self, parallel: ParallelMapping, kv_tokens: int | None) -> list[int]:
        sla, dp = self.config.sla, parallel.attention_dp_size
        if kv_tokens is None and self.prior is not None:
            kv_tokens = next((p.max_kv_tokens for p in self.prior.decode if p.mapping == parallel), None)
        capacity = kv_tokens // (sla.isl + sla.osl) if kv_tokens else MAX_MEASURED_CONCURRENCY
        capacity = max(dp, min(capacity, MAX_MEASURED_CONCURRENCY))
        return get_num_request_range(dp, capacity, self.config.sweep.decode_interpolation_granularity)

    def _predict(self, parallel: ParallelMapping, found: MappingMeasurement, concurrency: int) -> float | None:
        """ITL at `concurrency`: the line through the measured points (and the anchor), else the prior scaled by
        the first of them."""
        points = found.line_points()
        if len(points) >= 2:
            return fit([c for c, _ in points], [i for _, i in points], 1)(concurrency)
        estimates = self._estimates(parallel)
        if not estimates:
            return None
        ratio = points[0][1] / _interpolate(estimates, points[0][0]) if points else self._itl_ratio()
        return _interpolate(estimates, concurrency) * ratio

    def _itl_ratio(self) -> float:
        """Measured / estimated ITL over every mapping measured so far (median; 1 before any): how far off the
        prior is on this hardware, for a mapping with no point of its own yet."""
        ratios = [itl / _interpolate(estimates, c) for parallel, found in self.found.items()
                  if (estimates := self._estimates(parallel)) for c, itl in found.line_points()]
        return statistics.median(ratios) if ratios else 1.0

    def _estimates(self, parallel: ParallelMapping) -> dict[int, float]:
        return {p.concurrency: p.itl_ms for p in (self.prior.decode if self.prior else []) if p.mapping == parallel}

    def _decode(self, endpoint: ServingEndpoint, mapping: EngineMapping, found: MappingMeasurement) -> None:
        sla, parallel, target = self.config.sla, mapping.parallel, self.targets.itl_ms
        osl = min(sla.osl, DECODE_MAX_OSL)
        candidates = self._candidates(parallel, found.kv_tokens)

        def within(concurrency: int) -> bool:
            itl = self._predict(parallel, found, concurrency)
            return itl is not None and itl <= target

        anchor_meets = found.itl_anchor is not None and found.itl_anchor[1] <= target and len(candidates) > 1
        first = candidates[1] if anchor_meets else candidates[0]  # no prediction: concurrency 1 is known already
        concurrency: int | None = max((c for c in candidates if within(c)), default=first)
        for _ in range(MAX_DECODE_RUNS):
            if concurrency is None:
                break
            workload = Workload(isl=sla.isl, osl=osl, concurrency=concurrency, request_count=3 * concurrency + 2)
            run = self._run(endpoint, mapping, f"ITL at concurrency {concurrency}", workload)
            found.runs += 1
            found.decode = sorted(found.decode + [(concurrency, run.itl_ms, run.output_tokens_per_s / mapping.num_gpus)])
            concurrency = next_decode_concurrency([(c, itl) for c, itl, _ in found.decode], candidates, target, within,
                                                  found.itl_anchor)

    # ---- which mappings ----------------------------------------------------------------------
    def result(self, seconds: float) -> MeasuredSweep:
        sweep = SweepResult()
        sla = self.config.sla
        for parallel, found in sorted(self.found.items()):
            if found.prefill_fit is not None:
                ttft = found.prefill_fit(sla.isl)
                sweep.prefill.append(PrefillPoint(parallel, ttft, _prefill_thpt(parallel, sla.isl, ttft)))
            kv = found.kv_tokens or 0
            sweep.decode.extend(DecodePoint(parallel, c, itl, thpt, kv) for c, itl, thpt in found.decode)
        return MeasuredSweep(sweep, dict(sorted(self.found.items())), self.deployments, self.runs, seconds)


def _prefill_thpt(parallel: ParallelMapping, isl: int, ttft_ms: float) -> float:
    return isl / ttft_ms / parallel.num_gpus * 1000 * parallel.attention_dp_size


def _interpolate(points: dict[int, float], x: float) -> float:
    xs = sorted(points)
    if x <= xs[0]:
        return points[xs[0]]
    for left, right in zip(xs, xs[1:]):
        if x <= right:
            return points[left] + (points[right] - points[left]) * (x - left) / (right - left)
    return points[xs[-1]]


def next_decode_concurrency(measured: list[tuple[int, float]], candidates: list[int], target: float,
                            within: Callable[[int], bool], anchor: tuple[int, float] | None = None) -> int | None:
    """The next concurrency to measure on a decode engine, or None when its best point within the ITL `target` is
    measured. `measured`: (concurrency, ITL ms) so far; `within(c)`: whether c is predicted to meet the target;
    `anchor`: a known (concurrency, ITL) that is no measured point (the prefill run's), on the line and bracket.

    - all known points miss the target: the largest lower candidate predicted within it;
    - none misses yet: the largest higher candidate predicted within it, unless the line through two or more
      known points puts the next candidate past the target by more than `UNCERTAINTY` (a sweep stops once it
      is past the SLA);
    - bracketed: where the line through the points meets the target, if that lies strictly between and is new;
    - and the best known point within the target is measured if it is only the anchor.
    """
    done = {c for c, _ in measured}
    points = sorted(measured + ([anchor] if anchor is not None and anchor[0] not in done else []))
    best = max((c for c, itl in points if itl <= target), default=None)
    if best is None:
        lower = [c for c in candidates if c < min(done)]
        return max((c for c in lower if within(c)), default=lower[0]) if lower else None
    unmeasured_best = best if best not in done else None
    failing = [c for c, itl in points if itl > target and c > best]
    line = fit([c for c, _ in points], [itl for _, itl in points], 1) if len(points) >= 2 else None
    if not failing:
        higher = [c for c in candidates if c > best and c not in done]
        if not higher or (line is not None and line(higher[0]) > target * (1 + UNCERTAINTY)):
            return unmeasured_best
        return max((c for c in higher if within(c)), default=higher[0])
    slope = line.coefficients[1] if line is not None and len(line.coefficients) > 1 else 0.0
    bend = int((target - line.coefficients[0]) / slope) if line is not None and slope > 0 else best
    return bend if best < bend < min(failing) and bend not in done else unmeasured_best


def _could_win(labels: list[ParallelMapping], latency: dict, thpt: dict, target: float) -> list[ParallelMapping]:
    """The winner by Dynamo's rule and every mapping within UNCERTAINTY of it."""
    if not labels:
        return []
    chosen = pick([latency[m] for m in labels], [thpt[m] for m in labels], target)
    winner = labels[chosen.index]
    if chosen.meets_sla:
        close = [m for m in labels if latency[m] <= target * (1 + UNCERTAINTY) and thpt[m] >= thpt[winner] * (1 - UNCERTAINTY)]
    else:
        close = [m for m in labels if latency[m] <= latency[winner] * (1 + UNCERTAINTY)]
    return [winner] + [m for m in close if m != winner]


def _best_decode(points: list[DecodePoint], target: float) -> dict[ParallelMapping, DecodePoint]:
    best: dict[ParallelMapping, DecodePoint] = {}
    for mapping in dict.fromkeys(p.mapping for p in points):
        own = [p for p in points if p.mapping == mapping]
        within = [p for p in own if p.itl_ms <= target]
        best[mapping] = max(within, key=lambda p: p.thpt_per_gpu) if within else min(own, key=lambda p: p.itl_ms)
    return best


def _estimated_candidates(prior: SweepResult, sla, ttft_ratio: float = 1.0, itl_ratio: float = 1.0):
    prefill = [p.mapping for p in prior.prefill]
    prefill_latency = {p.mapping: p.ttft_ms * ttft_ratio for p in prior.prefill}
    prefill_thpt = {p.mapping: p.thpt_per_gpu / ttft_ratio for p in prior.prefill}
    best = _best_decode(prior.decode, sla.itl / itl_ratio)
    decode = list(best)
    decode_latency = {m: p.itl_ms * itl_ratio for m, p in best.items()}
    decode_thpt = {m: p.thpt_per_gpu / itl_ratio for m, p in best.items()}
    return (_could_win(prefill, prefill_latency, prefill_thpt, sla.ttft),
            _could_win(decode, decode_latency, decode_thpt, sla.itl))


def measure_sweep(config: ProfileConfig, provider: EngineProvider, settings: MeasureSettings,
                  prior: SweepResult | None, mappings: list[ParallelMapping]) -> MeasuredSweep:
    """Deploy and measure the mappings that could win (`mappings`: the candidates, smallest first)."""
    started = time.monotonic()
    state = _Sweep(config, provider, settings, prior)
    sla = config.sla
    progress = settings.progress
    if provider.fixed_mapping is not None:
        fixed = provider.fixed_mapping.parallel
        progress.update(phase="planning", total=1 + MAX_DECODE_RUNS)
        state.deploy(fixed, prefill=True, decode=True)
        return state.result(time.monotonic() - started)
    if prior is not None and (prior.prefill or prior.decode):
        prefill_set, decode_set = _estimated_candidates(prior, sla)
        queue = list(dict.fromkeys(prefill_set + decode_set))
        progress.update(phase="planning", total=len(prefill_set) + len(decode_set) * 3)
        for parallel in queue:
            state.deploy(parallel, prefill=parallel in prefill_set, decode=parallel in decode_set)
        for _ in range(MAX_EXTRA_DEPLOYMENTS):
            ttft_ratio, itl_ratio = _ratios(state, prior, sla)
            prefill_again, decode_again = _estimated_candidates(prior, sla, ttft_ratio or 1.0, itl_ratio or 1.0)
            more = [m for m in dict.fromkeys(prefill_again[:1] + decode_again[:1])
                    if m not in state.found or (m in prefill_again[:1] and state.found[m].prefill_fit is None)
                    or (m in decode_again[:1] and not state.found[m].decode)]
            if not more:
                break
            for parallel in more:
                state.deploy(parallel, prefill=parallel in prefill_again[:1], decode=parallel in decode_again[:1])
        result = state.result(time.monotonic() - started)
        result.ttft_ratio, result.itl_ratio = _ratios(state, prior, sla)
        result.estimated_only = sorted({p.mapping.label for p in prior.prefill + prior.decode} - {m.label for m in state.found})
        return result
    # No prior: GPU counts upwards until a larger engine met the targets without gaining throughput per GPU.
    progress.update(phase="planning", total=len(mappings) * (1 + MAX_DECODE_RUNS))
    previous: MappingMeasurement | None = None
    for parallel in mappings:
        found = state.deploy(parallel, prefill=True, decode=True)
        targets = state.targets
        if previous is not None and _meets(found, sla.isl, targets) and not _gains(found, previous, sla.isl, targets):
            break
        previous = found
    return state.result(time.monotonic() - started)


def _meets(found: MappingMeasurement, isl: int, targets: Targets) -> bool:
    ttft_ok = found.prefill_fit is not None and found.prefill_fit(isl) <= targets.ttft_ms
    return ttft_ok and any(itl <= targets.itl_ms for _, itl, _ in found.decode)


def _gains(found: MappingMeasurement, previous: MappingMeasurement, isl: int, targets: Targets) -> bool:
    """Whether `found` has more prefill or decode throughput per GPU than `previous`."""
    def prefill(m: MappingMeasurement) -> float:
        return _prefill_thpt(m.mapping, isl, m.prefill_fit(isl)) if m.prefill_fit else 0.0

    def decode(m: MappingMeasurement) -> float:
        return max((t for _, itl, t in m.decode if itl <= targets.itl_ms), default=0.0)

    return prefill(found) > prefill(previous) or decode(found) > decode(previous)


def _ratios(state: _Sweep, prior: SweepResult, sla) -> tuple[float | None, float | None]:
    ttft, itl = [], []
    for parallel, found in state.found.items():
        estimate = next((p.ttft_ms for p in prior.prefill if p.mapping == parallel), None)
        if estimate and found.prefill_fit is not None:
            ttft.append(found.prefill_fit(sla.isl) / estimate)
        estimates = state._estimates(parallel)
        if estimates:
            itl += [measured / _interpolate(estimates, c) for c, measured, _ in found.decode]
    return (statistics.median(ttft) if ttft else None, statistics.median(itl) if itl else None)
