"""Every state of `generated/` builds as Flux's kustomize-controller and an Argo CD ApplicationSet build it, and
only folders the reconciler wrote are applied; the project's own API group, with wave 1's still read."""

from __future__ import annotations

import shutil

import pytest
import yaml

from gitops_builds import argo_build, argo_folder_build, flux_build
from reconcile_support import cached_reconciler, request_yaml

from gitops_sla.models import RequestStatusFile
from gitops_sla.validation import validate_repo_config

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kustomize) is not installed")

POD = """apiVersion: v1
kind: Pod
metadata:
  name: evil
  namespace: kube-system
spec:
  containers:
  - name: x
    image: busybox
"""


def _kinds(objects: list[dict]) -> list[tuple[str, str]]:
    return sorted((o["kind"], o["metadata"].get("namespace", "")) for o in objects)


@needs_kubectl
def test_every_state_of_generated_builds_in_flux_and_argo_cd_and_only_the_reconcilers_folders_apply(
        remote, tmp_path, profile_cache):
    person = remote.person(tmp_path / "person")
    person.write("requests/team-a/chat.yaml", request_yaml("chat"))
    person.write("requests/team-b/broken.yaml", request_yaml("broken").replace("ttft: 500.0", "ttft: -5"))
    person.write("requests/team-c/review.yaml", request_yaml("review", auto_apply=False))
    person.write("generated/kube-system/evil/pod.yaml", POD)  # a hand-made folder without status.yaml
    person.write("generated/team-a/stray.yaml", POD)
    person.commit_and_push("a good request, one invalid on its first commit, one for review, hand-made files")
    reconciler = cached_reconciler(remote, tmp_path / "cache", profile_cache)

    report = reconciler.run_pass(full=True)

    assert report.error is None
    assert {o.name: o.state for o in report.worked} == {"chat": "Deploying", "broken": "Failed", "review": "Pending"}
    person.pull()
    broken = person.root / "generated/team-b/broken"
    assert sorted(p.name for p in broken.iterdir()) == ["kustomization.yaml", "status.yaml"]
    assert argo_folder_build(broken) == []  # builds to nothing: status.yaml is never applied
    dgd_and_data = [("ConfigMap", "team-a"), ("DynamoGraphDeployment", "team-a")]
    assert _kinds(flux_build(person.root, "generated", tmp_path)) == dgd_and_data
    apps = argo_build(person.root)
    assert sorted(apps) == ["dgdr-team-a-chat", "dgdr-team-b-broken"]
    assert _kinds(apps["dgdr-team-a-chat"]) == dgd_and_data and apps["dgdr-team-b-broken"] == []

    # The request is deleted: its folder and its index entries go in one commit; everything still builds.
    person.remove("requests/team-a/chat.yaml")
    person.commit_and_push("remove chat")
    reconciler.run_pass()
    person.pull()
    assert not (person.root / "generated/team-a/chat").exists()
    assert _kinds(flux_build(person.root, "generated", tmp_path)) == []
    assert sorted(argo_build(person.root)) == ["dgdr-team-b-broken"]


@needs_kubectl
def test_a_repository_from_wave_1_gets_its_index_on_the_first_pass(remote, tmp_path, profile_cache):
    person = remote.person(tmp_path / "person")
    person.write("requests/team-a/chat.yaml", request_yaml("chat"))
    person.commit_and_push("a request")
    cached_reconciler(remote, tmp_path / "cache", profile_cache).run_pass(full=True)
    person.pull()
    person.remove("generated/kustomization.yaml")
    person.remove("generated/index.yaml")
    person.write("generated/team-a/chat/status.yaml",
                 (person.root / "generated/team-a/chat/status.yaml").read_text()
                 .replace("gitops-sla.dev/v1alpha1", "gitops-sla.nvidia.com/v1alpha1"))
    person.commit_and_push("as wave 1 left it: no index, the former API group")

    report = cached_reconciler(remote, tmp_path / "cache2", profile_cache).run_pass(full=True)

    assert report.error is None
    person.pull()
    assert argo_build(person.root).keys() == {"dgdr-team-a-chat"}
    assert len(flux_build(person.root, "generated", tmp_path)) == 2


def test_the_status_group_is_the_projects_own_and_wave_1_files_are_read():
    status = RequestStatusFile.model_validate({"request": {"name": "a", "namespace": "b", "path": "requests/b/a.yaml"}})
    assert status.to_yaml().startswith("apiVersion: gitops-sla.dev/v1alpha1\n")
    legacy = status.to_yaml().replace("gitops-sla.dev/", "gitops-sla.nvidia.com/")
    assert RequestStatusFile.from_yaml(legacy).to_yaml() == status.to_yaml()  # read, and written with the new group


def test_a_repo_config_with_the_former_group_is_read_with_a_warning():
    checked = validate_repo_config(b"apiVersion: gitops-sla.nvidia.com/v1alpha1\nkind: RepoConfig\n",
                                   file="gitops-sla.yaml")
    assert checked.config is not None
    [warning] = checked.issues
    assert warning.severity == "warning" and warning.line == 1 and "gitops-sla.dev/v1alpha1" in warning.message
    assert validate_repo_config(b"apiVersion: gitops-sla.dev/v1alpha1\nkind: RepoConfig\n").issues == []
