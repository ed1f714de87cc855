"""`python -m planner`: the SLA planner service (or one step with `--once`)."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Sequence

from gitops_sla.git.auth import redact_url
from planner.args import PlannerSettings, UsageError, parse_args
from planner.core import JsonlDecisionLog, Planner, Predictors, config_from_settings, decision_record
from planner.interpolation import DecodeInterpolator, PrefillInterpolator
from planner.metrics import PlannerMetrics
from planner.policy import Interpolators
from planner.predictors import make_predictor
from planner.profile_data import ProfileDataError, load_profile_data
from planner.prometheus import PrometheusClient
from planner.warmup import WarmupTraceError, load_warmup_trace

log = logging.getLogger("planner")


def build_actuator(settings: PlannerSettings):
    """The actuator of `--mode`."""
    if settings.mode == "advisory":
        from planner.actuators.advisory import AdvisoryActuator

        return AdvisoryActuator()
    if not settings.dgd_name:
        raise UsageError(f"--mode={settings.mode} needs the DGD's name: --dgd-name or $DYN_PARENT_DGD_K8S_NAME")
    if not settings.kube_namespace:
        raise UsageError(f"--mode={settings.mode} needs the DGD's Kubernetes namespace: --kube-namespace, "
                         "$POD_NAMESPACE or a service account")
    if settings.mode == "patch":
        from planner.actuators.patch import PatchActuator, kubernetes_api

        return PatchActuator(kubernetes_api(), settings.kube_namespace, settings.dgd_name,
                             settings.prefill_service, settings.decode_service)
    from gitops_sla.forge import ForgeSettings, open_forge
    from gitops_sla.git import GitCredentials, Mirror, SshKey

    from planner.actuators.git import GitActuator

    forge = None
    if settings.git_pull_request:
        forge_settings = ForgeSettings.resolve(remote_url=settings.git_repo)
        if forge_settings is None:
            raise UsageError("--git-pull-request needs a forge token: set GITOPS_SLA_FORGE_TOKEN or "
                             "GITOPS_SLA_FORGE_TOKEN_FILE")
        forge = open_forge(forge_settings)
    mirror = Mirror(settings.git_repo, credentials=GitCredentials.resolve(), ssh=SshKey.resolve())
    return GitActuator(mirror, settings.git_branch, settings.kube_namespace, settings.dgd_name,
                       path=settings.git_path, commit_period_s=settings.git_commit_period,
                       persist_intervals=settings.git_persist_intervals, forge=forge,
                       prefill_service=settings.prefill_service, decode_service=settings.decode_service)


def build_predictors(settings: PlannerSettings) -> Predictors:
    def one(kind: str):
        return make_predictor(kind, settings.load_prediction_window_size,
                              settings.load_predictor_log1p, settings.kalman_q_level, settings.kalman_q_trend,
                              settings.kalman_r, settings.kalman_min_points)
    predictors = Predictors.of_kind(settings.load_predictor, one)
    if settings.load_predictor_warmup_trace:
        for observation in load_warmup_trace(settings.load_predictor_warmup_trace, settings.adjustment_interval):
            predictors.observe(observation)
    return predictors


def build_planner(settings: PlannerSettings, actuator=None, source=None) -> tuple[Planner, PlannerMetrics]:
    """A planner wired from the settings (actuator and metrics source injectable for tests)."""
    profile = load_profile_data(settings.profile_results_dir)
    interpolators = Interpolators(PrefillInterpolator(profile.prefill), DecodeInterpolator(profile.decode))
    config = config_from_settings(settings)
    metrics = PlannerMetrics(config, settings.ttft)
    sinks: list = [metrics]
    if settings.log_dir:
        sinks.append(JsonlDecisionLog(settings.log_dir, settings.mode))
    source = source or PrometheusClient(settings.prometheus_endpoint, settings.namespace, settings.model_name)
    planner = Planner(config, interpolators, build_predictors(settings), source,
                      actuator or build_actuator(settings), tuple(sinks), stabilize_from_start=not settings.once)
    return planner, metrics


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = parse_args(argv)
        planner, metrics = build_planner(settings)
    except (UsageError, ProfileDataError, WarmupTraceError) as error:
        print(f"planner: error: {error}", file=sys.stderr)
        return 2
    log.info("planner started: mode=%s interval=%ss ttft=%sms itl=%sms predictor=%s prometheus=%s",
             settings.mode, settings.adjustment_interval, settings.ttft, settings.itl, settings.load_predictor,
             redact_url(settings.prometheus_endpoint))
    if settings.once:
        decision, outcome = planner.step()
        print(json.dumps(decision_record(decision, outcome, settings.mode), sort_keys=True, default=str))
        return 0
    if settings.metrics_port:
        metrics.serve(settings.metrics_port, settings.metrics_address)
    while True:
        started = time.monotonic()
        try:
            planner.step()
        except Exception:  # noqa: BLE001 - one failed step must not stop the service; the next one retries
            log.exception("planning step failed; holding and retrying next interval")
        time.sleep(max(0.0, settings.adjustment_interval - (time.monotonic() - started)))


if __name__ == "__main__":
    sys.exit(main())
