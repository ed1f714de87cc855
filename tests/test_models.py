"""The DGDR, status and repo config models."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from gitops_sla.models import (
    DGDRStatus,
    DynamoGraphDeploymentRequest,
    RepoConfig,
    RequestRef,
    RequestStatusFile,
    ResultSummary,
    ValidationIssue,
)
from gitops_sla.yamlsafe import load_yaml

EXAMPLES = Path(__file__).resolve().parent.parent / "gitops_sla" / "examples"


def _request(**spec_changes) -> dict:
    spec = {
        "model": "Qwen/Qwen3-0.6B",
        "backend": "vllm",
        "profilingConfig": {"profilerImage": "img", "config": {"sla": {"ttft": 200, "itl": 20}}},
    }
    spec.update(spec_changes)
    return {
        "apiVersion": "nvidia.com/v1alpha1",
        "kind": "DynamoGraphDeploymentRequest",
        "metadata": {"name": "chat"},
        "spec": spec,
    }


def _load(name: str) -> DynamoGraphDeploymentRequest:
    return DynamoGraphDeploymentRequest.model_validate(load_yaml((EXAMPLES / name).read_bytes()).data)


def test_aic_sample_fields() -> None:
    request = _load("dynamo-samples/profile_sla_aic_dgdr.yaml")
    assert (request.name, request.spec.model, request.spec.backend) == ("sla-aic", "Qwen/Qwen3-32B", "trtllm")
    assert request.spec.auto_apply is True and request.spec.auto_apply_explicit is True
    assert request.spec.profiling_config.config.sweep.use_ai_configurator is True
    assert request.spec.profiling_config.config.aic_system == "h200_sxm"
    assert request.spec.deployment_overrides.workers_image.endswith("tensorrtllm-runtime:0.8.1")


def test_defaults_follow_the_crd() -> None:
    request = DynamoGraphDeploymentRequest.model_validate(_request())
    spec = request.spec
    assert (spec.auto_apply, spec.enable_gpu_discovery, spec.use_mocker, spec.deploy_mocker) == (False,) * 4
    assert spec.auto_apply_explicit is None
    assert spec.profiling_config.config_map_ref is None


def test_config_map_ref_key_defaults_to_disagg_yaml() -> None:
    data = _request()
    data["spec"]["profilingConfig"]["configMapRef"] = {"name": "base"}
    ref = DynamoGraphDeploymentRequest.model_validate(data).spec.profiling_config.config_map_ref
    assert (ref.name, ref.key) == ("base", "disagg.yaml")


@pytest.mark.parametrize("switch", ["useMocker", "deployMocker"])
def test_both_mocker_names_are_accepted(switch: str) -> None:
    request = DynamoGraphDeploymentRequest.model_validate(_request(**{switch: True}))
    assert request.spec.mocker is True


def test_kubernetes_fields_are_camel_case_only() -> None:
    with pytest.raises(ValidationError) as info:
        DynamoGraphDeploymentRequest.model_validate(_request(auto_apply=True))
    assert info.value.errors()[0]["loc"] == ("spec", "auto_apply")


def test_output_pvc_keeps_the_crd_spelling() -> None:
    data = _request()
    data["spec"]["profilingConfig"]["outputPVC"] = "dynamo-pvc"
    request = DynamoGraphDeploymentRequest.model_validate(data)
    assert request.spec.profiling_config.output_pvc == "dynamo-pvc"
    assert request.to_document()["spec"]["profilingConfig"]["outputPVC"] == "dynamo-pvc"


def test_resources_tolerations_node_selector() -> None:
    data = _request()
    data["spec"]["profilingConfig"].update(
        resources={"limits": {"cpu": "500m", "memory": "10Gi", "nvidia.com/gpu": 1}},
        tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        nodeSelector={"gpu": "h200"},
    )
    config = DynamoGraphDeploymentRequest.model_validate(data).spec.profiling_config
    assert config.resources.limits == {"cpu": "500m", "memory": "10Gi", "nvidia.com/gpu": 1}
    assert config.tolerations[0].operator == "Exists"
    assert config.node_selector == {"gpu": "h200"}
    data["spec"]["profilingConfig"]["resources"] = {"limits": {"cpu": "four"}}
    with pytest.raises(ValidationError):
        DynamoGraphDeploymentRequest.model_validate(data)


def test_to_profile_config_injects_request_fields_like_the_operator() -> None:
    data = _request(enableGpuDiscovery=True, deploymentOverrides={"workersImage": "my/image:1"})
    data["metadata"]["namespace"] = "team-a"
    data["spec"]["profilingConfig"]["config"]["engine"] = {"backend": "sglang"}
    config = DynamoGraphDeploymentRequest.model_validate(data).to_profile_config("bases/team-a/base/disagg.yaml")
    assert config.deployment.model == "Qwen/Qwen3-0.6B"
    assert config.engine.backend == "vllm"
    assert config.deployment.namespace == "team-a"
    assert config.deployment.dgd_image == "my/image:1"
    assert config.engine.config == "bases/team-a/base/disagg.yaml"
    assert config.hardware.enable_gpu_discovery is True


def test_to_profile_config_namespace_argument_and_default() -> None:
    request = DynamoGraphDeploymentRequest.model_validate(_request())
    assert request.to_profile_config(None).deployment.namespace == "default"
    assert request.to_profile_config(None, namespace="team-b").deployment.namespace == "team-b"
    assert request.to_profile_config(None).engine.config == ""


def test_sweep_gpu_range_from_dynamo_docs_fills_the_hardware_range() -> None:
    data = _request()
    data["spec"]["profilingConfig"]["config"]["sweep"] = {"minNumGpus": 4, "maxNumGpus": 8}
    hardware = DynamoGraphDeploymentRequest.model_validate(data).to_profile_config(None).hardware
    assert (hardware.min_num_gpus_per_engine, hardware.max_num_gpus_per_engine) == (4, 8)


def test_dgd_name_and_namespace() -> None:
    request = DynamoGraphDeploymentRequest.model_validate(
        _request(deploymentOverrides={"name": "chat-dgd", "namespace": "serving"})
    )
    assert request.dgd_name() == "chat-dgd"
    assert request.dgd_namespace("team-a") == "serving"
    plain = DynamoGraphDeploymentRequest.model_validate(_request())
    assert (plain.dgd_name(), plain.dgd_namespace("team-a")) == ("chat", "team-a")


def test_status_on_the_request_is_typed() -> None:
    data = _request()
    data["status"] = {"state": "Profiling", "conditions": [
        {"type": "Profiling", "status": "False", "reason": "ProfilingRunning", "message": "running"}]}
    status = DynamoGraphDeploymentRequest.model_validate(data).status
    assert status.state == "Profiling" and status.condition("Profiling").reason == "ProfilingRunning"
    data["status"]["state"] = "Done"
    with pytest.raises(ValidationError):
        DynamoGraphDeploymentRequest.model_validate(data)


def test_conditions_merge_by_type_and_keep_transition_time() -> None:
    t1 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    t2 = datetime(2026, 1, 2, tzinfo=timezone.utc)
    status = DGDRStatus().with_condition("Profiling", "False", "ProfilingRunning", "running", at=t1)
    status = status.with_condition("Validation", "True", "ValidationPassed", at=t1)
    assert [c.type for c in status.conditions] == ["Validation", "Profiling"]
    same = status.with_condition("Profiling", "False", "ProfilingRunning", "still running", at=t2)
    assert same.condition("Profiling").last_transition_time == t1
    assert same.condition("Profiling").message == "still running"
    changed = same.with_condition("Profiling", "True", "ProfilingCompleted", at=t2)
    assert changed.condition("Profiling").last_transition_time == t2
    assert len(changed.conditions) == 2
    assert status.condition("Profiling").message == "running"


def test_condition_reason_must_be_camel_case() -> None:
    with pytest.raises(ValidationError):
        DGDRStatus().with_condition("Validation", "False", "not a reason")


def test_status_file_round_trips_deterministically() -> None:
    issue = ValidationIssue(file="requests/a/b.yaml", line=3, column=5, path="spec.backend", message="bad")
    status = DGDRStatus(state="Failed", backend="vllm").with_condition(
        "Validation", "False", "ValidationFailed", str(issue)
    )
    document = RequestStatusFile(
        request=RequestRef(name="b", namespace="a", path="requests/a/b.yaml", model="m", backend="vllm"),
        spec_hash="abc",
        source_commit="0" * 40,
        status=status,
        issues=[issue],
        result=ResultSummary(sla_met=False, target_ttft_ms=200, expected_ttft_ms=250.5, warnings=["w"]),
    )
    text = document.to_yaml()
    assert text == document.to_yaml()
    assert text.startswith("apiVersion: gitops-sla.dev/v1alpha1\nkind: DynamoGraphDeploymentRequestStatus\n")
    assert "specHash: abc" in text and "slaMet: false" in text and "lastTransitionTime" not in text
    assert RequestStatusFile.from_yaml(text) == document


def test_issue_formatting() -> None:
    issue = ValidationIssue(file="f.yaml", line=2, column=3, path="spec.model", message="bad")
    assert str(issue) == "f.yaml:2:3: spec.model: bad"
    warning = issue.model_copy(update={"severity": "warning", "path": ""})
    assert str(warning) == "f.yaml:2:3: warning: bad"


def test_repo_config_defaults() -> None:
    config = RepoConfig()
    assert (config.target_branch, config.default_mode, config.planner.mode) == ("main", "pull-request", "advisory")
    assert config.ai_configurator.system == "h200_sxm"
    assert config.forge is None


def test_delivery_mode() -> None:
    config = RepoConfig.model_validate({"defaultMode": "commit"})
    assert config.delivery_mode(None) == "commit"
    assert config.delivery_mode(True) == "commit"
    assert config.delivery_mode(False) == "pull-request"
    assert RepoConfig().delivery_mode(None) == "pull-request"


def test_default_tenancy_keeps_requests_in_their_folder_namespace() -> None:
    config = RepoConfig()
    assert config.namespace_allowed("requests/team-a/chat.yaml", "team-a", "team-a")
    assert not config.namespace_allowed("requests/team-a/chat.yaml", "team-b", "team-a")
    assert config.allowed_namespace_patterns("requests/team-a/chat.yaml", "team-a") == ["team-a"]


def test_tenancy_globs() -> None:
    config = RepoConfig.model_validate({"tenancy": [
        {"paths": ["requests/ml-*/*.yaml"], "namespaces": ["{namespace}", "ml-shared-*"]},
        {"paths": ["requests/platform/**"], "namespaces": ["*"]},
    ]})
    assert config.namespace_allowed("requests/ml-a/x.yaml", "ml-shared-1", "ml-a")
    assert config.namespace_allowed("requests/ml-a/x.yaml", "ml-a", "ml-a")
    assert not config.namespace_allowed("requests/ml-a/x.yaml", "prod", "ml-a")
    assert config.namespace_allowed("requests/platform/x.yaml", "anything", "platform")
    assert not config.namespace_allowed("requests/other/x.yaml", "other", "other")
    assert config.allowed_namespace_patterns("requests/other/x.yaml", "other") == []


def test_forge_settings_never_hold_the_token() -> None:
    forge = RepoConfig.model_validate({"forge": {"owner": "o", "repository": "r", "tokenFile": "/run/token"}}).forge
    assert (forge.api_url, forge.token_env, forge.token_file) == (None, None, "/run/token")  # read, then ignored
    with pytest.raises(ValidationError, match="secret into Git"):
        RepoConfig.model_validate({"forge": {"owner": "o", "repository": "r", "token": "ghp_x"}})


@pytest.mark.parametrize("branch", ["main", "release/1.0", "gitops"])
def test_valid_branches(branch: str) -> None:
    assert RepoConfig.model_validate({"targetBranch": branch}).target_branch == branch


@pytest.mark.parametrize("branch", ["a..b", "with space", "end/", "x.lock", "/abs", "a:b"])
def test_invalid_branches(branch: str) -> None:
    with pytest.raises(ValidationError):
        RepoConfig.model_validate({"targetBranch": branch})
