import json
import math

import numpy as np
import pytest

from planner.predictors import (ArimaPredictor, BurstPredictor, ConstantPredictor, KalmanPredictor,
                                make_predictor)


def feed(predictor, values):
    for value in values:
        predictor.observe(value)
    return predictor


def test_constant_is_the_last_value_and_ignores_nan():
    predictor = feed(ConstantPredictor(50), [3, 5, float("nan"), None])
    assert predictor.predict() == 5


def test_leading_zeros_are_skipped_and_nothing_predicts_none():
    assert ConstantPredictor(50).predict() is None
    predictor = feed(ConstantPredictor(50), [0, 0, 0])
    assert predictor.predict() is None
    feed(predictor, [7, 0])
    assert predictor.predict() == 0


def test_arima_follows_a_linear_trend():
    predictor = feed(ArimaPredictor(50), [10 + 3 * k for k in range(20)])
    assert predictor.predict() == pytest.approx(10 + 3 * 20, rel=1e-6)
    assert predictor.order is not None and predictor.order[1] in (0, 1)


def test_arima_recovers_an_ar1_process_forecast():
    rng = np.random.default_rng(7)
    series = [100.0]
    for _ in range(49):
        series.append(100 + 0.8 * (series[-1] - 100) + rng.normal(0, 1))
    predictor = feed(ArimaPredictor(50), series)
    # the one-step forecast of the true model; the fit is within a few units of it
    assert predictor.predict() == pytest.approx(100 + 0.8 * (series[-1] - 100), abs=1.5)


def test_arima_short_or_flat_series_is_the_last_value():
    assert feed(ArimaPredictor(50), [4, 9]).predict() == 9
    assert feed(ArimaPredictor(50), [6] * 10).predict() == 6


def test_kalman_tracks_a_trend_after_min_points():
    predictor = KalmanPredictor(q_level=1.0, q_trend=0.1, r=10.0, min_points=5)
    feed(predictor, [50, 52])
    assert predictor.predict() == 52  # fewer than min_points: the last value
    feed(predictor, [50 + 2 * k for k in range(2, 60)])
    assert predictor.predict() == pytest.approx(50 + 2 * 60, abs=1.0)


def test_burst_predictor_rises_with_a_burst_and_decays_when_it_leaves_the_window():
    predictor = BurstPredictor(window=10, quantile=0.9)
    feed(predictor, [10] * 10)
    assert predictor.predict() == 10
    predictor.observe(100)
    assert predictor.predict() == 100  # never below the last value
    feed(predictor, [10] * 3)
    assert predictor.predict() == pytest.approx(np.quantile([10] * 6 + [100] + [10] * 3, 0.9))
    feed(predictor, [10] * 10)
    assert predictor.predict() == 10


def test_log1p_space_round_trips():
    predictor = feed(ConstantPredictor(50, log1p=True), [1000.0])
    assert predictor.predict() == pytest.approx(1000.0)
    assert feed(make_predictor("arima", log1p=True), [math.exp(k) for k in range(10)]).predict() > math.exp(9)


def test_unknown_predictor_names_the_choices():
    with pytest.raises(ValueError, match="constant, arima, kalman, burst"):
        make_predictor("prophet")


def test_warmup_trace_buckets_requests_per_interval(tmp_path):
    from planner.warmup import WarmupTraceError, load_warmup_trace

    trace = tmp_path / "trace.jsonl"
    rows = [(0, 100, 10), (30_000, 300, 30), (61_000, 200, 20), (190_000, 400, 40)]
    trace.write_text("\n".join(json.dumps({"timestamp": t, "input_length": i, "output_length": o})
                               for t, i, o in rows) + "\n")
    buckets = load_warmup_trace(trace, 60)
    assert [(b.num_req, b.isl, b.osl) for b in buckets] == [(2, 200, 20), (1, 200, 20), (0, None, None),
                                                            (1, 400, 40)]
    trace.write_text('{"timestamp": 1}\n')
    with pytest.raises(WarmupTraceError, match="trace.jsonl:1: .*input_length"):
        load_warmup_trace(trace, 60)


def test_arima_order_and_forecast_do_not_depend_on_units():
    """Requests per interval or per second, tokens or kilotokens: the same model, the forecast in proportion.
    (AIC used to be compared between the differenced and undifferenced series, over different residual counts,
    so the order flipped with the units: (1, 0, 0) for this series, (2, 1, 0) for it times 1000.)"""
    rng = np.random.default_rng(0)
    series = np.cumsum(rng.normal(0, 1, 30)) * 0.3 + rng.normal(0, 1, 30) + 20
    small = feed(ArimaPredictor(50), series)
    large = feed(ArimaPredictor(50), series * 1000.0)
    assert small.order == large.order
    assert large.predict() == pytest.approx(small.predict() * 1000.0, rel=1e-9)


def test_kpss_differences_a_random_walk_but_not_noise():
    walk = feed(ArimaPredictor(50), np.cumsum(np.random.default_rng(4).normal(0, 1, 50)) + 100)
    walk.predict()
    noise = feed(ArimaPredictor(50), np.random.default_rng(5).normal(100, 1, 50))
    noise.predict()
    assert walk.order[1] == 1 and noise.order[1] == 0


def test_burst_margin_goes_on_the_request_count_only():
    """A burst of requests in one interval and long prompts in another: the forecast keeps the burst's count
    but the last ISL and OSL, not the high quantile of each (which would stack the margin three times)."""
    from planner.core import Predictors
    from planner.prometheus import Observation

    predictors = Predictors.of_kind("burst", make_predictor)
    for num_req, isl, osl in [(100, 1000, 100)] * 5 + [(300, 1000, 100), (100, 4000, 400)] + [(100, 1000, 100)] * 2:
        predictors.observe(Observation(num_req=num_req, isl=isl, osl=osl, ttft_ms=None, itl_ms=None,
                                       request_duration_s=None, window_s=60))
    load = predictors.predict()
    assert load.num_req == pytest.approx(float(np.quantile([100] * 8 + [300], 0.9)))
    assert (load.isl, load.osl) == (1000, 100)


def test_auto_picks_the_predictor_with_the_best_recent_backtest():
    trend = [10 + 3 * k for k in range(30)]
    auto = feed(make_predictor("auto"), trend)
    assert auto.chosen in ("arima", "kalman")  # the last value lags a trend by one step every time
    assert auto.predict() == pytest.approx(feed(make_predictor(auto.chosen), trend).predict())
    # every forecast is scored on the same observations: under-forecasts weigh 3 times over-forecasts
    noisy = feed(make_predictor("auto"), [100, 130, 90, 120, 95, 125, 100, 130, 90, 120, 95, 125])
    scores = {name: sum(losses) / len(losses) for name, losses in noisy.losses.items()}
    assert noisy.chosen == min(scores, key=scores.get)
