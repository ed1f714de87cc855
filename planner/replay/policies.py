"""The scaling policies the replay compares, each speaking Dynamo's `scaling_policy` protocol.

- `PlannerPolicy`: this project's planner (`planner.core.Planner`, the production code path) fed every
  adjustment interval with what the simulator observed, the same fields it reads from Prometheus in production:
  request count, average ISL/OSL/TTFT/ITL of the interval, request duration (TTFT + ITL x (OSL - 1), the
  simulator does not report it), the prefix-cache hit rate, and the DGD's desired and running replicas.
  `dynamo` is this policy with every extra off (Dynamo 0.8's SLA planner: ARIMA, no stabilisation).
- `StaticPolicy`: fixed replicas for the whole trace (`static-peak`: the oracle's peak).
- `OraclePolicy`: perfect foresight: in every interval, the replicas the profile says the interval's actual
  requests need (each request's own prefill time, not the mean's, at the same prefill utilisation as our
  policy), requested one start-up delay ahead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.core import Planner, Predictors
from planner.policy import Decision, Interpolators, PolicyConfig, Replicas
from planner.prometheus import Observation
from planner.replay.traces import Request


def observation_from_tick(tick: dict, interval_s: int) -> Observation:
    """The simulator's last-interval traffic as the planner's Prometheus observation (`None` = no data)."""
    traffic = tick.get("traffic") or {}
    num_req = float(traffic.get("num_req", 0.0))
    shaped = float(traffic.get("shape_count", num_req)) > 0
    ttft = traffic.get("avg_ttft_ms") if float(traffic.get("ttft_count", num_req)) > 0 else None
    itl = traffic.get("avg_itl_ms") if float(traffic.get("itl_count", num_req)) > 0 else None
    isl = traffic.get("avg_isl") if shaped else None
    osl = traffic.get("avg_osl") if shaped else None
    duration = None
    if ttft is not None and itl is not None and osl is not None:
        duration = (ttft + itl * max(osl - 1.0, 0.0)) / 1000.0
    hit = traffic.get("avg_kv_hit_rate") if float(traffic.get("hit_rate_count", 0.0)) > 0 else None
    return Observation(num_req=num_req, isl=isl, osl=osl, ttft_ms=ttft, itl_ms=itl, request_duration_s=duration,
                       window_s=interval_s, kv_hit_rate=hit)


class _ReplaySource:
    """The planner's metrics source: the observation of the current tick."""

    def __init__(self) -> None:
        self.observation: Observation | None = None

    def observe(self, window_s: int, at: float | None = None) -> Observation:
        assert self.observation is not None
        return self.observation


class _ReplayActuator:
    """The planner's actuator: the simulator's desired (non-draining) and running (active) workers."""

    name = "replay"

    def __init__(self) -> None:
        self.desired: Replicas | None = None
        self.ready: Replicas | None = None

    def current(self) -> Replicas | None:
        return self.desired

    def running(self) -> Replicas | None:
        return self.ready

    def apply(self, decision: Decision, now: float) -> dict:
        return {"result": "replayed"}


def _targets(want: Replicas | None, desired: Replicas, next_tick_ms: float | None) -> dict:
    changed = want is not None and want != desired
    return {"target_prefill": want.prefill if changed and want.prefill != desired.prefill else None,
            "target_decode": want.decode if changed and want.decode != desired.decode else None,
            "next_tick_ms": next_tick_ms}


def _desired(tick: dict) -> Replicas:
    return Replicas(int(tick["non_draining_prefill_count"]), int(tick["non_draining_decode_count"]))


class PlannerPolicy:
    """The planner itself, one step per adjustment interval."""

    def __init__(self, name: str, config: PolicyConfig, interpolators: Interpolators, predictors: Predictors,
                 end_ms: float) -> None:
        self.name = name
        self.config = config
        self.source = _ReplaySource()
        self.actuator = _ReplayActuator()
        self.planner = Planner(config, interpolators, predictors, self.source, self.actuator,
                               stabilize_from_start=True, clock=lambda: 0.0)
        self.end_ms = end_ms
        self.decisions: list[Decision] = []

    def initial_tick_ms(self) -> float:
        return self.config.adjustment_interval * 1000.0

    def on_tick(self, tick: dict) -> dict:
        now_ms = float(tick["now_ms"])
        self.source.observation = observation_from_tick(tick, self.config.adjustment_interval)
        self.actuator.desired = _desired(tick)
        self.actuator.ready = Replicas(int(tick["active_prefill_count"]), int(tick["active_decode_count"]))
        decision, _ = self.planner.step(at=now_ms / 1000.0)
        self.decisions.append(decision)
        want = None
        if decision.prefill_replicas is not None and decision.decode_replicas is not None:
            want = Replicas(decision.prefill_replicas, decision.decode_replicas)
        next_tick = now_ms + self.config.adjustment_interval * 1000.0
        return _targets(want, self.actuator.desired, next_tick if next_tick <= self.end_ms else None)


class StaticPolicy:
    """Never scales: the replay starts with the replicas and ticks once."""

    def __init__(self, name: str, replicas: Replicas) -> None:
        self.name = name
        self.replicas = replicas

    def initial_tick_ms(self) -> float:
        return 1000.0

    def on_tick(self, tick: dict) -> dict:
        return {"target_prefill": None, "target_decode": None, "next_tick_ms": None}


def ideal_hit_rates(requests: list[Request], interval_s: int, block_size: int) -> list[float]:
    """Per adjustment interval, the share of prompt tokens a perfect prefix cache would serve: each request's
    leading blocks whose hash ids an earlier request had (unbounded cache, every worker sees every block)."""
    interval_ms = interval_s * 1000.0
    count = int(requests[-1].arrival_ms // interval_ms) + 1
    cached, total = [0.0] * count, [0.0] * count
    seen: set[int] = set()
    for request in requests:
        index = int(request.arrival_ms // interval_ms)
        reused = 0
        for block in request.hash_ids:
            if block not in seen:
                break
            reused += 1
        cached[index] += min(request.isl, reused * block_size)
        total[index] += request.isl
        seen.update(request.hash_ids)
    return [c / t if t else 0.0 for c, t in zip(cached, total)]


@dataclass(frozen=True)
class IntervalNeed:
    """Replicas the profile says one interval's requests need."""

    start_ms: float
    replicas: Replicas


def interval_needs(requests: list[Request], interpolators: Interpolators, config: PolicyConfig,
                   itl_ms: float, hit_rates: list[float] | None = None) -> list[IntervalNeed]:
    """Per adjustment interval: prefill replicas = the requests' summed profiled prefill time (ISL / throughput
    at that ISL, each request on its own, discounted by the interval's prefix-cache hit rate) over the interval
    times `prefill_utilization` (the share of the profiled throughput the policies plan to use);
    decode replicas = the output tokens over the interval at the best decode throughput meeting the ITL SLA for
    the interval's mean context length (Dynamo's decode sizing). At least the role minimums."""
    interval_ms = config.adjustment_interval * 1000.0
    count = int(requests[-1].arrival_ms // interval_ms) + 1
    buckets: list[list[Request]] = [[] for _ in range(count)]
    for request in requests:
        buckets[int(request.arrival_ms // interval_ms)].append(request)
    needs = []
    for index, bucket in enumerate(buckets):
        prefill = decode = 0
        if bucket:
            hit = hit_rates[index] if hit_rates and index < len(hit_rates) else 0.0
            busy = sum(r.isl / interpolators.prefill.thpt_per_gpu(r.isl) for r in bucket) * (1.0 - hit)
            prefill = math.ceil(busy / config.prefill_utilization / config.prefill_engine_num_gpu
                                / config.adjustment_interval)
            context = sum(r.isl + r.osl / 2 for r in bucket) / len(bucket)
            best = interpolators.decode.find_best_throughput_per_gpu(itl_ms, context)
            tokens = sum(r.osl for r in bucket) / config.adjustment_interval
            decode = math.ceil(tokens / best.thpt_per_gpu / config.decode_engine_num_gpu) if best.thpt_per_gpu > 0 else 0
        needs.append(IntervalNeed(index * interval_ms, Replicas(max(prefill, config.min_prefill),
                                                                max(decode, config.min_decode))))
    return needs


class OraclePolicy:
    """Perfect foresight: at each interval start, the most any interval until one start-up delay plus one
    interval ahead needs (what is added is ready in time; what is removed is not needed before it would be)."""

    def __init__(self, name: str, needs: list[IntervalNeed], interval_s: int, startup_s: float) -> None:
        self.name = name
        self.needs = needs
        self.interval_ms = interval_s * 1000.0
        self.lead_ms = startup_s * 1000.0

    def target(self, now_ms: float) -> Replicas:
        ahead = [n.replicas for n in self.needs
                 if n.start_ms + self.interval_ms > now_ms and n.start_ms < now_ms + self.lead_ms + self.interval_ms]
        ahead = ahead or [self.needs[-1].replicas]
        return Replicas(max(r.prefill for r in ahead), max(r.decode for r in ahead))

    def initial(self) -> Replicas:
        return self.target(0.0)

    def initial_tick_ms(self) -> float:
        return self.interval_ms

    def on_tick(self, tick: dict) -> dict:
        now_ms = float(tick["now_ms"])
        next_tick = now_ms + self.interval_ms
        last = self.needs[-1].start_ms + self.interval_ms
        return _targets(self.target(now_ms), _desired(tick), next_tick if next_tick <= last else None)
