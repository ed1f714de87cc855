"""Interpolation data from measured fits, on Dynamo's grids (the same ISL and concurrency lattices as the
estimated path in `profiler.interpolation`): TTFT from the fitted TTFT(ISL) curve, ITL from the fitted line
over active KV tokens, throughput per GPU from both."""

from __future__ import annotations

from profiler.errors import ProfilingError
from profiler.estimate.sweep import get_num_request_range
from profiler.interpolation import DECODE_INTERPOLATION_OSL, PREFILL_CONTEXT_HEADROOM, DecodeSurface, PrefillCurve
from profiler.measure.fit import Polynomial
from profiler.search_space import ParallelMapping


def prefill_curve(ttft: Polynomial, mapping: ParallelMapping, max_context: int, granularity: int) -> PrefillCurve:
    limit = max_context - PREFILL_CONTEXT_HEADROOM
    if limit <= 100:
        raise ProfilingError(f"max context length {max_context} is too small to profile prefill; "
                             f"set engine.maxContextLength above {100 + PREFILL_CONTEXT_HEADROOM}")
    isls = list(range(100, limit, max(1, (limit - 100) // granularity)))
    ttfts = [max(ttft(isl), 1e-3) for isl in isls]
    thpts = [isl / t / mapping.num_gpus * 1000 * mapping.attention_dp_size for isl, t in zip(isls, ttfts)]
    return PrefillCurve(isls, ttfts, thpts)


def decode_surface(itl: Polynomial, mapping: ParallelMapping, max_kv_tokens: int, max_context: int,
                   granularity: int) -> DecodeSurface:
    """`itl` maps active KV tokens (concurrency x mean context) to ITL in ms."""
    osl = DECODE_INTERPOLATION_OSL
    x_kv, y_ctx, z_itl, z_thpt = [], [], [], []
    for isl in range(100, max_context - osl, max(1, (max_context - osl) // granularity)):
        max_concurrency = max_kv_tokens // (isl + osl)
        if max_concurrency == 0:
            break
        for concurrency in get_num_request_range(mapping.attention_dp_size, max_concurrency, granularity):
            context = isl + osl / 2
            value = max(itl(concurrency * context), 1e-3)
            x_kv.append(context * concurrency / max_kv_tokens)
            y_ctx.append(context)
            z_itl.append(value)
            z_thpt.append(concurrency / value * 1000 / mapping.num_gpus)
    if not z_itl:
        raise ProfilingError(f"{max_kv_tokens} KV tokens hold no decode request for {mapping.label}")
    return DecodeSurface(x_kv, y_ctx, z_itl, z_thpt, int(max_kv_tokens))
