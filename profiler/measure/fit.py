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


def fit(xs: Sequence[float], ys: Sequence[float], degree: int) -> Polynomial:
    """Least-squares polynomial of at most `degree` (lowered to what the distinct x values allow); a negative
    quadratic term (noise on a short range) falls back to a straight line."""
    distinct = len(set(xs))
    degree = max(0, min(degree, distinct - 1))
    coefficients = np.polynomial.polynomial.polyfit(np.asarray(xs, float), np.asarray(ys, float), degree)
    if degree == 2 and coefficients[2] < 0:
        coefficients = np.polynomial.polynomial.polyfit(np.asarray(xs, float), np.asarray(ys, float), 1)
    return Polynomial(tuple(float(c) for c in coefficients), float(min(xs)), float(max(xs)), len(xs))
