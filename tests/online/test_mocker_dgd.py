"""`useMocker`/`deployMocker: true` renders Dynamo's mocker DGD: mocker workers, no GPUs, the profile data
mounted, the Planner told `--backend=mocker` (estimated path here; the measured path renders through the same
`pipeline.render`)."""

from __future__ import annotations

from pathlib import Path

import yaml

from profiler.pipeline import profile
from profiler.render.planner import PROFILE_DATA_MOUNT
from profiler.request_file import request_from_file

EXAMPLES = Path(__file__).resolve().parents[2] / "gitops_sla" / "examples"


def _mocker_request(tmp_path: Path, switch: str):
    document = yaml.safe_load((EXAMPLES / "quickstart-aic.yaml").read_text())
    document["spec"][switch] = True
    path = tmp_path / "sla-aic.yaml"
    path.write_text(yaml.safe_dump(document))
    return request_from_file(path, base_config=None, name=None, namespace=None)


def test_mocker_request_renders_mocker_workers(tmp_path):
    request = _mocker_request(tmp_path, "useMocker")
    assert request.use_mocker and _mocker_request(tmp_path, "deployMocker").use_mocker
    result = profile(request)
    dgd = yaml.safe_load(result.files["dgd.yaml"])
    configmap = yaml.safe_load(result.files["planner-profile-data.yaml"])["metadata"]["name"]
    services = dgd["spec"]["services"]
    assert {"prefill", "decode"} <= set(services) and "backendFramework" not in dgd["spec"]
    for role in ("prefill", "decode"):
        worker = services[role]
        container = worker["extraPodSpec"]["mainContainer"]
        assert worker["subComponentType"] == role and "resources" not in worker
        assert container["command"] == ["python3", "-m", "dynamo.mocker"]
        assert container["args"] == ["--model-path", "Qwen/Qwen3-32B", "--model-name", "Qwen/Qwen3-32B",
                                     "--planner-profile-data", PROFILE_DATA_MOUNT, "--disaggregation-mode", role]
        assert container["image"] == "nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:0.8.1"
        assert worker["extraPodSpec"]["volumes"] == [{"name": "planner-profile-data", "configMap": {"name": configmap}}]
    planner = next(s for s in services.values() if s.get("componentType") == "planner")
    assert "--backend=mocker" in planner["extraPodSpec"]["mainContainer"]["args"]
    assert not any("gpu" in str(s.get("resources", "")) for s in services.values())


def test_without_the_switch_the_workers_are_gpu_workers(tmp_path):
    document = yaml.safe_load((EXAMPLES / "quickstart-aic.yaml").read_text())
    request = request_from_file(EXAMPLES / "quickstart-aic.yaml", base_config=None, name=None, namespace=None)
    assert not request.use_mocker and "useMocker" not in document["spec"]
    services = yaml.safe_load(profile(request).files["dgd.yaml"])["spec"]["services"]
    workers = [s for s in services.values() if s.get("subComponentType") in ("prefill", "decode")]
    assert len(workers) == 2 and all(s["resources"]["limits"]["gpu"] for s in workers)
