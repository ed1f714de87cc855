"""The Planner service of a rendered DGD and its arguments.

Which planner runs:
- this project's planner (`python3 -m planner`), by default;
- Dynamo's stock planner, when the base config already has a Planner service that runs it
  (`planner_sla` or `dynamo.planner`, as in Dynamo's `disagg_planner.yaml`). Only Dynamo's flags are
  rendered then, and the service keeps Dynamo's command and working directory.

Arguments follow Dynamo's `build_planner_args_from_namespace`: a flag is rendered only when its value
differs from the planner's default (`profiler/planner_flags.py`), except `--backend`, `--ttft` and
`--itl`, which always carry the request's values; `planner.*` passthrough keys win over them.
`--prefill-engine-num-gpu`, `--decode-engine-num-gpu` and `--profile-results-dir` always come last.
"""

from __future__ import annotations

import copy
from typing import Any

from profiler.config import ProfileConfig
from profiler.planner_flags import PLANNER_FLAGS
from profiler.render import args as A

PROFILE_DATA_VOLUME = "planner-profile-data"
PROFILE_DATA_MOUNT = "/workspace/profiling_results"  # Dynamo's `<workspace>/profiling_results`
PROJECT_PLANNER_MODULE = "planner"
DYNAMO_PLANNER_MODULES = ("planner_sla", "dynamo.planner")
DYNAMO_PLANNER_WORKDIR = "/workspace/components/src/dynamo/planner"
ALWAYS_RENDERED = ("backend", "ttft", "itl")
RENDERED_LAST = ("prefill_engine_num_gpu", "decode_engine_num_gpu", "profile_results_dir")
NEVER_RENDERED = ("namespace",)  # Dynamo's planner takes it from DYN_NAMESPACE, set by the operator


def dynamo_planner_module(service: dict[str, Any] | None) -> str | None:
    """The Dynamo planner module a base Planner service runs, if it runs one."""
    if not service:
        return None
    container = (service.get("extraPodSpec") or {}).get("mainContainer") or {}
    words = A.as_list(container.get("command")) + A.as_list(container.get("args"))
    return next((module for module in DYNAMO_PLANNER_MODULES if module in words), None)


def planner_args(config: ProfileConfig, prefill_gpus: int, decode_gpus: int, *, stock: bool) -> list[str]:
    """The Planner's `--flag=value` arguments."""
    values: dict[str, Any] = {"backend": config.engine.backend, "ttft": config.sla.ttft, "itl": config.sla.itl}
    values.update(config.planner_overrides)
    rendered: list[str] = []
    for flag in PLANNER_FLAGS:
        if flag.dest in RENDERED_LAST or flag.dest in NEVER_RENDERED or (stock and not flag.dynamo):
            continue
        if flag.dest not in values:
            continue
        value = values[flag.dest]
        if flag.kind == "bool":
            if value:
                rendered.append(flag.render(value))
        elif flag.dest in ALWAYS_RENDERED or value != flag.default:
            rendered.append(flag.render(value))
    return rendered + [
        f"--prefill-engine-num-gpu={prefill_gpus}",
        f"--decode-engine-num-gpu={decode_gpus}",
        f"--profile-results-dir={PROFILE_DATA_MOUNT}",
    ]


def planner_service(
    base_service: dict[str, Any] | None,
    *,
    config: ProfileConfig,
    prefill_gpus: int,
    decode_gpus: int,
    configmap_name: str,
    default_image: str,
    stock_image: str | None,
) -> tuple[dict[str, Any], bool]:
    """The Planner service and whether it is Dynamo's stock planner.

    A base Planner service is the starting point (its image, env and probes are kept); otherwise a minimal
    one. The profile-data ConfigMap is mounted read-only at the results directory."""
    stock_module = dynamo_planner_module(base_service)
    service = copy.deepcopy(base_service) if base_service else {"componentType": "planner", "replicas": 1}
    service["componentType"] = "planner"
    service.setdefault("replicas", 1)
    pod = service.setdefault("extraPodSpec", {})
    container = pod.setdefault("mainContainer", {})
    if stock_module:
        container["image"] = stock_image or container.get("image") or default_image
        container.setdefault("workingDir", DYNAMO_PLANNER_WORKDIR)
        module = stock_module
    else:
        container.setdefault("image", default_image)
        container.pop("workingDir", None)
        module = PROJECT_PLANNER_MODULE
    container["command"] = ["python3", "-m", module]
    container["args"] = planner_args(config, prefill_gpus, decode_gpus, stock=bool(stock_module))
    mounts = [m for m in container.get("volumeMounts") or [] if m.get("name") != PROFILE_DATA_VOLUME]
    container["volumeMounts"] = mounts + [{"name": PROFILE_DATA_VOLUME, "mountPath": PROFILE_DATA_MOUNT, "readOnly": True}]
    volumes = [v for v in pod.get("volumes") or [] if v.get("name") != PROFILE_DATA_VOLUME]
    pod["volumes"] = volumes + [{"name": PROFILE_DATA_VOLUME, "configMap": {"name": configmap_name}}]
    return service, bool(stock_module)
