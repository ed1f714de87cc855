"""`python -m profiler --config FILE` reads Dynamo 1.x's `nvidia.com/v1beta1` DGDRs, whole or as the bare `spec`
Dynamo 1.x's own profiler takes, exactly as the reconciler reads them (one mapping, `profiler.dgdr_v1beta1`), and
the profiler package still imports nothing of gitops_sla."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gitops_sla.reconcile.offline import profile_request
from gitops_sla.reconcile.profiling import ProfileJob
from gitops_sla.validation import validate_request_file
from profiler.__main__ import main
from profiler.errors import ProfilingError
from profiler.render.schema_v1beta1 import schema_errors_v1beta1
from profiler.request_file import request_from_file

ROOT = Path(__file__).resolve().parents[2]
V1BETA1_EXAMPLES = sorted((ROOT / "gitops_sla/examples/dynamo-1.6.1").rglob("*.yaml"))
ZERO_CONFIG = ROOT / "gitops_sla/examples/dynamo-1.6.1/readme-zero-config.yaml"
SPECS = ROOT / "gitops_sla/examples/dynamo-1.6.1/specs"


@pytest.mark.parametrize("example", V1BETA1_EXAMPLES, ids=[path.name for path in V1BETA1_EXAMPLES])
def test_the_profiler_reads_every_v1beta1_example_as_the_reconciler_does(example: Path) -> None:
    request = validate_request_file(example).request
    namespace = request.metadata.namespace or "default"
    job = ProfileJob(namespace, request.name, "sha256:" + "0" * 64, request,
                     request.to_profile_config(None, namespace=namespace))
    assert request_from_file(example, base_config=None, name=request.name, namespace=None) == profile_request(job, None)


def test_a_v1beta1_dgdr_profiles_into_a_v1beta1_dgd(tmp_path, capsys) -> None:
    request = tmp_path / "chat.yaml"
    request.write_text(ZERO_CONFIG.read_text().replace("  autoApply: true\n", "  hardware:\n    gpuSku: h200_sxm\n"
                                                       "  features:\n    planner:\n      min_endpoint: 2\n"))
    assert main(["--config", str(request), "--output", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("default/my-model")
    dgd = yaml.safe_load((tmp_path / "out/dgd.yaml").read_text())
    assert dgd["apiVersion"] == "nvidia.com/v1beta1" and schema_errors_v1beta1(dgd) == []
    assert dgd["metadata"]["name"] == "my-model"
    types = sorted(component["type"] for component in dgd["spec"]["components"])
    assert types == ["decode", "frontend", "planner", "prefill"]
    assert "planner-config.yaml" in {path.name for path in (tmp_path / "out").iterdir()}



@pytest.mark.parametrize(("planner", "budget"), [("      min_endpoint: 2\n", 24), ("      max_gpu_budget: 12\n", 12)])
def test_the_planner_budget_is_the_requests_total_gpus(tmp_path, planner, budget) -> None:
    """`hardware.totalGpus` is the request's GPU budget: the planner gets it instead of Dynamo's default of 8, which
    capped loads the request's GPUs could serve; a budget set in `features.planner` wins."""
    request = tmp_path / "chat.yaml"
    request.write_text(ZERO_CONFIG.read_text().replace("  autoApply: true\n", "  hardware:\n    gpuSku: h200_sxm\n"
                                                       "    totalGpus: 24\n  features:\n    planner:\n" + planner))
    assert request_from_file(request, base_config=None, name=None, namespace=None).total_gpus == 24
    assert main(["--config", str(request), "--output", str(tmp_path / "out")]) == 0
    config_map = yaml.safe_load((tmp_path / "out/planner-config.yaml").read_text())
    assert json.loads(config_map["data"]["planner_config.json"])["max_gpu_budget"] == budget

def test_a_bare_v1beta1_spec_is_read_as_dynamo_1x_profiler_reads_it() -> None:
    request = request_from_file(SPECS / "2_rapid_supported_no_planner_with_load.yaml", base_config=None,
                                name="chat", namespace="team-a")
    spec = yaml.safe_load((SPECS / "2_rapid_supported_no_planner_with_load.yaml").read_text())
    assert request.config.deployment.model == spec["model"] and request.config.engine.backend == spec["backend"]
    assert request.config.aic_system == spec["hardware"]["gpuSku"]
    assert request.config.workload.request_rate == spec["workload"].get("requestRate")
    assert request.config.workload.concurrency == spec["workload"].get("concurrency")
    assert (request.request_name, request.request_namespace, request.dynamo_version) == ("chat", "team-a", "1.6.1")
    assert not request.planner_enabled and request.request_image == spec["image"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("    ttft: 200.0", "    ttfft: 200.0"), "spec.sla.ttfft: unknown key 'ttfft'; did you mean 'ttft'?"),
        (("  backend: vllm", "  backend: tensorrt"), "spec.backend: 'tensorrt' must be one of auto, sglang, trtllm"),
        (("  backend: vllm", "  backend: vllm\n  searchStrategy: fast"), "spec.searchStrategy: 'fast' must be one of"),
        (("  sla:", "  workload:\n    isl: lots\n  sla:"), "spec.workload.isl:"),
        (("  sla:", "  workload:\n    concurrency: 4\n    requestRate: 2\n  sla:"), "mutually exclusive"),
        (("    itl: 20.0     # ms", "    itl: 20.0\n    e2eLatency: 900"), "spec.sla: e2eLatency and ttft/itl"),
        (("  autoApply: true", "  features:\n    planner:\n      min_endpont: 2"),
         "spec.features.planner.min_endpont:"),
    ],
)
def test_a_bad_v1beta1_field_is_named(tmp_path, change, message) -> None:
    text = ZERO_CONFIG.read_text()
    assert change[0] in text
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace(change[0], change[1]))
    with pytest.raises(ProfilingError) as error:
        request_from_file(path, base_config=None, name=None, namespace=None)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)


def test_an_unknown_dgdr_version_names_both(tmp_path) -> None:
    path = tmp_path / "v2.yaml"
    path.write_text(ZERO_CONFIG.read_text().replace("v1beta1", "v2"))
    with pytest.raises(ProfilingError) as error:
        request_from_file(path, base_config=None, name=None, namespace=None)
    assert "nvidia.com/v1alpha1 (Dynamo 0.8) nor nvidia.com/v1beta1 (Dynamo 1.x)" in str(error.value)


def test_the_profiler_imports_nothing_of_gitops_sla() -> None:
    code = ("import sys, profiler.__main__, profiler.request_file, profiler.dgdr_v1beta1, profiler.pipeline\n"
            "leaked = sorted(m for m in sys.modules if m.split('.')[0] == 'gitops_sla')\n"
            "assert not leaked, leaked\n")
    completed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr

