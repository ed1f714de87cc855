"""Validation of request files (DGDRs) and the repo config, with every problem located in the file.

Each problem is a `ValidationIssue` printed as `file:line:column: spec.path.to.field: message`. Three layers:
1. the safe YAML loader (`yamlsafe`): size, encoding, one document, duplicate keys, anchors/aliases;
2. the pydantic models: types, enums, required fields, unknown keys (with a "did you mean" suggestion from
   the keys allowed at that place), planner passthrough keys and values against `profiler/planner_flags.py`;
3. semantic checks: DNS-1123 names, name lengths for the names derived from them (Grove's 45-character limit),
   the request's path agreeing with its metadata, tenancy, base config references, backend consistency.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterable

from pydantic import BaseModel, ValidationError

from gitops_sla import layout
from gitops_sla.aic_names import check_aic_names
from gitops_sla.models import DynamoGraphDeploymentRequest, RepoConfig, ValidationIssue
from gitops_sla.models.base import StrictModel
from gitops_sla.models.dgdr import ObjectMeta
from gitops_sla.models.convert import from_v1alpha1, from_v1beta1, from_v1beta1_spec
from gitops_sla.models.dgdr_v1beta1 import API_VERSION_V1BETA1, DGDRSpecV1Beta1, DynamoGraphDeploymentRequestV1Beta1
from gitops_sla.models.repo_config import (
    LEGACY_REPO_CONFIG_API_VERSION,
    OPERATOR_ONLY_FORGE_KEYS,
    REPO_CONFIG_API_VERSION,
)
from gitops_sla.models.request import SlaRequest
from gitops_sla.yamlsafe import LoadedYaml, YamlError, load_yaml, load_yaml_file, snake_case
from profiler import dynamo_planner_config
from profiler.dynamo_planner_config import FLAG_OF_PLANNER_KEY
from profiler.config import Section, planner_key_error, planner_value_error
from profiler.planner_flags import FLAGS_BY_DEST, FLAGS_BY_PASSTHROUGH_KEY

__all__ = [
    "DNS1123_LABEL_MAX",
    "GROVE_NAME_LIMIT",
    "MAX_ISSUES",
    "SERVICE_NAMES",
    "RequestValidation",
    "RepoConfigValidation",
    "ValidationIssue",
    "grove_name_length",
    "max_dgd_name_length",
    "repo_relative_path",
    "validate_repo_config",
    "validate_request_file",
]

GROVE_NAME_LIMIT = 45
MAX_ISSUES = 100  # per file: enough to fix a file, small enough for a status.yaml and a terminal
DNS1123_LABEL_MAX = 63
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_CONFIG_MAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
# Kubernetes label and annotation rules (apimachinery `IsQualifiedName`, `IsValidLabelValue`).
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
QUALIFIED_NAME_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
LABEL_VALUE_MAX = 63

# Services of the DGDs this project renders (the vendored base configs plus the Planner service). On Grove's
# pathway the DGD becomes a PodCliqueSet `<dgd-name>` with one PodClique `<lowercase service>` per service, and
# Grove's webhook allows at most 45 characters for the two names together (the pod-name suffix takes the rest).
# A multinode engine also counts a scaling group and `-ldr`/`-wkr` cliques; whether an engine spans nodes is
# known only after profiling, so the profiler checks that case (`profiler.render.dgd.check_name_lengths`).
SERVICE_NAMES: dict[str, tuple[str, ...]] = {
    "vllm": ("Frontend", "Planner", "VllmDecodeWorker", "VllmPrefillWorker"),
    "sglang": ("Frontend", "Planner", "decode", "prefill"),
    "trtllm": ("Frontend", "Planner", "TRTLLMDecodeWorker", "TRTLLMPrefillWorker"),
}


def grove_name_length(dgd_name: str, backend: str) -> tuple[int, str]:
    """The most characters Grove counts for one single-node service of the DGD (PodCliqueSet + PodClique
    name), and that service's PodClique name."""
    service = max((service.lower() for service in SERVICE_NAMES[backend]), key=len)
    return len(dgd_name) + len(service), service


def max_dgd_name_length(backend: str) -> int:
    """The longest DGD name whose single-node services all fit Grove's limit (vllm 28, sglang 37, trtllm 26)."""
    return GROVE_NAME_LIMIT - max(len(service) for service in SERVICE_NAMES[backend])


RequestDocument = DynamoGraphDeploymentRequest | DynamoGraphDeploymentRequestV1Beta1


@dataclass(frozen=True)
class RequestValidation:
    """Result of validating one request file: the issues, and when it is valid the request in its version-free
    form (`request`, what the reconciler works on) and as the version it was written in (`document`)."""

    file: str
    issues: list[ValidationIssue]
    request: SlaRequest | None = None
    namespace: str | None = None
    name: str | None = None
    document: RequestDocument | None = None

    @property
    def ok(self) -> bool:
        return not any(issue.severity == "error" for issue in self.issues)


@dataclass(frozen=True)
class RepoConfigValidation:
    """Result of validating `gitops-sla.yaml`."""

    file: str
    issues: list[ValidationIssue]
    config: RepoConfig | None = None

    @property
    def ok(self) -> bool:
        return not any(issue.severity == "error" for issue in self.issues)


@dataclass
class _Collector:
    """Collects located issues for one loaded file."""

    doc: LoadedYaml
    issues: list[ValidationIssue] = field(default_factory=list)
    left_out: int = 0  # issues past MAX_ISSUES, counted only

    @property
    def full(self) -> bool:
        return len(self.issues) >= MAX_ISSUES

    def add(self, path: Iterable[str | int], message: str, *, severity: str = "error", at_key: bool = False) -> None:
        if self.full:
            self.left_out += 1
            return
        path = tuple(path)
        resolved, _ = self.doc.resolve(path)
        mark = self.doc.locate_key(path) if at_key else self.doc.locate(path)
        self.issues.append(
            ValidationIssue(
                file=self.doc.file, line=mark.line, column=mark.column, path=_bounded(format_path(resolved), 300),
                message=_bounded(message, 3000), severity=severity,  # type: ignore[arg-type]
            )
        )

    def sorted_issues(self) -> list[ValidationIssue]:
        """The issues in file order, then one saying how many more were left out."""
        issues = sorted(self.issues, key=lambda i: (i.line, i.column))
        if self.left_out:
            issues.append(ValidationIssue(
                file=self.doc.file, line=1, column=1, path="",
                message=f"{self.left_out} more problem(s) not shown (at most {MAX_ISSUES} are reported per file); "
                        "fix the ones above and validate again",
            ))
        return issues


def _bounded(text: str, limit: int) -> str:
    """`text`, cut to `limit` characters (a file's own keys and values must not make a status.yaml huge)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_path(path: Iterable[str | int]) -> str:
    """`('spec', 'x', 0, 'y')` -> `spec.x[0].y`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


# ---------------------------------------------------------------------------------------------------------------
# Reading


def _load(source: str | Path | bytes, file: str | None) -> tuple[LoadedYaml | None, ValidationIssue | None, str]:
    if isinstance(source, bytes):
        name = file or "<input>"
        loader: Callable[[], LoadedYaml] = lambda: load_yaml(source, name)  # noqa: E731
    else:
        name = file or str(source)
        loader = lambda: load_yaml_file(source, name)  # noqa: E731
    try:
        return loader(), None, name
    except YamlError as exc:
        return None, ValidationIssue(file=exc.file, line=exc.line, column=exc.column, path="", message=exc.message), name


def repo_relative_path(path: str | Path) -> str | None:
    """The part of a file path from its last `requests/` folder on (`/x/repo/requests/ns/a.yaml` ->
    `requests/ns/a.yaml`), None if it is not under a `requests/` folder."""
    parts = PurePosixPath(Path(path).as_posix()).parts
    for index in range(len(parts) - 2, -1, -1):
        if parts[index] == layout.REQUESTS_DIR:
            return "/".join(parts[index:])
    return None


# ---------------------------------------------------------------------------------------------------------------
# Pydantic errors -> located issues


def _unwrap(annotation: Any) -> list[Any]:
    """The classes a field annotation may hold (through Optional, Annotated, list and dict values)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [cls for arg in typing.get_args(annotation) for cls in _unwrap(arg)]
    if origin in (list, tuple):
        return [("list", cls) for arg in typing.get_args(annotation)[:1] for cls in _unwrap(arg)]
    if origin is dict:
        return [("dict", cls) for arg in typing.get_args(annotation)[1:] for cls in _unwrap(arg)]
    return [annotation]


def _field_of(model: type[BaseModel], key: Any) -> Any:
    if not isinstance(key, str):
        return None
    wanted = snake_case(key)
    for name, info in model.model_fields.items():
        if key in (name, info.alias) or snake_case(info.alias or name) == wanted:
            return info.annotation
    return None


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class whose fields live at `loc` (None where the data is free-form)."""
    current: list[Any] = [root]
    for part in loc:
        following: list[Any] = []
        for item in current:
            if isinstance(item, tuple):
                kind, inner = item
                if (kind == "list" and isinstance(part, int)) or kind == "dict":
                    following.append(inner)
            elif isinstance(item, type) and issubclass(item, BaseModel):
                annotation = _field_of(item, part)
                if annotation is not None:
                    following.extend(_unwrap(annotation))
        current = following
    models = [item for item in current if isinstance(item, type) and issubclass(item, BaseModel)]
    return models[0] if models else None


def _allowed_keys(model: type[BaseModel], key: str) -> list[str]:
    aliases = [info.alias or name for name, info in model.model_fields.items()]
    if issubclass(model, Section):
        names = list(model.model_fields)
        if "_" in key:
            return names
        if any(ch.isupper() for ch in key):
            return aliases
        return list(dict.fromkeys(names + aliases))
    return aliases


def unknown_key_message(model: type[BaseModel] | None, key: Any) -> str:
    """`unknown key 'x'` with a "did you mean" suggestion from the keys `model` allows (a long key shortened)."""
    if len(str(key)) > 60:
        return f"unknown key '{str(key)[:57]}...' ({len(str(key))} characters)"
    if model is None:
        return f"unknown key '{key}'"
    allowed = _allowed_keys(model, str(key))
    snake = snake_case(str(key))
    same = [name for name in allowed if snake_case(name) == snake]
    if same:
        style = " (Kubernetes fields are camelCase)" if issubclass(model, StrictModel) else ""
        return f"unknown key '{key}'; did you mean '{same[0]}'?{style}"
    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
    if not close:
        lowered = {name.lower(): name for name in allowed}
        close = [lowered[m] for m in difflib.get_close_matches(str(key).lower(), list(lowered), n=1, cutoff=0.6)]
    if close:
        return f"unknown key '{key}'; did you mean '{close[0]}'?"
    return f"unknown key '{key}'; allowed here: {', '.join(sorted(allowed))}"


_SAME_SETTING = re.compile(r"^'([^']+)' and '([^']+)' are the same setting")
_SECRET_KEY = re.compile(r"^'([^']+)' would put a secret into Git")
_DISAGREE = re.compile(r"^\S+ \(.*\) and (\S+) \(.*\) disagree")
_LEADING_FIELD = re.compile(r"^((?:sla|hardware|sweep|aic|deployment|engine)\.\w+) ")
_MODEL_KEYS = ("aic_hf_id", "aicHfId", "model_name", "modelName")
_KIND_WORDS = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
    "bool_parsing": "true or false", "string_type": "a string", "dict_type": "a mapping",
    "model_type": "a mapping", "model_attributes_type": "a mapping", "list_type": "a list",
}


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _issue_from_error(error: dict[str, Any], collector: _Collector, root: type[BaseModel]) -> None:
    loc = tuple(error["loc"])
    kind = error["type"]
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if kind == "extra_forbidden":
        collector.add(loc, unknown_key_message(_model_at(root, loc[:-1]), loc[-1]), at_key=True)
        return
    if kind == "missing":
        collector.add(loc, f"required field '{loc[-1]}' is missing; add it")
        return
    if kind == "literal_error":
        expected = str(error.get("ctx", {}).get("expected", "")).replace(" or ", ", ")
        collector.add(loc, f"must be one of {expected}, not {_shown(value)}")
        return
    if kind in _KIND_WORDS:
        collector.add(loc, f"must be {_KIND_WORDS[kind]}, not {_shown(value)}")
        return
    if kind in ("less_than", "less_than_equal"):
        limit = error.get("ctx", {}).get("le", error.get("ctx", {}).get("lt"))
        collector.add(loc, f"must be at most {limit}, not {_shown(value)}: gitops-sla bounds every number that "
                      "sizes profiling work, so one request cannot stall the reconciler; lower it")
        return
    if kind == "string_pattern_mismatch":
        what = ("a Hugging Face model id (org/name)" if loc and loc[-1] in _MODEL_KEYS
                else "a name from AI Configurator's lists (letters, digits, '_', '.', '-')")
        collector.add(loc, f"must be {what}, never a path, not {_shown(value)}")
        return
    if kind == "string_too_long":
        limit = error.get("ctx", {}).get("max_length")
        collector.add(loc, f"must be at most {limit} characters, not {len(str(value))}; shorten it")
        return
    if kind in ("greater_than", "greater_than_equal"):
        collector.add(loc, f"{message.lower().replace('input should be', 'must be')}, not {_shown(value)}")
        return
    if kind == "finite_number":
        collector.add(loc, f"must be a finite number, not {_shown(value)}")
        return
    if kind == "string_too_short":
        collector.add(loc, "must not be empty")
        return
    if kind == "value_error":
        same = _SAME_SETTING.match(message) or _SECRET_KEY.match(message)
        disagree = _DISAGREE.match(message)
        if same:
            loc = loc + (same.group(same.lastindex or 1),)
        elif disagree:
            loc = loc + tuple(disagree.group(1).split("."))
        elif "min_num_gpus_per_engine" in message and loc and loc[-1] == "hardware":
            loc = loc + ("min_num_gpus_per_engine",)
        elif leading := _LEADING_FIELD.match(message):
            loc = loc + tuple(leading.group(1).split("."))
        collector.add(loc, message)
        return
    collector.add(loc, f"{message} (got {_shown(value)})")


def _model_issues(doc: LoadedYaml, collector: _Collector, model: type[BaseModel], data: Any = None) -> BaseModel | None:
    """`data` (default: the document's) validated as `model`, errors located in the document."""
    try:
        return model.model_validate(doc.data if data is None else data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            if _is_planner_error(error, doc):
                continue
            if collector.full:  # counted, not described: a file with 45,000 unknown keys stays fast
                collector.left_out += 1
                continue
            _issue_from_error(error, collector, model)
        return None


# ---------------------------------------------------------------------------------------------------------------
# Requests

_PROFILE_CONFIG = ("spec", "profilingConfig", "config")


def _get(data: Any, *path: str) -> Any:
    """The value at `path`, either spelling of each key accepted; None where absent."""
    for part in path:
        if not isinstance(data, dict):
            return None
        if part not in data:
            wanted = snake_case(part)
            part = next((k for k in data if isinstance(k, str) and snake_case(k) == wanted), None)
            if part is None:
                return None
        data = data[part]
    return data


def _is_planner_error(error: dict[str, Any], doc: LoadedYaml) -> bool:
    """Planner errors are reported key by key by `_check_planner`, so pydantic's summary is dropped."""
    loc = tuple(error["loc"])
    return loc == _PROFILE_CONFIG + ("planner",) and error["type"] in ("value_error", "dict_type")


# Planner settings that say where the planner writes, pushes or scales: the reconciler sets them (or leaves the
# planner's defaults, the DGD it runs in) so one tenant's planner can never act on another's deployment or repo.
RECONCILER_OWNED_PLANNER_KEYS = {
    "planner_git_repo": "this repository",
    "planner_git_branch": "the target branch",
    "planner_git_path": "the request's own generated/<namespace>/<name>/replicas.yaml",
    "planner_dgd_name": "the DGD the planner runs in",
    "planner_kube_namespace": "the DGD's namespace",
    "planner_namespace": "the DGD's Dynamo namespace",
}


# What `kubectl get dgdr -o yaml` adds to a request Dynamo accepted: the API server's metadata and the
# operator's status. Dynamo takes such a file back, so these are ignored here with a warning at their line.
SERVER_SET_METADATA = ("creationTimestamp", "deletionGracePeriodSeconds", "deletionTimestamp", "finalizers",
                       "generation", "managedFields", "ownerReferences", "resourceVersion", "selfLink", "uid")


def _accept_dynamo_dump(doc: LoadedYaml, collector: _Collector) -> tuple[Any, dict[str, Any]]:
    """The document without what Dynamo 0.8 accepts and ignores (server-set metadata, `status`, planner keys
    without the `planner_` prefix), each with a warning; a prefix-less planner key whose meaning is clear
    (`metricPullingPrometheusEndpoint` -> `planner_metric_pulling_prometheus_endpoint`) is read as that key.
    Returns the data and the renamed planner keys (new key -> the key in the file, where issues are located)."""
    data = doc.data
    renamed: dict[str, Any] = {}
    if not isinstance(data, dict):
        return data, renamed
    data = dict(data)
    metadata = data.get("metadata")
    if isinstance(metadata, dict):
        for key in metadata:
            if key in SERVER_SET_METADATA:
                collector.add(("metadata", key), "ignored: set by the Kubernetes API server (a `kubectl get -o "
                              "yaml` dump); remove it", severity="warning", at_key=True)
        data["metadata"] = {k: v for k, v in metadata.items() if k not in SERVER_SET_METADATA}
    if "status" in data:
        collector.add(("status",), "ignored: the reconciler writes the status to generated/<namespace>/<name>/"
                      "status.yaml; remove it", severity="warning", at_key=True)
        del data["status"]
    planner = _get(data, *_PROFILE_CONFIG, "planner")
    if isinstance(planner, dict):
        kept: dict[Any, Any] = {}
        for key, value in planner.items():
            snake = snake_case(str(key))
            if snake in FLAGS_BY_PASSTHROUGH_KEY or snake.startswith("planner_"):
                kept[key] = value  # a known key, or a typo of a key Dynamo reads: checked by _check_planner
            elif f"planner_{snake}" in FLAGS_BY_PASSTHROUGH_KEY and not any(
                    snake_case(str(other)) == f"planner_{snake}" for other in planner):
                kept[f"planner_{snake}"] = value
                renamed[f"planner_{snake}"] = key
                if f"planner_{snake}" in RECONCILER_OWNED_PLANNER_KEYS:
                    continue  # refused by _check_planner
                collector.add(_PROFILE_CONFIG + ("planner", key), f"read as planner_{snake} (Dynamo's profiler "
                              f"passes only planner_<flag> keys on, so Dynamo ignored it); write planner_{snake}",
                              severity="warning", at_key=True)
            else:
                collector.add(_PROFILE_CONFIG + ("planner", key), "ignored: not a planner_<flag> key, which Dynamo's "
                              "profiler ignores too; remove it", severity="warning", at_key=True)
        data = _replace(data, _PROFILE_CONFIG + ("planner",), kept)
    return data, renamed


def _replace(data: dict, path: tuple[str, ...], value: Any) -> dict:
    """A copy of `data` with the value at `path` (keys in either spelling, as `_get` finds them) replaced."""
    head, *rest = path
    key = head if head in data else next(k for k in data if isinstance(k, str) and snake_case(k) == snake_case(head))
    return {**data, key: _replace(data[key], tuple(rest), value) if rest else value}


def _check_planner(doc: LoadedYaml, collector: _Collector, data: Any = None,
                   renamed: dict[str, Any] | None = None) -> None:
    """Planner passthrough keys one by one (in `data`, default the document's; `renamed` maps a key read under
    another name to the key in the file, where its issues are located)."""
    planner = _get(doc.data if data is None else data, *_PROFILE_CONFIG, "planner")
    renamed = renamed or {}
    path = _PROFILE_CONFIG + ("planner",)
    config = _get(doc.data, *_PROFILE_CONFIG)
    present = isinstance(config, dict) and any(isinstance(key, str) and snake_case(key) == "planner" for key in config)
    if planner is None and not present:
        return
    if not isinstance(planner, dict):
        collector.add(path, f"must be a mapping of planner_<flag>: value, not {_shown(planner)}")
        return
    seen: dict[str, str] = {}
    for read_as, value in planner.items():
        key = renamed.get(read_as, read_as)
        key_error = planner_key_error(str(read_as))
        if key_error:
            collector.add(path + (key,), key_error, at_key=True)
            continue
        snake = snake_case(str(read_as))
        if snake in seen:
            collector.add(path + (key,), f"'{seen[snake]}' and '{key}' are the same planner setting; keep one",
                          at_key=True)
            continue
        seen[snake] = str(key)
        if snake in RECONCILER_OWNED_PLANNER_KEYS:
            collector.add(path + (key,), f"{snake} is set by the reconciler ({RECONCILER_OWNED_PLANNER_KEYS[snake]}); "
                          "a request may not redirect its planner; remove it", at_key=True)
            continue
        value_error = planner_value_error(FLAGS_BY_PASSTHROUGH_KEY[snake], value)
        if value_error:
            collector.add(path + (key,), value_error)


def _check_planner_1x(doc: LoadedYaml, collector: _Collector, path: tuple[str, ...]) -> None:
    """`features.planner` of a v1beta1 request: Dynamo 1.x `PlannerConfig` keys and value types."""
    planner = _get(doc.data, *path)
    if not isinstance(planner, dict):
        return  # absent, or not a mapping (the model reports that)
    for key, value in planner.items():
        problem = dynamo_planner_config.key_error(str(key))
        if problem:
            collector.add(path + (key,), problem, at_key=True)
        elif problem := dynamo_planner_config.value_error(str(key), value) or _planner_bound_error(str(key), value):
            collector.add(path + (key,), problem)


def _planner_bound_error(key: str, value: Any) -> str | None:
    """The bounds this project sets on a planner setting (`profiler.planner_flags`), for its 1.x name."""
    flag = FLAGS_BY_DEST.get(FLAG_OF_PLANNER_KEY.get(dynamo_planner_config.canonical_key(key) or "", ""))
    if flag is None or not flag.bounds or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    low, high = flag.bounds
    return None if low <= value <= high else f"{key} must be between {low} and {high}, not {value!r}"


def _check_dns_label(collector: _Collector, path: tuple[str, ...], value: Any, what: str) -> bool:
    if not isinstance(value, str) or not value:
        return False
    if len(value) > DNS1123_LABEL_MAX:
        collector.add(path, f"{what} '{value}' is {len(value)} characters; at most {DNS1123_LABEL_MAX} are allowed")
        return False
    if not _DNS1123_LABEL.match(value):
        collector.add(
            path,
            f"{what} '{value}' is not a DNS-1123 label: use lowercase letters, digits and '-', "
            "starting and ending with a letter or digit",
        )
        return False
    return True


def qualified_name_problem(key: str) -> str | None:
    """Why `key` is not a Kubernetes label/annotation key (`[prefix/]name`), or None if it is one."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > DNS1123_SUBDOMAIN_MAX or not _DNS1123_SUBDOMAIN.match(prefix)):
        return f"the prefix '{prefix}' must be a DNS subdomain (lowercase, e.g. example.com)"
    if not name or len(name) > QUALIFIED_NAME_MAX or not _QUALIFIED_NAME.match(name):
        return (f"the name '{name}' must be 1-{QUALIFIED_NAME_MAX} characters of letters, digits, '-', '_' and '.', "
                "starting and ending with a letter or digit")
    return None


def label_value_problem(value: str) -> str | None:
    """Why `value` is not a Kubernetes label value, or None if it is one."""
    if len(value) > LABEL_VALUE_MAX:
        return f"{len(value)} characters; at most {LABEL_VALUE_MAX} are allowed"
    if value and not _QUALIFIED_NAME.match(value):
        return "use letters, digits, '-', '_' and '.', starting and ending with a letter or digit (or leave it empty)"
    return None


def _check_labels_and_annotations(data: Any, collector: _Collector) -> None:
    """Keys and label values as the Kubernetes API server checks them: the request's own and the ones the
    generated DGD gets (`deploymentOverrides`)."""
    for where in (("metadata",), ("spec", "deploymentOverrides")):
        for kind in ("labels", "annotations"):
            mapping = _get(data, *where, kind)
            if not isinstance(mapping, dict):
                continue
            for key, value in mapping.items():
                if not isinstance(key, str):
                    continue
                problem = qualified_name_problem(key)
                if problem:
                    collector.add(where + (kind, key), f"{kind[:-1]} key '{key}' is not valid: {problem}", at_key=True)
                elif kind == "labels" and isinstance(value, str) and (problem := label_value_problem(value)):
                    collector.add(where + (kind, key), f"label value '{value}' is not valid: {problem}")


def _check_names(doc: LoadedYaml, collector: _Collector) -> None:
    data = doc.data
    _check_labels_and_annotations(data, collector)
    backend = _get(data, "spec", "backend")
    name_ok = _check_dns_label(collector, ("metadata", "name"), _get(data, "metadata", "name"), "name")
    _check_dns_label(collector, ("metadata", "namespace"), _get(data, "metadata", "namespace"), "namespace")
    overrides = ("spec", "deploymentOverrides")
    if _get(data, "apiVersion") == API_VERSION_V1BETA1:
        overrides = ("spec", "overrides", "dgd", "metadata")  # v1beta1: the DGD override's metadata.name
    override_name = _get(data, *overrides, "name")
    override_ok = _check_dns_label(collector, overrides + ("name",), override_name, "DGD name")
    _check_dns_label(collector, overrides + ("namespace",), _get(data, *overrides, "namespace"), "DGD namespace")
    if not isinstance(backend, str) or backend not in SERVICE_NAMES:
        return
    if override_name is not None:
        dgd_name, path, ok = override_name, overrides + ("name",), override_ok
    else:
        dgd_name, path, ok = _get(data, "metadata", "name"), ("metadata", "name"), name_ok
    if ok and len(dgd_name) > max_dgd_name_length(backend):
        length, service = grove_name_length(dgd_name, backend)
        collector.add(
            path,
            f"'{dgd_name}' is too long for a {backend} deployment: PodCliqueSet '{dgd_name}' plus PodClique "
            f"'{service}' are {length} characters, Grove allows {GROVE_NAME_LIMIT}; use at most "
            f"{max_dgd_name_length(backend)} characters"
            + ("" if override_name is not None else f" (or set {format_path(overrides + ('name',))})"),
        )


def _check_path(
    doc: LoadedYaml, collector: _Collector, repo_path: str | None
) -> tuple[str | None, str | None]:
    """The request's folder namespace and file name, checked against its metadata."""
    if repo_path is None:
        return None, None
    parsed = layout.parse_request_path(repo_path)
    if parsed is None:
        collector.add(
            (), f"request files must be at {layout.REQUESTS_DIR}/<namespace>/<name>{layout.REQUEST_SUFFIX}, "
            f"not {repo_path}; move the file",
        )
        return None, None
    folder_namespace, file_name = parsed
    name = _get(doc.data, "metadata", "name")
    namespace = _get(doc.data, "metadata", "namespace")
    if isinstance(name, str) and name != file_name:
        collector.add(("metadata", "name"), f"name '{name}' does not match the file name "
                      f"'{file_name}{layout.REQUEST_SUFFIX}'; rename the file or change the name")
    if isinstance(namespace, str) and namespace != folder_namespace:
        collector.add(("metadata", "namespace"), f"namespace '{namespace}' does not match the folder "
                      f"'{layout.REQUESTS_DIR}/{folder_namespace}/'; move the file or change the namespace")
    if not _DNS1123_LABEL.match(folder_namespace) or len(folder_namespace) > DNS1123_LABEL_MAX:
        collector.add((), f"folder '{folder_namespace}' is not a valid namespace (DNS-1123 label); rename the folder")
    return folder_namespace, file_name


def _check_request_semantics(
    request: DynamoGraphDeploymentRequest,
    collector: _Collector,
    *,
    folder_namespace: str | None,
    base_exists: Callable[[str], bool] | None,
) -> None:
    data = collector.doc.data
    spec = request.spec
    config = spec.profiling_config.config
    if _get(data, *_PROFILE_CONFIG, "sla") is None:
        collector.add(_PROFILE_CONFIG + ("sla",), "required field 'sla' is missing; add isl, osl, ttft and itl")

    # Backend consistency between spec.backend and the AI Configurator / engine settings.
    for path, value in (
        (_PROFILE_CONFIG + ("sweep", "aicBackend"), config.sweep.aic_backend or None),
        (_PROFILE_CONFIG + ("aic", "backend"), config.aic.backend),
    ):
        if value and value != spec.backend:
            collector.add(path, f"AI Configurator backend '{value}' differs from spec.backend '{spec.backend}'; "
                          "remove it or make them equal")
    named_system = config.sweep.aic_system or config.aic.system
    if config.hardware.gpu_type and named_system and config.hardware.gpu_type != named_system:
        collector.add(_PROFILE_CONFIG + ("hardware", "gpuType"), f"ignored: AI Configurator uses the system "
                      f"'{named_system}' named in the sweep/aic settings; make them equal", severity="warning")
    engine_backend = _get(data, *_PROFILE_CONFIG, "engine", "backend")
    if engine_backend is not None and engine_backend != spec.backend:
        collector.add(_PROFILE_CONFIG + ("engine", "backend"), f"ignored: spec.backend '{spec.backend}' replaces it "
                      "(as Dynamo's operator does); remove it", severity="warning")
    deployment_model = _get(data, *_PROFILE_CONFIG, "deployment", "model")
    if deployment_model is not None and deployment_model != spec.model:
        collector.add(_PROFILE_CONFIG + ("deployment", "model"), f"ignored: spec.model '{spec.model}' replaces it "
                      "(as Dynamo's operator does); remove it", severity="warning")
    engine_config = _get(data, *_PROFILE_CONFIG, "engine", "config")
    if engine_config and spec.profiling_config.config_map_ref is not None:
        collector.add(_PROFILE_CONFIG + ("engine", "config"), "ignored: profilingConfig.configMapRef sets the base "
                      "config; remove one of them", severity="warning")
    if "use_mocker" in spec.model_fields_set and "deploy_mocker" in spec.model_fields_set:
        if spec.use_mocker != spec.deploy_mocker:
            collector.add(("spec", "deployMocker"), "useMocker and deployMocker are the same switch under two names "
                          "and disagree; keep one")

    # Base config reference: a valid ConfigMap name/key, present in bases/ when we can look.
    ref = spec.profiling_config.config_map_ref
    ref_path = ("spec", "profilingConfig", "configMapRef")
    if ref is not None:
        if not _DNS1123_SUBDOMAIN.match(ref.name) or len(ref.name) > 253:
            collector.add(ref_path + ("name",), f"'{ref.name}' is not a valid ConfigMap name (DNS-1123 subdomain)")
        elif not _CONFIG_MAP_KEY.match(ref.key) or ref.key in (".", ".."):
            collector.add(ref_path + ("key",), f"'{ref.key}' is not a valid ConfigMap key (letters, digits, '-', "
                          "'_', '.')")
        elif folder_namespace is not None and base_exists is not None:
            namespace = request.namespace_or(folder_namespace)
            if _DNS1123_LABEL.match(namespace):
                base = layout.base_config_path(namespace, ref.name, ref.key)
                if not base_exists(base):
                    collector.add(ref_path + ("name",), f"base config {base} does not exist; add it to the repository "
                                  "(the Git form of this ConfigMap) or remove configMapRef")

    # AI Configurator's own lists and the model's context: what offline profiling would fail on.
    for finding in check_aic_names(config, spec.backend, spec.model):
        collector.add(finding.path, finding.message, severity=finding.severity)



def _check_tenancy(request: SlaRequest, collector: _Collector, *, repo_path: str | None,
                   folder_namespace: str | None, repo_config: RepoConfig | None) -> None:
    """The request's namespace and the DGD's namespace must be allowed for its path."""
    if repo_config is not None and repo_path is not None and folder_namespace is not None:
        targets = [(("metadata", "namespace"), request.namespace_or(folder_namespace))]
        overrides = request.deployment
        if overrides and overrides.namespace:
            targets.append((("spec", "deploymentOverrides", "namespace"), overrides.namespace))
        for path, namespace in targets:
            if pattern := repo_config.protected(namespace):
                collector.add(path, f"namespace '{namespace}' is a protected system namespace ('{pattern}' in "
                              "gitops-sla.yaml's protectedNamespaces, by default kube-*, flux-system, argocd and "
                              "gitops-sla-system); deploy into a namespace of your own")
            elif not repo_config.namespace_allowed(repo_path, namespace, folder_namespace):
                allowed = repo_config.allowed_namespace_patterns(repo_path, folder_namespace)
                where = ", ".join(allowed) if allowed else "none (no tenancy rule matches this path)"
                collector.add(path, f"namespace '{namespace}' is not allowed for {repo_path} by gitops-sla.yaml "
                              f"tenancy rules; allowed: {where}")


def validate_request_file(
    source: str | Path | bytes,
    *,
    file: str | None = None,
    repo_path: str | None = None,
    repo_config: RepoConfig | None = None,
    base_exists: Callable[[str], bool] | None = None,
) -> RequestValidation:
    """Validate one DGDR file (a path, or its bytes).

    `file` is the name used in messages. `repo_path` is the path inside the GitOps repository (e.g.
    `requests/team-a/chat.yaml`); when not given it is taken from `file`/the path if that lies under a
    `requests/` folder, and the layout checks run only when it is known. `repo_config` enables tenancy checks;
    `base_exists(path)` (a repository lookup) enables the check that a `configMapRef` has its `bases/` file.
    """
    doc, load_issue, name = _load(source, file)
    if doc is None:
        assert load_issue is not None
        return RequestValidation(file=name, issues=[load_issue])
    if repo_path is None:
        repo_path = repo_relative_path(file) if file else None
        if repo_path is None and not isinstance(source, bytes):
            repo_path = repo_relative_path(source)
    collector = _Collector(doc)
    data = doc.data if isinstance(doc.data, dict) else {}
    if not ({"apiVersion", "kind"} & set(data)) and "model" in data:
        return _validate_bare_spec(doc, collector, name, repo_path)
    v1beta1 = data.get("apiVersion") == API_VERSION_V1BETA1
    if v1beta1:
        _check_planner_1x(doc, collector, ("spec", "features", "planner"))
        document = _model_issues(doc, collector, DynamoGraphDeploymentRequestV1Beta1)
    else:
        accepted, renamed = _accept_dynamo_dump(doc, collector)
        _check_planner(doc, collector, accepted, renamed)
        document = _model_issues(doc, collector, DynamoGraphDeploymentRequest, accepted)
    _name_both_api_versions(collector)
    folder_namespace, _ = _check_path(doc, collector, repo_path)
    _check_names(doc, collector)
    request: SlaRequest | None = None
    if document is not None and not any(i.severity == "error" for i in collector.issues):
        if isinstance(document, DynamoGraphDeploymentRequest):
            _check_request_semantics(document, collector, folder_namespace=folder_namespace, base_exists=base_exists)
            request = from_v1alpha1(document)
        else:
            try:
                request = from_v1beta1(document)  # type: ignore[arg-type]
            except ValidationError as exc:  # a value v1beta1 allows but the profile config bounds
                for error in exc.errors(include_url=False):
                    collector.add(("spec",), f"{'.'.join(map(str, error['loc']))}: {error['msg']}")
            if request is not None:  # AI Configurator's own lists: what offline (rapid) profiling would fail on
                for finding in check_aic_names(request.config, request.resolved_backend, request.model, v1beta1=True):
                    collector.add(finding.path, finding.message, severity=finding.severity)
        if request is not None:
            _check_tenancy(request, collector, repo_path=repo_path, folder_namespace=folder_namespace,
                           repo_config=repo_config)
    issues = collector.sorted_issues()
    ok = not any(issue.severity == "error" for issue in issues)
    valid = request if ok else None
    namespace = valid.namespace_or(folder_namespace or "default") if valid else None
    return RequestValidation(
        file=name, issues=issues, request=valid, namespace=namespace, name=valid.name if valid else None,
        document=document if valid else None,  # type: ignore[arg-type]
    )


def _name_both_api_versions(collector: _Collector) -> None:
    """An unknown `apiVersion` is refused naming both versions this project reads."""
    for index, issue in enumerate(collector.issues):
        if issue.path == "apiVersion" and issue.message.startswith("must be one of"):
            value = _get(collector.doc.data, "apiVersion")
            message = (f"must be nvidia.com/v1alpha1 (Dynamo 0.8) or {API_VERSION_V1BETA1} (Dynamo 1.x), "
                       f"not {_shown(value)}")
            collector.issues[index] = issue.model_copy(update={"message": message})


def _validate_bare_spec(doc: LoadedYaml, collector: _Collector, name: str, repo_path: str | None) -> RequestValidation:
    """A v1beta1 DGDR `spec` on its own: what Dynamo 1.x's profiler reads with `--config`, and the form of the
    cases its package ships. Checked as the spec of a v1beta1 request; a repository needs the whole object."""
    if repo_path is not None:
        collector.add((), "a request file must be a whole DGDR: add apiVersion: nvidia.com/v1beta1, kind: "
                      "DynamoGraphDeploymentRequest and metadata.name, and put these fields under spec")
    _check_planner_1x(doc, collector, ("features", "planner"))
    spec = _model_issues(doc, collector, DGDRSpecV1Beta1)
    ok = isinstance(spec, DGDRSpecV1Beta1) and not any(issue.severity == "error" for issue in collector.issues)
    request = from_v1beta1_spec(spec, ObjectMeta(name=Path(name).stem)) if ok else None  # type: ignore[arg-type]
    if request is not None:  # AI Configurator's lists, at the spec's own fields (no `spec.` above them)
        for finding in check_aic_names(request.config, request.resolved_backend, request.model, v1beta1=True):
            collector.add(finding.path[1:], finding.message, severity=finding.severity)
    issues = collector.sorted_issues()
    valid = request if not any(issue.severity == "error" for issue in issues) else None
    return RequestValidation(file=name, issues=issues, request=valid)


# ---------------------------------------------------------------------------------------------------------------
# Repo config


def validate_repo_config(source: str | Path | bytes, *, file: str | None = None) -> RepoConfigValidation:
    """Validate `gitops-sla.yaml` (a path, or its bytes)."""
    doc, load_issue, name = _load(source, file)
    if doc is None:
        assert load_issue is not None
        return RepoConfigValidation(file=name, issues=[load_issue])
    collector = _Collector(doc)
    config = _model_issues(doc, collector, RepoConfig)
    if isinstance(config, RepoConfig):
        if config.forge is not None:
            for name, where in OPERATOR_ONLY_FORGE_KEYS.items():
                if getattr(config.forge, name) is not None:
                    collector.add(("forge", name), f"ignored: where credentials go is the reconciler operator's "
                                  f"choice ({where}), never the repository's; remove it", severity="warning",
                                  at_key=True)
        if config.api_version == LEGACY_REPO_CONFIG_API_VERSION:
            collector.add(("apiVersion",), f"'{LEGACY_REPO_CONFIG_API_VERSION}' is the former group, still read; "
                          f"write apiVersion: {REPO_CONFIG_API_VERSION}", severity="warning")
        for index, rule in enumerate(config.tenancy):
            for position, pattern in enumerate(rule.paths):
                if not pattern.startswith((f"{layout.REQUESTS_DIR}/", "**")):
                    collector.add(("tenancy", index, "paths", position), f"'{pattern}' can never match a request "
                                  f"file; request paths start with {layout.REQUESTS_DIR}/")
            for position, pattern in enumerate(rule.namespaces):
                probe = pattern.replace("{namespace}", "a").replace("*", "a").replace("?", "a")
                if not re.match(r"^[a-z0-9\[\]\-!]+$", probe):
                    collector.add(("tenancy", index, "namespaces", position), f"'{pattern}' can never match a "
                                  "namespace (lowercase letters, digits and '-', with * ? globs and {namespace})")
    issues = collector.sorted_issues()
    ok = not any(issue.severity == "error" for issue in issues)
    return RepoConfigValidation(file=name, issues=issues, config=config if ok else None)  # type: ignore[arg-type]
