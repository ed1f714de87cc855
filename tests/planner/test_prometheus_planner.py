"""Planning steps against a real Prometheus (Debian package) with preloaded frontend series.

Expected decisions are computed by hand from Dynamo's formulas and the profile's known functions
(tests/planner/planner_profiles.py); faults (Prometheus down, empty series, NaN, zero traffic) each give the expected
hold or scale-down and a clear log line.
"""

import logging
import math
import time

import pytest

import planner_profiles as profiles
from planner_frontend import LABELS, InMemoryDeployment, Segment, frontend_history
from planner.core import Planner, Predictors
from planner.interpolation import DecodeInterpolator, PrefillInterpolator
from planner.policy import Interpolators, PolicyConfig, Replicas
from planner.predictors import make_predictor
from planner.profile_data import load_profile_data
from planner.prometheus import PrometheusClient, queries
from tests.support.prometheus import Series, run_prometheus

END = (int(time.time()) // 3600) * 3600 - 7200  # whole hours, safely in the past
START = END - 3600
STOP = END - 1200  # traffic stops here in the zero-traffic history
NAN_FROM = END - 2400  # from here on, requests arrive but the TTFT histogram stops counting
STEP_Y = profiles.MAX_CONTEXT / 99
CACHED_SHARE = 0.4


@pytest.fixture(scope="module")
def prometheus():
    history = frontend_history([Segment(START, 50.0), Segment(NAN_FROM, 50.0, ttft_s=None), Segment(STOP, 0.0)],
                               END)
    other = frontend_history([Segment(START, 500.0, isl=100, osl=10)], END,
                             {"dynamo_namespace": "other-ns", "model": "Qwen/Qwen3-0.6B"})
    other_model = frontend_history([Segment(START, 700.0, isl=300, osl=30)], END,
                                   {"dynamo_namespace": "dyn-ns", "model": "llama"})
    # 40 % of this model's prompt tokens come from the prefix cache (Dynamo 1.x's frontend counts them per request)
    prompt = next(series for series in history if series.name == "dynamo_frontend_input_sequence_tokens_sum")
    cached = Series("dynamo_frontend_cached_tokens_sum", LABELS, [(t, v * CACHED_SHARE) for t, v in prompt.samples],
                    kind="unknown")
    with run_prometheus(history + other + other_model + [cached]) as server:
        yield server


@pytest.fixture
def interpolators(json_profile):
    data = load_profile_data(json_profile)
    return Interpolators(PrefillInterpolator(data.prefill), DecodeInterpolator(data.decode))


def make_planner(url, interpolators, deployment, model="qwen/qwen3-0.6b", **config):
    settings = dict(adjustment_interval=180, itl_ms=10.0, max_gpu_budget=-1)
    settings.update(config)
    policy = PolicyConfig(**settings)
    predictors = Predictors(*(make_predictor("constant") for _ in range(3)))
    return Planner(policy, interpolators, predictors, PrometheusClient(url, LABELS["dynamo_namespace"], model),
                   deployment)


def test_queries_are_dynamos_filtered_by_namespace_and_model():
    q = queries(180, "dyn-ns", "Qwen/Qwen3-0.6B")
    assert q["num_req"] == ('sum(increase(dynamo_frontend_requests_total{dynamo_namespace="dyn-ns",'
                            'model=~"(?i)Qwen/Qwen3\\\\-0\\\\.6B"}[180s]))')
    assert "increase(dynamo_frontend_time_to_first_token_seconds_sum{" in q["ttft_ms"] and q["ttft_ms"].endswith("* 1000")


def test_decision_matches_hand_computation(prometheus, interpolators):
    deployment = InMemoryDeployment(Replicas(2, 10))
    planner = make_planner(prometheus.url, interpolators, deployment)
    decision, outcome = planner.step(at=NAN_FROM - 300)
    # observed over 180 s at 50 req/s (only this namespace and model: the other series are 10x larger)
    assert decision.observed["num_req"] == pytest.approx(9000)
    assert (decision.observed["isl"], decision.observed["osl"]) == (pytest.approx(2048), pytest.approx(256))
    assert decision.observed["ttft_ms"] == pytest.approx(300) and decision.observed["itl_ms"] == pytest.approx(12)
    # prefill: p_cf = 300 / TTFT(2048) = 300 / 40.48 > 1, so no discount: 9000 * 2048 / 180 = 102400 tokens/s
    p_cf = 300 / profiles.prefill_ttft(2048)
    assert decision.correction_factors["prefill"] == pytest.approx(p_cf)
    prefill = math.ceil(9000 * 2048 / 180 / profiles.prefill_thpt(2048))
    # decode: concurrency = 9000 / 10 workers * 4 s / 180 s = 20; kv = 20 * 2176 / 100000 -> ix = round(.4352*99)
    expected_itl = profiles.decode_itl(round(20 * 2176 / profiles.MAX_KV_TOKENS * 99) / 99)
    d_cf = 12.0 / expected_itl
    assert decision.correction_factors["decode"] == pytest.approx(d_cf, rel=1e-6)
    corrected = 10.0 / d_cf
    ix = math.floor((corrected - 5.0) / 20.0 * 99)
    thpt = profiles.decode_thpt(ix / 99, round(2176 / STEP_Y) * STEP_Y)
    decode = math.ceil(9000 * 256 / 180 / thpt)
    assert (decision.prefill_replicas, decision.decode_replicas) == (prefill, decode) == (3, 30)
    assert decision.action == "scale_up" and outcome == {"result": "applied"}
    assert decision.predicted == {"num_req": pytest.approx(9000), "request_rate": pytest.approx(50),
                                  "isl": pytest.approx(2048), "osl": pytest.approx(256)}


def test_prefix_cache_discount_reads_the_frontends_cached_tokens(prometheus, interpolators):
    """With --prefix-cache-discount, prefill is sized for the prompt tokens the cache does not serve: 60 % of
    102400 tokens/s here (the hand computation above: 3 replicas without the discount)."""
    decision, _ = make_planner(prometheus.url, interpolators, InMemoryDeployment(Replicas(2, 10)),
                               prefix_cache_discount=True).step(at=NAN_FROM - 300)
    assert decision.observed["kv_hit_rate"] == pytest.approx(CACHED_SHARE)
    assert decision.details["prefix_cache_discount"] == pytest.approx(CACHED_SHARE)
    assert decision.prefill_replicas == math.ceil(102400 * (1 - CACHED_SHARE) / profiles.prefill_thpt(2048)) == 2
    # a model whose frontend reports no cached tokens: no hit rate, no discount
    other, _ = make_planner(prometheus.url, interpolators, InMemoryDeployment(Replicas(2, 10)), model="llama",
                            prefix_cache_discount=True).step(at=NAN_FROM - 300)
    assert other.observed["kv_hit_rate"] is None and other.details["prefix_cache_discount"] == 0.0


class StartingDeployment(InMemoryDeployment):
    """10 decode replicas desired, 5 of them still starting: 5 serve."""

    def running(self) -> Replicas:
        return Replicas(self.replicas.prefill, 5)


def test_decode_correction_counts_the_running_replicas(prometheus, interpolators):
    """The observed ITL was produced by the 5 replicas serving, not the 10 desired: concurrency 40 per worker."""
    decision, _ = make_planner(prometheus.url, interpolators, StartingDeployment(Replicas(2, 10))).step(
        at=NAN_FROM - 300)
    # concurrency = 9000 / 5 workers * 4 s / 180 s = 40; kv = 40 * 2176 / 100000 -> ix = round(.8704 * 99)
    expected_itl = profiles.decode_itl(round(40 * 2176 / profiles.MAX_KV_TOKENS * 99) / 99)
    assert decision.correction_factors["decode"] == pytest.approx(12.0 / expected_itl, rel=1e-6)
    assert decision.current == Replicas(2, 10)


def test_prometheus_down_holds_current_replicas(interpolators, caplog):
    with run_prometheus() as server:
        url = server.url
    deployment = InMemoryDeployment(Replicas(3, 7))
    with caplog.at_level(logging.WARNING, logger="planner"):
        decision, _ = make_planner(url, interpolators, deployment).step()
    assert decision.action == "hold" and (decision.prefill_replicas, decision.decode_replicas) == (3, 7)
    assert deployment.replicas == Replicas(3, 7) and deployment.applied == []
    assert "Prometheus unavailable, holding current replicas" in caplog.text and url in caplog.text


def test_credentials_in_the_prometheus_url_never_reach_logs_or_decisions(interpolators, caplog):
    with run_prometheus() as server:
        url = server.url.replace("http://", "http://planner:hunter2@")
    deployment = InMemoryDeployment(Replicas(3, 7))
    with caplog.at_level(logging.DEBUG, logger="planner"):
        decision, _ = make_planner(url, interpolators, deployment).step()
    assert decision.action == "hold" and "Prometheus unavailable" in decision.reason
    assert "***@127.0.0.1" in decision.reason and "--metric-pulling-prometheus-endpoint" in decision.reason
    assert "hunter2" not in caplog.text and "hunter2" not in decision.reason


def test_empty_series_holds(prometheus, interpolators, caplog):
    deployment = InMemoryDeployment(Replicas(3, 7))
    with caplog.at_level(logging.WARNING, logger="planner"):
        decision, _ = make_planner(prometheus.url, interpolators, deployment, model="no-such-model").step(
            at=NAN_FROM - 300)
    assert decision.action == "hold" and deployment.replicas == Replicas(3, 7)
    assert "no request counter (dynamo_frontend_requests_total)" in caplog.text


def test_nan_latency_with_traffic_holds(prometheus, interpolators, caplog):
    deployment = InMemoryDeployment(Replicas(3, 7))
    with caplog.at_level(logging.WARNING, logger="planner"):
        decision, _ = make_planner(prometheus.url, interpolators, deployment).step(at=STOP - 300)
    assert decision.observed["num_req"] == pytest.approx(9000) and decision.observed["ttft_ms"] is None
    assert decision.action == "hold" and deployment.replicas == Replicas(3, 7)
    assert "metrics missing or NaN (ttft_ms)" in caplog.text


def test_no_correction_needs_no_latency_metrics(prometheus, interpolators):
    deployment = InMemoryDeployment(Replicas(3, 7))
    decision, _ = make_planner(prometheus.url, interpolators, deployment, no_correction=True).step(at=STOP - 300)
    assert decision.action != "hold" and decision.correction_factors == {"prefill": None, "decode": None}


def test_zero_traffic_for_n_intervals_scales_down_after_the_window(prometheus, interpolators, caplog):
    deployment = InMemoryDeployment(Replicas(3, 7))
    planner = make_planner(prometheus.url, interpolators, deployment, adjustment_interval=60,
                           scale_down_stabilization_s=300, no_correction=True)
    planner.step(at=STOP)  # the last interval with traffic: seeds the stabilisation window
    seen = []
    with caplog.at_level(logging.INFO, logger="planner"):
        for k in range(1, 8):
            decision, _ = planner.step(at=STOP + 60 * k)
            seen.append((k, decision.observed["num_req"], deployment.replicas.prefill, deployment.replicas.decode))
    # 9000/3 req per minute: prefill ceil(3000 * 2048 / 60 / thpt(2048)) = 3, decode ceil(12800 / 364.2) = 36
    high = (math.ceil(3000 * 2048 / 60 / profiles.prefill_thpt(2048)),
            math.ceil(3000 * 256 / 60 / profiles.decode_thpt(24 / 99, round(2176 / STEP_Y) * STEP_Y)))
    assert [s[1] for s in seen] == [0.0] * 7
    # recommendations younger than 300 s keep the replicas up; the step at STOP+300 sees the STOP one expire
    assert [(p, d) for _, _, p, d in seen] == [high] * 4 + [(1, 1)] * 3
    assert "no traffic for 5 interval(s) (300 s)" in caplog.text
    assert "scale-down to 1P/1D deferred" in caplog.text
