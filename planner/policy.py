"""The scaling policy, pure: observation and forecast in, replica decision out.

Baseline: Dynamo's SLA planner (docs: dynamo-reference §4.5-4.8), exactly:

    p_cf = observed_ttft / prefill.ttft(observed_isl)
    concurrency = num_req / decode_workers * request_duration / interval        (Little's law)
    d_cf = observed_itl / decode.itl(concurrency, observed_isl + observed_osl / 2)
    num_p = max(min, ceil(num_req * isl / interval * min(1, p_cf) / prefill.thpt(isl) / prefill_gpus))
    num_d = max(min, ceil(num_req * osl / interval / decode.best_thpt(itl / d_cf, isl + osl / 2) / decode_gpus))

then Dynamo's GPU budget. On top of it, what Dynamo's users asked for:

- metrics missing or Prometheus down: HOLD the current replicas (never fall to the minimum);
- no traffic (the request counter exists and did not increase): recommend the minimum (Dynamo skips the step
  forever, ai-dynamo/dynamo#6985);
- min/max replicas per role;
- scale-down stabilisation (as HPA): scale down only to the highest recommendation of the last window;
  scale up at once;
- at most `max_step` replicas added or removed per decision and role.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Literal

from planner.interpolation import DecodeInterpolator, PrefillInterpolator
from planner.prometheus import Observation

Action = Literal["scale_up", "scale_down", "scale", "no_change", "hold"]


@dataclass(frozen=True)
class PolicyConfig:
    """The policy's knobs (from the planner's flags)."""

    adjustment_interval: int
    itl_ms: float
    prefill_engine_num_gpu: int = 1
    decode_engine_num_gpu: int = 1
    max_gpu_budget: int = 8
    min_prefill: int = 1
    max_prefill: int | None = None
    min_decode: int = 1
    max_decode: int | None = None
    scale_down_stabilization_s: int = 300
    max_step: int = 0
    no_correction: bool = False
    prefill_utilization: float = 1.0
    prefix_cache_discount: bool = False


@dataclass(frozen=True)
class Replicas:
    prefill: int
    decode: int

    def gpus(self, config: PolicyConfig) -> int:
        return self.prefill * config.prefill_engine_num_gpu + self.decode * config.decode_engine_num_gpu


@dataclass(frozen=True)
class Load:
    """Requests per interval and their average input and output lengths."""

    num_req: float
    isl: float | None
    osl: float | None


@dataclass(frozen=True)
class CorrectionFactors:
    """observed / interpolated latency per role; `None` where it could not be computed."""

    prefill: float | None = None
    decode: float | None = None


@dataclass(frozen=True)
class Interpolators:
    prefill: PrefillInterpolator
    decode: DecodeInterpolator


@dataclass(frozen=True)
class Recommendation:
    """The demand-based replica counts before stabilisation and step limits, and how they were computed."""

    replicas: Replicas
    details: dict[str, float | int | None]


@dataclass(frozen=True)
class Decision:
    """One planning step's outcome; `to_dict()` is what `--once` prints and what the decision log records."""

    action: Action
    reason: str
    prefill_replicas: int | None
    decode_replicas: int | None
    current: Replicas | None
    observed: dict | None
    predicted: dict | None
    correction_factors: dict
    recommended: Replicas | None = None
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "action": self.action,
            "reason": self.reason,
            "prefill_replicas": self.prefill_replicas,
            "decode_replicas": self.decode_replicas,
            "current": asdict(self.current) if self.current else None,
            "recommended": asdict(self.recommended) if self.recommended else None,
            "observed": self.observed,
            "predicted": self.predicted,
            "correction_factors": self.correction_factors,
            "details": self.details,
        }


def missing_inputs(observation: Observation, need_latency: bool) -> list[str]:
    """The metrics a step with traffic needs but the observation lacks."""
    needed = ["isl", "osl"] + (["ttft_ms", "itl_ms", "request_duration_s"] if need_latency else [])
    return [name for name in needed if getattr(observation, name) is None]


def correction_factors(observation: Observation, interpolators: Interpolators, decode_workers: int | None,
                       interval: int) -> CorrectionFactors:
    """Dynamo's correction factors: observed TTFT/ITL over what the profile predicts for the observed load."""
    o = observation
    prefill_cf = None
    if o.ttft_ms is not None and o.isl is not None:
        expected = interpolators.prefill.ttft_ms(o.isl)
        prefill_cf = o.ttft_ms / expected if expected > 0 else None
    decode_cf = None
    if (decode_workers and o.itl_ms is not None and o.num_req is not None and o.request_duration_s is not None
            and o.isl is not None and o.osl is not None):
        concurrency = o.num_req / decode_workers * o.request_duration_s / interval
        expected = interpolators.decode.itl_ms(concurrency, o.isl + o.osl / 2)
        decode_cf = o.itl_ms / expected if expected > 0 else None
    return CorrectionFactors(prefill=prefill_cf, decode=decode_cf)


MAX_PREFIX_CACHE_DISCOUNT = 0.95  # Dynamo 1.6.1's planner clamps its KV-hit-rate discount the same way


def dynamo_replicas(load: Load, factors: CorrectionFactors, interpolators: Interpolators,
                    config: PolicyConfig, kv_hit_rate: float | None = None) -> Recommendation:
    """Dynamo's replica formulas (§4.7), with the role minimums in place of `min_endpoint`. With
    `prefix_cache_discount`, the prefill tokens are discounted by the observed prefix-cache hit rate (the share of
    prompt tokens served from cache, at most 95 %), as Dynamo 1.x's planner does."""
    interval = config.adjustment_interval
    if load.num_req <= 0 or load.isl is None or load.osl is None:
        return Recommendation(Replicas(config.min_prefill, config.min_decode),
                              {"pred_prefill_tokens_per_s": 0.0, "pred_decode_tokens_per_s": 0.0})
    p_cf = 1.0 if factors.prefill is None else factors.prefill
    prefill_tokens = load.num_req * load.isl / interval * min(1.0, p_cf)
    discount = 0.0
    if config.prefix_cache_discount and kv_hit_rate is not None:
        discount = max(0.0, min(MAX_PREFIX_CACHE_DISCOUNT, kv_hit_rate))
        prefill_tokens *= 1.0 - discount
    prefill_thpt = interpolators.prefill.thpt_per_gpu(load.isl)
    # Dynamo sizes prefill at 100 % of the batch-1 throughput; below 1, the engines keep room for queueing.
    usable = prefill_thpt * config.prefill_utilization
    num_p = math.ceil(prefill_tokens / usable / config.prefill_engine_num_gpu) if usable > 0 else 0
    d_cf = factors.decode
    corrected_itl = config.itl_ms / d_cf if d_cf is not None and d_cf > 0 else config.itl_ms
    best = interpolators.decode.find_best_throughput_per_gpu(corrected_itl, load.isl + load.osl / 2)
    decode_tokens = load.num_req * load.osl / interval
    if best.thpt_per_gpu > 0:
        num_d = math.ceil(decode_tokens / best.thpt_per_gpu / config.decode_engine_num_gpu)
    else:
        num_d = config.min_decode
    details = {
        "pred_prefill_tokens_per_s": prefill_tokens,
        "prefill_thpt_per_gpu": prefill_thpt,
        "corrected_itl_ms": corrected_itl,
        "decode_thpt_per_gpu": best.thpt_per_gpu,
        "decode_kv_usage": best.kv_usage,
        "pred_decode_tokens_per_s": decode_tokens,
        "prefix_cache_discount": discount,
    }
    return Recommendation(Replicas(max(num_p, config.min_prefill), max(num_d, config.min_decode)), details)


def clamp_to_roles(replicas: Replicas, config: PolicyConfig) -> Replicas:
    """Within [min, max] of each role."""
    def clamp(value: int, low: int, high: int | None) -> int:
        value = max(value, low)
        return min(value, high) if high is not None else value
    return Replicas(clamp(replicas.prefill, config.min_prefill, config.max_prefill),
                    clamp(replicas.decode, config.min_decode, config.max_decode))


def apply_gpu_budget(replicas: Replicas, config: PolicyConfig) -> Replicas | None:
    """Dynamo's GPU budget (§4.8, mid-era); `None` when even the minimums exceed it."""
    budget = config.max_gpu_budget
    if budget < 0:
        return replicas
    p_gpu, d_gpu = config.prefill_engine_num_gpu, config.decode_engine_num_gpu
    if budget < config.min_prefill * p_gpu + config.min_decode * d_gpu:
        return None
    total = replicas.gpus(config)
    if total <= budget:
        return replicas
    scale = budget / total
    max_prefill = (budget - config.min_decode * d_gpu) // p_gpu
    num_p = max(config.min_prefill, min(max_prefill, math.floor(replicas.prefill * scale)))
    num_d = max(config.min_decode, (budget - num_p * p_gpu) // d_gpu)
    return clamp_to_roles(Replicas(num_p, num_d), config)


def stabilize(target: Replicas, current: Replicas | None, history: tuple[tuple[float, Replicas], ...]) -> Replicas:
    """Scale up at once; scale down only to the highest recommendation in `history` (the window)."""
    if current is None:
        return target
    highest_p = max([target.prefill] + [r.prefill for _, r in history])
    highest_d = max([target.decode] + [r.decode for _, r in history])
    prefill = target.prefill if target.prefill >= current.prefill else min(current.prefill, highest_p)
    decode = target.decode if target.decode >= current.decode else min(current.decode, highest_d)
    return Replicas(prefill, decode)


def limit_step(target: Replicas, current: Replicas | None, max_step: int) -> Replicas:
    """Move at most `max_step` replicas per role from `current` towards `target` (0: no limit)."""
    if current is None or max_step <= 0:
        return target
    def step(want: int, have: int) -> int:
        return have + max(-max_step, min(max_step, want - have))
    return Replicas(step(target.prefill, current.prefill), step(target.decode, current.decode))


def window(history: tuple[tuple[float, Replicas], ...], now: float, seconds: int) -> tuple[tuple[float, Replicas], ...]:
    """The recommendations younger than `seconds`."""
    return tuple((t, r) for t, r in history if now - t < seconds)


def classify_action(final: Replicas, current: Replicas | None) -> Action:
    if current is None or final == current:
        return "no_change" if current is not None else "scale"
    up = final.prefill > current.prefill or final.decode > current.decode
    down = final.prefill < current.prefill or final.decode < current.decode
    if up and down:
        return "scale"
    return "scale_up" if up else "scale_down"


def hold(reason: str, current: Replicas | None, observed: dict | None, factors: CorrectionFactors) -> Decision:
    """Keep the current replicas: the step lacks what it needs to decide."""
    return Decision(action="hold", reason=reason,
                    prefill_replicas=current.prefill if current else None,
                    decode_replicas=current.decode if current else None,
                    current=current, observed=observed, predicted=None, correction_factors=asdict(factors))


def decide(config: PolicyConfig, interpolators: Interpolators, observation: Observation, predicted: Load,
           factors: CorrectionFactors, current: Replicas | None,
           history: tuple[tuple[float, Replicas], ...], now: float) -> tuple[Decision, tuple[tuple[float, Replicas], ...]]:
    """One decision from an observation with a request count, and the recommendation history to keep.

    `observation.num_req == 0` means no traffic in the window: the demand is zero whatever the forecast says.
    """
    no_traffic = observation.num_req == 0
    load = replace(predicted, num_req=0.0) if no_traffic else predicted
    recommendation = dynamo_replicas(load, factors, interpolators, config, observation.kv_hit_rate)
    clamped = clamp_to_roles(recommendation.replicas, config)
    budgeted = apply_gpu_budget(clamped, config)
    predicted_dict = {"num_req": predicted.num_req, "request_rate": predicted.num_req / config.adjustment_interval,
                      "isl": predicted.isl, "osl": predicted.osl}
    if budgeted is None:
        decision = hold(f"GPU budget {config.max_gpu_budget} is below the minimum replicas' "
                        f"{config.min_prefill * config.prefill_engine_num_gpu + config.min_decode * config.decode_engine_num_gpu} "
                        "GPUs; raise --max-gpu-budget or lower the minimums",
                        current, observation.to_dict(), factors)
        return replace(decision, predicted=predicted_dict), history
    recent = window(history, now, config.scale_down_stabilization_s)
    stabilized = stabilize(budgeted, current, recent)
    stepped = limit_step(stabilized, current, config.max_step)
    # Stabilisation keeps each role's own highest recent count, so the pair can exceed the budget again.
    final = apply_gpu_budget(stepped, config) or stepped
    reasons = ["no traffic in the last window: demand is zero" if no_traffic else "demand from the forecast"]
    if stabilized != budgeted:
        reasons.append(f"scale-down to {budgeted.prefill}P/{budgeted.decode}D deferred: highest recommendation in "
                       f"the last {config.scale_down_stabilization_s} s is kept")
    if stepped != stabilized:
        reasons.append(f"limited to {config.max_step} replica(s) per step towards "
                       f"{stabilized.prefill}P/{stabilized.decode}D")
    if final != stepped:
        reasons.append(f"GPU budget {config.max_gpu_budget} caps the stabilised {stepped.prefill}P/{stepped.decode}D")
    if budgeted != clamped:
        reasons.append(f"GPU budget {config.max_gpu_budget} caps {clamped.prefill}P/{clamped.decode}D")
    details = dict(recommendation.details, gpus=final.gpus(config), no_traffic=no_traffic)
    decision = Decision(action=classify_action(final, current), reason="; ".join(reasons),
                        prefill_replicas=final.prefill, decode_replicas=final.decode, current=current,
                        observed=observation.to_dict(), predicted=predicted_dict,
                        correction_factors=asdict(factors), recommended=budgeted, details=details)
    return decision, recent + ((now, budgeted),)
