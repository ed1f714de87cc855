"""Two reconciler processes with --leader-elect against one Git remote and kmock as the API server (with a Pod
object per replica): one works and labels its pod leader, the other waits; killed with SIGKILL, the leader is
replaced (the new leader's pod gets the label) and no request is committed twice; SIGTERM removes the label."""

from __future__ import annotations

import os
import sys

import pytest

from deploy_support import Process, wait_for
from reconcile_support import request_yaml, seed_remote
from gitops_sla.cluster.leader_label import LEADER_LABEL
from support.git_http import git

LEASES = "coordination.k8s.io/v1/leases"
PODS = "v1/pods"


def _reconciler(remote, kube, tmp_path, profile_cache, who: str) -> Process:
    args = [sys.executable, "-m", "gitops_sla", "reconcile", "--repo", remote.url, "--watch", "--interval", "0.5",
            "--listen", "", "--cache-dir", str(tmp_path / f"cache-{who}"),
            "--profile-cache", str(profile_cache.root),
            "--kubeconfig", str(kube.kubeconfig(tmp_path / f"kubeconfig-{who}", token=who)),
            "--leader-elect", "--lease", "ops/gitops-sla", "--lease-duration", "8", "--renew-deadline", "6",
            "--retry-period", "0.5", "-v"]
    kube.call(lambda km: km.put(PODS, "ops", who, {"apiVersion": "v1", "kind": "Pod"}))  # what the Deployment makes
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "POD_NAME": who, "POD_NAMESPACE": "ops",
           "GITOPS_SLA_GIT_USERNAME": "bot", "GITOPS_SLA_GIT_TOKEN": "s3cret"}
    return Process(args, tmp_path / f"{who}.log", env)


def _lease(kube) -> dict:
    def read(km):
        try:
            found = km.objects[LEASES, "ops", "gitops-sla"]
        except KeyError:
            return {}
        return {} if found.deleted else dict(found.raw)
    return kube.call(read)


def _holder(kube) -> str:
    return _lease(kube).get("spec", {}).get("holderIdentity", "")


def _leader_pods(kube) -> set[str]:
    """The pods labelled leader (the webhook Service's endpoints, were they Ready)."""
    def labels(km, who: str) -> dict:
        try:
            return km.objects[PODS, "ops", who].raw["metadata"].get("labels") or {}
        except KeyError:
            return {}
    return kube.call(lambda km: {who for who in "ab" if labels(km, who).get(LEADER_LABEL) == "true"})


def _generated(bare, name: str) -> int:
    """Commits on main that generated the request's DGD."""
    log = git(bare, "log", "--format=%s", "main").splitlines()
    return sum(1 for subject in log if subject.startswith(f"gitops-sla: team-a/{name}: generate DGD"))


def _writes_by(kube, token: str) -> list[str]:
    return kube.call(lambda km: [f"{r.method.value} {r.url.path}" for r in km
                                 if r.headers.get("Authorization") == f"Bearer {token}" and r.method != "GET"])


@pytest.mark.slow
def test_one_leader_works_and_a_standby_takes_over_after_kill(git_server, kube, tmp_path, profile_cache):
    remote = seed_remote(git_server, tmp_path)
    person = remote.person(tmp_path / "person")
    a = _reconciler(remote, kube, tmp_path, profile_cache, "a")
    b = None
    try:
        wait_for(lambda: _holder(kube).startswith("a_"), "a to lead")
        wait_for(lambda: _leader_pods(kube) == {"a"}, "a to label its pod")
        b = _reconciler(remote, kube, tmp_path, profile_cache, "b")
        # b runs and waits: it has read the lease at least twice
        wait_for(lambda: kube.call(lambda km: sum(r.headers.get("Authorization") == "Bearer b" for r in km)) >= 2,
                 "b to read the lease")
        person.write("requests/team-a/first.yaml", request_yaml("first"))
        person.commit_and_push("first request")
        wait_for(lambda: _generated(remote.bare, "first"), "the leader to generate the first request", tries=6000)
        assert _holder(kube).startswith("a_")
        # the standby never wrote the lease; its one write made sure its own pod is not labelled leader
        assert _writes_by(kube, "b") == ["PATCH /api/v1/namespaces/ops/pods/b"]
        assert _leader_pods(kube) == {"a"}
        wait_for(lambda: "team-a/first: generated" in a.output(), "a to report its pass")  # printed after the push
        assert "generated" not in b.output()

        a.kill()  # no release: b must wait for the lease to expire
        person.write("requests/team-a/second.yaml", request_yaml("second", ttft=600.0))
        person.commit_and_push("second request")
        wait_for(lambda: _holder(kube).startswith("b_"), "b to take over")
        # b labels its pod; the dead a's label stays on a dead pod (not Ready, so the Service skips it)
        wait_for(lambda: _leader_pods(kube) == {"a", "b"}, "b to label its pod")
        wait_for(lambda: _generated(remote.bare, "second"), "b to generate the second request", tries=6000)
        assert _lease(kube)["spec"]["leaseTransitions"] == 1
        assert {name: _generated(remote.bare, name) for name in ("first", "second")} == {"first": 1, "second": 1}
        wait_for(lambda: "team-a/second: generated" in b.output(), "b to report its pass")
        assert "team-a/first: generated" not in b.output()  # b's first pass found the first request done

        assert b.terminate() == 0  # SIGTERM: b finishes and releases the lease
        assert "holderIdentity" not in _lease(kube)["spec"]
        assert _leader_pods(kube) == {"a"}  # b removed its label on the way out
    finally:
        a.close()
        if b is not None:
            b.close()
        for process in (a, b):  # shown by pytest when the test fails
            print(process.output() if process is not None else "")
