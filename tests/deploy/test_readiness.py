"""Readiness fed back: a DGD in kmock moves through Dynamo's states; each change is one status commit (and one
commit status on each forge's fake, in its own states), a non-change none, and a restarted reconciler repeats
nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from reconcile_support import cached_reconciler, request_yaml
from support.forges import start_forge
from support.git_http import git
from support.kube_api import DGD

from gitops_sla.cluster.client import api_client
from gitops_sla.cluster.readiness import KubeDeploymentReader
from gitops_sla.models import RequestStatusFile
from gitops_sla.reconcile.readiness import LiveDeployment, ReadinessTracker, next_status

STATUS = "generated/team-a/first/status.yaml"


def _dgd(state: str, ready: str = "False", reason: str = "", message: str = "") -> dict:
    condition = {"type": "Ready", "status": ready, "reason": reason or "Reconciling", "message": message,
                 "lastTransitionTime": "2026-01-01T00:00:00Z"}
    return {"apiVersion": "nvidia.com/v1alpha1", "kind": "DynamoGraphDeployment",
            "spec": {"services": {}}, "status": {"state": state, "conditions": [condition]}}


def _status(remote) -> RequestStatusFile:
    return RequestStatusFile.from_yaml(git(remote.bare, "show", f"main:{STATUS}"))


def _deployment_commits(remote) -> list[str]:
    return [s for s in git(remote.bare, "log", "--format=%s", "main").splitlines() if ": deployment " in s]


# The commit status of Deploying, Ready, Deploying (degraded), Failed, DeploymentDeleted in each forge's states.
COMMIT_STATES = {"github": ["pending", "success", "pending", "failure", "error"],
                 "gitlab": ["running", "success", "running", "failed", "canceled"],
                 "gitea": ["pending", "success", "pending", "failure", "error"]}


@pytest.mark.parametrize("kind", list(COMMIT_STATES))
def test_each_dgd_state_change_is_one_status_commit_and_one_commit_status(remote, kube, tmp_path, profile_cache,
                                                                          kind):
    fake, forge = start_forge(kind, remote.branch_sha)
    try:
        person = remote.person(tmp_path / "person")
        person.write("requests/team-a/first.yaml", request_yaml("first"))
        source = person.commit_and_push("first request")
        kubeconfig = kube.kubeconfig(tmp_path / "kubeconfig")
        reader = KubeDeploymentReader(api_client(kubeconfig))

        def reconciler(cache: str):
            return cached_reconciler(remote, tmp_path / cache, profile_cache, forge=forge,
                                     readiness=ReadinessTracker(reader, statuses=forge))

        first = reconciler("cache-1")
        [generated] = first.run_pass(full=True).worked
        assert (generated.action, generated.state) == ("generated", "Deploying")
        status = _status(remote)
        name, namespace = status.status.deployment.name, status.status.deployment.namespace
        assert status.status.deployment.created is False
        assert first.run_pass().idle  # not applied yet (no DGD): nothing to record

        steps = [  # what the operator reports -> (state, DeploymentReady reason)
            (_dgd("pending"), ("Deploying", "DeploymentCreated")),
            (_dgd("successful", "True", "AllResourcesReady", "All resources are ready"), ("Ready", "DeploymentReady")),
            (_dgd("pending", reason="PodsNotReady"), ("Deploying", "DeploymentDegraded")),
            (_dgd("failed", reason="ImagePullFailed", message="worker image not found"), ("Failed", "ImagePullFailed")),
            (None, ("DeploymentDeleted", "DeploymentDeleted")),
        ]
        for index, (dgd, (state, reason)) in enumerate(steps):
            commit_state = COMMIT_STATES[kind][index]
            if dgd is None:
                kube.call(lambda km: km.objects[DGD, namespace, name].delete())
            else:
                kube.call(lambda km, body=dgd: km.objects.__setitem__((DGD, namespace, name), body))
            if index == 2:  # `status --kubeconfig`: the live state next to the committed one, before a pass
                assert _status_cli(remote, kubeconfig) == {"state": "Ready", "live": "pending"}
            report = first.run_pass()
            [outcome] = report.worked
            assert (outcome.action, outcome.state) == ("deployment", state)
            assert first.run_pass().worked == []  # the same cluster state again: no commit
            recorded = _status(remote).status
            assert recorded.state == state
            assert recorded.condition("DeploymentReady").reason == reason
            assert len(_deployment_commits(remote)) == index + 1
            assert [(s["sha"], s["state"], s["context"]) for s in fake.statuses][-1] == \
                (source, commit_state, "gitops-sla/team-a/first")
            if index == 1:  # a restart finds the change recorded and commits nothing
                restarted = reconciler("cache-2")
                assert restarted.run_pass(full=True).worked == []
        assert len(fake.statuses) == len(steps)
        failed = _status(remote)
        assert failed.status.deployment.state == "Deleted" and failed.status.deployment.created
        assert "worker image not found" not in failed.status.condition("DeploymentReady").message
        assert failed.spec_hash == status.spec_hash  # the request is not re-profiled by its deployment's fate
    finally:
        fake.stop()


def _status_cli(remote, kubeconfig) -> dict[str, str]:
    env = {**os.environ, "GITOPS_SLA_GIT_USERNAME": remote.server.username,
           "GITOPS_SLA_GIT_TOKEN": remote.server.password}
    done = subprocess.run([sys.executable, "-m", "gitops_sla", "status", "--repo", remote.url, "--kubeconfig",
                           str(kubeconfig), "--cache-dir", str(kubeconfig.parent / "status-cache")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    header, row = done.stdout.splitlines()
    assert header.split()[4:6] == ["STATE", "LIVE"]
    as_json = subprocess.run([sys.executable, "-m", "gitops_sla", "status", "--repo", remote.url, "--kubeconfig",
                              str(kubeconfig), "--cache-dir", str(kubeconfig.parent / "status-cache"), "-o", "json"],
                             env=env, capture_output=True, text=True, timeout=120)
    [item] = json.loads(as_json.stdout)["items"]
    assert item["live"]["state"] == row.split()[5]
    return {"state": row.split()[4], "live": row.split()[5]}


def test_next_status_follows_dynamo_and_ignores_non_changes():
    base = RequestStatusFile.from_yaml(yaml.safe_dump({
        "apiVersion": "gitops-sla.dev/v1alpha1", "kind": "DynamoGraphDeploymentRequestStatus",
        "request": {"name": "r", "namespace": "ns", "path": "requests/ns/r.yaml"},
        "status": {"state": "Deploying", "deployment": {"name": "r-dgd", "namespace": "ns", "created": False}}}))
    assert next_status(base, LiveDeployment(found=False)) is None  # never applied: still Deploying
    pending = next_status(base, LiveDeployment(found=True, state="pending"))
    assert pending.status.deployment.created and pending.status.deployment.state == "pending"
    assert next_status(pending, LiveDeployment(found=True, state="pending")) is None
    assert next_status(pending, LiveDeployment(found=True, state="pending", reason="Other", message="x")) is None
    ready = next_status(pending, LiveDeployment(found=True, state="successful"))
    degraded = next_status(ready, LiveDeployment(found=True, state="pending"))
    assert degraded.status.condition("DeploymentReady").reason == "DeploymentDegraded"
    assert next_status(degraded, LiveDeployment(found=True, state="pending")) is None  # still degraded: no commit
    failed = next_status(pending, LiveDeployment(found=True, state="failed", reason="not a reason!", message="m"))
    assert failed.status.condition("DeploymentReady").reason == "DeploymentFailed"  # not a valid reason: Dynamo's
    assert failed.status.condition("DeploymentReady").message == "m"
    profiling = base.model_copy(update={"status": base.status.with_state("Profiling")})
    assert next_status(profiling, LiveDeployment(found=True, state="successful")) is None  # not deployed yet
