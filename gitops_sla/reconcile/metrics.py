"""Prometheus metrics of the reconciler (one registry per reconciler, served at `/metrics`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

STATES = ("Pending", "Profiling", "Deploying", "Ready", "Failed")


class ReconcilerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        self.passes = Counter("gitops_sla_reconcile_passes", "Reconcile passes by result (idle, work, error, crashed)",
                              ["result"], registry=self.registry)
        self.pass_duration = Histogram("gitops_sla_reconcile_pass_duration_seconds", "Duration of a reconcile pass",
                                       ["result"], registry=self.registry,
                                       buckets=(0.005, 0.02, 0.05, 0.1, 0.3, 1, 3, 10, 30, 120, 600))
        self.requests = Gauge("gitops_sla_requests", "Requests by lifecycle state (last full view)", ["state"],
                              registry=self.registry)
        self.commits = Counter("gitops_sla_commits", "Commits pushed, by kind (direct, pull-request)", ["kind"],
                               registry=self.registry)
        self.push_retries = Counter("gitops_sla_push_retries", "Pushes rejected by the remote and retried",
                                    registry=self.registry)
        self.profile_duration = Histogram("gitops_sla_profile_duration_seconds", "Duration of one profiling run",
                                          registry=self.registry, buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 3600))
        self.errors = Counter("gitops_sla_errors", "Errors by kind (git, forge, config, profiling)", ["kind"],
                              registry=self.registry)
        self.last_success = Gauge("gitops_sla_last_successful_pass_timestamp_seconds",
                                  "Unix time of the last pass that ended without error", registry=self.registry)
        self.failed_passes_in_a_row = Gauge("gitops_sla_failed_passes_in_a_row",
                                            "Consecutive passes that ended with an error or crashed (0: the last "
                                            "pass worked)", registry=self.registry)
        self.webhooks = Counter("gitops_sla_webhooks", "Webhook deliveries by forge and outcome",
                                ["forge", "outcome"], registry=self.registry)
        for state in STATES:
            self.requests.labels(state)

    def set_states(self, counts: dict[str, int]) -> None:
        for state in STATES:
            self.requests.labels(state).set(counts.get(state, 0))
