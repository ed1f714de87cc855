"""The planner's command-line flags: one table shared by the planner, the profiler and the validator.

The profiler renders `--flag=value` arguments for the Planner service from this table (only values that
differ from the default, as Dynamo does), the DGDR validator checks `profilingConfig.config.planner`
passthrough keys against it, and `python -m planner` builds its argument parser from it. Dynamo's flags
keep Dynamo's names, types and defaults (Dynamo 0.8.x, `planner_argparse.py`) so the args of a DGD rendered
by Dynamo's own profiler work unchanged; flags marked `dynamo=False` are this project's additions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

FlagKind = Literal["int", "float", "str", "bool"]


@dataclass(frozen=True)
class PlannerFlag:
    """One planner command-line flag."""

    name: str
    kind: FlagKind
    default: Any
    help: str
    choices: tuple[str, ...] | None = None
    dynamo: bool = True
    bounds: tuple[int, int] | None = None  # smallest and largest value (int flags that size work)

    @property
    def dest(self) -> str:
        """The attribute name argparse gives the flag, e.g. `min_endpoint`."""
        return self.name.replace("-", "_")

    @property
    def passthrough_key(self) -> str:
        """The key a DGDR uses under `profilingConfig.config.planner`, e.g. `planner_min_endpoint`."""
        return f"planner_{self.dest}"

    def render(self, value: Any) -> str:
        """The flag as one `--name=value` argument (booleans render as a bare `--name`)."""
        if self.kind == "bool":
            return f"--{self.name}"
        return f"--{self.name}={value}"


PLANNER_FLAGS: tuple[PlannerFlag, ...] = (
    PlannerFlag("environment", "str", "kubernetes", "Where replicas are applied", ("kubernetes", "virtual")),
    PlannerFlag("namespace", "str", None, "Dynamo namespace (default: $DYN_NAMESPACE)"),
    PlannerFlag("backend", "str", "vllm", "Backend type", ("vllm", "sglang", "trtllm", "mocker")),
    PlannerFlag("no-operation", "bool", False, "Compute decisions but never apply them"),
    PlannerFlag("log-dir", "str", None, "Directory for decision logs"),
    PlannerFlag("adjustment-interval", "int", 180, "Seconds between planning steps (also the metrics window)",
                bounds=(1, 86_400)),
    PlannerFlag("max-gpu-budget", "int", 8, "Most GPUs prefill plus decode may use (-1: no budget)",
                bounds=(-1, 65_536)),
    PlannerFlag("min-endpoint", "int", 1, "Fewest replicas for prefill and for decode", bounds=(0, 1_024)),
    PlannerFlag("prefill-engine-num-gpu", "int", None, "GPUs per prefill engine", bounds=(1, 512)),
    PlannerFlag("decode-engine-num-gpu", "int", None, "GPUs per decode engine", bounds=(1, 512)),
    PlannerFlag("profile-results-dir", "str", "profiling_results", "Directory with the profiled interpolation data"),
    PlannerFlag("ttft", "float", 500.0, "TTFT target in milliseconds"),
    PlannerFlag("itl", "float", 50.0, "ITL target in milliseconds"),
    PlannerFlag("load-predictor", "str", "arima", "Load predictor",
                ("constant", "arima", "kalman", "prophet", "burst", "auto")),
    PlannerFlag("load-predictor-log1p", "bool", False, "Model log1p(load) instead of the load"),
    PlannerFlag("load-prediction-window-size", "int", 50, "History window of the load predictors", bounds=(1, 10_000)),
    PlannerFlag("prophet-window-size", "int", 50, "History window of the prophet predictor", bounds=(1, 10_000)),
    PlannerFlag("load-predictor-warmup-trace", "str", None, "JSONL trace that warms up the predictors"),
    PlannerFlag("kalman-q-level", "float", 1.0, "Kalman process noise of the level"),
    PlannerFlag("kalman-q-trend", "float", 0.1, "Kalman process noise of the trend"),
    PlannerFlag("kalman-r", "float", 10.0, "Kalman measurement noise"),
    PlannerFlag("kalman-min-points", "int", 5, "Observations before the Kalman predictor forecasts",
                bounds=(1, 10_000)),
    PlannerFlag("metric-pulling-prometheus-endpoint", "str",
                "http://prometheus-kube-prometheus-prometheus.monitoring.svc.cluster.local:9090",
                "Prometheus that scrapes the frontend (default: $PROMETHEUS_ENDPOINT)"),
    PlannerFlag("metric-reporting-prometheus-port", "int", 0, "Port of the planner's own /metrics (0: off)",
                bounds=(0, 65_535)),
    PlannerFlag("prometheus-port", "int", 0, "Older name of --metric-reporting-prometheus-port", bounds=(0, 65_535)),
    PlannerFlag("no-correction", "bool", False, "Disable the correction factors"),
    PlannerFlag("model-name", "str", None, "Served model name used to filter the frontend metrics"),
    # This project's additions.
    PlannerFlag("mode", "str", "advisory", "How decisions are applied", ("patch", "git", "advisory"), dynamo=False),
    PlannerFlag("once", "bool", False, "Run one planning step, print the decision as JSON and exit", dynamo=False),
    PlannerFlag("scale-down-stabilization", "int", 300,
                "Seconds a lower replica count must be recommended before scaling down", dynamo=False,
                bounds=(0, 86_400)),
    PlannerFlag("prefill-utilization", "float", 1.0,
                "Share of the profiled prefill throughput to plan for (below 1 leaves room for queueing)",
                dynamo=False),
    PlannerFlag("prefix-cache-discount", "bool", False,
                "Discount prefill by the share of prompt tokens served from the prefix cache (frontend's "
                "cached_tokens)", dynamo=False),
    PlannerFlag("max-step", "int", 0, "Most replicas added or removed per decision and role (0: no limit)",
                dynamo=False, bounds=(0, 1_024)),
    PlannerFlag("min-prefill-replicas", "int", None, "Fewest prefill replicas (default: --min-endpoint)",
                dynamo=False, bounds=(0, 1_024)),
    PlannerFlag("max-prefill-replicas", "int", None, "Most prefill replicas", dynamo=False, bounds=(0, 1_024)),
    PlannerFlag("min-decode-replicas", "int", None, "Fewest decode replicas (default: --min-endpoint)",
                dynamo=False, bounds=(0, 1_024)),
    PlannerFlag("max-decode-replicas", "int", None, "Most decode replicas", dynamo=False, bounds=(0, 1_024)),
    PlannerFlag("dgd-name", "str", None, "DGD to scale (default: $DYN_PARENT_DGD_K8S_NAME)", dynamo=False),
    PlannerFlag("kube-namespace", "str", None,
                "Kubernetes namespace of the DGD (default: $POD_NAMESPACE or the service account's)", dynamo=False),
    PlannerFlag("prefill-service", "str", None,
                "DGD service key of the prefill workers (default: found by subComponentType)", dynamo=False),
    PlannerFlag("decode-service", "str", None,
                "DGD service key of the decode workers (default: found by subComponentType)", dynamo=False),
    PlannerFlag("metric-reporting-address", "str", "0.0.0.0", "Address of the planner's own /metrics",
                dynamo=False),
    PlannerFlag("git-repo", "str", None, "GitOps repository (URL or path) that git mode commits to", dynamo=False),
    PlannerFlag("git-branch", "str", "main", "Branch that git mode commits to (or opens pull requests against)",
                dynamo=False),
    PlannerFlag("git-path", "str", None,
                "Replica patch file in the repo (default: generated/<kube-namespace>/<dgd-name>/replicas.yaml)",
                dynamo=False),
    PlannerFlag("git-commit-period", "int", 900, "Fewest seconds between two planner commits", dynamo=False,
                bounds=(0, 604_800)),
    PlannerFlag("git-persist-intervals", "int", 2,
                "Consecutive decisions a replica change must persist before it is committed", dynamo=False,
                bounds=(1, 1_000)),
    PlannerFlag("git-pull-request", "bool", False, "Propose replica changes as a pull request", dynamo=False),
)

# Dynamo's planner names its topology with `--mode`; here `--mode` names the actuator. `disagg` (the only
# topology this planner plans) is read as `patch`, which is what Dynamo's planner does; the others are refused.
DYNAMO_PLANNING_MODES = ("disagg", "prefill", "decode", "agg")

FLAGS_BY_DEST: dict[str, PlannerFlag] = {flag.dest: flag for flag in PLANNER_FLAGS}
FLAGS_BY_PASSTHROUGH_KEY: dict[str, PlannerFlag] = {flag.passthrough_key: flag for flag in PLANNER_FLAGS}
