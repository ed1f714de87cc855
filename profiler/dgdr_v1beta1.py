"""Dynamo 1.x's `nvidia.com/v1beta1` DGDR spec as the profiler reads it: the pure mapping onto the profile config.

One mapping for both packages: `gitops_sla.models.convert` builds its version-free request from it (after its typed,
located validation), and `python -m profiler --config FILE` reads a v1beta1 DGDR, or its `spec` alone (the file
Dynamo 1.x's own profiler takes), with it. Input is the spec as written (camelCase keys, Dynamo 1.6.1's
`dgdr_v1beta1_types.py`); output is profile-config fields (snake_case, `ProfileConfig.model_validate` input) and
the `ProfileRequest` fields only v1beta1 says. Dynamo 1.6.1's defaults: ISL 4000, OSL 1000, TTFT 2000 ms,
ITL 30 ms; `sla.e2eLatency` bounds both TTFT and ITL; `backend: auto` is profiled as trtllm (tried first).
"""

from __future__ import annotations

import difflib
from typing import Any, Mapping

from profiler.dynamo_planner_config import FLAG_OF_PLANNER_KEY, canonical_key
from profiler.planner_flags import FLAGS_BY_DEST

API_VERSION_V1BETA1 = "nvidia.com/v1beta1"
DGD_KIND = "DynamoGraphDeployment"
DEFAULT_ISL, DEFAULT_OSL = 4000, 1000
DEFAULT_TTFT_MS, DEFAULT_ITL_MS = 2000.0, 30.0
DEFAULT_MOUNT_PATH = "/opt/model-cache"
AUTO_BACKEND_CHOICE = "trtllm"  # Dynamo 1.6.1 tries trtllm, sglang, vllm in this order

# The keys of the spec and of each of its sections (Dynamo 1.6.1's DynamoGraphDeploymentRequestSpec).
SPEC_KEYS: dict[str, frozenset[str]] = {
    "": frozenset({"model", "backend", "image", "runtimeVersionOverride", "modelCache", "hardware", "workload", "sla",
                   "overrides", "features", "searchStrategy", "autoApply"}),
    "workload": frozenset({"isl", "osl", "concurrency", "requestRate"}),
    "sla": frozenset({"ttft", "itl", "e2eLatency", "optimizationType"}),
    "hardware": frozenset({"gpuSku", "vramMb", "totalGpus", "numGpusPerNode", "interconnect", "rdma"}),
    "modelCache": frozenset({"pvcName", "pvcModelPath", "pvcMountPath"}),
    "overrides": frozenset({"profilingJob", "trustRemoteCode", "dgd"}),
    "features": frozenset({"planner", "kvRouter", "mocker"}),
}

# Profile-config paths (as pydantic locates them) and the v1beta1 field each comes from, for error messages.
SOURCE_OF_CONFIG_PATH = {
    "sla.isl": "workload.isl", "sla.osl": "workload.osl", "sla.ttft": "sla.ttft", "sla.itl": "sla.itl",
    "sla.optimization_type": "sla.optimizationType", "workload.request_rate": "workload.requestRate",
    "workload.concurrency": "workload.concurrency", "sweep.aic_system": "hardware.gpuSku",
    "hardware.num_gpus_per_node": "hardware.numGpusPerNode", "hardware.gpu_vram_mib": "hardware.vramMb",
    "planner": "features.planner",
}


def unknown_keys(spec: Mapping[str, Any]) -> list[str]:
    """`spec.<path>: unknown key 'k'; did you mean 'x'?` for each key Dynamo 1.6.1's spec does not have."""
    problems = []
    for section, allowed in SPEC_KEYS.items():
        mapping = spec if not section else spec.get(section)
        if not isinstance(mapping, Mapping):
            continue
        for key in mapping:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), sorted(allowed), n=1, cutoff=0.6)
                hint = f"did you mean '{close[0]}'?" if close else f"allowed here: {', '.join(sorted(allowed))}"
                problems.append(f"spec.{section + '.' if section else ''}{key}: unknown key '{key}'; {hint}")
    return problems


def resolved_backend(backend: str | None) -> str:
    """The backend profiled and deployed (`auto`, the default, as Dynamo 1.6.1 tries first)."""
    return AUTO_BACKEND_CHOICE if backend in (None, "auto") else backend


def profile_config_fields(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The profile config a v1beta1 spec says (SLA and sequence lengths with Dynamo's defaults, the expected load,
    `searchStrategy` as `sweep.use_ai_configurator`, hardware, the model cache, the planner settings that are
    planner flags); before the request fields (model, backend, namespace) are injected."""
    workload, sla, hardware = (_section(spec, name) for name in ("workload", "sla", "hardware"))
    e2e = sla.get("e2eLatency")
    config: dict[str, Any] = {
        "sla": {"isl": workload.get("isl") or DEFAULT_ISL, "osl": workload.get("osl") or DEFAULT_OSL,
                "ttft": e2e if e2e is not None else (sla.get("ttft") or DEFAULT_TTFT_MS),
                "itl": e2e if e2e is not None else (sla.get("itl") or DEFAULT_ITL_MS),
                "optimization_type": sla.get("optimizationType")},
        "workload": {"request_rate": workload.get("requestRate"), "concurrency": workload.get("concurrency")},
        "sweep": {"use_ai_configurator": (spec.get("searchStrategy") or "rapid") == "rapid"},
        "planner": planner_settings(_section(_section(spec, "features"), "planner"))[0],
    }
    if isinstance(spec.get("hardware"), Mapping):
        vram = hardware.get("vramMb")
        config["hardware"] = {key: value for key, value in (
            ("num_gpus_per_node", hardware.get("numGpusPerNode")),
            ("gpu_vram_mib", int(vram) if isinstance(vram, (int, float)) and not isinstance(vram, bool) else vram),
        ) if value is not None}
        if hardware.get("gpuSku"):
            config["sweep"]["aic_system"] = hardware["gpuSku"]
    cache = _section(spec, "modelCache")
    if cache.get("pvcName"):
        config["deployment"] = {"model_cache": {"pvc_name": cache["pvcName"],
                                                "pvc_path": cache.get("pvcModelPath") or "",
                                                "mount_path": cache.get("pvcMountPath") or DEFAULT_MOUNT_PATH}}
    return config


def planner_settings(settings: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Dynamo 1.x `PlannerConfig` keys -> (planner passthrough keys of the profile config, keys no planner flag
    says, passed through to Dynamo 1.x's planner as they are)."""
    from profiler.config import planner_value_error

    passthrough: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in settings.items():
        canonical = canonical_key(str(key)) or str(key)
        flag = FLAG_OF_PLANNER_KEY.get(canonical)
        if flag is not None and planner_value_error(FLAGS_BY_DEST[flag], value) is None:
            passthrough[FLAGS_BY_DEST[flag].passthrough_key] = value
        else:
            extra[str(key)] = value
    return passthrough, extra


def split_dgd_override(dgd: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """`overrides.dgd` -> (its `metadata` name, labels and annotations: the generated DGD's identity; the rest,
    an override of the rendered DGD, None when nothing is left)."""
    if not dgd:
        return {}, None
    metadata = dgd.get("metadata") if isinstance(dgd.get("metadata"), Mapping) else {}
    identity = {key: metadata[key] for key in ("name", "labels", "annotations") if metadata.get(key)}
    rest_metadata = {k: v for k, v in metadata.items() if k not in identity}
    rest: dict[str, Any] = {k: v for k, v in dgd.items() if k not in ("apiVersion", "kind", "metadata")}
    if rest_metadata:
        rest["metadata"] = rest_metadata
    if rest:
        rest = {"apiVersion": dgd.get("apiVersion", API_VERSION_V1BETA1), "kind": dgd.get("kind", DGD_KIND), **rest}
    return identity, rest or None


def request_fields(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The `ProfileRequest` fields a v1beta1 spec says beside the profile config: the image Dynamo 1.x derives
    planner and worker images from, the planner (present, and its settings no flag says), mocker, KV routing, the
    generated DGD's identity and the rest of `overrides.dgd`, and the GPU budget (`hardware.totalGpus`)."""
    features = _section(spec, "features")
    planner = features.get("planner")
    identity, dgd_override = split_dgd_override(_section(spec, "overrides").get("dgd"))
    return {
        "request_image": spec.get("image"),
        "planner_enabled": planner is not None,
        "planner_settings": planner_settings(planner if isinstance(planner, Mapping) else {})[1],
        "use_mocker": bool(_section(features, "mocker").get("enabled")),
        "kv_router": _section(features, "kvRouter").get("enabled"),
        "dgd_override": dgd_override,
        "dgd_name": identity.get("name"),
        "labels": dict(identity.get("labels") or {}),
        "annotations": dict(identity.get("annotations") or {}),
        "total_gpus": _section(spec, "hardware").get("totalGpus"),
    }


def _section(mapping: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = mapping.get(name)
    return value if isinstance(value, Mapping) else {}
