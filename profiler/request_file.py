"""Turn a file the CLI is given into a `ProfileRequest`: a DGDR of either version, a v1beta1 spec, or a bare
profile config.

A v1alpha1 DGDR (`kind: DynamoGraphDeploymentRequest`, Dynamo 0.8) gives `spec.model`, `spec.backend`,
`spec.profilingConfig.config` and `spec.deploymentOverrides`, injected as Dynamo's operator does
(`ProfileConfig.with_request_fields`). A v1beta1 DGDR (Dynamo 1.x), or its `spec` alone (what Dynamo 1.x's
profiler reads with `--config`; recognised by its top-level `model`), is mapped by `profiler.dgdr_v1beta1`, the
mapping the reconciler uses too. A bare profile config must set `deployment.model` and `engine.backend` itself;
its `engine.config`, if set, names the base DGD file (relative to the config file).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from profiler import dgdr_v1beta1, dynamo_planner_config
from profiler.config import ProfileConfig
from profiler.dynamo_release import default_version
from profiler.errors import ProfilingError
from profiler.result import ProfileRequest

DGDR_KIND = "DynamoGraphDeploymentRequest"
PROFILE_REQUEST_KIND = "ProfileRequest"  # what the reconciler hands an out-of-process run (a profiling Job)
PROFILE_REQUEST_API_VERSION = "gitops-sla.nvidia.com/v1alpha1"
DGDR_API_VERSION = "nvidia.com/v1alpha1"


def load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except OSError as error:
        raise ProfilingError(f"{path}: cannot read it ({error.strerror})") from error
    except yaml.YAMLError as error:
        raise ProfilingError(f"{path}: not valid YAML ({error})") from error


def _section_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The config section whose keys live at `loc` (None below a free-form mapping such as `planner`)."""
    model: type[BaseModel] = ProfileConfig
    for part in loc:
        field = next((f for name, f in model.model_fields.items() if part in (name, f.alias)), None)
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _problem(item: Any) -> str:
    """Pydantic's message, with what to do for an unknown key: the closest allowed key, or the allowed keys."""
    message = str(item["msg"]).removeprefix("Value error, ")
    section = _section_at(tuple(item["loc"][:-1])) if item["type"] == "extra_forbidden" else None
    if section is None:
        return message
    key = str(item["loc"][-1])
    allowed = sorted({name for name in section.model_fields} | {f.alias for f in section.model_fields.values() if f.alias})
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    return f"unknown key '{key}'; " + (f"did you mean '{close[0]}'?" if close else f"allowed here: {', '.join(allowed)}")


def _validation_message(path: Path, prefix: str, error: ValidationError) -> str:
    problems = [
        f"{path}: {'.'.join([prefix, *map(str, item['loc'])]).strip('.')}: {_problem(item)}" for item in error.errors()
    ]
    return "\n".join(problems)


def _config(path: Path, prefix: str, document: Any) -> ProfileConfig:
    try:
        return ProfileConfig.model_validate(document or {})
    except ValidationError as error:
        raise ProfilingError(_validation_message(path, prefix, error)) from error


def _mapping(value: Any, path: Path, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProfilingError(f"{path}: {where} must be a mapping")
    return value


def request_from_file(
    path: Path, *, base_config: dict[str, Any] | None, name: str | None, namespace: str | None
) -> ProfileRequest:
    """The request a file describes; `name`/`namespace` override the request's identity."""
    document = load_yaml(path)
    if not isinstance(document, dict):
        raise ProfilingError(f"{path}: expected a mapping (a DGDR or a profile config) at the top level")
    kind, api_version = document.get("kind"), document.get("apiVersion")
    if kind == DGDR_KIND and api_version == DGDR_API_VERSION:
        return _from_dgdr(path, document, base_config, name, namespace)
    if kind == DGDR_KIND and api_version == dgdr_v1beta1.API_VERSION_V1BETA1:
        metadata = _mapping(document.get("metadata"), path, "metadata")
        return _from_v1beta1(path, _mapping(document.get("spec"), path, "spec"), metadata, base_config, name, namespace)
    if kind is None and api_version is None and "model" in document:
        return _from_v1beta1(path, document, {}, base_config, name, namespace)
    if kind == PROFILE_REQUEST_KIND and api_version == PROFILE_REQUEST_API_VERSION:
        return _from_profile_request(path, document, base_config)
    if kind == DGDR_KIND:
        raise ProfilingError(f"{path}: apiVersion: {api_version!r} is neither {DGDR_API_VERSION} (Dynamo 0.8) nor "
                             f"{dgdr_v1beta1.API_VERSION_V1BETA1} (Dynamo 1.x), the DGDR versions this profiler reads; "
                             "set one")
    if kind is not None or api_version is not None:
        raise ProfilingError(f"{path}: kind: {kind!r} (apiVersion {api_version!r}) is neither a "
                             f"{DGDR_KIND} ({DGDR_API_VERSION}) nor a profile config (which has no apiVersion or "
                             "kind); fix the kind, or remove apiVersion and kind")
    config = _config(path, "", document)
    if not config.deployment.model:
        raise ProfilingError(f"{path}: deployment.model: set the model to profile (a Hugging Face id)")
    if base_config is None and config.engine.config:
        base_file = (path.parent / config.engine.config).resolve()
        base_config = _mapping(load_yaml(base_file), base_file, "the base config")
    return ProfileRequest(
        config=config,
        base_config=base_config,
        request_name=name or path.stem,
        request_namespace=namespace or config.deployment.namespace or "default",
    )


def _from_profile_request(path: Path, document: dict[str, Any], base_config: dict[str, Any] | None) -> ProfileRequest:
    """A `ProfileRequest` as the reconciler writes it for an out-of-process run (`gitops_sla.reconcile.profile_files`)."""
    try:
        return ProfileRequest.model_validate({**_mapping(document.get("spec"), path, "spec"), "base_config": base_config})
    except ValidationError as error:
        first = error.errors()[0]
        raise ProfilingError(f"{path}: not a ProfileRequest this profiler reads ({first['msg']} at "
                             f"{'.'.join(map(str, first['loc']))}); is the profiler older than the reconciler?") from error


def _from_dgdr(
    path: Path, document: dict[str, Any], base_config: dict[str, Any] | None, name: str | None, namespace: str | None
) -> ProfileRequest:
    metadata = _mapping(document.get("metadata"), path, "metadata")
    spec = _mapping(document.get("spec"), path, "spec")
    profiling = _mapping(spec.get("profilingConfig"), path, "spec.profilingConfig")
    overrides = _mapping(spec.get("deploymentOverrides"), path, "spec.deploymentOverrides")
    for field in ("model", "backend"):
        if not spec.get(field):
            raise ProfilingError(f"{path}: spec.{field}: required")
    if profiling.get("configMapRef") and base_config is None:
        raise ProfilingError(
            f"{path}: spec.profilingConfig.configMapRef names the base config "
            f"({profiling['configMapRef'].get('name')!r}); pass that file with --base-config FILE"
        )
    request_namespace = namespace or metadata.get("namespace") or "default"
    config = _config(path, "spec.profilingConfig.config", profiling.get("config"))
    try:
        config = config.with_request_fields(
            model=str(spec["model"]),
            backend=spec["backend"],
            namespace=request_namespace,
            workers_image=overrides.get("workersImage"),
        )
        config = ProfileConfig.model_validate(config.model_dump())  # with_request_fields does not validate
    except ValidationError as error:
        raise ProfilingError(_validation_message(path, "spec", error)) from error
    return ProfileRequest(
        config=config,
        base_config=base_config,
        request_name=name or metadata.get("name") or path.stem,
        request_namespace=request_namespace,
        dgd_name=overrides.get("name"),
        use_mocker=spec.get("useMocker") is True or spec.get("deployMocker") is True,
        dgd_namespace=overrides.get("namespace"),
        labels={str(k): str(v) for k, v in _mapping(overrides.get("labels"), path, "deploymentOverrides.labels").items()},
        annotations={
            str(k): str(v)
            for k, v in _mapping(overrides.get("annotations"), path, "deploymentOverrides.annotations").items()
        },
    )


_V1BETA1_CHOICES = {"backend": ("auto", "sglang", "trtllm", "vllm"), "searchStrategy": ("rapid", "thorough")}


def _from_v1beta1(
    path: Path, spec: dict[str, Any], metadata: dict[str, Any], base_config: dict[str, Any] | None,
    name: str | None, namespace: str | None,
) -> ProfileRequest:
    """A v1beta1 DGDR's spec (Dynamo 1.x), with the checks Dynamo 1.6.1's types make on the fields read here;
    `gitops-sla validate` checks the whole request, located to the line."""
    problems = dgdr_v1beta1.unknown_keys(spec)
    if not spec.get("model"):
        problems.append("spec.model: required (a Hugging Face id)")
    for field, choices in _V1BETA1_CHOICES.items():
        if field in spec and spec[field] not in choices:
            problems.append(f"spec.{field}: {spec[field]!r} must be one of {', '.join(choices)}")
    workload, sla = (spec.get(name) if isinstance(spec.get(name), dict) else {} for name in ("workload", "sla"))
    if workload.get("concurrency") is not None and workload.get("requestRate") is not None:
        problems.append("spec.workload: requestRate and concurrency are mutually exclusive (Dynamo refuses both); "
                        "keep one")
    if sla.get("e2eLatency") is not None and (sla.get("ttft") is not None or sla.get("itl") is not None):
        problems.append("spec.sla: e2eLatency and ttft/itl exclude each other (Dynamo refuses both); keep one")
    features = spec.get("features") if isinstance(spec.get("features"), dict) else {}
    planner = features.get("planner")
    if planner is not None and not isinstance(planner, dict):
        problems.append("spec.features.planner: must be a mapping (Dynamo 1.x's PlannerConfig)")
    for key, value in (planner or {}).items():
        if problem := dynamo_planner_config.key_error(str(key)) or dynamo_planner_config.value_error(str(key), value):
            problems.append(f"spec.features.planner.{key}: {problem}")
    if problems:
        raise ProfilingError("\n".join(f"{path}: {problem}" for problem in problems))
    request_namespace = namespace or metadata.get("namespace") or "default"
    try:
        config = ProfileConfig.model_validate(dgdr_v1beta1.profile_config_fields(spec)).with_request_fields(
            model=str(spec["model"]), backend=dgdr_v1beta1.resolved_backend(spec.get("backend")),
            namespace=request_namespace)
    except ValidationError as error:
        raise ProfilingError("\n".join(
            f"{path}: spec.{_v1beta1_field(item['loc'])}: {_problem(item)}" for item in error.errors())) from error
    return ProfileRequest(
        config=config,
        base_config=base_config,
        request_name=name or metadata.get("name") or path.stem,
        request_namespace=request_namespace,
        dynamo_version=default_version(dgdr_v1beta1.API_VERSION_V1BETA1),
        **dgdr_v1beta1.request_fields(spec),
    )


def _v1beta1_field(loc: tuple[Any, ...]) -> str:
    """The v1beta1 field a profile-config error location comes from (`sla.isl` -> `workload.isl`)."""
    dotted = ".".join(map(str, loc))
    for config_path, field in dgdr_v1beta1.SOURCE_OF_CONFIG_PATH.items():
        if dotted == config_path or dotted.startswith(config_path + "."):
            return field + dotted[len(config_path):]
    return dotted
