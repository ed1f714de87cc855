"""Performance interpolators, as Dynamo's planner computes them (`utils/perf_interpolation.py`).

Prefill: cubic `interp1d` of TTFT and throughput per GPU over ISL, the ISL clamped to the profiled range.
Decode: a 100 x 100 grid over KV usage [0, 1] and context length [0, max profiled], filled by cubic `griddata`
with NaN cells taken from `nearest`; `find_best_throughput_per_gpu` scans the context-length row from the
highest KV usage down and takes the first cell whose ITL meets the target (no binary search: the surface may
not be monotonic), or the lowest-usage cell when none does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import griddata, interp1d

from planner.profile_data import DecodeProfile, PrefillProfile

GRID_RESOLUTION = 100


class PrefillInterpolator:
    """TTFT (ms) and throughput (tokens/s/GPU) of the prefill engine at an ISL."""

    def __init__(self, profile: PrefillProfile) -> None:
        self.min_isl = float(profile.isl.min())
        self.max_isl = float(profile.isl.max())
        self._ttft = interp1d(profile.isl, profile.ttft_ms, kind="cubic")
        self._thpt = interp1d(profile.isl, profile.thpt_per_gpu, kind="cubic")

    def _clamp(self, isl: float) -> float:
        return max(self.min_isl, min(float(isl), self.max_isl))

    def ttft_ms(self, isl: float) -> float:
        return float(self._ttft(self._clamp(isl)))

    def thpt_per_gpu(self, isl: float) -> float:
        return float(self._thpt(self._clamp(isl)))


@dataclass(frozen=True)
class DecodePoint:
    """One cell of the decode grid."""

    thpt_per_gpu: float
    itl_ms: float
    kv_usage: float


def _grid(points: tuple[np.ndarray, np.ndarray], values: np.ndarray, mesh: tuple[np.ndarray, np.ndarray]
          ) -> np.ndarray:
    surface = griddata(points, values, mesh, method="cubic")
    missing = np.isnan(surface)
    if np.any(missing):
        surface[missing] = griddata(points, values, mesh, method="nearest")[missing]
    return surface


class DecodeInterpolator:
    """ITL (ms) and throughput (tokens/s/GPU) of the decode engine over KV usage and context length."""

    def __init__(self, profile: DecodeProfile, resolution: int = GRID_RESOLUTION) -> None:
        self.resolution = resolution
        self.max_kv_tokens = profile.max_kv_tokens
        self.xi = np.linspace(0.0, 1.0, resolution)
        self.yi = np.linspace(0.0, float(profile.context_length.max()), resolution)
        mesh = np.meshgrid(self.xi, self.yi)
        points = (profile.kv_usage, profile.context_length)
        self.itl_grid = _grid(points, profile.itl_ms, mesh)
        self.thpt_grid = _grid(points, profile.thpt_per_gpu, mesh)

    def _row(self, context_length: float) -> int:
        step = self.yi[1] - self.yi[0]
        return int(np.clip(np.round((context_length - self.yi[0]) / step), 0, self.resolution - 1))

    def _column(self, kv_usage: float) -> int:
        step = self.xi[1] - self.xi[0]
        return int(np.clip(np.round((kv_usage - self.xi[0]) / step), 0, self.resolution - 1))

    def compute_idx(self, concurrency: float, context_length: float) -> tuple[int, int]:
        """Grid indices (ix, iy) of `concurrency` requests of `context_length` tokens each."""
        kv_usage = concurrency * context_length / self.max_kv_tokens
        return self._column(kv_usage), self._row(context_length)

    def itl_ms(self, concurrency: float, context_length: float) -> float:
        ix, iy = self.compute_idx(concurrency, context_length)
        return float(self.itl_grid[iy, ix])

    def thpt_per_gpu(self, concurrency: float, context_length: float) -> float:
        ix, iy = self.compute_idx(concurrency, context_length)
        return float(self.thpt_grid[iy, ix])

    def find_best_throughput_per_gpu(self, itl: float, context_length: float) -> DecodePoint:
        """The highest-KV-usage cell of the context-length row whose ITL is at most `itl`."""
        iy = self._row(context_length)
        row_itl = self.itl_grid[iy]
        meeting = np.flatnonzero(row_itl <= itl)
        ix = int(meeting[-1]) if meeting.size else 0
        return DecodePoint(thpt_per_gpu=float(self.thpt_grid[iy, ix]), itl_ms=float(row_itl[ix]),
                           kv_usage=float(self.xi[ix]))
