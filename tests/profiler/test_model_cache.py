"""A request's model cache PVC is mounted into the generated DGD (v1alpha1 and v1beta1) and into the profiling
run's temporary DGDs, and the workers read the weights from it under the request's model name, as Dynamo's
profilers render it (0.8's `update_model` with a PVC, 1.x's generator with `k8s_pvc_name`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from profiler.__main__ import main
from profiler.config import ModelCacheConfig, ProfileConfig
from profiler.engines.kubernetes import _base_config, temporary_dgd
from profiler.engines.types import EngineMapping
from profiler.render.model_cache import weights_dir
from profiler.render.schema import schema_errors
from profiler.render.schema_v1beta1 import schema_errors_v1beta1

from tests.profiler.conftest import load, make_request

ROOT = Path(__file__).resolve().parents[2]
ZERO_CONFIG = ROOT / "gitops_sla/examples/dynamo-1.6.1/readme-zero-config.yaml"
CACHE = {"pvcName": "weights", "pvcPath": "qwen3-32b", "mountPath": "/models"}


@pytest.mark.parametrize(("mount", "path", "expected"), [
    # Dynamo 1.6.1's own cases (dynamo/profiler/tests/unit/test_model_cache_paths.py)
    ("/opt/models", "hub/models--Qwen--Qwen3-32B", "/opt/models/hub/models--Qwen--Qwen3-32B"),
    ("/opt/model-cache", "/model/qwen", "/opt/model-cache/model/qwen"),
    ("/opt/models", "/opt/models", "/opt/models"),
    ("/opt/models", "/opt/models/checkpoint", "/opt/models/checkpoint"),
    ("/opt/models", "opt/models/checkpoint", "/opt/models/opt/models/checkpoint"),
    ("/opt/models", "", "/opt/models"),
])
def test_the_weights_directory_follows_dynamos_rule(mount, path, expected):
    assert weights_dir(ModelCacheConfig(pvc_name="w", pvc_path=path, mount_path=mount)) == expected


def _mounted(service: dict, name: str) -> bool:
    return {"name": name, "mountPoint": "/models"} in service.get("volumeMounts", [])


@pytest.mark.parametrize(("backend", "flag"), [("vllm", "--model"), ("trtllm", "--model-path")])
def test_the_generated_v1alpha1_dgd_mounts_the_cache_and_reads_the_weights_from_it(run_profile, backend, flag):
    result = run_profile(make_request(backend, extra={"deployment": {"modelCache": CACHE}}))
    dgd = load(result, "dgd.yaml")
    assert schema_errors(dgd) == []
    assert {"name": "weights", "create": False} in dgd["spec"]["pvcs"]
    services = dgd["spec"]["services"]
    workers = [s for s in services.values() if s.get("componentType") == "worker"]
    frontend = next(s for s in services.values() if s.get("componentType") == "frontend")
    assert len(workers) == 2 and all(_mounted(s, "weights") for s in [*workers, frontend])
    for worker in workers:
        args = worker["extraPodSpec"]["mainContainer"]["args"]
        assert args[args.index(flag) + 1] == "/models/qwen3-32b"
        assert args[args.index("--served-model-name") + 1] == "Qwen/Qwen3-32B"
    planner = next(s for s in services.values() if s.get("componentType") == "planner")
    assert "volumeMounts" not in planner


def test_without_a_cache_nothing_is_mounted(run_profile):
    dgd = load(run_profile(make_request("vllm")), "dgd.yaml")
    assert "pvcs" not in dgd["spec"] and not any("volumeMounts" in s for s in dgd["spec"]["services"].values())


def test_the_generated_v1beta1_dgd_mounts_the_cache_read_only(tmp_path):
    request = tmp_path / "chat.yaml"
    request.write_text(ZERO_CONFIG.read_text().replace("  autoApply: true\n", (
        "  hardware:\n    gpuSku: h200_sxm\n"
        "  modelCache:\n    pvcName: weights\n    pvcModelPath: qwen3\n    pvcMountPath: /models\n")))
    assert main(["--config", str(request), "--output", str(tmp_path / "out")]) == 0
    dgd = yaml.safe_load((tmp_path / "out/dgd.yaml").read_text())
    assert schema_errors_v1beta1(dgd) == []
    for component in dgd["spec"]["components"]:
        pod = component.get("podTemplate", {}).get("spec", {})
        mounted = {"name": "model-cache", "persistentVolumeClaim": {"claimName": "weights", "readOnly": True}} in (
            pod.get("volumes") or [])
        assert mounted == (component["type"] in ("frontend", "prefill", "decode")), component["type"]
        if component["type"] in ("prefill", "decode"):
            [main_container] = [c for c in pod["containers"] if "args" in c]
            assert {"name": "model-cache", "mountPath": "/models", "readOnly": True} in main_container["volumeMounts"]
            args = main_container["args"]
            assert "/models/qwen3" in args and args[args.index("--served-model-name") + 1] == "Qwen/Qwen3-0.6B", args


def test_the_profiling_runs_temporary_dgd_mounts_the_cache():
    config = ProfileConfig.model_validate({"deployment": {"model": "Qwen/Qwen3-0.6B", "namespace": "team-a",
                                                          "modelCache": CACHE}, "engine": {"backend": "vllm"}})
    dgd = temporary_dgd(_base_config(None, config), config, EngineMapping("vllm", "Qwen/Qwen3-0.6B", "decode", tp=2),
                        name="prof-ab12cd34-d-tp2", namespace="team-a", labels={}, gpus_per_node=8)
    assert schema_errors(dgd) == []
    assert dgd["spec"]["pvcs"] == [{"name": "weights", "create": False}]
    assert all(_mounted(service, "weights") for service in dgd["spec"]["services"].values())
    worker = next(s for s in dgd["spec"]["services"].values() if s.get("componentType") == "worker")
    args = worker["extraPodSpec"]["mainContainer"]["args"]
    assert args[args.index("--model") + 1] == "/models/qwen3-32b"
