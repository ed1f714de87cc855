"""Profile data in Dynamo's format: what the profiler measured on the chosen prefill and decode engines.

Read exactly where Dynamo's planner reads it (`utils/perf_interpolation.py`): first
`<dir>/selected_prefill_interpolation/raw_data.npz` and `<dir>/selected_decode_interpolation/raw_data.npz`,
then the JSON files of the `planner-profile-data` ConfigMap mount, `<dir>/prefill_raw_data.json` and
`<dir>/decode_raw_data.json`. Units: TTFT and ITL in milliseconds, throughput in tokens/s/GPU, KV usage as a
fraction of `max_kv_tokens`.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

PREFILL_FIELDS = ("prefill_isl", "prefill_ttft", "prefill_thpt_per_gpu")
DECODE_FIELDS = ("x_kv_usage", "y_context_length", "z_itl", "z_thpt_per_gpu")
PREFILL_NPZ = Path("selected_prefill_interpolation") / "raw_data.npz"
DECODE_NPZ = Path("selected_decode_interpolation") / "raw_data.npz"
PREFILL_JSON = Path("prefill_raw_data.json")
DECODE_JSON = Path("decode_raw_data.json")
HOW_TO_FIX = ("run the profiler (python -m profiler, or Dynamo's profile_sla) and point --profile-results-dir "
              "at its output or at the planner-profile-data ConfigMap mount")


class ProfileDataError(ValueError):
    """Profile data that is missing or malformed; the message names the file and the field."""


@dataclass(frozen=True)
class PrefillProfile:
    """TTFT and throughput per GPU of the chosen prefill engine, over input sequence length."""

    isl: np.ndarray
    ttft_ms: np.ndarray
    thpt_per_gpu: np.ndarray


@dataclass(frozen=True)
class DecodeProfile:
    """ITL and throughput per GPU of the chosen decode engine over (KV usage, context length) points."""

    kv_usage: np.ndarray
    context_length: np.ndarray
    itl_ms: np.ndarray
    thpt_per_gpu: np.ndarray
    max_kv_tokens: int


@dataclass(frozen=True)
class ProfileData:
    """Both engines' profiles and the files they came from."""

    prefill: PrefillProfile
    decode: DecodeProfile
    sources: tuple[str, str]


def _vector(source: str, data: Mapping[str, Any], field: str, min_points: int) -> np.ndarray:
    if field not in data:
        raise ProfileDataError(f"{source}: field '{field}' is missing; {HOW_TO_FIX}")
    try:
        values = np.asarray(data[field], dtype=float).reshape(-1)
    except (TypeError, ValueError) as error:
        raise ProfileDataError(f"{source}: field '{field}' must be a list of numbers ({error})") from None
    if values.size < min_points:
        raise ProfileDataError(f"{source}: field '{field}' has {values.size} points; the interpolation needs at "
                               f"least {min_points}")
    if not np.all(np.isfinite(values)):
        raise ProfileDataError(f"{source}: field '{field}' contains NaN or infinite values")
    return values


def _same_length(source: str, fields: tuple[str, ...], arrays: list[np.ndarray]) -> None:
    lengths = {field: array.size for field, array in zip(fields, arrays)}
    if len(set(lengths.values())) != 1:
        raise ProfileDataError(f"{source}: fields must have the same number of points, got {lengths}")


def prefill_from_mapping(source: str, data: Mapping[str, Any]) -> PrefillProfile:
    """Validate Dynamo's prefill arrays (`prefill_isl`, `prefill_ttft`, `prefill_thpt_per_gpu`)."""
    arrays = [_vector(source, data, field, 4) for field in PREFILL_FIELDS]
    _same_length(source, PREFILL_FIELDS, arrays)
    isl, ttft, thpt = arrays
    if np.unique(isl).size != isl.size:
        raise ProfileDataError(f"{source}: field 'prefill_isl' has repeated values; each ISL must appear once")
    order = np.argsort(isl)
    return PrefillProfile(isl=isl[order], ttft_ms=ttft[order], thpt_per_gpu=thpt[order])


def decode_from_mapping(source: str, data: Mapping[str, Any]) -> DecodeProfile:
    """Validate Dynamo's decode arrays and `max_kv_tokens` (a number, or a one-element array in the NPZ)."""
    arrays = [_vector(source, data, field, 4) for field in DECODE_FIELDS]
    _same_length(source, DECODE_FIELDS, arrays)
    if "max_kv_tokens" not in data:
        raise ProfileDataError(f"{source}: field 'max_kv_tokens' is missing; {HOW_TO_FIX}")
    raw_max = np.asarray(data["max_kv_tokens"]).reshape(-1)
    if raw_max.size != 1 or not np.isfinite(raw_max.astype(float)[0]) or float(raw_max[0]) <= 0:
        raise ProfileDataError(f"{source}: field 'max_kv_tokens' must be one positive number, got "
                               f"{data['max_kv_tokens']!r}")
    kv, ctx, itl, thpt = arrays
    return DecodeProfile(kv_usage=kv, context_length=ctx, itl_ms=itl, thpt_per_gpu=thpt,
                         max_kv_tokens=int(raw_max[0]))


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise ProfileDataError(f"{path}: not a readable NumPy .npz file ({error})") from None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProfileDataError(f"{path}: not readable JSON ({error})") from None
    if not isinstance(data, dict):
        raise ProfileDataError(f"{path}: expected a JSON object with Dynamo's fields, got {type(data).__name__}")
    return data


def _load_one(directory: Path, npz: Path, json_name: Path) -> tuple[str, dict[str, Any]]:
    if (directory / npz).is_file():
        return str(directory / npz), _read_npz(directory / npz)
    if (directory / json_name).is_file():
        return str(directory / json_name), _read_json(directory / json_name)
    raise ProfileDataError(f"profile data not found: neither {directory / npz} nor {directory / json_name} exists; "
                           f"{HOW_TO_FIX}")


def load_profile_data(directory: str | Path) -> ProfileData:
    """Load both profiles from a `--profile-results-dir`, NPZ first, then the ConfigMap's JSON files."""
    directory = Path(directory)
    prefill_source, prefill_raw = _load_one(directory, PREFILL_NPZ, PREFILL_JSON)
    decode_source, decode_raw = _load_one(directory, DECODE_NPZ, DECODE_JSON)
    return ProfileData(prefill=prefill_from_mapping(prefill_source, prefill_raw),
                       decode=decode_from_mapping(decode_source, decode_raw),
                       sources=(prefill_source, decode_source))
