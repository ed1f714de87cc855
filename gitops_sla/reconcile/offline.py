"""The default profiling backend: this project's offline profiler (AI Configurator), run within the pass."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from gitops_sla.models import ResultSummary
from gitops_sla.reconcile.profiling import InlineBackend, ProfileJob, ProfileOutput
from gitops_sla.yamlsafe import YamlError, load_yaml
from profiler.dynamo_release import default_version
from profiler.errors import ProfilingError
from profiler.result import ProfileRequest
from profiler.version import PROFILER_VERSION

if TYPE_CHECKING:
    from profiler.engines import EngineProvider
    from profiler.measure.sweep import MeasureSettings

_KIND_LINE = re.compile(rb"^kind: ", re.M)


def kubernetes_manifests(files: dict[str, bytes]) -> list[str]:
    """The files that are Kubernetes objects (YAML with a top-level `kind`): what `kustomization.yaml` lists."""
    return sorted(name for name, data in files.items() if name.endswith((".yaml", ".yml")) and _KIND_LINE.search(data))


def deployment_fields(job: ProfileJob) -> dict[str, Any]:
    """The `ProfileRequest` fields that say which Dynamo the DGD is for, its planner and its features."""
    request = job.request
    return {
        "dynamo_version": job.dynamo_version or default_version(request.api_version),
        "request_image": request.profiling_job.image if request.api_version.endswith("/v1beta1") else None,
        "project_planner_image": job.planner_image,
        "planner_enabled": request.planner.enabled,
        "planner_settings": dict(request.planner.config_extra),
        "use_mocker": request.mocker,
        "kv_router": request.kv_router,
        "dgd_override": request.dgd_override,
        "total_gpus": request.total_gpus,
    }


def profile_request(job: ProfileJob, base: dict[str, Any] | None) -> ProfileRequest:
    """What the profiler is asked for `job` (in this process, or in a profiling run's `request.yaml`)."""
    overrides = job.request.deployment
    return ProfileRequest(
        config=job.config,
        base_config=base,
        request_name=job.name,
        request_namespace=job.namespace,
        dgd_name=overrides.name if overrides else None,
        dgd_namespace=overrides.namespace if overrides else None,
        labels=dict(overrides.labels) if overrides else {},
        annotations=dict(overrides.annotations) if overrides else {},
        **deployment_fields(job),
    )


def offline_profile(job: ProfileJob, *, engines: "EngineProvider | None" = None,
                    measure: "MeasureSettings | None" = None) -> ProfileOutput:
    """Profile `job` with `profiler.profile` and describe the result for the reconciler. With an engine
    provider (`engines`, `measure`) a request with `useAiConfigurator: false` is measured on its engines."""
    from profiler.pipeline import profile  # imported on first use: AI Configurator's data takes a while to load

    base = None
    if job.base_config is not None:
        try:
            base = load_yaml(job.base_config, job.base_config_path or "base config").data
        except YamlError as exc:
            raise ProfilingError(f"base config {exc}") from None
    result = profile(profile_request(job, base), engines=engines, measure=measure)
    prefill, decode = result.prefill, result.decode
    summary = ResultSummary(
        sla_met=result.sla_met,
        target_ttft_ms=prefill.target_ms,
        target_itl_ms=decode.target_ms,
        expected_ttft_ms=round(prefill.latency_ms, 3),
        expected_itl_ms=round(decode.latency_ms, 3),
        prefill_mapping=prefill.mapping,
        decode_mapping=decode.mapping,
        prefill_gpus=prefill.num_gpus,
        decode_gpus=decode.num_gpus,
        throughput_per_gpu=round(decode.thpt_per_gpu, 3),
        warnings=list(result.warnings),
    )
    files = dict(result.files)
    return ProfileOutput(
        files=files,
        resources=kubernetes_manifests(files),
        report=files.get("report.md", b"").decode(),
        summary=summary,
        dgd_name=result.dgd_name,
        dgd_namespace=result.dgd_namespace,
        warnings=list(result.warnings),
    )


def offline_backend() -> InlineBackend:
    return InlineBackend(offline_profile, PROFILER_VERSION)
