"""A live frontend exporter and the planner's own /metrics, both scraped by a real Prometheus on 127.0.0.1.

`python -m planner --once` reads the exporter's series through Prometheus and prints one JSON decision; the
planner's gauges answer every query of the vendored Grafana dashboard.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from planner.core import Planner, Predictors
from planner.interpolation import DecodeInterpolator, PrefillInterpolator
from planner.metrics import PlannerMetrics
from planner.policy import Interpolators, PolicyConfig, Replicas
from planner.predictors import make_predictor
from planner.profile_data import load_profile_data
from planner.prometheus import PrometheusClient
from planner_frontend import InMemoryDeployment
from tests.support.prometheus import free_port, run_prometheus

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "repo-template" / "monitoring" / "grafana-planner-dashboard-configmap.yaml"
LABELS = {"dynamo_namespace": "live-ns", "model": "live-model"}
REQUESTS = [(1000, 100, 0.2, 0.01, 2.0), (3000, 300, 0.4, 0.02, 6.0)]  # isl, osl, ttft s, itl s, duration s


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    registry = CollectorRegistry()
    names = list(LABELS)
    requests = Counter("dynamo_frontend_requests", "requests", names, registry=registry)
    hist = {name: Histogram(f"dynamo_frontend_{name}", name, names, registry=registry)
            for name in ("time_to_first_token_seconds", "inter_token_latency_seconds", "request_duration_seconds",
                         "input_sequence_tokens", "output_sequence_tokens")}
    exporter_port, planner_port = free_port(), free_port()
    start_http_server(exporter_port, addr="127.0.0.1", registry=registry)
    # the series exist (at 0) before the first scrape, so increase() sees every request observed later
    requests.labels(**LABELS)
    for h in hist.values():
        h.labels(**LABELS)
    with run_prometheus(scrape_targets=[f"127.0.0.1:{exporter_port}", f"127.0.0.1:{planner_port}"]) as server:
        server.wait_for('dynamo_frontend_requests_total{model="live-model"}')
        for isl, osl, ttft, itl, duration in REQUESTS:
            requests.labels(**LABELS).inc()
            hist["time_to_first_token_seconds"].labels(**LABELS).observe(ttft)
            for _ in range(osl):
                hist["inter_token_latency_seconds"].labels(**LABELS).observe(itl)
            hist["request_duration_seconds"].labels(**LABELS).observe(duration)
            hist["input_sequence_tokens"].labels(**LABELS).observe(isl)
            hist["output_sequence_tokens"].labels(**LABELS).observe(osl)
        server.wait_for('increase(dynamo_frontend_requests_total{model="live-model"}[60s]) > 0')
        yield server, planner_port


def test_once_prints_one_json_decision_from_live_metrics(live, json_profile):
    server, _ = live
    argv = [sys.executable, "-m", "planner", "--once", f"--profile-results-dir={json_profile}",
            f"--metric-pulling-prometheus-endpoint={server.url}", "--namespace=live-ns", "--model-name=live-model",
            "--adjustment-interval=60", "--load-predictor=constant", "--max-gpu-budget=-1"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    decision = json.loads(lines[0])
    for key in ("prefill_replicas", "decode_replicas", "observed", "predicted", "correction_factors", "action"):
        assert key in decision
    observed = decision["observed"]
    # averages are ratios of two increases over the same scrapes, so they are exact: (1000+3000)/2 etc.
    assert observed["isl"] == pytest.approx(2000) and observed["osl"] == pytest.approx(200)
    assert observed["ttft_ms"] == pytest.approx(300) and observed["request_duration_s"] == pytest.approx(4)
    assert observed["itl_ms"] == pytest.approx((100 * 10 + 300 * 20) / 400)
    assert observed["num_req"] >= 2  # increase() extrapolates to the window's edges
    assert decision["action"] == "scale" and decision["mode"] == "advisory"
    assert (decision["prefill_replicas"], decision["decode_replicas"]) == (1, 1)  # 2 requests/min: the minimum
    assert "decision scale" in result.stderr


def dashboard_queries() -> list[str]:
    configmap = yaml.safe_load(DASHBOARD.read_text())
    dashboard = json.loads(next(iter(configmap["data"].values())))
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
             if "expr" in target]
    for row in dashboard["panels"]:
        exprs += [t["expr"] for p in row.get("panels", []) for t in p.get("targets", []) if "expr" in t]
    return sorted(set(exprs))


def test_dashboard_queries_all_answer_from_the_planner_metrics(live, json_profile):
    server, planner_port = live
    data = load_profile_data(json_profile)
    config = PolicyConfig(adjustment_interval=60, itl_ms=10.0, max_gpu_budget=-1)
    metrics = PlannerMetrics(config, ttft_ms=200.0)
    metrics.serve(planner_port, "127.0.0.1")
    planner = Planner(config, Interpolators(PrefillInterpolator(data.prefill), DecodeInterpolator(data.decode)),
                      Predictors(*(make_predictor("kalman") for _ in range(3))),
                      PrometheusClient(server.url, "live-ns", "live-model"), InMemoryDeployment(Replicas(1, 1)),
                      sinks=(metrics,))
    decision, _ = planner.step()
    assert decision.action != "hold"
    queries = dashboard_queries()
    assert len(queries) >= 16
    names = {re.match(r"[a-zA-Z_:]+", q).group(0) for q in queries}
    assert {"planner:num_p_workers", "planner:d_correction_factor", "planner:gpu_hours"} <= names
    # a scrape may land before or during the step: wait for the step's values rather than for any value
    server.wait_for(f"planner:predicted_num_d == {decision.decode_replicas}")
    for query in queries:
        # $namespace is a Grafana variable; the PodMonitor adds that label in a cluster
        assert server.wait_for(query.replace("$namespace", ".*"), timeout_s=15), query
    assert server.wait_for("dynamo_planner_num_decode_workers == 1", timeout_s=15)
