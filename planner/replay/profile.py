"""A profiler output folder as the simulator's timing model and the planner's interpolators.

The simulator's workers (Dynamo's mocker) are timed by a "mocker-format" NPZ: `prefill_isl` ->
`prefill_ttft_ms`, and `decode_itl[i, j]` over `decode_active_kv_tokens[i]` (the worker's KV tokens in use) and
`decode_context_length[j]`. It is written from the same profile the planner reads (`planner.profile_data`), on
the planner's own interpolation grid, so the planner and the simulated engines agree on the profile. The
worker's KV cache holds `max_kv_tokens` tokens. GPUs per engine and the SLA come from the profiler's
`profile.json` when the folder has one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from planner.interpolation import DecodeInterpolator, PrefillInterpolator
from planner.policy import Interpolators
from planner.profile_data import ProfileDataError, load_profile_data

PREFILL_POINTS = 200
KV_BLOCK_SIZE = 64


@dataclass(frozen=True)
class ReplayProfile:
    """What the replay needs from a profile folder."""

    directory: Path
    interpolators: Interpolators
    max_kv_tokens: int
    prefill_gpus: int
    decode_gpus: int
    ttft_ms: float | None
    itl_ms: float | None


def _profile_json(directory: Path) -> dict:
    path = directory / "profile.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ProfileDataError(f"{path}: not readable JSON ({error})") from None
    return data if isinstance(data, dict) else {}


def load_replay_profile(directory: str | Path) -> ReplayProfile:
    """Interpolators, KV capacity, GPUs per engine (default 1) and SLA (if recorded) of a profile folder."""
    directory = Path(directory)
    data = load_profile_data(directory)
    meta = _profile_json(directory)
    sla = meta.get("sla") or {}
    return ReplayProfile(
        directory=directory,
        interpolators=Interpolators(PrefillInterpolator(data.prefill), DecodeInterpolator(data.decode)),
        max_kv_tokens=data.decode.max_kv_tokens,
        prefill_gpus=int((meta.get("prefill") or {}).get("num_gpus") or 1),
        decode_gpus=int((meta.get("decode") or {}).get("num_gpus") or 1),
        ttft_ms=float(sla["ttft_ms"]) if sla.get("ttft_ms") else None,
        itl_ms=float(sla["itl_ms"]) if sla.get("itl_ms") else None)


def write_mocker_npz(profile: ReplayProfile, path: str | Path) -> Path:
    """The mocker-format timing NPZ of the profile (see the module docstring)."""
    prefill = profile.interpolators.prefill
    decode = profile.interpolators.decode
    isl = np.linspace(prefill.min_isl, prefill.max_isl, PREFILL_POINTS)
    ttft = np.array([prefill.ttft_ms(x) for x in isl])
    context = decode.yi.copy()
    context[0] = max(1.0, context[0])
    np.savez(path, prefill_isl=isl, prefill_ttft_ms=np.maximum(ttft, 0.0),
             decode_active_kv_tokens=decode.xi * profile.max_kv_tokens, decode_context_length=context,
             decode_itl=np.maximum(decode.itl_grid.T, 0.0))
    return Path(path)


def engine_args(npz_path: str | Path, profile: ReplayProfile, role: str, startup_s: float) -> dict:
    """The mocker engine arguments of one role: timing from the NPZ, KV capacity, start-up time."""
    return {
        "startup_time": startup_s,
        "engine": {
            "worker_type": role,
            "block_size": KV_BLOCK_SIZE,
            "num_gpu_blocks": max(1, profile.max_kv_tokens // KV_BLOCK_SIZE),
            "timing_model": {"type": "external", "provider": "dynamo_profile", "config": {"path": str(npz_path)}},
        },
    }
