"""Dynamo's mocker deployment (`useMocker`/`deployMocker: true`): the rendered DGD with its prefill and decode
workers replaced by `python3 -m dynamo.mocker` workers (no GPU), timed by the same profile data the Planner
reads, as Dynamo's profiler renders `mocker_config_with_planner.yaml` (0.8) and its mocker DGD (1.6.1):
`--model-path/--model-name <model>`, `--planner-profile-data <the mounted profile-data ConfigMap>`,
`--disaggregation-mode prefill|decode`, services `prefill` and `decode`, the Planner with `--backend=mocker`.
The workers run the frontend's image (Dynamo's runtime images ship `dynamo.mocker`) unless `dgdImage` is set.
"""

from __future__ import annotations

import copy
from typing import Any

from profiler.render.backends import WORKER_NAMES
from profiler.render.planner import PROFILE_DATA_MOUNT, PROFILE_DATA_VOLUME

MOCKER_WORKDIR = "/workspace"


def _main_container(service: dict[str, Any]) -> dict[str, Any]:
    return (service.get("extraPodSpec") or {}).get("mainContainer") or {}


def _worker_key(services: dict[str, Any], backend: str, role: str) -> str:
    """The `role` workers' service: by `subComponentType`, else Dynamo's default name (as the renderer finds it)."""
    found = [key for key, service in services.items() if (service or {}).get("subComponentType") == role]
    return found[0] if found else getattr(WORKER_NAMES[backend], role)


def mocker_dgd(dgd: dict[str, Any], *, backend: str, model: str, configmap_name: str, image: str | None) -> dict[str, Any]:
    """A copy of the rendered `dgd` whose workers are Dynamo mocker workers."""
    dgd = copy.deepcopy(dgd)
    spec = dgd["spec"]
    services: dict[str, Any] = spec["services"]
    prefill_key, decode_key = _worker_key(services, backend, "prefill"), _worker_key(services, backend, "decode")
    frontend_image = next((_main_container(s).get("image") for s in services.values()
                           if s.get("componentType") == "frontend"), None)
    worker_image = image or frontend_image
    rendered: dict[str, Any] = {}
    for key, service in services.items():
        role = "prefill" if key == prefill_key else "decode" if key == decode_key else None
        if role is None:
            rendered[key] = service
            continue
        container = {
            **({"image": worker_image} if worker_image else {}),
            "workingDir": MOCKER_WORKDIR,
            "command": ["python3", "-m", "dynamo.mocker"],
            "args": ["--model-path", model, "--model-name", model, "--planner-profile-data", PROFILE_DATA_MOUNT,
                     "--disaggregation-mode", role],
            "volumeMounts": [{"name": PROFILE_DATA_VOLUME, "mountPath": PROFILE_DATA_MOUNT, "readOnly": True}],
        }
        worker = {
            "componentType": "worker",
            "subComponentType": role,
            "replicas": service.get("replicas", 1),
            **({"dynamoNamespace": service["dynamoNamespace"]} if "dynamoNamespace" in service else {}),
            **({"envFromSecret": service["envFromSecret"]} if "envFromSecret" in service else {}),
            "extraPodSpec": {
                "volumes": [{"name": PROFILE_DATA_VOLUME, "configMap": {"name": configmap_name}}],
                "mainContainer": container,
            },
        }
        rendered[role] = worker
    for service in rendered.values():
        if service.get("componentType") == "planner":
            container = _main_container(service)
            container["args"] = [("--backend=mocker" if str(a).startswith("--backend=") else a)
                                 for a in container.get("args", [])]
    spec["services"] = rendered
    spec.pop("backendFramework", None)  # the CRD knows sglang, vllm and trtllm only
    return dgd
