"""The Planner service of a v1alpha1 DGD (Dynamo 0.8) and its arguments.

Which planner runs:
- Dynamo's own planner, by default: `python3 -m planner_sla` (or the module a base config's Planner service
  runs) from the workers' runtime image, in Dynamo's working directory. Only the flags Dynamo 0.8's planner
  parses are rendered (`vendor/dynamo/planner-flags-0.8.json`); other Dynamo-era flags are dropped with a
  warning, this project's own flags are left out;
- this project's planner (`python3 -m planner`), when an image for it is given (gitops-sla.yaml's
  `planner.image`): every flag of `profiler/planner_flags.py`.

Arguments follow Dynamo's `build_planner_args_from_namespace`: a flag is rendered only when its value
differs from the planner's default (`profiler/planner_flags.py`), except `--backend`, `--ttft` and
`--itl`, which always carry the request's values; `planner.*` passthrough keys win over them.
`--prefill-engine-num-gpu`, `--decode-engine-num-gpu` and `--profile-results-dir` always come last.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from profiler.config import ProfileConfig
from profiler.planner_flags import PLANNER_FLAGS
from profiler.dynamo_planner_config import refused_by_dynamo_planner
from profiler.render import args as A

PROFILE_DATA_VOLUME = "planner-profile-data"
PROFILE_DATA_MOUNT = "/workspace/profiling_results"  # Dynamo's `<workspace>/profiling_results`
PROJECT_PLANNER_MODULE = "planner"
DYNAMO_PLANNER_MODULES = ("planner_sla", "dynamo.planner")
DYNAMO_PLANNER_WORKDIR = "/workspace/components/src/dynamo/planner"
ALWAYS_RENDERED = ("backend", "ttft", "itl")
RENDERED_LAST = ("prefill_engine_num_gpu", "decode_engine_num_gpu", "profile_results_dir")
NEVER_RENDERED = ("namespace",)  # Dynamo's planner takes it from DYN_NAMESPACE, set by the operator
DYNAMO_08_FLAGS_FILE = Path(__file__).resolve().parent.parent / "vendor/dynamo/planner-flags-0.8.json"
DEFAULT_DYNAMO_PLANNER_MODULE = "planner_sla"


@cache
def dynamo_08_flags() -> frozenset[str]:
    """The flags Dynamo 0.8's planner parses (`--name`)."""
    return frozenset(json.loads(DYNAMO_08_FLAGS_FILE.read_text())["flags"])


def dynamo_planner_module(service: dict[str, Any] | None) -> str | None:
    """The Dynamo planner module a base Planner service runs, if it runs one."""
    if not service:
        return None
    container = (service.get("extraPodSpec") or {}).get("mainContainer") or {}
    words = A.as_list(container.get("command")) + A.as_list(container.get("args"))
    return next((module for module in DYNAMO_PLANNER_MODULES if module in words), None)


def _runs_project_planner(service: dict[str, Any]) -> bool:
    """A base Planner service that runs this project's planner (`-m planner`) from an image it names."""
    container = (service.get("extraPodSpec") or {}).get("mainContainer") or {}
    words = A.as_list(container.get("command")) + A.as_list(container.get("args"))
    return bool(container.get("image")) and any(
        words[i] == "-m" and words[i + 1] == PROJECT_PLANNER_MODULE for i in range(len(words) - 1))


def planner_args(config: ProfileConfig, prefill_gpus: int, decode_gpus: int, *, stock: bool) -> list[str]:
    """The Planner's `--flag=value` arguments."""
    return planner_args_and_dropped(config, prefill_gpus, decode_gpus, stock=stock)[0]


def planner_args_and_dropped(
    config: ProfileConfig, prefill_gpus: int, decode_gpus: int, *, stock: bool
) -> tuple[list[str], list[tuple[str, str]]]:
    """The Planner's `--flag=value` arguments, and `(passthrough key, why)` of each setting left out because
    Dynamo 0.8's planner has no flag or no such value for it (`stock`: only what it takes is rendered)."""
    values: dict[str, Any] = {"backend": config.engine.backend, "ttft": config.sla.ttft, "itl": config.sla.itl}
    values.update(config.planner_overrides)
    rendered: list[str] = []
    dropped: list[str] = []
    for flag in PLANNER_FLAGS:
        if flag.dest in RENDERED_LAST or flag.dest in NEVER_RENDERED or (stock and not flag.dynamo):
            continue
        if flag.dest not in values:
            continue
        value = values[flag.dest]
        wanted = bool(value) if flag.kind == "bool" else (flag.dest in ALWAYS_RENDERED or value != flag.default)
        if not wanted:
            continue
        if stock and f"--{flag.name}" not in dynamo_08_flags():
            dropped.append((flag.passthrough_key, "Dynamo 0.8's planner has no such flag"))
            continue
        if stock and (refused := refused_by_dynamo_planner(flag.dest, value, dynamo_1x=False)):
            dropped.append((flag.passthrough_key, refused))
            continue
        rendered.append(flag.render(value))
    return rendered + [
        f"--prefill-engine-num-gpu={prefill_gpus}",
        f"--decode-engine-num-gpu={decode_gpus}",
        f"--profile-results-dir={PROFILE_DATA_MOUNT}",
    ], dropped


def planner_service(
    base_service: dict[str, Any] | None,
    *,
    config: ProfileConfig,
    prefill_gpus: int,
    decode_gpus: int,
    configmap_name: str,
    project_image: str | None,
    runtime_image: str,
) -> tuple[dict[str, Any], bool, list[tuple[str, str]]]:
    """The Planner service, whether it is Dynamo's planner, and the planner keys it could not take (and why).

    `project_image` runs this project's planner from that image (so does a base Planner service that runs it
    from an image it names); None runs Dynamo's own planner from `runtime_image` (the workers' image). A base Planner service is the starting point (its env and probes are
    kept); otherwise a minimal one. The profile-data ConfigMap is mounted read-only at the results directory."""
    if project_image is None and base_service and _runs_project_planner(base_service):
        project_image = ((base_service.get("extraPodSpec") or {}).get("mainContainer") or {}).get("image")
    stock = project_image is None
    service = copy.deepcopy(base_service) if base_service else {"componentType": "planner", "replicas": 1}
    service["componentType"] = "planner"
    service.setdefault("replicas", 1)
    pod = service.setdefault("extraPodSpec", {})
    container = pod.setdefault("mainContainer", {})
    if stock:
        container["image"] = runtime_image
        container["workingDir"] = DYNAMO_PLANNER_WORKDIR
        module = dynamo_planner_module(base_service) or DEFAULT_DYNAMO_PLANNER_MODULE
    else:
        container["image"] = project_image
        container.pop("workingDir", None)
        module = PROJECT_PLANNER_MODULE
    container["command"] = ["python3", "-m", module]
    args, dropped = planner_args_and_dropped(config, prefill_gpus, decode_gpus, stock=stock)
    container["args"] = args
    mounts = [m for m in container.get("volumeMounts") or [] if m.get("name") != PROFILE_DATA_VOLUME]
    container["volumeMounts"] = mounts + [{"name": PROFILE_DATA_VOLUME, "mountPath": PROFILE_DATA_MOUNT, "readOnly": True}]
    volumes = [v for v in pod.get("volumes") or [] if v.get("name") != PROFILE_DATA_VOLUME]
    pod["volumes"] = volumes + [{"name": PROFILE_DATA_VOLUME, "configMap": {"name": configmap_name}}]
    return service, stock, dropped
