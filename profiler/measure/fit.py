"""Curves fitted to measured points: TTFT over ISL (quadratic: prefill attention grows with the square of the
prompt) and ITL over active KV tokens (linear), by least squares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Polynomial:
    """`c0 + c1 x + c2 x^2 ...` fitted on x in [low, high]."""

    coefficients: tuple[float, ...]
    low: float
    high: float
    points: int

    def __call__(self, x: float) -> float:
        return float(sum(c * x**i for i, c in enumerate(self.coefficients)))


OUTLIER_MADS = 3.0  # a point this many median absolute deviations off the first fit is left out of the second


def _polyfit(x: np.ndarray, y: np.ndarray, degree: int) -> np.ndarray:
    coefficients = np.polynomial.polynomial.polyfit(x, y, degree)
    if degree == 2 and coefficients[2] < 0:  # a negative bend is noise on a short range: a straight line
        coefficients = np.polynomial.polynomial.polyfit(x, y, 1)
    return coefficients


def fit(xs: Sequence[float], ys: Sequence[float], degree: int) -> Polynomial:
    """Least-squares polynomial of at most `degree` (lowered to what the distinct x values allow); a negative
    quadratic term (noise on a short range) falls back to a straight line. With more points than terms, points
    far off the first fit (a request that met a busy machine) are left out of a second fit."""
    x, y = np.asarray(xs, float), np.asarray(ys, float)
    degree = max(0, min(degree, len(set(xs)) - 1))
    coefficients = _polyfit(x, y, degree)
    if len(xs) > 2 * (degree + 1):
        residuals = y - np.polynomial.polynomial.polyval(x, coefficients)
        spread = float(np.median(np.abs(residuals - np.median(residuals))))
        keep = np.abs(residuals - np.median(residuals)) <= OUTLIER_MADS * spread if spread > 0 else np.ones_like(x, bool)
        if keep.sum() > degree + 1 and not keep.all() and len(set(x[keep])) > degree:
            coefficients = _polyfit(x[keep], y[keep], degree)
    return Polynomial(tuple(float(c) for c in coefficients), float(min(xs)), float(max(xs)), len(xs))
