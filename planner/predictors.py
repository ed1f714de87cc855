"""Load predictors: one-step-ahead forecasts of request count, ISL and OSL per adjustment interval.

All predictors share one interface (`observe(value)`, `predict()`) and are small NumPy implementations:

- `constant`: the last value (Dynamo's `constant`).
- `arima`: ARIMA(p, d, 0) with d in 0..1 chosen by the KPSS test and p in 0..2 by AIC (as pmdarima's
  `auto_arima`: AIC is only compared between fits of the same series on the same residuals), least squares.
  Dynamo uses `pmdarima.auto_arima`; pmdarima and statsmodels pull in ~100 MB (statsmodels, patsy, pandas,
  Cython builds) for a forecast of a 50-point series. The moving-average terms are left out: without them the
  fit is one closed-form least-squares solve per candidate (microseconds), and on the Azure traces the
  one-step error is within a few points of any other point forecaster (see docs/planner.md).
- `kalman`: a local-linear-trend Kalman filter with Dynamo's parameters (`--kalman-q-level`, `--kalman-q-trend`,
  `--kalman-r`, `--kalman-min-points`); Dynamo uses filterpy for the same six lines of algebra.
- `auto`: all of the above on the series, forecasting with the one whose recent forecasts were best (a
  rolling backtest; under-forecasts weigh 3 times over-forecasts).
- `burst`: for bursty traffic; the `BURST_QUANTILE` quantile of the last `BURST_WINDOW` observations, never
  below the last value: scales up with the burst at once and comes down only once the burst has left the
  window (a quantile forecast rather than a mean forecast; see docs/planner.md, "Predictors", and the
  "Planner" section of benchmarks/RESULTS.md).

Values are clamped at 0; NaN observations are ignored (the caller decides what no data means). Leading zeros
(an idle period after deployment) are skipped, as in later Dynamo versions. With `log1p`, the model runs on
`log1p(value)` and forecasts are mapped back with `expm1`.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Protocol

import numpy as np

PREDICTORS = ("constant", "arima", "kalman", "burst", "auto")
ARIMA_MIN_POINTS = 5
BURST_WINDOW = 10
BURST_QUANTILE = 0.9
BACKTEST_WINDOW = 10
BACKTEST_UNDER_WEIGHT = 3.0


class LoadPredictor(Protocol):
    """A one-step-ahead forecaster of one load series."""

    def observe(self, value: float) -> None: ...

    def predict(self) -> float | None: ...


class _WindowedPredictor:
    """Keeps the last `window` finite observations (after the first non-zero) in model space."""

    def __init__(self, window: int, log1p: bool = False) -> None:
        self.history: deque[float] = deque(maxlen=max(window, 2))
        self.log1p = log1p

    def observe(self, value: float) -> None:
        if value is None or not math.isfinite(value):
            return
        value = max(0.0, float(value))
        if not self.history and value == 0.0:
            return
        self.history.append(math.log1p(value) if self.log1p else value)

    def _out(self, value: float) -> float:
        value = math.expm1(value) if self.log1p else value
        return max(0.0, float(value))

    def predict(self) -> float | None:
        if not self.history:
            return None
        return self._out(self._forecast(np.asarray(self.history, dtype=float)))

    def _forecast(self, series: np.ndarray) -> float:
        raise NotImplementedError


class ConstantPredictor(_WindowedPredictor):
    """The next value is the last one."""

    def _forecast(self, series: np.ndarray) -> float:
        return float(series[-1])


def _ar_fit(series: np.ndarray, p: int, start: int) -> tuple[np.ndarray, float, int]:
    """Least-squares AR(p) with intercept fitted to `series[start:]` (start >= p, so every order is scored on
    the same residuals): coefficients, residual sum of squares, number of residuals."""
    n = series.size - start
    columns = [np.ones(n)] + [series[start - lag:series.size - lag] for lag in range(1, p + 1)]
    design = np.column_stack(columns)
    target = series[start:]
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    residuals = target - design @ coef
    return coef, float(residuals @ residuals), n


KPSS_CRITICAL_5PCT = 0.463  # level stationarity, Kwiatkowski et al. (1992), table 1


def kpss_statistic(series: np.ndarray) -> float:
    """The KPSS level-stationarity statistic with a Newey-West long-run variance (Schwert's short lag rule,
    trunc(4 (n/100)^(1/4)), pmdarima's default); scale-free."""
    n = series.size
    residuals = series - series.mean()
    partial = np.cumsum(residuals)
    lags = min(int(4.0 * (n / 100.0) ** 0.25), n - 1)
    variance = float(residuals @ residuals) / n
    for lag in range(1, lags + 1):
        weight = 1.0 - lag / (lags + 1.0)
        variance += 2.0 * weight * float(residuals[lag:] @ residuals[:-lag]) / n
    if variance <= 0:
        return 0.0
    return float(partial @ partial) / (n * n * variance)


class ArimaPredictor(_WindowedPredictor):
    """ARIMA(p, d, 0), p <= 2, d <= 1: d by the KPSS test (as pmdarima's auto_arima), then the p with the lowest
    AIC, every p scored on the same residuals of the same series, so the choice does not depend on units."""

    MAX_P = 2

    def __init__(self, window: int, log1p: bool = False) -> None:
        super().__init__(window, log1p)
        self.order: tuple[int, int, int] | None = None

    def _forecast(self, series: np.ndarray) -> float:
        if series.size < ARIMA_MIN_POINTS or np.ptp(series) == 0.0:
            self.order = None
            return float(series[-1])
        d = 1 if kpss_statistic(series) > KPSS_CRITICAL_5PCT else 0
        work = np.diff(series, n=d)
        max_p = min(self.MAX_P, (work.size - 2) // 2)
        if max_p < 0 or np.ptp(work) == 0.0:  # a straight line after differencing
            self.order = (0, d, 0)
            return float(series[-1] + work[-1]) if d else float(series[-1])
        best: tuple[float, int, np.ndarray] | None = None
        for p in range(max_p + 1):
            coef, rss, n = _ar_fit(work, p, max_p)
            aic = n * math.log(max(rss / n, 1e-300)) + 2 * (p + 1)
            if best is None or aic < best[0] - 1e-9:
                best = (aic, p, coef)
        _, p, coef = best
        self.order = (p, d, 0)
        lags = work[::-1][:p]
        step = float(coef[0] + (coef[1:] @ lags if p else 0.0))
        return step + float(series[-1]) if d == 1 else step


class KalmanPredictor:
    """Local linear trend: state [level, trend], F=[[1,1],[0,1]], H=[1,0], P0=1000*I (Dynamo's model)."""

    def __init__(self, q_level: float = 1.0, q_trend: float = 0.1, r: float = 10.0, min_points: int = 5,
                 log1p: bool = False) -> None:
        self.F = np.array([[1.0, 1.0], [0.0, 1.0]])
        self.Q = np.diag([q_level, q_trend])
        self.r = r
        self.min_points = min_points
        self.log1p = log1p
        self.x: np.ndarray | None = None
        self.P = np.eye(2) * 1000.0
        self.count = 0
        self.last: float | None = None

    def observe(self, value: float) -> None:
        if value is None or not math.isfinite(value):
            return
        value = max(0.0, float(value))
        if self.x is None and value == 0.0:
            return
        z = math.log1p(value) if self.log1p else value
        self.count += 1
        self.last = z
        if self.x is None:
            self.x = np.array([z, 0.0])
            return
        # predict
        self.x = self.F @ self.x
        self.P = self.F @ self.P @ self.F.T + self.Q
        # update with H = [1, 0]
        innovation = z - self.x[0]
        s = self.P[0, 0] + self.r
        gain = self.P[:, 0] / s
        self.x = self.x + gain * innovation
        self.P = self.P - np.outer(gain, self.P[0, :])

    def predict(self) -> float | None:
        if self.x is None or self.last is None:
            return None
        z = self.last if self.count < self.min_points else float((self.F @ self.x)[0])
        z = math.expm1(z) if self.log1p else z
        return max(0.0, z)


class BurstPredictor(_WindowedPredictor):
    """The high quantile of the recent window, never below the last value."""

    def __init__(self, window: int = BURST_WINDOW, quantile: float = BURST_QUANTILE, log1p: bool = False) -> None:
        super().__init__(window, log1p)
        self.quantile = quantile

    def _forecast(self, series: np.ndarray) -> float:
        return max(float(series[-1]), float(np.quantile(series, self.quantile)))


class BacktestPredictor:
    """Runs every candidate on the series and forecasts with the one whose last `window` one-step forecasts had
    the lowest loss, an under-forecast weighing `under_weight` times an over-forecast (an under-forecast costs
    SLA, an over-forecast GPU time): the predictor is chosen per trace, and re-chosen as the traffic changes."""

    def __init__(self, candidates: dict[str, LoadPredictor], window: int = BACKTEST_WINDOW,
                 under_weight: float = BACKTEST_UNDER_WEIGHT) -> None:
        self.candidates = candidates
        self.under_weight = under_weight
        self.losses: dict[str, deque[float]] = {name: deque(maxlen=window) for name in candidates}
        self.forecasts: dict[str, float | None] = {name: None for name in candidates}
        self.chosen = next(iter(candidates))

    def observe(self, value: float) -> None:
        if value is None or not math.isfinite(value):
            return
        for name, predictor in self.candidates.items():
            forecast = self.forecasts[name]
            if forecast is not None:
                error = value - forecast
                self.losses[name].append(error * self.under_weight if error > 0 else -error)
            predictor.observe(value)
            self.forecasts[name] = predictor.predict()
        scored = [(sum(losses) / len(losses), name) for name, losses in self.losses.items() if losses]
        if scored:
            self.chosen = min(scored)[1]

    def predict(self) -> float | None:
        return self.forecasts[self.chosen]


def make_predictor(kind: str, window: int = 50, log1p: bool = False, q_level: float = 1.0, q_trend: float = 0.1,
                   r: float = 10.0, min_points: int = 5) -> LoadPredictor:
    """A predictor by its `--load-predictor` name."""
    if kind == "constant":
        return ConstantPredictor(window, log1p)
    if kind == "arima":
        return ArimaPredictor(window, log1p)
    if kind == "kalman":
        return KalmanPredictor(q_level, q_trend, r, min_points, log1p)
    if kind == "burst":
        return BurstPredictor(min(window, BURST_WINDOW), BURST_QUANTILE, log1p)
    if kind == "auto":
        return BacktestPredictor({name: make_predictor(name, window, log1p, q_level, q_trend, r, min_points)
                                  for name in PREDICTORS if name != "auto"})
    raise ValueError(f"unknown load predictor {kind!r}; choose one of {', '.join(PREDICTORS)}")
