"""Offline SLA profiler: a profile config in, a profiled DynamoGraphDeployment and planner data out.

Public API (what the reconciler and the CLI call):

    profile(request: ProfileRequest) -> ProfileResult      # raises ProfilingError

    ProfileRequest(config: ProfileConfig,                  # profilingConfig.config, DGDR fields injected
                   base_config: dict | None = None,        # parsed base DGD; None: Dynamo's disagg.yaml
                   request_name: str, request_namespace: str,
                   dgd_name: str | None = None,            # deploymentOverrides.name (default: request_name)
                   dgd_namespace: str | None = None,       # deploymentOverrides.namespace (default: request ns)
                   labels: dict[str, str] = {}, annotations: dict[str, str] = {})

    ProfileResult(files: dict[str, bytes],                 # relative path -> content, see below
                  sla_met: bool,
                  prefill: EngineChoice, decode: EngineChoice,   # mapping, num_gpus, latency_ms, target_ms,
                                                                 # thpt_per_gpu, meets_sla (, concurrency)
                  warnings: list[str], profiler_version: str,
                  dgd_name: str, dgd_namespace: str, configmap_name: str)

`files` holds `dgd.yaml`, `planner-profile-data.yaml` (ConfigMap `planner-profile-data-<hash>`),
`prefill_raw_data.json`, `decode_raw_data.json`, `selected_{prefill,decode}_interpolation/raw_data.npz`,
`profile.json`, `report.md` and four SVG plots. The same request always gives byte-identical files.
`python -m profiler --config FILE --output DIR` runs the same thing from a profile config or a DGDR file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from profiler.errors import ProfilingError
from profiler.result import EngineChoice, ProfileRequest, ProfileResult
from profiler.version import PROFILER_VERSION

if TYPE_CHECKING:
    from profiler.pipeline import profile

__all__ = ["EngineChoice", "PROFILER_VERSION", "ProfileRequest", "ProfileResult", "ProfilingError", "profile"]


def __getattr__(name: str) -> Any:
    # `profile` is imported on first use: its modules (AI Configurator, numpy) take a while, and the CLI sets up
    # its process before importing them.
    if name == "profile":
        from profiler.pipeline import profile

        return profile
    raise AttributeError(f"module 'profiler' has no attribute {name!r}")
