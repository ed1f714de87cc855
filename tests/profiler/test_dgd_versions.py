"""Both deployment versions and a planner that exists: v1alpha1 DGDs (Dynamo 0.8) run Dynamo's own planner from the
workers' image with flags its argparse accepts; v1beta1 DGDs (Dynamo 1.x) have Dynamo 1.6.1's structure, pod
templates Kubernetes' schema accepts, and Dynamo's planner from its published image with a `PlannerConfig` that
Dynamo's own model accepts; this project's planner runs only from an image the user names."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from planner.args import build_parser
from profiler.render.schema_v1beta1 import schema_errors_v1beta1
from tests.profiler.conftest import make_request
from tests.support.dynamo08_planner_argparse import RefusedArguments, create_sla_planner_parser

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ("vllm", "sglang", "trtllm")
DYNAMO_IMAGES = "nvcr.io/nvidia/ai-dynamo/"


def load(result, name: str) -> dict:
    return yaml.safe_load(result.files[name])


def images(dgd: dict) -> set[str]:
    """Every container image a DGD references (either version)."""
    found: set[str] = set()
    for service in (dgd["spec"].get("services") or {}).values():
        found.add(service["extraPodSpec"]["mainContainer"]["image"])
    for component in dgd["spec"].get("components") or []:
        found |= {c["image"] for c in component["podTemplate"]["spec"]["containers"]}
    return found


def planner_container(dgd: dict) -> dict:
    if "services" in dgd["spec"]:
        return dgd["spec"]["services"]["Planner"]["extraPodSpec"]["mainContainer"]
    planner = next(c for c in dgd["spec"]["components"] if c["type"] == "planner")
    return planner["podTemplate"]["spec"]["containers"][0]


# ---------------------------------------------------------------------------------------------------------------
# Dynamo 0.8 (v1alpha1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_dynamo_08_planner_args_are_accepted_by_its_argparse(run_profile, backend):
    planner = {"planner_min_endpoint": 2, "planner_adjustment_interval": 60, "planner_load_predictor": "kalman",
               "planner_no_correction": True, "planner_max_gpu_budget": 16}
    result = run_profile(make_request(backend, extra={"planner": planner}))
    dgd = load(result, "dgd.yaml")
    container = planner_container(dgd)
    assert container["command"] == ["python3", "-m", "planner_sla"]
    parsed = create_sla_planner_parser().parse_args(container["args"])
    assert (parsed.backend, parsed.min_endpoint, parsed.adjustment_interval, parsed.no_correction) == \
        (backend, 2, 60, True)
    assert parsed.profile_results_dir == "/workspace/profiling_results"
    assert images(dgd) <= {i for i in images(dgd) if i.startswith(DYNAMO_IMAGES) and i.endswith(":0.8.1")}


def test_dynamo_08_planner_gets_no_flag_it_lacks_and_the_drop_is_named(run_profile):
    result = run_profile(make_request("trtllm", extra={"planner": {"planner_kalman_q_level": 2.0,
                                                                   "planner_scale_down_stabilization": 60}}))
    args = planner_container(load(result, "dgd.yaml"))["args"]
    create_sla_planner_parser().parse_args(args)  # would raise on --kalman-q-level
    assert not any(arg.startswith(("--kalman", "--scale-down")) for arg in args)
    assert any("planner_kalman_q_level" in w and "Dynamo 0.8's planner has no such flag" in w for w in result.warnings)


@pytest.mark.parametrize("predictor", ["auto", "burst", "kalman"])
def test_dynamo_08_planner_gets_no_load_predictor_it_lacks(run_profile, predictor):
    # Dynamo 0.8's argparse takes any --load-predictor; its planner knows constant, arima and prophet only
    result = run_profile(make_request("vllm", extra={"planner": {"planner_load_predictor": predictor,
                                                                 "planner_min_endpoint": 2}}))
    args = planner_container(load(result, "dgd.yaml"))["args"]
    parsed = create_sla_planner_parser().parse_args(args)
    assert parsed.load_predictor is None and parsed.min_endpoint == 2
    assert any(f"Dynamo 0.8's planner has no load predictor '{predictor}'" in w for w in result.warnings)
    kept = run_profile(make_request("vllm", extra={"planner": {"planner_load_predictor": "prophet"}}))
    assert "--load-predictor=prophet" in planner_container(load(kept, "dgd.yaml"))["args"]


def test_dynamo_1x_planner_config_gets_no_load_predictor_it_lacks(run_profile):
    result = run_profile(make_request("vllm", dynamo_version="1.6.1",
                                      extra={"planner": {"planner_load_predictor": "auto"}}))
    config = json.loads(load(result, "planner-config.yaml")["data"]["planner_config.json"])
    assert "load_predictor" not in config
    assert any("Dynamo 1.x's planner refuses it (load_predictor must be one of" in w for w in result.warnings)
    # this project's planner has 'auto': it keeps it
    image = "ghcr.io/my-org/gitops-sla:0.1.0"
    ours = run_profile(make_request("vllm", dynamo_version="1.6.1", project_planner_image=image,
                                    extra={"planner": {"planner_load_predictor": "auto"}}))
    assert build_parser().parse_args(planner_container(load(ours, "dgd.yaml"))["args"]).load_predictor == "auto"
    assert not any("load_predictor" in w for w in ours.warnings)


def test_project_planner_git_mode_on_a_v1beta1_dgd_runs_advisory_and_says_why(run_profile):
    # git mode commits replicas.yaml, a patch over spec.services: a v1beta1 DGD (spec.components) has none yet
    image = "ghcr.io/my-org/gitops-sla:0.1.0"
    git = {"planner_mode": "git", "planner_git_repo": "https://git.example.com/r.git", "planner_max_step": 2,
           "planner_git_path": "generated/team-a/sla-aic/replicas.yaml"}
    result = run_profile(make_request("vllm", dynamo_version="1.6.1", project_planner_image=image,
                                      extra={"planner": git}))
    parsed = build_parser().parse_args(planner_container(load(result, "dgd.yaml"))["args"])
    assert (parsed.mode, parsed.max_step, parsed.git_repo) == ("advisory", 2, None)
    assert any(w.startswith("planner.planner_mode: git mode is not available for v1beta1 DGDs") for w in result.warnings)
    v1alpha1 = run_profile(make_request("vllm", project_planner_image=image, extra={"planner": git}))
    assert build_parser().parse_args(planner_container(load(v1alpha1, "dgd.yaml"))["args"]).mode == "git"


def test_the_vendored_argparse_refuses_what_dynamo_08_refuses():
    parser = create_sla_planner_parser()
    with pytest.raises(RefusedArguments):
        parser.parse_args(["--git-repo=https://example.com/r.git"])  # this project's flag
    with pytest.raises(RefusedArguments):
        parser.parse_args(["--kalman-q-level=1.0"])  # a later Dynamo's flag


def test_project_planner_args_are_accepted_by_its_own_parser(run_profile):
    image = "ghcr.io/my-org/gitops-sla:0.1.0"
    result = run_profile(make_request("vllm", project_planner_image=image,
                                      extra={"planner": {"planner_mode": "git", "planner_max_step": 2}}))
    container = planner_container(load(result, "dgd.yaml"))
    assert container["image"] == image and container["command"] == ["python3", "-m", "planner"]
    parsed = build_parser().parse_args(container["args"])
    assert (parsed.mode, parsed.max_step) == ("git", 2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_default_dgd_references_an_image_dynamo_does_not_publish(run_profile, backend):
    for version in ("0.8.1", "1.6.1"):
        dgd = load(run_profile(make_request(backend, dynamo_version=version)), "dgd.yaml")
        assert all(image.startswith(DYNAMO_IMAGES) and image.endswith(f":{version}") for image in images(dgd)), \
            images(dgd)


# ---------------------------------------------------------------------------------------------------------------
# Dynamo 1.x (v1beta1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_v1beta1_dgd_has_dynamos_structure_and_valid_pod_templates(run_profile, backend):
    result = run_profile(make_request(backend, dynamo_version="1.6.1"))
    dgd = load(result, "dgd.yaml")
    assert dgd["apiVersion"] == "nvidia.com/v1beta1" and schema_errors_v1beta1(dgd) == []
    by_type = {c["type"]: c for c in dgd["spec"]["components"]}
    assert set(by_type) == {"frontend", "prefill", "decode", "planner"}
    for role, choice in (("prefill", result.prefill), ("decode", result.decode)):
        container = by_type[role]["podTemplate"]["spec"]["containers"][0]
        assert container["resources"]["limits"]["nvidia.com/gpu"] == str(choice.num_gpus)
        assert "Qwen/Qwen3-32B" in container["args"]
    planner = planner_container(dgd)
    assert planner["image"] == "nvcr.io/nvidia/ai-dynamo/dynamo-planner:1.6.1"
    assert planner["command"] == ["python3", "-m", "dynamo.planner"]
    assert planner["args"] == ["--config", "/workspace/planner_config/planner_config.json"]
    config_map = load(result, "planner-config.yaml")
    config = json.loads(config_map["data"]["planner_config.json"])
    assert (config["ttft_ms"], config["itl_ms"], config["backend"]) == (500.0, 30.0, backend)
    assert (config["prefill_engine_num_gpu"], config["decode_engine_num_gpu"]) == \
        (result.prefill.num_gpus, result.decode.num_gpus)
    mounted = {v["configMap"]["name"] for v in by_type["planner"]["podTemplate"]["spec"]["volumes"]}
    assert mounted == {config_map["metadata"]["name"], result.configmap_name}


def test_v1beta1_images_derive_from_the_image_the_request_names(run_profile):
    result = run_profile(make_request("sglang", dynamo_version="1.6.1",
                                      request_image="registry.example/ai-dynamo/dynamo-planner:1.6.1-hotfix"))
    dgd = load(result, "dgd.yaml")
    assert images(dgd) == {"registry.example/ai-dynamo/sglang-runtime:1.6.1-hotfix",
                           "registry.example/ai-dynamo/dynamo-planner:1.6.1-hotfix"}


def test_v1beta1_mocker_kv_router_and_dgd_override(run_profile):
    override = {"spec": {"components": [{"name": "decode", "replicas": 3}], "imagePullSecrets": [{"name": "pull"}]}}
    result = run_profile(make_request("vllm", dynamo_version="1.6.1", use_mocker=True, kv_router=True,
                                      dgd_override=override))
    dgd = load(result, "dgd.yaml")
    assert schema_errors_v1beta1(dgd) == []
    by_name = {c["name"]: c for c in dgd["spec"]["components"]}
    decode = by_name["decode"]["podTemplate"]["spec"]["containers"][0]
    assert decode["command"] == ["python3", "-m", "dynamo.mocker"]
    assert decode["args"][decode["args"].index("--planner-profile-data") + 1] == "/workspace/profiling_results"
    assert by_name["decode"]["replicas"] == 3 and dgd["spec"]["imagePullSecrets"] == [{"name": "pull"}]
    frontend_env = by_name["Frontend"]["podTemplate"]["spec"]["containers"][0]["env"]
    assert {"name": "DYN_ROUTER_MODE", "value": "kv"} in frontend_env
    assert json.loads(load(result, "planner-config.yaml")["data"]["planner_config.json"])["backend"] == "mocker"


def test_v1beta1_without_planner_feature_has_no_planner(run_profile):
    result = run_profile(make_request("trtllm", dynamo_version="1.6.1", planner_enabled=False))
    dgd = load(result, "dgd.yaml")
    assert "planner" not in {c["type"] for c in dgd["spec"]["components"]}
    assert "planner-config.yaml" not in result.files


def test_v1beta1_check_refuses_a_pod_template_kubernetes_would_refuse(run_profile):
    dgd = load(run_profile(make_request("vllm", dynamo_version="1.6.1")), "dgd.yaml")
    dgd["spec"]["components"][0]["podTemplate"]["spec"]["containers"][0]["imagee"] = "typo"
    dgd["spec"]["components"][1]["type"] = "prefil"
    errors = schema_errors_v1beta1(dgd)
    assert errors and "spec.components.1.type" in errors[0]
    dgd["spec"]["components"][1]["type"] = "prefill"
    errors = schema_errors_v1beta1(dgd)
    assert errors == ["spec.components.0.podTemplate.spec.containers.0: Additional properties are not allowed "
                      "('imagee' was unexpected)"]


# ---------------------------------------------------------------------------------------------------------------
# Dynamo 1.6.1's own PlannerConfig (slow: runs Dynamo's python)


@pytest.fixture(scope="module")
def dynamo_python() -> str:
    found = subprocess.run([str(ROOT / "scripts" / "setup-dynamo-venv")], capture_output=True, text=True,
                           timeout=1800, check=True)
    return found.stdout.strip().splitlines()[-1]


def _in_dynamo(dynamo_python: str, script: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([dynamo_python, str(ROOT / "tests" / "support" / script), *args], capture_output=True,
                          text=True, timeout=300, check=True, env=env).stdout


@pytest.mark.slow
def test_rendered_planner_configs_are_accepted_by_dynamos_planner_config(run_profile, dynamo_python, tmp_path):
    requests = {
        "plain": make_request("trtllm", dynamo_version="1.6.1"),
        "settings": make_request("vllm", dynamo_version="1.6.1", planner_settings={"enable_load_scaling": True},
                                 extra={"planner": {"planner_min_endpoint": 2, "planner_load_predictor": "kalman"}}),
        "mocker": make_request("sglang", dynamo_version="1.6.1", use_mocker=True),
        "ours-only": make_request("trtllm", dynamo_version="1.6.1",
                                  extra={"planner": {"planner_load_predictor": "burst"}}),
    }
    files = []
    for name, request in requests.items():
        text = load(run_profile(request), "planner-config.yaml")["data"]["planner_config.json"]
        (tmp_path / f"{name}.json").write_text(text)
        files.append(str(tmp_path / f"{name}.json"))
    results = [json.loads(line) for line in _in_dynamo(dynamo_python, "dynamo_planner_config_check.py", *files)
               .splitlines()]
    assert all(r["ok"] for r in results), results
    settings = results[1]["config"]
    assert (settings["min_endpoint"], settings["load_predictor"], settings["enable_load_scaling"]) == \
        (2, "kalman", True)
    assert settings["optimization_target"] == "sla" and settings["profile_results_dir"] == "/workspace/profiling_results"


@pytest.mark.slow
def test_vendored_planner_config_fields_match_dynamo_1_6_1(dynamo_python):
    extracted = json.loads(_in_dynamo(dynamo_python, "dynamo_planner_config_fields.py"))
    vendored = json.loads((ROOT / "profiler" / "vendor" / "dynamo" / "planner_config_1.6.1.json").read_text())
    assert extracted == vendored


def test_a_v1alpha1_shaped_dgd_override_is_not_applied_to_a_v1beta1_dgd_and_says_so(run_profile):
    override = {"spec": {"services": {"decode": {"sharedMemory": {"size": "80Gi"}}}}}  # Dynamo's case 9a form
    result = run_profile(make_request("sglang", dynamo_version="1.6.1", dgd_override=override))
    dgd = load(result, "dgd.yaml")
    assert "services" not in dgd["spec"] and schema_errors_v1beta1(dgd) == []
    assert any("written for v1alpha1 DGDs" in warning for warning in result.warnings)
