"""Phase 2: interpolation data for the chosen engines, in Dynamo's exact formats.

Prefill (`profile_prefill.py`): ISL from 100 to `max_context - 512` in `granularity` steps; arrays
`prefill_isl`, `prefill_ttft` (ms), `prefill_thpt_per_gpu`.
Decode (`profile_decode.py`): OSL 500, ISL from 100 to `max_context - 500` in `granularity` steps, each at
concurrencies up to the KV capacity; arrays `x_kv_usage`, `y_context_length`, `z_itl` (ms),
`z_thpt_per_gpu`, `max_kv_tokens` (one element). Points whose memory would not fit are left out.

The JSON files are what Dynamo's profiler puts in the `planner-profile-data` ConfigMap; the NPZ files are
its `selected_{prefill,decode}_interpolation/raw_data.npz` (written byte-for-byte reproducibly).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass

from profiler.estimate.aic import Estimator, describe, estimation_failed
from profiler.errors import ProfilingError
from profiler.search_space import ParallelMapping
from profiler.estimate.sweep import get_num_request_range

PREFILL_CONTEXT_HEADROOM = 512  # Dynamo leaves room for the chat template and system prompt
DECODE_INTERPOLATION_OSL = 500  # Dynamo's fixed decode OSL: stable ITL, not too long
PREFILL_FILE = "prefill_raw_data.json"
DECODE_FILE = "decode_raw_data.json"
PREFILL_NPZ = "selected_prefill_interpolation/raw_data.npz"
DECODE_NPZ = "selected_decode_interpolation/raw_data.npz"
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class PrefillCurve:
    prefill_isl: list[int]
    prefill_ttft: list[float]
    prefill_thpt_per_gpu: list[float]

    def as_dict(self) -> dict:
        return {
            "prefill_isl": self.prefill_isl,
            "prefill_ttft": self.prefill_ttft,
            "prefill_thpt_per_gpu": self.prefill_thpt_per_gpu,
        }


@dataclass(frozen=True)
class DecodeSurface:
    x_kv_usage: list[float]
    y_context_length: list[float]
    z_itl: list[float]
    z_thpt_per_gpu: list[float]
    max_kv_tokens: int

    def as_dict(self) -> dict:
        return {
            "x_kv_usage": self.x_kv_usage,
            "y_context_length": self.y_context_length,
            "z_itl": self.z_itl,
            "z_thpt_per_gpu": self.z_thpt_per_gpu,
            "max_kv_tokens": self.max_kv_tokens,
        }


def prefill_curve(
    estimator: Estimator, mapping: ParallelMapping, max_context_length: int, granularity: int
) -> tuple[PrefillCurve, list[str]]:
    """TTFT and throughput/GPU over ISL for the chosen prefill engine, and notes on left-out points."""
    limit = max_context_length - PREFILL_CONTEXT_HEADROOM
    if limit <= 100:
        raise ProfilingError(
            f"max context length {max_context_length} is too small to profile prefill; "
            f"set engine.maxContextLength above {100 + PREFILL_CONTEXT_HEADROOM}"
        )
    isls, ttfts, thpts = [], [], []
    too_big: list[int] = []
    failed: list[str] = []
    for isl in range(100, limit, max(1, (limit - 100) // granularity)):
        try:
            if not estimator.fits(mapping, "prefill", 1, isl, 1):
                too_big.append(isl)
                continue
            ttft = estimator.prefill_ttft(mapping, isl)
        except BaseException as error:
            if not estimation_failed(error):
                raise
            failed.append(f"ISL {isl}: {describe(error)}")
            continue
        isls.append(isl)
        ttfts.append(ttft)
        thpts.append(isl / ttft / mapping.num_gpus * 1000 * mapping.attention_dp_size)
    notes = [f"prefill interpolation left out ISL {too_big} (does not fit in memory)"] if too_big else []
    notes += [f"prefill interpolation left out {point} (AI Configurator cannot estimate it)" for point in failed]
    if len(isls) <= 2:
        raise ProfilingError(
            f"only {len(isls)} prefill interpolation points could be estimated for {mapping.label} "
            f"({'; '.join(notes) or 'none'}); raise hardware.minNumGpusPerEngine or lower engine.maxContextLength"
        )
    return PrefillCurve(isls, ttfts, thpts), notes


def decode_surface(
    estimator: Estimator, mapping: ParallelMapping, max_kv_tokens: int, max_context_length: int, granularity: int
) -> tuple[DecodeSurface, list[str]]:
    """ITL and throughput/GPU over (KV usage, context length) for the chosen decode engine."""
    osl = DECODE_INTERPOLATION_OSL
    if max_context_length - osl <= 100:
        raise ProfilingError(
            f"max context length {max_context_length} is too small to profile decode; "
            f"set engine.maxContextLength above {100 + osl}"
        )
    x_kv, y_ctx, z_itl, z_thpt = [], [], [], []
    notes: list[str] = []
    left_out = 0
    dp = mapping.attention_dp_size
    for isl in range(100, max_context_length - osl, max(1, (max_context_length - osl) // granularity)):
        max_concurrency = max_kv_tokens // (isl + osl)
        if max_concurrency == 0:
            notes.append(f"decode interpolation stops at ISL {isl}: {max_kv_tokens} KV tokens hold no request")
            break
        for concurrency in get_num_request_range(dp, max_concurrency, granularity):
            try:
                if not estimator.fits(mapping, "decode", max(1, concurrency // dp), isl, osl):
                    left_out += 1
                    continue
                estimate = estimator.decode(mapping, isl, osl, concurrency)
            except BaseException as error:
                if not estimation_failed(error):
                    raise
                notes.append(f"decode interpolation left out ISL {isl} x {concurrency}: {describe(error)}")
                continue
            x_kv.append((isl + osl / 2) * concurrency / max_kv_tokens)
            y_ctx.append(isl + osl / 2)
            z_itl.append(estimate.itl_ms)
            z_thpt.append(estimate.thpt_per_gpu)
    if left_out:
        notes.append(f"decode interpolation left out {left_out} points whose memory would not fit")
    if not z_itl:
        raise ProfilingError(f"no decode interpolation point fits in memory for {mapping.label}")
    return DecodeSurface(x_kv, y_ctx, z_itl, z_thpt, int(max_kv_tokens)), notes


def to_json(data: PrefillCurve | DecodeSurface) -> str:
    """The JSON Dynamo writes into the ConfigMap (`json.dumps` of the lists)."""
    return json.dumps(data.as_dict())


def to_npz(data: PrefillCurve | DecodeSurface) -> bytes:
    """`numpy.savez` output with fixed zip timestamps, so the same data gives the same bytes."""
    import numpy as np  # imported on first use: a fresh process imports it while AI Configurator loads its tables

    arrays = data.as_dict()
    if isinstance(data, DecodeSurface):
        arrays = {**arrays, "max_kv_tokens": [data.max_kv_tokens]}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, values in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(values), allow_pickle=False)
    return buffer.getvalue()
