"""`nvidia.com/v1beta1` requests: Dynamo 1.6.1's examples validate unchanged, errors are located with a "did you
mean", and conversion v1alpha1 <-> SlaRequest <-> v1beta1 is lossless on what both versions can say (what one
cannot say is named in a warning)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitops_sla.models.convert import from_v1alpha1, from_v1beta1, to_v1alpha1, to_v1beta1
from gitops_sla.models.dgdr import DynamoGraphDeploymentRequest
from gitops_sla.models.dgdr_v1beta1 import DynamoGraphDeploymentRequestV1Beta1
from gitops_sla.models.request import SlaRequest
from gitops_sla.validation import validate_request_file
from gitops_sla.yamlsafe import dump_yaml, load_yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "gitops_sla" / "examples"
V1BETA1_EXAMPLES = sorted((EXAMPLES / "dynamo-1.6.1").rglob("*.yaml"))
V1ALPHA1_EXAMPLES = sorted(p for p in EXAMPLES.rglob("*.yaml") if "dynamo-1.6.1" not in p.parts)

REQUEST = """\
apiVersion: nvidia.com/v1beta1
kind: DynamoGraphDeploymentRequest
metadata:
  name: chat
spec:
  model: Qwen/Qwen3-32B
  backend: trtllm
  image: nvcr.io/nvidia/ai-dynamo/dynamo-planner:1.6.1
  hardware:
    gpuSku: h200_sxm
    numGpusPerNode: 8
  workload:
    isl: 3000
    osl: 150
    requestRate: 12.5
  sla:
    ttft: 500.0
    itl: 30.0
    optimizationType: throughput
  features:
    planner:
      min_endpoint: 2
      enable_throughput_scaling: true
  searchStrategy: rapid
"""


def _validated(text: str, file: str = "requests/team-a/chat.yaml"):
    return validate_request_file(text.encode(), file=file, repo_path=file)


def test_every_dynamo_1_6_1_example_is_collected() -> None:
    package = {path.name for path in V1BETA1_EXAMPLES if "docs" not in path.relative_to(EXAMPLES).parts}
    assert "readme-zero-config.yaml" in package and len(package) == 18
    assert "9a_thorough_dsr1_sglang_overrides.yaml" in package
    docs = [path for path in V1BETA1_EXAMPLES if "docs" in path.relative_to(EXAMPLES).parts]
    assert len(docs) == 19
    for path in docs:  # each names its source file and commit, and its license
        header = path.read_text().splitlines()[:3]
        assert "github.com/ai-dynamo/dynamo" in header[0] and "at commit" in header[0], path.name
        assert any("Apache" in line for line in path.read_text().splitlines()[:5]), path.name


def test_dynamo_docs_examples_are_read_not_just_accepted() -> None:
    docs = EXAMPLES / "dynamo-1.6.1" / "docs"
    moe = validate_request_file(docs / "deploy-profile-sla-moe-dgdr.yaml").request
    assert moe.resolved_backend == "sglang" and moe.config.hardware.num_gpus_per_node == 8
    assert moe.search_strategy == "rapid"
    planner = validate_request_file(docs / "dgdr-reference-planner.yaml").request
    assert planner.planner.enabled
    thorough = validate_request_file(docs / "profiler-examples-dense-thorough.yaml").request
    assert thorough.search_strategy == "thorough" and not thorough.config.sweep.use_ai_configurator
    sla = validate_request_file(docs / "profiler-examples-custom-sla.yaml").request.config.sla
    assert (sla.isl, sla.osl, sla.ttft, sla.itl) == (2000, 500, 500.0, 20.0)


# Valid in Dynamo 1.6.1, but AI Configurator 0.12.0 bundles no config for their model: Dynamo 1.x's rapid search
# falls back to a naive configuration, this project's cannot, so `validate` warns at spec.model (never an error).
# Dynamo's own cases 4, 5 and 5b are these "rapid, unsupported model" requests (a bare spec: the path is `model`).
UNBUNDLED_MODEL = {"planner-examples-online.yaml": "meta-llama/Llama-3.3-70B-Instruct",
                   "profiler-examples-private-model.yaml": "meta-llama/Llama-3.1-8B-Instruct",
                   "4_rapid_unsupported_no_planner.yaml": "Qwen/Qwen2.5-0.5B",
                   "5_rapid_unsupported_planner.yaml": "Qwen/Qwen2.5-0.5B",
                   "5b_rapid_unsupported_planner_throughput_error.yaml": "Qwen/Qwen2.5-0.5B"}


@pytest.mark.parametrize("example", V1BETA1_EXAMPLES, ids=[path.name for path in V1BETA1_EXAMPLES])
def test_every_dynamo_1_6_1_example_validates_unchanged(example: Path) -> None:
    result = validate_request_file(example)
    if example.name in UNBUNDLED_MODEL:
        (warning,) = result.issues
        field = "model" if example.parent.name == "specs" else "spec.model"
        assert (warning.severity, warning.path) == ("warning", field)
        assert f"no bundled config for model '{UNBUNDLED_MODEL[example.name]}'" in warning.message
        assert "searchStrategy: thorough" in warning.message
    else:
        assert result.issues == [], [str(issue) for issue in result.issues]
    assert isinstance(result.request, SlaRequest)
    assert result.request.api_version == "nvidia.com/v1beta1"


@pytest.mark.parametrize("example", V1ALPHA1_EXAMPLES, ids=[path.name for path in V1ALPHA1_EXAMPLES])
def test_every_v1alpha1_example_still_validates(example: Path) -> None:
    result = validate_request_file(example)
    assert result.issues == [] and isinstance(result.document, DynamoGraphDeploymentRequest)


def test_v1beta1_request_becomes_the_version_free_request() -> None:
    result = _validated(REQUEST)
    assert result.ok and (result.namespace, result.name) == ("team-a", "chat")
    request = result.request
    assert isinstance(result.document, DynamoGraphDeploymentRequestV1Beta1)
    config = request.to_profile_config(namespace="team-a")
    assert (config.sla.isl, config.sla.osl, config.sla.ttft, config.sla.itl) == (3000, 150, 500.0, 30.0)
    assert config.aic_system == "h200_sxm" and config.hardware.num_gpus_per_node == 8
    assert config.sweep.use_ai_configurator and request.search_strategy == "rapid"
    assert config.planner == {"planner_min_endpoint": 2}
    assert request.planner.enabled and request.planner.config_extra == {"enable_throughput_scaling": True}
    assert config.workload.request_rate == 12.5 and config.sla.optimization_type == "throughput"
    assert request.profiling_job.image == "nvcr.io/nvidia/ai-dynamo/dynamo-planner:1.6.1"


def test_v1beta1_defaults_are_dynamos() -> None:
    result = validate_request_file((EXAMPLES / "dynamo-1.6.1" / "specs" / "11_auto_rapid_no_planner_no_load.yaml"))
    request = result.request
    assert request.backend == "auto" and request.resolved_backend == "trtllm"
    sla = request.config.sla
    assert (sla.isl, sla.osl, sla.ttft, sla.itl) == (4000, 1000, 2000.0, 30.0)
    assert not request.planner.enabled and request.auto_apply is None


def test_e2e_latency_bounds_ttft_and_itl_as_dynamo_does() -> None:
    request = validate_request_file(EXAMPLES / "dynamo-1.6.1" / "specs" / "2c_rapid_supported_e2e_latency.yaml").request
    assert request.e2e_latency_ms == 35000.0
    assert (request.config.sla.ttft, request.config.sla.itl) == (35000.0, 35000.0)


@pytest.mark.parametrize(
    ("change", "path", "line", "message"),
    [
        (("    ttft: 500.0", "    ttfft: 500.0"), "spec.sla.ttfft", 17, "did you mean 'ttft'?"),
        (("  searchStrategy: rapid", "  searchStrategy: fast"), "spec.searchStrategy", 24, "must be one of"),
        (("    gpuSku: h200_sxm", "    gpuSku: h200"), "spec.hardware.gpuSku", 10, "must be one of"),
        (("      min_endpoint: 2", "      min_endpont: 2"), "spec.features.planner.min_endpont", 22,
         "did you mean 'min_endpoint'?"),
        (("      min_endpoint: 2", "      min_endpoint: two"), "spec.features.planner.min_endpoint", 22,
         "needs an integer"),
        (("    requestRate: 12.5", "    requestRate: 12.5\n    concurrency: 4"), "spec.workload", 12,
         "mutually exclusive"),
        (("    itl: 30.0", "    itl: 30.0\n    e2eLatency: 900"), "spec.sla", 16, "exclude each other"),
        (("  backend: trtllm", "  backend: tensorrt"), "spec.backend", 7, "must be one of 'auto'"),
        (("  workload:", "  workLoad:"), "spec.workLoad", 12, "did you mean 'workload'?"),
        (("    isl: 3000", "    isl: -1"), "spec.workload.isl", 13, "greater than 0"),
    ],
)
def test_v1beta1_errors_are_located(change: tuple[str, str], path: str, line: int, message: str) -> None:
    old, new = change
    assert old in REQUEST
    result = _validated(REQUEST.replace(old, new))
    matching = [i for i in result.issues if i.path == path and i.line == line and message in i.message]
    assert matching, [str(i) for i in result.issues]
    assert result.request is None


def test_bare_spec_in_a_repository_must_be_a_whole_request() -> None:
    spec = (EXAMPLES / "dynamo-1.6.1" / "specs" / "1_rapid_supported_no_planner_no_load.yaml").read_text()
    result = _validated(spec)
    assert not result.ok and "must be a whole DGDR" in result.issues[0].message


def test_tenancy_applies_to_v1beta1_requests() -> None:
    from gitops_sla.models import RepoConfig

    text = REQUEST.replace("  name: chat", "  name: chat\n  namespace: prod")
    result = validate_request_file(text.encode(), file="requests/team-a/chat.yaml",
                                   repo_path="requests/team-a/chat.yaml", repo_config=RepoConfig())
    assert any("does not match the folder" in i.message for i in result.issues)


# ---------------------------------------------------------------------------------------------------------------
# Round trips


def common_view(request: SlaRequest) -> dict[str, Any]:
    """What both versions can say, by meaning (not by where the profile config keeps it)."""
    config = request.config
    cache = config.deployment.model_cache
    deployment = request.deployment
    return {
        "metadata": request.metadata.model_dump(),
        "model": request.model,
        "backend": request.backend,
        "auto_apply": request.auto_apply,
        "sla": (config.sla.isl, config.sla.osl, config.sla.ttft, config.sla.itl, config.sla.optimization_type),
        "workload": (config.workload.request_rate, config.workload.concurrency),
        "system": config.aic_system,
        "gpus_per_node": config.hardware.num_gpus_per_node,
        "vram": config.hardware.gpu_vram_mib,
        "strategy": request.search_strategy,
        "mocker": request.mocker,
        "model_cache": (cache.pvc_name, cache.pvc_path, cache.mount_path),
        "planner_enabled": request.planner.enabled,
        "planner": {key: value for key, value in config.planner.items()},
        "image": request.profiling_job.image,
        "dgd": (deployment.name, deployment.labels, deployment.annotations)
        if deployment and (deployment.name or deployment.labels or deployment.annotations) else None,
    }


def _v1alpha1(document: dict[str, Any]) -> SlaRequest:
    return from_v1alpha1(DynamoGraphDeploymentRequest.model_validate(document))


def _v1beta1(document: dict[str, Any]) -> SlaRequest:
    return from_v1beta1(DynamoGraphDeploymentRequestV1Beta1.model_validate(document))


@pytest.mark.parametrize("example", V1ALPHA1_EXAMPLES, ids=[path.name for path in V1ALPHA1_EXAMPLES])
def test_round_trip_v1alpha1_internal_v1beta1_internal(example: Path) -> None:
    first = validate_request_file(example).request
    document, warnings = to_v1beta1(first)
    # the v1beta1 document is itself a valid request file
    again = validate_request_file(dump_yaml(document).encode(), file="x.yaml")
    assert again.ok, [str(i) for i in again.issues]
    second = again.request
    view_first, view_second = common_view(first), common_view(second)
    lost_planner = {w.path.rsplit(".", 1)[-1] for w in warnings if ".planner." in w.path}
    view_first["planner"] = {k: v for k, v in view_first["planner"].items() if k not in lost_planner}
    if any(w.path.endswith("sweep.aicSystem") for w in warnings):
        view_first["system"] = view_second["system"] = None
    assert view_second == view_first
    # and back to v1alpha1: the same again
    back, _ = to_v1alpha1(second)
    assert common_view(_v1alpha1(back)) == view_second


@pytest.mark.parametrize("example", V1BETA1_EXAMPLES, ids=[path.name for path in V1BETA1_EXAMPLES])
def test_round_trip_v1beta1_internal_v1alpha1_internal(example: Path) -> None:
    first = validate_request_file(example).request
    if first.profiling_job.image is None:  # v1alpha1 requires a profiler image
        first = first.model_copy(update={"profiling_job": first.profiling_job.model_copy(update={"image": "x:1"})})
    document, warnings = to_v1alpha1(first)
    second = _v1alpha1(document)
    lost = {w.path for w in warnings}
    view_first, view_second = common_view(first), common_view(second)
    if "spec.backend" in lost:
        view_first["backend"] = second.backend
    if "spec.features.planner" in lost:
        view_first["planner_enabled"] = True
    assert view_second == view_first
    third, _ = to_v1beta1(second)
    assert common_view(_v1beta1(third)) == view_second


def test_v1alpha1_to_v1beta1_names_what_v1beta1_cannot_say() -> None:
    text = (EXAMPLES / "docs-trtllm-aic-offline.yaml").read_text()
    request = validate_request_file(text.encode(), file="x.yaml").request
    request = request.model_copy(update={"config": request.config.model_copy(update={
        "planner": {"planner_min_endpoint": 2, "planner_scale_down_stabilization": 60}})})
    _, warnings = to_v1beta1(request)
    paths = {w.path for w in warnings}
    assert "spec.profilingConfig.config.planner.planner_scale_down_stabilization" in paths
    assert "spec.profilingConfig.config.planner.planner_min_endpoint" not in paths
    assert "spec.profilingConfig.config.sweep.aicBackendVersion" in paths


def test_v1beta1_to_v1alpha1_names_what_v1alpha1_cannot_say() -> None:
    request = _validated(REQUEST.replace("  features:", "  features:\n    kvRouter:\n      enabled: true")).request
    document, warnings = to_v1alpha1(request)
    paths = {w.path for w in warnings}
    assert {"spec.features.kvRouter.enabled", "spec.features.planner.enable_throughput_scaling"} <= paths
    assert not {"spec.workload.requestRate", "spec.sla.optimizationType"} & paths  # v1alpha1's config says them
    config = document["spec"]["profilingConfig"]["config"]
    assert config["planner"] == {"planner_min_endpoint": 2}
    assert config["workload"] == {"requestRate": 12.5} and config["sla"]["optimizationType"] == "throughput"
    assert validate_request_file(dump_yaml(document).encode(), file="x.yaml").ok


def test_deployment_overrides_travel_as_the_dgd_override_metadata() -> None:
    text = (EXAMPLES / "quickstart-aic.yaml").read_text()
    request = validate_request_file(text.encode(), file="x.yaml").request
    deployment = request.deployment.model_copy(update={"name": "chat-dgd", "labels": {"team": "a"}}) \
        if request.deployment else None
    if deployment is None:
        from gitops_sla.models.dgdr import DeploymentOverrides
        deployment = DeploymentOverrides.model_validate({"name": "chat-dgd", "labels": {"team": "a"}})
    request = request.model_copy(update={"deployment": deployment})
    document, _ = to_v1beta1(request)
    metadata = document["spec"]["overrides"]["dgd"]["metadata"]
    assert metadata["name"] == "chat-dgd" and metadata["labels"] == {"team": "a"}
    back = _v1beta1(load_yaml(dump_yaml(document).encode()).data)
    assert back.dgd_name() == "chat-dgd" and back.dgd_override is None


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (("    isl: 3000", "    isl: 99999999"), "spec.workload.isl", "must be at most 1048576"),
        (("    numGpusPerNode: 8", "    numGpusPerNode: 1000"), "spec.hardware.numGpusPerNode", "must be at most 64"),
        (("      min_endpoint: 2", "      min_endpoint: 100000"), "spec.features.planner.min_endpoint", "between"),
    ],
)
def test_v1beta1_numbers_have_the_same_bounds_as_v1alpha1(change: tuple[str, str], path: str, message: str) -> None:
    result = _validated(REQUEST.replace(*change))
    assert any(i.path == path and message in i.message for i in result.issues), [str(i) for i in result.issues]


def test_search_strategy_routes_by_use_ai_configurator_and_mocker_is_the_mocker_switch() -> None:
    specs = EXAMPLES / "dynamo-1.6.1" / "specs"
    thorough = validate_request_file(specs / "6_thorough_no_planner_with_load.yaml").request
    assert thorough.search_strategy == "thorough" and not thorough.to_profile_config().sweep.use_ai_configurator
    mocker = validate_request_file(specs / "3b_rapid_supported_planner_rapid_sweep_mocker.yaml").request
    assert mocker.mocker and mocker.to_profile_config().sweep.use_ai_configurator
    assert mocker.planner.config_extra["pre_deployment_sweeping_mode"] == "rapid"


def test_ai_configurator_names_are_checked_for_rapid_v1beta1_requests_only() -> None:
    unbundled = REQUEST.replace("model: Qwen/Qwen3-32B", "model: my-org/private-model")
    (warning,) = _validated(unbundled).issues
    assert (warning.severity, warning.path, warning.line) == ("warning", "spec.model", 6)
    assert "no bundled config for model 'my-org/private-model'" in warning.message
    assert _validated(unbundled.replace("searchStrategy: rapid", "searchStrategy: thorough")).issues == []
    # backend auto is profiled as trtllm: the system is looked up for trtllm
    unknown = REQUEST.replace("backend: trtllm", "backend: auto").replace("gpuSku: h200_sxm", "gpuSku: t4")
    (error,) = _validated(unknown).issues
    assert (error.severity, error.path) == ("error", "spec.hardware.gpuSku")
    assert "has no trtllm data for system 't4'" in error.message
