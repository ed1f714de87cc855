"""One repository, both request versions: a v1alpha1 request gets a v1alpha1 DGD (Dynamo 0.8) and a v1beta1 request a
v1beta1 DGD (Dynamo 1.x) with its planner config listed in `kustomization.yaml`, each running Dynamo's own planner;
`dynamo.version` in `gitops-sla.yaml` names the cluster's Dynamo for all, and `planner.image` runs this project's
planner; changing either regenerates."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml

from reconcile_support import cached_reconciler, request_yaml, seed_remote

CONFIG = "apiVersion: gitops-sla.dev/v1alpha1\nkind: RepoConfig\ntargetBranch: main\ndefaultMode: commit\n"
V1BETA1 = """apiVersion: nvidia.com/v1beta1
kind: DynamoGraphDeploymentRequest
metadata:
  name: chat-b
spec:
  model: Qwen/Qwen3-32B
  backend: trtllm
  hardware:
    gpuSku: h200_sxm
  workload:
    isl: 3000
    osl: 150
  sla:
    ttft: 500.0
    itl: 30.0
  features:
    planner:
      min_endpoint: 1
"""


def _load(person, path: str) -> dict:
    return yaml.safe_load((person.root / path).read_text())


def _planner(dgd: dict) -> dict:
    if "services" in dgd["spec"]:
        return dgd["spec"]["services"]["Planner"]["extraPodSpec"]["mainContainer"]
    return next(c for c in dgd["spec"]["components"] if c["type"] == "planner")["podTemplate"]["spec"]["containers"][0]


def test_a_repository_holds_both_versions(git_server, tmp_path, profile_cache):
    remote = seed_remote(git_server, tmp_path, config=CONFIG)
    person = remote.person(tmp_path / "person")
    person.write("requests/team-a/chat.yaml", request_yaml("chat"))
    person.write("requests/team-a/chat-b.yaml", V1BETA1)
    person.commit_and_push("one request of each version")
    reconciler = cached_reconciler(remote, tmp_path / "cache", profile_cache)
    assert sorted(o.action for o in reconciler.run_pass(full=True).worked) == ["generated", "generated"]
    person.pull()

    alpha = _load(person, "generated/team-a/chat/dgd.yaml")
    assert alpha["apiVersion"] == "nvidia.com/v1alpha1"
    assert _planner(alpha)["command"] == ["python3", "-m", "planner_sla"]
    beta = _load(person, "generated/team-a/chat-b/dgd.yaml")
    assert beta["apiVersion"] == "nvidia.com/v1beta1"
    assert _planner(beta)["image"] == "nvcr.io/nvidia/ai-dynamo/dynamo-planner:1.6.1"
    kustomization = _load(person, "generated/team-a/chat-b/kustomization.yaml")
    assert "planner-config.yaml" in kustomization["resources"]
    status = _load(person, "generated/team-a/chat-b/status.yaml")["status"]  # v1beta1's shape, and the shared one
    assert (status["state"], status["phase"], status["profilingPhase"], status["dgdName"]) == \
        ("Deploying", "Deploying", "Done", "chat-b")
    # Dynamo 1.x's profilingResults: selectedConfig is the DGD autoApply deploys, pareto the fronts with the pick
    assert status["profilingResults"]["selectedConfig"] == beta
    pareto = [entry["config"] for entry in status["profilingResults"]["pareto"]]
    assert {point["role"] for point in pareto} == {"prefill", "decode"}
    profile = json.loads((person.root / "generated/team-a/chat-b/profile.json").read_text())["selection"]
    for role in ("prefill", "decode"):
        front = [point for point in pareto if point["role"] == role]
        assert [(p["mapping"], p["concurrency"], p["latencyMs"], p["throughputPerGpu"]) for p in front] == \
            [(p["mapping"], p["concurrency"], p["latency_ms"], p["thpt_per_gpu"]) for p in profile[f"{role}_pareto"]]
        (picked,) = [point for point in front if point.get("selected")]
        assert (picked["mapping"], picked["concurrency"]) == (profile[role]["mapping"], profile[role]["concurrency"])
        assert picked["latencyMs"] <= profile[role]["target_ms"]
    assert sum(1 for point in pareto if point.get("dynamoRule")) <= 2
    assert "phase" not in _load(person, "generated/team-a/chat/status.yaml")["status"]  # v1alpha1's shape
    assert reconciler.run_pass(full=True).worked == []

    # the cluster runs Dynamo 1.6.1: the v1alpha1 request is rendered as v1beta1 too (regenerated once)
    person.write("gitops-sla.yaml", CONFIG + "dynamo:\n  version: \"1.6.1\"\n")
    person.commit_and_push("the cluster runs Dynamo 1.6.1")
    assert sorted(o.action for o in reconciler.run_pass().worked) == ["generated", "generated"]
    person.pull()
    assert _load(person, "generated/team-a/chat/dgd.yaml")["apiVersion"] == "nvidia.com/v1beta1"

    # this project's planner, from the image the repository names
    person.write("gitops-sla.yaml", CONFIG + "planner:\n  image: ghcr.io/my-org/gitops-sla:0.1.0\n")
    person.commit_and_push("run gitops-sla's planner")
    assert sorted(o.action for o in reconciler.run_pass().worked) == ["generated", "generated"]
    person.pull()
    for name in ("chat", "chat-b"):
        planner = _planner(_load(person, f"generated/team-a/{name}/dgd.yaml"))
        assert (planner["image"], planner["command"]) == ("ghcr.io/my-org/gitops-sla:0.1.0", ["python3", "-m", "planner"])
    assert not (person.root / "generated/team-a/chat-b/planner-config.yaml").exists()


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kustomize) is not installed")
def test_the_v1beta1_folder_builds_with_kustomize(git_server, tmp_path, profile_cache):
    remote = seed_remote(git_server, tmp_path, config=CONFIG)
    person = remote.person(tmp_path / "person")
    person.write("requests/team-a/chat-b.yaml", V1BETA1)
    person.commit_and_push("a v1beta1 request")
    cached_reconciler(remote, tmp_path / "cache", profile_cache).run_pass(full=True)
    person.pull()
    built = subprocess.run(["kubectl", "kustomize", str(person.root / "generated/team-a/chat-b")],
                           capture_output=True, text=True, timeout=60)
    assert built.returncode == 0, built.stderr
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(built.stdout) if d)
    assert kinds == ["ConfigMap", "ConfigMap", "DynamoGraphDeployment"]
