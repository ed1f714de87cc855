"""The planner's own `/metrics`, under the names Dynamo's planner dashboard reads.

The vendored dashboard (`repo-template/monitoring/grafana-planner-dashboard-configmap.yaml`) queries the
`planner:*` gauges of Dynamo's planner; Dynamo's later dashboards and docs use `dynamo_planner_*`. Both
families are exported with the same values, so either dashboard works unchanged. The `namespace` label the
dashboard filters on is added by Prometheus's Kubernetes service discovery (PodMonitor), as for Dynamo.

`/metrics` is always served in the classic text format (0.0.4): prometheus_client 0.26 rewrites `:` to `_` in
metric names when Prometheus negotiates OpenMetrics, which would rename `planner:num_p_workers` and break the
dashboard.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from planner.policy import Decision, PolicyConfig

# field -> (legacy `planner:` name, `dynamo_planner_` name, help)
GAUGES: dict[str, tuple[str, str, str]] = {
    "num_p_workers": ("planner:num_p_workers", "dynamo_planner_num_prefill_workers", "Prefill workers"),
    "num_d_workers": ("planner:num_d_workers", "dynamo_planner_num_decode_workers", "Decode workers"),
    "gpu_hours": ("planner:gpu_hours", "dynamo_planner_gpu_hours", "Cumulative GPU hours of the planned replicas"),
    "observed_ttft": ("planner:observed_ttft", "dynamo_planner_observed_ttft_ms", "Observed TTFT (ms)"),
    "observed_itl": ("planner:observed_itl", "dynamo_planner_observed_itl_ms", "Observed ITL (ms)"),
    "observed_request_rate": ("planner:observed_request_rate", "dynamo_planner_observed_requests_per_second",
                              "Observed requests per second"),
    "observed_request_duration": ("planner:observed_request_duration",
                                  "dynamo_planner_observed_request_duration_seconds",
                                  "Observed request duration (s)"),
    "observed_isl": ("planner:observed_isl", "dynamo_planner_observed_isl", "Observed average ISL"),
    "observed_osl": ("planner:observed_osl", "dynamo_planner_observed_osl", "Observed average OSL"),
    "p_correction_factor": ("planner:p_correction_factor", "dynamo_planner_p_correction_factor",
                            "Prefill correction factor (observed / profiled TTFT)"),
    "d_correction_factor": ("planner:d_correction_factor", "dynamo_planner_d_correction_factor",
                            "Decode correction factor (observed / profiled ITL)"),
    "predicted_request_rate": ("planner:predicted_request_rate", "dynamo_planner_predicted_requests_per_second",
                               "Predicted requests per second"),
    "predicted_isl": ("planner:predicted_isl", "dynamo_planner_predicted_isl", "Predicted average ISL"),
    "predicted_osl": ("planner:predicted_osl", "dynamo_planner_predicted_osl", "Predicted average OSL"),
    "predicted_num_p": ("planner:predicted_num_p", "dynamo_planner_predicted_num_prefill_replicas",
                        "Prefill replicas the planner decided"),
    "predicted_num_d": ("planner:predicted_num_d", "dynamo_planner_predicted_num_decode_replicas",
                        "Decode replicas the planner decided"),
}
EXTRA_GAUGES: dict[str, tuple[str, str]] = {
    "sla_target_ttft_ms": ("dynamo_planner_sla_target_ttft_ms", "TTFT target (ms)"),
    "sla_target_itl_ms": ("dynamo_planner_sla_target_itl_ms", "ITL target (ms)"),
    "decision_hold": ("dynamo_planner_decision_hold", "1 when the last decision held the replicas"),
}


class PlannerMetrics:
    """Gauges updated after every decision, in their own registry."""

    def __init__(self, config: PolicyConfig, ttft_ms: float, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.config = config
        self._gauges: dict[str, list[Gauge]] = {}
        for field, (legacy, current, help_text) in GAUGES.items():
            self._gauges[field] = [Gauge(legacy, help_text, registry=self.registry),
                                   Gauge(current, help_text, registry=self.registry)]
        for field, (name, help_text) in EXTRA_GAUGES.items():
            self._gauges[field] = [Gauge(name, help_text, registry=self.registry)]
        self._set("sla_target_ttft_ms", ttft_ms)
        self._set("sla_target_itl_ms", config.itl_ms)
        self.gpu_hours = 0.0

    def _set(self, field: str, value: float | None) -> None:
        if value is None:
            return
        for gauge in self._gauges[field]:
            gauge.set(value)

    def record(self, decision: Decision, outcome: dict) -> None:
        """Export one decision (the `DecisionSink` interface)."""
        observed = decision.observed or {}
        predicted = decision.predicted or {}
        window = observed.get("window_s") or self.config.adjustment_interval
        workers = decision.current
        if workers is not None:
            self._set("num_p_workers", workers.prefill)
            self._set("num_d_workers", workers.decode)
            self.gpu_hours += workers.gpus(self.config) * self.config.adjustment_interval / 3600.0
            self._set("gpu_hours", self.gpu_hours)
        self._set("observed_ttft", observed.get("ttft_ms"))
        self._set("observed_itl", observed.get("itl_ms"))
        num_req = observed.get("num_req")
        self._set("observed_request_rate", None if num_req is None else num_req / window)
        self._set("observed_request_duration", observed.get("request_duration_s"))
        self._set("observed_isl", observed.get("isl"))
        self._set("observed_osl", observed.get("osl"))
        self._set("p_correction_factor", decision.correction_factors.get("prefill"))
        self._set("d_correction_factor", decision.correction_factors.get("decode"))
        self._set("predicted_request_rate", predicted.get("request_rate"))
        self._set("predicted_isl", predicted.get("isl"))
        self._set("predicted_osl", predicted.get("osl"))
        self._set("predicted_num_p", decision.prefill_replicas)
        self._set("predicted_num_d", decision.decode_replicas)
        self._set("decision_hold", 1.0 if decision.action == "hold" else 0.0)

    def serve(self, port: int, address: str) -> ThreadingHTTPServer:
        """Serve `/metrics` on `address:port` in a background thread (text format, names unchanged)."""
        registry = self.registry

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                body = generate_latest(registry)
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE_PLAIN_0_0_4)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                return

        server = ThreadingHTTPServer((address, port), Handler)
        threading.Thread(target=server.serve_forever, name="planner-metrics", daemon=True).start()
        return server
