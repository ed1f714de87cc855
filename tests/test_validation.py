"""Located validation of requests and repo configs (the malformed corpus is in test_malformed_corpus.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_sla.models import DynamoGraphDeploymentRequest, RepoConfig
from gitops_sla.validation import (
    GROVE_NAME_LIMIT,
    SERVICE_NAMES,
    grove_name_length,
    max_dgd_name_length,
    repo_relative_path,
    validate_repo_config,
    validate_request_file,
)
from gitops_sla.yamlsafe import load_yaml

ROOT = Path(__file__).resolve().parent.parent
# v1alpha1 examples (the v1beta1 ones, in dynamo-1.6.1/, are checked by tests/test_v1beta1.py)
EXAMPLES = sorted(p for p in (ROOT / "gitops_sla" / "examples").rglob("*.yaml") if "dynamo-1.6.1" not in p.parts)
BASE_CONFIGS = ROOT / "profiler" / "vendor" / "dynamo" / "base-configs"

REQUEST = """\
apiVersion: nvidia.com/v1alpha1
kind: DynamoGraphDeploymentRequest
metadata:
  name: chat
spec:
  model: Qwen/Qwen3-0.6B
  backend: vllm
  profilingConfig:
    profilerImage: img
    configMapRef:
      name: my-base
    config:
      sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}
"""


def _issues(text: str, **kwargs) -> list[str]:
    return [str(issue) for issue in validate_request_file(text.encode(), file="f.yaml", **kwargs).issues]


def test_there_are_examples() -> None:
    names = {path.name for path in EXAMPLES}
    assert {"profile_sla_aic_dgdr.yaml", "profile_sla_dgdr.yaml", "quickstart-aic.yaml"} <= names
    assert len(EXAMPLES) >= 9


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_every_sample_and_quickstart_example_validates_unchanged(example: Path) -> None:
    result = validate_request_file(example)
    assert result.issues == [], [str(issue) for issue in result.issues]
    assert isinstance(result.document, DynamoGraphDeploymentRequest)


def test_valid_result_carries_request_name_and_namespace() -> None:
    result = validate_request_file(REQUEST.encode(), file="requests/team-a/chat.yaml")
    assert result.ok and (result.namespace, result.name) == ("team-a", "chat")
    assert result.request.config_map_ref.name == "my-base"


def test_invalid_result_has_no_request() -> None:
    result = validate_request_file(REQUEST.replace("vllm", "vlm").encode(), file="x.yaml")
    assert not result.ok and result.request is None


def test_issue_format_is_file_line_column_path_message() -> None:
    text = REQUEST.replace("ttft: 200", "ttft: -5")
    assert _issues(text) == ["f.yaml:13:40: spec.profilingConfig.config.sla.ttft: must be greater than 0, not -5"]


def test_errors_name_the_path_as_spelled_in_the_file() -> None:
    text = REQUEST.replace("sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}",
                           "sla: {isl: 3000, osl: 150, ttft: 200, itl: 20}\n      sweep: {use_ai_configurator: 5}")
    assert _issues(text) == ["f.yaml:14:36: spec.profilingConfig.config.sweep.use_ai_configurator: "
                             "must be true or false, not 5"]


def test_several_errors_are_reported_in_file_order() -> None:
    text = REQUEST.replace("backend: vllm", "backend: vlm").replace("name: chat", "name: Chat")
    messages = _issues(text)
    assert [m.split(": ")[0] for m in messages] == ["f.yaml:4:9", "f.yaml:7:12"]


def test_suggestion_lists_allowed_keys_when_nothing_is_close() -> None:
    text = REQUEST.replace("  backend: vllm", "  backend: vllm\n  zzz: 1")
    (message,) = _issues(text)
    assert "allowed here: autoApply, backend, deployMocker, deploymentOverrides" in message


def test_service_names_match_the_vendored_base_configs() -> None:
    for backend, services in SERVICE_NAMES.items():
        base = load_yaml((BASE_CONFIGS / backend / "disagg.yaml").read_bytes()).data
        assert set(base["spec"]["services"]) | {"Planner"} == set(services)


@pytest.mark.parametrize(("backend", "limit", "longest_service"),
                         [("vllm", 28, "vllmprefillworker"), ("sglang", 37, "frontend"),
                          ("trtllm", 26, "trtllmprefillworker")])
def test_longest_dgd_name_per_backend(backend: str, limit: int, longest_service: str) -> None:
    """Grove's webhook counts PodCliqueSet (`<dgd>`) + PodClique (`<lowercase service>`) names, at most 45."""
    assert max_dgd_name_length(backend) == limit
    assert grove_name_length("x" * limit, backend) == (GROVE_NAME_LIMIT, longest_service)
    ok = REQUEST.replace("backend: vllm", f"backend: {backend}").replace("name: chat", f"name: {'a' * limit}")
    assert _issues(ok) == []
    too_long = ok.replace(f"name: {'a' * limit}", f"name: {'a' * (limit + 1)}")
    (message,) = _issues(too_long)
    assert f"f.yaml:4:9: metadata.name: '{'a' * (limit + 1)}' is too long for a {backend} deployment" in message


def test_override_name_lifts_the_length_limit_of_metadata_name() -> None:
    long_name = "a-rather-long-request-name-for-chat"
    text = REQUEST.replace("name: chat", f"name: {long_name}").replace(
        "  profilingConfig:", "  deploymentOverrides:\n    name: chat\n  profilingConfig:"
    )
    assert _issues(text) == []


def test_path_checks_only_with_a_repository_path() -> None:
    text = REQUEST.replace("name: chat", "name: chat\n  namespace: team-a")
    assert _issues(text) == []
    assert _issues(text, repo_path="requests/team-a/chat.yaml") == []
    (message,) = _issues(text, repo_path="requests/team-b/chat.yaml")
    assert "f.yaml:5:14: metadata.namespace: namespace 'team-a' does not match the folder" in message


def test_repo_path_is_taken_from_a_requests_folder() -> None:
    assert repo_relative_path("/x/repo/requests/ns/a.yaml") == "requests/ns/a.yaml"
    assert repo_relative_path("requests/ns/a.yaml") == "requests/ns/a.yaml"
    assert repo_relative_path("/x/examples/a.yaml") is None
    result = validate_request_file(REQUEST.encode(), file="repo/requests/team-a/other.yaml")
    assert [i.path for i in result.issues] == ["metadata.name"]


def test_base_config_must_exist_when_a_lookup_is_given() -> None:
    seen: list[str] = []

    def exists(path: str) -> bool:
        seen.append(path)
        return path == "bases/team-a/my-base/disagg.yaml"

    assert _issues(REQUEST, repo_path="requests/team-a/chat.yaml", base_exists=exists) == []
    assert seen == ["bases/team-a/my-base/disagg.yaml"]
    (message,) = _issues(REQUEST, repo_path="requests/team-b/chat.yaml", base_exists=exists)
    assert "f.yaml:11:13: spec.profilingConfig.configMapRef.name: base config bases/team-b/my-base/disagg.yaml " \
           "does not exist" in message


def test_tenancy_rules_apply_to_metadata_and_override_namespaces() -> None:
    config = RepoConfig.model_validate({"tenancy": [{"paths": ["requests/team-a/*.yaml"],
                                                     "namespaces": ["{namespace}", "team-a-*"]}]})
    text = REQUEST.replace("  profilingConfig:", "  deploymentOverrides:\n    namespace: team-a-prod\n  profilingConfig:")
    assert _issues(text, repo_path="requests/team-a/chat.yaml", repo_config=config) == []
    bad = text.replace("team-a-prod", "prod")
    (message,) = _issues(bad, repo_path="requests/team-a/chat.yaml", repo_config=config)
    assert "f.yaml:9:16: spec.deploymentOverrides.namespace: namespace 'prod' is not allowed" in message
    assert "allowed: team-a, team-a-*" in message
    (message,) = _issues(REQUEST, repo_path="requests/team-b/chat.yaml", repo_config=config)
    assert "none (no tenancy rule matches this path)" in message


@pytest.mark.parametrize("folder", ["kube-system", "kube-public", "flux-system", "argocd"])
def test_system_namespaces_are_protected_by_default(folder: str) -> None:
    text = REQUEST.replace("  name: chat", f"  name: chat\n  namespace: {folder}")
    (message,) = _issues(text, repo_path=f"requests/{folder}/chat.yaml", repo_config=RepoConfig())
    assert f"metadata.namespace: namespace '{folder}' is a protected system namespace" in message
    moved = REQUEST.replace("  profilingConfig:", f"  deploymentOverrides:\n    namespace: {folder}\n  profilingConfig:")
    (message,) = _issues(moved, repo_path="requests/team-a/chat.yaml",
                         repo_config=RepoConfig.model_validate({"tenancy": [{"paths": ["**"], "namespaces": ["*"]}]}))
    assert "spec.deploymentOverrides.namespace" in message and "protected" in message
    lifted = RepoConfig.model_validate({"protectedNamespaces": []})
    assert _issues(text, repo_path=f"requests/{folder}/chat.yaml", repo_config=lifted) == []
    assert _issues(REQUEST, repo_path="requests/default/chat.yaml", repo_config=RepoConfig()) == []


def test_overwritten_fields_are_warnings() -> None:
    text = REQUEST.replace("sla: {", "engine: {backend: sglang}\n      deployment: {model: other}\n      sla: {")
    result = validate_request_file(text.encode(), file="f.yaml")
    assert result.ok
    assert [(i.severity, i.path) for i in result.issues] == [
        ("warning", "spec.profilingConfig.config.engine.backend"),
        ("warning", "spec.profilingConfig.config.deployment.model"),
    ]
    assert "warning: ignored: spec.backend 'vllm' replaces it" in str(result.issues[0])


def test_gpu_type_disagreeing_with_the_aic_system_is_a_warning() -> None:
    text = REQUEST.replace("sla: {", "hardware: {gpu_type: h100_sxm}\n      sweep: {aicSystem: h200_sxm}\n      sla: {")
    result = validate_request_file(text.encode(), file="f.yaml")
    assert result.ok
    assert [str(i) for i in result.issues] == [
        "f.yaml:13:28: spec.profilingConfig.config.hardware.gpu_type: warning: ignored: AI Configurator uses the "
        "system 'h200_sxm' named in the sweep/aic settings; make them equal"]
    assert _issues(text.replace("h100_sxm", "h200_sxm")) == []


def test_agreeing_backends_and_mocker_switches_pass() -> None:
    text = REQUEST.replace("sla: {", "sweep: {aicBackend: vllm}\n      aic: {backend: vllm}\n      sla: {").replace(
        "  backend: vllm", "  backend: vllm\n  useMocker: true\n  deployMocker: true")
    assert _issues(text) == []


def test_planner_passthrough_accepts_every_known_flag_spelling() -> None:
    text = REQUEST.replace("sla: {", "planner:\n        planner_min_endpoint: 2\n        plannerMaxGpuBudget: 16\n"
                                     "        planner-load-predictor: kalman\n        planner_no_correction: true\n"
                                     "        planner_ttft: 200\n      sla: {")
    assert _issues(text) == []


def test_dynamos_planner_mode_disagg_passes_and_single_component_modes_are_refused_at_their_line() -> None:
    assert _issues(REQUEST.replace("sla: {", "planner:\n        planner_mode: disagg\n      sla: {")) == []
    issues = _issues(REQUEST.replace("sla: {", "planner:\n        planner_mode: prefill\n      sla: {"))
    assert len(issues) == 1
    assert issues[0].startswith("f.yaml:") and ": spec.profilingConfig.config.planner.planner_mode: " in issues[0]
    assert "single-component planning mode" in issues[0] and "use disagg" in issues[0]


def test_repo_config_template_and_defaults_are_valid() -> None:
    result = validate_repo_config(ROOT / "repo-template" / "gitops-sla.yaml")
    assert result.ok and result.issues == []
    assert result.config.tenancy[0].namespaces == ["{namespace}"]
    assert validate_repo_config(b"{}", file="gitops-sla.yaml").ok


def test_repo_config_errors_are_located() -> None:
    result = validate_repo_config(b"targetBranch: main\nplanner:\n  mode: sometimes\n", file="gitops-sla.yaml")
    assert [str(i) for i in result.issues] == [
        "gitops-sla.yaml:3:9: planner.mode: must be one of 'git', 'patch', 'advisory', not 'sometimes'"
    ]
    assert result.config is None
