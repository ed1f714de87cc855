"""Small Dynamo-format profile data generated from known formulas, so expected decisions can be computed by hand.

Prefill: TTFT(isl) = 20 + 0.01 * isl ms; throughput/GPU = isl / TTFT * 1000 (Dynamo's definition, 1 GPU).
Decode: ITL(kv, ctx) = 5 + 20 * kv ms; throughput/GPU = 100 + 1000 * kv + 0.01 * ctx tokens/s/GPU, on a full
rectangle of KV usage 0..1 x context length 0..8000 (both linear, so the cubic grid reproduces them).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

PREFILL_ISL = [128, 512, 1024, 2048, 4096, 8192]
MAX_CONTEXT = 8000
MAX_KV_TOKENS = 100_000


def prefill_ttft(isl: float) -> float:
    return 20.0 + 0.01 * isl


def prefill_thpt(isl: float) -> float:
    return isl / prefill_ttft(isl) * 1000.0


def decode_itl(kv: float) -> float:
    return 5.0 + 20.0 * kv


def decode_thpt(kv: float, ctx: float) -> float:
    return 100.0 + 1000.0 * kv + 0.01 * ctx


def prefill_arrays() -> dict[str, list[float]]:
    return {"prefill_isl": [float(i) for i in PREFILL_ISL],
            "prefill_ttft": [prefill_ttft(i) for i in PREFILL_ISL],
            "prefill_thpt_per_gpu": [prefill_thpt(i) for i in PREFILL_ISL]}


def decode_arrays() -> dict:
    kv, ctx = np.meshgrid(np.linspace(0, 1, 11), np.linspace(0, MAX_CONTEXT, 9))
    kv, ctx = kv.ravel(), ctx.ravel()
    return {"x_kv_usage": kv.tolist(), "y_context_length": ctx.tolist(),
            "z_itl": [decode_itl(k) for k in kv], "z_thpt_per_gpu": [decode_thpt(k, c) for k, c in zip(kv, ctx)],
            "max_kv_tokens": MAX_KV_TOKENS}


def write_json_profile(directory: Path) -> Path:
    """The ConfigMap-mount form: prefill_raw_data.json and decode_raw_data.json."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "prefill_raw_data.json").write_text(json.dumps(prefill_arrays()))
    (directory / "decode_raw_data.json").write_text(json.dumps(decode_arrays()))
    return directory


def write_npz_profile(directory: Path) -> Path:
    """The profiler-output form: selected_{prefill,decode}_interpolation/raw_data.npz."""
    (directory / "selected_prefill_interpolation").mkdir(parents=True, exist_ok=True)
    (directory / "selected_decode_interpolation").mkdir(parents=True, exist_ok=True)
    np.savez(directory / "selected_prefill_interpolation" / "raw_data.npz",
             **{k: np.array(v) for k, v in prefill_arrays().items()})
    decode = decode_arrays()
    np.savez(directory / "selected_decode_interpolation" / "raw_data.npz",
             x_kv_usage=np.array(decode["x_kv_usage"]), y_context_length=np.array(decode["y_context_length"]),
             z_itl=np.array(decode["z_itl"]), z_thpt_per_gpu=np.array(decode["z_thpt_per_gpu"]),
             max_kv_tokens=np.array([MAX_KV_TOKENS]))
    return directory
