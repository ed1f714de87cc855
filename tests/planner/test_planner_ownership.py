"""Replica ownership with Argo CD and Flux, rendered with `kubectl kustomize` as they would render it.

Patch mode: the Argo CD ApplicationSet ignores the DGDs' worker replicas (RespectIgnoreDifferences=true) and the
planner's release patch removes them from what Argo CD or Flux apply. Git mode: nothing ignored, the planner's
replicas.yaml sets them.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from gitops_sla.replicas_patch import initial_replicas_patch

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "repo-template" / "apps"
DGD = {
    "apiVersion": "nvidia.com/v1alpha1", "kind": "DynamoGraphDeployment", "metadata": {"name": "llm"},
    "spec": {"services": {
        "Frontend": {"componentType": "frontend", "replicas": 1},
        "Planner": {"componentType": "planner", "replicas": 1},
        "TRTLLMPrefillWorker": {"componentType": "worker", "subComponentType": "prefill", "replicas": 2},
        "TRTLLMDecodeWorker": {"componentType": "worker", "subComponentType": "decode", "replicas": 3,
                               "resources": {"limits": {"gpu": "4"}}},
    }},
}

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kustomize) is not installed")


def kustomize(path: Path) -> list[dict]:
    done = subprocess.run(["kubectl", "kustomize", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def test_argocd_patch_mode_ignores_worker_replicas_and_git_mode_ignores_nothing():
    (base,) = kustomize(APPS / "argocd")
    (patch_mode,) = kustomize(APPS / "argocd-planner-patch-mode")
    base_spec, patch_spec = base["spec"]["template"]["spec"], patch_mode["spec"]["template"]["spec"]
    assert "ignoreDifferences" not in base_spec and "syncOptions" not in base_spec["syncPolicy"]
    [rule] = patch_spec["ignoreDifferences"]
    assert (rule["group"], rule["kind"]) == ("nvidia.com", "DynamoGraphDeployment")
    [expression] = rule["jqPathExpressions"]
    if shutil.which("jq"):  # what Argo CD (gojq) would ignore: the workers' replicas, not the Frontend's or Planner's
        done = subprocess.run(["jq", "-c", f"[path({expression})]"], input=json.dumps(DGD), capture_output=True,
                              text=True, check=True)
        assert sorted(json.loads(done.stdout)) == [["spec", "services", "TRTLLMDecodeWorker", "replicas"],
                                                   ["spec", "services", "TRTLLMPrefillWorker", "replicas"]]
    assert patch_spec["syncPolicy"]["syncOptions"] == ["RespectIgnoreDifferences=true"]
    # everything else is the ApplicationSet as the template ships it
    del patch_spec["ignoreDifferences"], patch_spec["syncPolicy"]["syncOptions"]
    assert patch_mode == base


def generated_folder(tmp_path: Path, mode: str) -> Path:
    folder = tmp_path / "generated" / "team-a" / "llm"
    folder.mkdir(parents=True)
    (folder / "dgd.yaml").write_text(yaml.safe_dump(DGD))
    (folder / "replicas.yaml").write_bytes(initial_replicas_patch(DGD, mode))
    (folder / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "namespace": "team-a",
        "resources": ["dgd.yaml"], "patches": [{"path": "replicas.yaml"}]}))
    return folder


def test_patch_mode_release_patch_leaves_worker_replicas_to_the_planner(tmp_path):
    (rendered,) = kustomize(generated_folder(tmp_path, "patch"))
    services = rendered["spec"]["services"]
    assert "replicas" not in services["TRTLLMPrefillWorker"] and "replicas" not in services["TRTLLMDecodeWorker"]
    assert services["Frontend"]["replicas"] == services["Planner"]["replicas"] == 1  # not planner-managed
    assert services["TRTLLMDecodeWorker"]["resources"] == {"limits": {"gpu": "4"}}
    assert services["TRTLLMPrefillWorker"]["subComponentType"] == "prefill"


def test_git_mode_initial_patch_keeps_the_dgd_replicas(tmp_path):
    (rendered,) = kustomize(generated_folder(tmp_path, "git"))
    services = rendered["spec"]["services"]
    assert (services["TRTLLMPrefillWorker"]["replicas"], services["TRTLLMDecodeWorker"]["replicas"]) == (2, 3)
    assert rendered["metadata"]["namespace"] == "team-a"
