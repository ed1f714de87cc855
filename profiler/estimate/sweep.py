"""Phase 1: the parallel-mapping sweeps (Dynamo's `profile_sla.py` phases 1a and 1b, AI Configurator path).

Prefill: each candidate's TTFT at the SLA's ISL, throughput/GPU = `isl / ttft / gpus * 1000 * attn_dp`.
Decode: each candidate's ITL and throughput/GPU at concurrencies up to its KV capacity
(`get_num_request_range`), where the capacity comes from AI Configurator's memory model, so no point
exceeds what fits. A candidate that does not fit or that AI Configurator cannot estimate is skipped and noted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from profiler.estimate.aic import Estimator, describe, estimation_failed
from profiler.search_space import EngineRole, ModelShape, ParallelMapping, candidate_mappings

DECODE_MAX_CONCURRENCY = 2000  # Dynamo's cap on the decode concurrency sweep
PREFILL_FIT_OSL = 1  # a prefill engine holds one request's prompt, nothing generated


@dataclass(frozen=True)
class PrefillPoint:
    mapping: ParallelMapping
    ttft_ms: float
    thpt_per_gpu: float


@dataclass(frozen=True)
class DecodePoint:
    mapping: ParallelMapping
    concurrency: int
    itl_ms: float
    thpt_per_gpu: float
    max_kv_tokens: int


@dataclass
class SweepResult:
    prefill: list[PrefillPoint] = field(default_factory=list)
    decode: list[DecodePoint] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def get_num_request_range(attn_dp_size: int, engine_max_concurrency: int, granularity: int) -> list[int]:
    """Dynamo's decode concurrency sweep: multiples of `attn_dp_size` up to the engine's capacity.

    With attention DP the step is `(per-rank capacity - 1) / (granularity - 1)` ranks (PR #10125's fix of
    the doubled `attn_dp` factor), so no value exceeds the capacity."""
    max_concurrency = min(engine_max_concurrency, DECODE_MAX_CONCURRENCY)
    per_rank = max_concurrency // attn_dp_size
    if per_rank < granularity:
        return list(range(attn_dp_size, per_rank * attn_dp_size + 1, attn_dp_size))
    step = (per_rank - 1) / (granularity - 1)
    return [attn_dp_size + int(i * step) * attn_dp_size for i in range(granularity)]


def _candidates(gpu_counts: list[int], model: ModelShape, role: EngineRole, notes: list[str]) -> list[ParallelMapping]:
    mappings: list[ParallelMapping] = []
    for count in gpu_counts:
        kept, dropped = candidate_mappings(count, model, role)
        mappings.extend(kept)
        notes.extend(dropped)
    return mappings


def sweep(
    estimator: Estimator, model: ModelShape, gpu_counts: list[int], isl: int, osl: int, granularity: int
) -> SweepResult:
    """Run the prefill and decode sweeps over every candidate mapping."""
    result = SweepResult()
    for mapping in _candidates(gpu_counts, model, "prefill", result.skipped):
        try:
            if not estimator.fits(mapping, "prefill", 1, isl, PREFILL_FIT_OSL):
                result.skipped.append(f"prefill {mapping.label}: the weights and one {isl}-token request do not fit")
                continue
            ttft = estimator.prefill_ttft(mapping, isl)
        except BaseException as error:  # AI Configurator raises many types for missing data
            if not estimation_failed(error):
                raise
            result.skipped.append(f"prefill {mapping.label}: AI Configurator cannot estimate it ({describe(error)})")
            continue
        thpt = isl / ttft / mapping.num_gpus * 1000 * mapping.attention_dp_size
        result.prefill.append(PrefillPoint(mapping, ttft, thpt))

    for mapping in _candidates(gpu_counts, model, "decode", result.skipped):
        try:
            max_batch = estimator.max_batch_per_rank(mapping, isl, osl)
            if max_batch == 0:
                result.skipped.append(f"decode {mapping.label}: the weights and one request do not fit")
                continue
            max_concurrency = max_batch * mapping.attention_dp_size
            max_kv_tokens = max_concurrency * (isl + osl)
            points = [
                (concurrency, estimator.decode(mapping, isl, osl, concurrency))
                for concurrency in get_num_request_range(mapping.attention_dp_size, max_concurrency, granularity)
            ]
        except BaseException as error:
            if not estimation_failed(error):
                raise
            result.skipped.append(f"decode {mapping.label}: AI Configurator cannot estimate it ({describe(error)})")
            continue
        result.decode.extend(
            DecodePoint(mapping, concurrency, estimate.itl_ms, estimate.thpt_per_gpu, max_kv_tokens)
            for concurrency, estimate in points
        )
    return result

