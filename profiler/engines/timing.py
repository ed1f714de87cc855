"""Mocker timing data: the NPZ Dynamo's mocker reads with `--planner-profile-data` (keys `prefill_isl`,
`prefill_ttft_ms`, `decode_active_kv_tokens`, `decode_context_length`, `decode_itl` [kv x context]), built from
any TTFT(isl) and ITL(active KV tokens, context length) functions: an AI Configurator estimate, or known
curves for tests and benchmarks. `prefill_isl` must be float64 (the mocker rejects int64)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Callable

import numpy as np

GRID = 128


@dataclass(frozen=True)
class EngineCurves:
    """An engine's true timing: TTFT (ms) of one request of `isl` tokens, ITL (ms) with `active_kv` tokens in
    the batch at mean context `context`, and its KV capacity in tokens."""

    ttft_ms: Callable[[float], float]
    itl_ms: Callable[[float, float], float]
    max_kv_tokens: int
    max_context: int


def mocker_npz(curves: EngineCurves, grid: int = GRID) -> bytes:
    """The mocker NPZ for `curves` on a `grid`-point lattice up to the context and KV limits."""
    isl = np.linspace(1.0, float(curves.max_context), grid)
    kv = np.linspace(0.0, float(curves.max_kv_tokens), grid)
    context = np.linspace(1.0, float(curves.max_context), grid)
    itl = np.array([[curves.itl_ms(k, c) for c in context] for k in kv], dtype=np.float64)
    buffer = io.BytesIO()
    np.savez(
        buffer, prefill_isl=isl.astype(np.float64), prefill_ttft_ms=np.array([curves.ttft_ms(x) for x in isl]),
        decode_active_kv_tokens=kv, decode_context_length=context, decode_itl=itl,
    )
    return buffer.getvalue()


def reference_curves(tp: int, max_context: int, kv_tokens_per_gpu: int = 40_000) -> EngineCurves:
    """A built-in family of known engine curves (slow enough for a CPU-only load generator): TTFT
    `(40 + 0.06 isl + 4e-6 isl^2) / tp^0.9` ms, ITL `(5 + 0.0015 kv) / tp^0.6 + 2` ms, and
    `kv_tokens_per_gpu x tp` KV tokens. Used by the demo, tests and benchmarks as ground truth."""
    def ttft(isl: float) -> float:
        return (40.0 + 0.06 * isl + 4e-6 * isl * isl) / tp**0.9

    def itl(kv: float, _context: float) -> float:
        return (5.0 + 0.0015 * kv) / tp**0.6 + 2.0

    return EngineCurves(ttft, itl, kv_tokens_per_gpu * tp, max_context)


AIC_GRID = 16  # an AI Configurator estimate costs ~30 ms: a 16 x 16 decode lattice takes seconds


def aic_curves(estimator, mapping, max_context: int, isl: int, osl: int) -> EngineCurves:
    """An engine timed by AI Configurator's estimate for `mapping` (`profiler.estimate.aic.Estimator`): TTFT of one
    request, ITL of `active_kv / context` requests at that context, and the KV tokens its memory model fits at the
    SLA's ISL/OSL."""
    batch = estimator.max_batch_per_rank(mapping, isl, osl)
    max_kv = max(1, batch * mapping.attention_dp_size * (isl + osl))

    def ttft(prompt: float) -> float:
        return estimator.prefill_ttft(mapping, max(1, int(prompt)))

    def itl(kv: float, context: float) -> float:
        requests = max(1, int(kv / max(context, 1.0)))
        return estimator.decode(mapping, max(1, int(context)), 2, requests).itl_ms

    return EngineCurves(ttft, itl, max_kv, max_context)
