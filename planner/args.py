"""Command-line parsing for `python -m planner`, built from the shared flag table in `profiler.planner_flags`.

Dynamo's planner flags keep Dynamo's names, types and defaults, so the args of a DGD rendered by Dynamo's own
profiler work unchanged. Dynamo's planner also has a `--mode disagg|prefill|decode|agg` (which services to
plan); here `--mode` names the actuator (patch|git|advisory). `--mode=disagg` is read as `--mode=patch` (what
Dynamo's planner does with a disaggregated graph) with a warning; the single-component modes are refused with a
message that says what to use instead.
"""

from __future__ import annotations

import argparse
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from profiler.planner_flags import DYNAMO_PLANNING_MODES, PLANNER_FLAGS, PlannerFlag

log = logging.getLogger(__name__)

ACTUATOR_MODES = ("patch", "git", "advisory")
SERVICE_ACCOUNT_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
PREDICTOR_SUBSTITUTES = {"prophet": "arima"}
# Flags of other Dynamo planner versions that this planner does not implement: accepted with a warning, so a DGD
# rendered by Dynamo does not crash-loop. Any other unknown flag is an error.
DYNAMO_FLAGS_NOT_IMPLEMENTED = ("--isl", "--osl", "--enable-throughput-scaling", "--disable-throughput-scaling",
                                "--enable-loadbased-scaling", "--global-planner-namespace",
                                "--max-throughput-scaling-replicas", "--min-gpu-budget")
DYNAMO_FLAG_PREFIXES_NOT_IMPLEMENTED = ("--loadbased-", "--load-")


class UsageError(ValueError):
    """A flag combination the planner cannot run with; the message says what to change."""


def _parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def _add_flag(parser: argparse.ArgumentParser, flag: PlannerFlag) -> None:
    name = f"--{flag.name}"
    if flag.kind == "bool":
        # A bare `--flag` sets it; `--flag=false` is accepted too, as rendered manifests sometimes carry it.
        parser.add_argument(name, dest=flag.dest, nargs="?", const=True, default=flag.default, type=_parse_bool,
                            help=flag.help)
        return
    converters: dict[str, Any] = {"int": int, "float": float, "str": str}
    choices = flag.choices
    if flag.name == "mode":
        choices = ACTUATOR_MODES + DYNAMO_PLANNING_MODES
    parser.add_argument(name, dest=flag.dest, type=converters[flag.kind], default=flag.default, choices=choices,
                        help=flag.help)


def build_parser() -> argparse.ArgumentParser:
    """An argparse parser with every flag of the shared table."""
    parser = argparse.ArgumentParser(
        prog="python -m planner", allow_abbrev=False,
        description="SLA planner: reads the frontend's metrics from Prometheus and sizes prefill and decode "
                    "replicas from the profiled interpolation data.",
    )
    for flag in PLANNER_FLAGS:
        _add_flag(parser, flag)
    return parser


@dataclass(frozen=True)
class PlannerSettings:
    """The parsed, resolved settings the planner runs with."""

    mode: str
    once: bool
    environment: str
    namespace: str
    backend: str
    adjustment_interval: int
    max_gpu_budget: int
    min_endpoint: int
    prefill_engine_num_gpu: int
    decode_engine_num_gpu: int
    profile_results_dir: str
    ttft: float
    itl: float
    load_predictor: str
    load_predictor_log1p: bool
    load_prediction_window_size: int
    load_predictor_warmup_trace: str | None
    kalman_q_level: float
    kalman_q_trend: float
    kalman_r: float
    kalman_min_points: int
    prometheus_endpoint: str
    metrics_port: int
    metrics_address: str
    no_correction: bool
    model_name: str | None
    log_dir: str | None
    scale_down_stabilization: int
    max_step: int
    prefill_utilization: float
    prefix_cache_discount: bool
    min_prefill_replicas: int
    max_prefill_replicas: int | None
    min_decode_replicas: int
    max_decode_replicas: int | None
    dgd_name: str | None
    kube_namespace: str | None
    prefill_service: str | None
    decode_service: str | None
    git_repo: str | None
    git_branch: str
    git_path: str | None
    git_commit_period: int
    git_persist_intervals: int
    git_pull_request: bool


def _kube_namespace(given: str | None, env: dict[str, str]) -> str | None:
    if given:
        return given
    if env.get("POD_NAMESPACE"):
        return env["POD_NAMESPACE"]
    try:
        return SERVICE_ACCOUNT_NAMESPACE_FILE.read_text().strip() or None
    except OSError:
        return None


def _resolve_mode(ns: argparse.Namespace) -> str:
    mode = ns.mode
    if mode == "disagg":
        log.warning("--mode=disagg is Dynamo's planning mode; this planner always plans prefill and decode and "
                    "uses --mode for how decisions are applied (patch|git|advisory). Using --mode=patch, which "
                    "is what Dynamo's planner does with a disaggregated graph.")
        mode = "patch"
    elif mode in DYNAMO_PLANNING_MODES:
        raise UsageError(f"--mode={mode} is Dynamo's single-component planning mode, which this planner does not "
                         "offer: it plans a disaggregated graph (prefill and decode). Use --mode=patch, --mode=git "
                         "or --mode=advisory (how decisions are applied), or run Dynamo's stock planner.")
    if ns.no_operation and mode != "advisory":
        log.warning("--no-operation: decisions are computed but not applied (--mode=advisory)")
        mode = "advisory"
    if ns.environment == "virtual" and mode != "advisory":
        log.warning("--environment=virtual: no Kubernetes connector; decisions are exported only (--mode=advisory)")
        mode = "advisory"
    return mode


def _require_positive(name: str, value: int | float | None) -> None:
    if value is None or value <= 0:
        raise UsageError(f"--{name} must be a positive number, got {value}")


def parse_args(argv: Sequence[str] | None = None, env: dict[str, str] | None = None) -> PlannerSettings:
    """Parse and resolve the planner's flags; raises `UsageError` on an unusable combination."""
    env = dict(os.environ) if env is None else env
    parser = build_parser()
    ns, unknown = parser.parse_known_args(argv)
    ignored = [arg for arg in unknown if arg.startswith("--") and (
        arg.split("=", 1)[0] in DYNAMO_FLAGS_NOT_IMPLEMENTED
        or arg.startswith(DYNAMO_FLAG_PREFIXES_NOT_IMPLEMENTED))]
    rest = [arg for arg in unknown if arg not in ignored]
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if ignored:
        log.warning("ignoring Dynamo planner flags this planner does not implement: %s", " ".join(ignored))
    mode = _resolve_mode(ns)
    for name in ("adjustment_interval", "ttft", "itl"):
        _require_positive(name.replace("_", "-"), getattr(ns, name))
    if ns.min_endpoint < 0:
        raise UsageError(f"--min-endpoint must be 0 or more, got {ns.min_endpoint}")
    if ns.max_step < 0:
        raise UsageError(f"--max-step must be 0 (no limit) or more, got {ns.max_step}")
    if not 0 < ns.prefill_utilization <= 1:
        raise UsageError(f"--prefill-utilization must be above 0 and at most 1, got {ns.prefill_utilization}")
    if ns.scale_down_stabilization < 0:
        raise UsageError(f"--scale-down-stabilization must be 0 or more seconds, got {ns.scale_down_stabilization}")
    predictor = ns.load_predictor
    if predictor in PREDICTOR_SUBSTITUTES:
        log.warning("--load-predictor=%s is not available in this planner (its library is too heavy for a "
                    "sidecar); using %s", predictor, PREDICTOR_SUBSTITUTES[predictor])
        predictor = PREDICTOR_SUBSTITUTES[predictor]
    min_p = ns.min_endpoint if ns.min_prefill_replicas is None else ns.min_prefill_replicas
    min_d = ns.min_endpoint if ns.min_decode_replicas is None else ns.min_decode_replicas
    for role, low, high in (("prefill", min_p, ns.max_prefill_replicas), ("decode", min_d, ns.max_decode_replicas)):
        if low < 0:
            raise UsageError(f"--min-{role}-replicas must be 0 or more, got {low}")
        if high is not None and high < low:
            raise UsageError(f"--max-{role}-replicas ({high}) is below the minimum of {low}")
    for name in ("prefill_engine_num_gpu", "decode_engine_num_gpu"):
        value = getattr(ns, name)
        if value is not None and value <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be positive, got {value}")
    if mode == "git" and not ns.git_repo:
        raise UsageError("--mode=git needs --git-repo (the GitOps repository URL or path)")
    metrics_port = ns.metric_reporting_prometheus_port or ns.prometheus_port or int(
        env.get("PLANNER_PROMETHEUS_PORT", "0") or 0)
    prometheus = ns.metric_pulling_prometheus_endpoint
    default_prometheus = next(f.default for f in PLANNER_FLAGS if f.dest == "metric_pulling_prometheus_endpoint")
    if prometheus == default_prometheus and env.get("PROMETHEUS_ENDPOINT"):
        prometheus = env["PROMETHEUS_ENDPOINT"]
    return PlannerSettings(
        mode=mode,
        once=bool(ns.once),
        environment=ns.environment,
        namespace=ns.namespace or env.get("DYN_NAMESPACE") or env.get("DYNAMO_NAMESPACE") or "dynamo",
        backend=ns.backend,
        adjustment_interval=ns.adjustment_interval,
        max_gpu_budget=ns.max_gpu_budget,
        min_endpoint=ns.min_endpoint,
        prefill_engine_num_gpu=ns.prefill_engine_num_gpu or 1,
        decode_engine_num_gpu=ns.decode_engine_num_gpu or 1,
        profile_results_dir=ns.profile_results_dir,
        ttft=ns.ttft,
        itl=ns.itl,
        load_predictor=predictor,
        load_predictor_log1p=bool(ns.load_predictor_log1p),
        load_prediction_window_size=ns.load_prediction_window_size,
        load_predictor_warmup_trace=ns.load_predictor_warmup_trace,
        kalman_q_level=ns.kalman_q_level,
        kalman_q_trend=ns.kalman_q_trend,
        kalman_r=ns.kalman_r,
        kalman_min_points=ns.kalman_min_points,
        prometheus_endpoint=prometheus,
        metrics_port=metrics_port,
        metrics_address=ns.metric_reporting_address,
        no_correction=bool(ns.no_correction),
        model_name=ns.model_name or None,
        log_dir=ns.log_dir,
        scale_down_stabilization=ns.scale_down_stabilization,
        max_step=ns.max_step,
        prefill_utilization=ns.prefill_utilization,
        prefix_cache_discount=bool(ns.prefix_cache_discount),
        min_prefill_replicas=min_p,
        max_prefill_replicas=ns.max_prefill_replicas,
        min_decode_replicas=min_d,
        max_decode_replicas=ns.max_decode_replicas,
        dgd_name=ns.dgd_name or env.get("DYN_PARENT_DGD_K8S_NAME"),
        kube_namespace=_kube_namespace(ns.kube_namespace, env),
        prefill_service=ns.prefill_service,
        decode_service=ns.decode_service,
        git_repo=ns.git_repo,
        git_branch=ns.git_branch,
        git_path=ns.git_path,
        git_commit_period=ns.git_commit_period,
        git_persist_intervals=max(1, ns.git_persist_intervals),
        git_pull_request=bool(ns.git_pull_request),
    )
