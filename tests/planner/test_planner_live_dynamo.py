"""The planner against a live Dynamo 1.6.1 stack: a real frontend and prefill/decode mocker workers (timed by the
test profile, as the replay's simulated workers are), scraped by a real Prometheus, loaded by aiperf 0.13.0.
`python -m planner --once` reads what the frontend measured and must decide what `policy.decide` gives offline
for the same inputs, here aiperf's own per-request measurements (count, ISL, OSL, TTFT, ITL)."""

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import planner_profiles as profiles
from planner.interpolation import DecodeInterpolator, PrefillInterpolator
from planner.policy import CorrectionFactors, Interpolators, Load, PolicyConfig, Replicas, decide
from planner.profile_data import load_profile_data
from planner.prometheus import Observation
from planner.replay.profile import load_replay_profile, write_mocker_npz
from profiler.engines.types import ServingEndpoint
from profiler.measure.aiperf import Workload, find_aiperf, run_aiperf
from tests.support.dynamo_stack import WorkerTiming, dynamo_python, dynamo_stack, tiny_model
from tests.support.prometheus import run_prometheus

ROOT = Path(__file__).resolve().parents[2]
MODEL = "tiny-qwen"
NAMESPACE = "live-ns"
REQUESTS, WARMUP = 40, 4  # aiperf sends min(concurrency, 4) warm-up requests first; the frontend counts them
UTILIZATION = 0.002  # a tiny share of the (fast) test profile, so the decision needs several prefill replicas


def total_requests(prometheus) -> float:
    result = prometheus.query("sum(dynamo_frontend_requests_total)")
    return float(result[0]["value"][1]) if result else 0.0


def wait_until(condition, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


PLANNER_START_MARGIN_S = 15


@pytest.mark.slow
def test_live_decision_matches_the_offline_policy(npz_profile, tmp_path):
    python = dynamo_python()
    model_dir = tiny_model(python, tmp_path)
    npz = write_mocker_npz(load_replay_profile(npz_profile), tmp_path / "perf.npz")
    timing = WorkerTiming(npz=npz, kv_blocks=profiles.MAX_KV_TOKENS // 16, block_size=16)
    with dynamo_stack(python, model_dir, MODEL, mode="disagg", timing=timing) as stack:
        # Dynamo 1.6.1's frontend labels its series by model only; in a cluster the PodMonitor's relabelling adds
        # dynamo_namespace, which the planner filters on: the scrape config adds it here
        with run_prometheus(scrape_targets=[stack.url.removeprefix("http://")],
                            target_labels={"dynamo_namespace": NAMESPACE}) as prometheus:
            # one request makes the frontend's series exist, so the window's increase counts every later one; it
            # streams, as aiperf does (the counter has a series per request type: one that first appears within the
            # window starts at whatever it had counted by its first scrape, and increase() misses that much)
            httpx.post(f"{stack.url}/v1/chat/completions", timeout=60, json={
                "model": MODEL, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 4, "stream": True})
            wait_until(lambda: total_requests(prometheus) >= 1)
            time.sleep(2)
            started = time.time()
            run = run_aiperf(find_aiperf(python), ServingEndpoint(stack.url, MODEL, model_dir, stack.metrics_url),
                             Workload(isl=1500, osl=40, concurrency=4, request_count=REQUESTS))
            wait_until(lambda: total_requests(prometheus) >= 1 + REQUESTS + WARMUP)
            time.sleep(2)
            # the planner queries increase() over the window ending when it runs, seconds after this (its own start):
            # the window reaches back before aiperf's first request by that much, where the counter is flat
            window = math.ceil(time.time() - started) + PLANNER_START_MARGIN_S
            done = subprocess.run(
                [sys.executable, "-m", "planner", "--once", "--mode=advisory", f"--adjustment-interval={window}",
                 f"--profile-results-dir={npz_profile}", f"--metric-pulling-prometheus-endpoint={prometheus.url}",
                 f"--namespace={NAMESPACE}", f"--model-name={MODEL}", "--ttft=200",
                 "--itl=20", "--load-predictor=constant", "--max-gpu-budget=-1", "--no-correction",
                 f"--prefill-utilization={UTILIZATION}"],
                capture_output=True, text=True, timeout=120, cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr[-3000:]
    live = json.loads(done.stdout)
    assert live["action"] != "hold", live["reason"]
    records = run.records
    count = REQUESTS + WARMUP
    observed = live["observed"]
    # what the frontend measured (through Prometheus) is what aiperf sent and saw
    assert observed["num_req"] == pytest.approx(count, rel=0.15)
    assert observed["isl"] == pytest.approx(sum(r.isl for r in records) / len(records), rel=0.1)
    assert observed["osl"] == pytest.approx(40, rel=0.05)
    # the same decision offline, from aiperf's own measurements
    config = PolicyConfig(adjustment_interval=window, itl_ms=20.0, max_gpu_budget=-1, no_correction=True,
                          prefill_utilization=UTILIZATION)
    data = load_profile_data(npz_profile)
    interpolators = Interpolators(PrefillInterpolator(data.prefill), DecodeInterpolator(data.decode))

    sent_isl = sum(r.isl for r in records) / len(records)
    sent_osl = sum(r.osl for r in records) / len(records)

    def offline(num_req: float, isl: float = sent_isl, osl: float = sent_osl) -> Replicas:
        observation = Observation(num_req=num_req, isl=isl, osl=osl, ttft_ms=run.ttft_ms, itl_ms=run.itl_ms,
                                  request_duration_s=None, window_s=window)
        decision, _ = decide(config, interpolators, observation, Load(num_req, isl, osl), CorrectionFactors(),
                             None, (), 0.0)
        return Replicas(decision.prefill_replicas, decision.decode_replicas)

    live_replicas = Replicas(live["prefill_replicas"], live["decode_replicas"])
    expected = offline(float(count))
    assert expected.prefill > 1  # a decision that depends on the inputs, not the minimum
    # the live planner decides from what Prometheus observed: the same policy offline, on those numbers, agrees
    assert live_replicas == offline(observed["num_req"], observed["isl"], observed["osl"])
    # and those numbers are what aiperf sent, up to Prometheus's increase() extrapolating to the window's edges (a
    # few requests) and the frontend's own count of prompt tokens (within 10 %): the live decision lies between
    # the offline ones for the smaller and the larger of each (more load, more replicas)
    low, high = sorted((float(count), observed["num_req"]))
    low_isl, high_isl = sorted((sent_isl, observed["isl"]))
    assert offline(low, low_isl).prefill <= live_replicas.prefill <= offline(high, high_isl).prefill, (
        live_replicas, expected, observed)
    assert live_replicas.decode == expected.decode
