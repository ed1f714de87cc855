"""The online-profiling RBAC, rendered with `kubectl kustomize` as a user's overlay would: least privilege, and
enough for every API call the reconciler and the profiling Job make (`covers` is used by the end-to-end test)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kustomize) is not installed")


def render(tmp_path: Path, namespace: str = "team-a", gpu_discovery: bool = True) -> list[dict]:
    """An overlay for one target namespace with the online-profiling component (and GPU discovery)."""
    overlay = tmp_path / "overlay"
    overlay.mkdir(exist_ok=True)
    deploy = os.path.relpath(ROOT / "deploy", overlay)
    components = [f"{deploy}/components/online-profiling"] + ([f"{deploy}/components/gpu-discovery"] if gpu_discovery
                                                             else [])
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "namespace": namespace,
        "resources": [f"{deploy}/online-profiling-namespace"], "components": components}))
    done = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, check=True)
    return list(yaml.safe_load_all(done.stdout))


def rules(documents: list[dict], role: str) -> list[dict]:
    [found] = [d for d in documents if d["kind"] == "ClusterRole" and d["metadata"]["name"] == role]
    return found["rules"]


def covers(role_rules: list[dict], group: str, resource: str, verb: str) -> bool:
    return any(group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]
               for rule in role_rules)


def test_grants_are_namespaced_except_the_optional_nodes_read(tmp_path):
    documents = render(tmp_path)
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in documents)
    assert kinds == [
        ("ClusterRole", "gitops-sla-gpu-discovery"), ("ClusterRole", "gitops-sla-profiling-job"),
        ("ClusterRole", "gitops-sla-profiling-reconciler"), ("ClusterRoleBinding", "gitops-sla-gpu-discovery"),
        ("RoleBinding", "gitops-sla-profiling-job"), ("RoleBinding", "gitops-sla-profiling-reconciler"),
        ("ServiceAccount", "gitops-sla-profiler")]
    bindings = [d for d in documents if d["kind"] == "RoleBinding"]
    assert all(b["metadata"]["namespace"] == "team-a" for b in bindings)
    job_binding = next(b for b in bindings if b["metadata"]["name"] == "gitops-sla-profiling-job")
    assert job_binding["subjects"] == [{"kind": "ServiceAccount", "name": "gitops-sla-profiler", "namespace": "team-a"}]
    [cluster_binding] = [d for d in documents if d["kind"] == "ClusterRoleBinding"]
    assert rules(documents, cluster_binding["roleRef"]["name"]) == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}]
    for role in ("gitops-sla-profiling-reconciler", "gitops-sla-profiling-job", "gitops-sla-gpu-discovery"):
        for rule in rules(documents, role):
            assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], (role, rule)
            assert not {"secrets", "pods/exec", "nodes/proxy"} & set(rule["resources"]), (role, rule)
    reconciler = rules(documents, "gitops-sla-profiling-reconciler")
    assert not covers(reconciler, "nvidia.com", "dynamographdeployments", "create")  # only the Job makes DGDs
    assert not covers(rules(documents, "gitops-sla-profiling-job"), "batch", "jobs", "create")

    without = render(tmp_path, gpu_discovery=False)
    assert not [d for d in without if d["kind"] == "ClusterRoleBinding"]


def test_the_component_turns_online_profiling_on_in_the_reconcilers_overlay(tmp_path):
    overlay = tmp_path / "with-online-profiling"
    overlay.mkdir()
    deploy = os.path.relpath(ROOT / "deploy", overlay)
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [f"{deploy}/overlays/flux"], "components": [f"{deploy}/components/online-profiling"]}))
    done = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, check=True)
    documents = list(yaml.safe_load_all(done.stdout))
    [deployment] = [d for d in documents if d["kind"] == "Deployment"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert "--online-engines=kubernetes" in container["args"]
    account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    namespace = deployment["metadata"]["namespace"]
    bound = render(tmp_path)  # the per-namespace bindings name that account
    reconciler_binding = next(d for d in bound if d["kind"] == "RoleBinding"
                              and d["roleRef"]["name"] == "gitops-sla-profiling-reconciler")
    assert reconciler_binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": namespace}]
