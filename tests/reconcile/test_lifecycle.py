"""Create, edit, delete, idempotency, invalid requests and multi-pass profiling against a real HTTP remote."""

from __future__ import annotations

import threading

import pytest
import yaml

from reconcile_support import cached_reconciler, request_yaml
from gitops_sla.git import GitAuthError, GitCredentials, Mirror
from gitops_sla.reconcile.engine import Reconciler
from gitops_sla.reconcile.offline import offline_backend, offline_profile
from gitops_sla.reconcile.profiling import BackgroundBackend
from profiler.version import PROFILER_VERSION

REQ = "requests/team-a/chat.yaml"
OUT = "generated/team-a/chat"


def test_create_with_real_profiler_then_idempotent(remote, tmp_path):
    person = remote.person(tmp_path / "person")
    person.write(REQ, request_yaml("chat"))
    source = person.commit_and_push("add chat")
    reconciler = Reconciler(remote.mirror(tmp_path / "cache"), offline_backend())  # the real offline profiler

    report = reconciler.run_pass(full=True)

    assert report.error is None
    [outcome] = report.worked
    assert (outcome.action, outcome.state) == ("generated", "Deploying")
    person.pull()
    files = sorted(p.name for p in (person.root / OUT).iterdir())
    assert {"dgd.yaml", "planner-profile-data.yaml", "kustomization.yaml", "status.yaml", "report.md"} <= set(files)
    assert any(name.endswith(".svg") for name in files)
    kustomization = yaml.safe_load((person.root / OUT / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["dgd.yaml", "planner-profile-data.yaml"]
    status = yaml.safe_load((person.root / OUT / "status.yaml").read_text())
    assert status["sourceCommit"] == source
    assert status["specHash"].startswith("sha256:")
    assert status["profilerVersion"] == PROFILER_VERSION
    assert [c["type"] for c in status["status"]["conditions"]] == ["Validation", "Profiling", "SlaAttainable",
                                                                    "SpecGenerated", "DeploymentReady"]
    assert status["result"]["slaMet"] is True
    dgd = yaml.safe_load((person.root / OUT / "dgd.yaml").read_text())
    assert dgd["kind"] == "DynamoGraphDeployment" and dgd["metadata"]["name"] == "chat"
    message = person.log("-1", "--format=%B")
    assert "Gitops-Sla-Request: team-a/chat" in message
    assert f"Gitops-Sla-Source-Commit: {source}" in message
    assert f"Gitops-Sla-Spec-Hash: {status['specHash']}" in message

    head = remote.branch_sha("main")
    assert reconciler.run_pass().idle  # the head is ours: nothing fetched, nothing done
    fresh = Reconciler(remote.mirror(tmp_path / "cache2"), offline_backend())
    second = fresh.run_pass(full=True)  # a new process: full scan, still nothing to do
    assert second.worked == [] and remote.branch_sha("main") == head


def test_edit_invalid_fix_and_delete(remote, tmp_path, profile_cache):
    person = remote.person(tmp_path / "person")
    person.write(REQ, request_yaml("chat"))
    person.commit_and_push("add chat")
    reconciler = cached_reconciler(remote, tmp_path / "cache", profile_cache)
    reconciler.run_pass(full=True)
    person.pull()
    first = yaml.safe_load((person.root / OUT / "status.yaml").read_text())

    # Edit: re-profiled, output replaced, a new spec hash.
    person.write(REQ, request_yaml("chat", ttft=300.0))
    person.commit_and_push("tighter TTFT")
    report = reconciler.run_pass()
    assert [o.action for o in report.worked] == ["generated"] and len(report.commits) == 1
    person.pull()
    edited = yaml.safe_load((person.root / OUT / "status.yaml").read_text())
    assert edited["specHash"] != first["specHash"] and edited["result"]["targetTtftMs"] == 300.0
    dgd_before = (person.root / OUT / "dgd.yaml").read_bytes()

    # Invalid edit: Failed with the validator's located error; the generated DGD is untouched.
    person.write(REQ, request_yaml("chat").replace("ttft: 500.0", "ttft: -5"))
    person.commit_and_push("oops")
    report = reconciler.run_pass()
    assert [(o.action, o.state) for o in report.worked] == [("failed", "Failed")]
    person.pull()
    failed = yaml.safe_load((person.root / OUT / "status.yaml").read_text())
    assert failed["status"]["state"] == "Failed"
    validation = failed["status"]["conditions"][0]
    assert (validation["type"], validation["status"], validation["reason"]) == ("Validation", "False", "ValidationFailed")
    [issue] = [i for i in failed["issues"] if i.get("severity", "error") == "error"]
    assert issue["file"] == REQ and issue["path"].endswith("sla.ttft") and issue["line"] > 1
    assert (person.root / OUT / "dgd.yaml").read_bytes() == dgd_before
    changed = person.log("-1", "--name-only", "--format=").split()
    assert changed == [f"{OUT}/status.yaml"]
    assert reconciler.run_pass().commits == []  # Failed is settled for this request content

    # Delete: the generated folder goes away (Argo CD prune removes the DGD).
    person.remove(REQ)
    person.commit_and_push("drop chat")
    report = reconciler.run_pass()
    assert [o.action for o in report.worked] == ["deleted"]
    person.pull()
    assert not (person.root / OUT).exists()
    assert reconciler.run_pass().commits == []


def test_own_commits_never_trigger_work(remote, tmp_path, profile_cache):
    person = remote.person(tmp_path / "person")
    person.write(REQ, request_yaml("chat"))
    person.commit_and_push("add chat")
    calls = []
    reconciler = cached_reconciler(remote, tmp_path / "cache", profile_cache)
    inner = reconciler.backend._profile
    reconciler.backend._profile = lambda job: calls.append(job.name) or inner(job)
    reconciler.run_pass(full=True)
    person.write("README-team.md", "unrelated human change\n")
    person.commit_and_push("docs")
    report = reconciler.run_pass()
    assert report.commits == [] and calls == ["chat"]
    # A new reconciler process on the same repo: full scan, no profiling, no commit.
    other = cached_reconciler(remote, tmp_path / "cache-other", profile_cache)
    assert other.run_pass(full=True).commits == []


def test_long_profiling_spans_passes_with_two_commits(remote, tmp_path, profile_cache):
    person = remote.person(tmp_path / "person")
    person.write(REQ, request_yaml("chat"))
    person.commit_and_push("add chat")
    finished = threading.Event()  # stands for an hours-long online run: done when the test says so
    cached = profile_cache.wrap(offline_profile)
    backend = BackgroundBackend(lambda job: finished.wait(120) and cached(job), PROFILER_VERSION)
    reconciler = Reconciler(remote.mirror(tmp_path / "cache"), backend)

    first = reconciler.run_pass(full=True)
    assert [(o.action, o.state) for o in first.worked] == [("profiling", "Profiling")] and len(first.commits) == 1
    person.pull()
    status = yaml.safe_load((person.root / OUT / "status.yaml").read_text())
    assert status["status"]["state"] == "Profiling"
    assert status["status"]["conditions"][1]["reason"] == "ProfilingRunning"
    still = reconciler.run_pass()  # pending, still running: asks again, commits nothing
    assert [o.action for o in still.worked] == ["profiling"] and still.commits == []
    finished.set()
    backend.wait(timeout_s=120)
    second = reconciler.run_pass()  # not idle although the head is ours: a job is pending
    assert [(o.action, o.state) for o in second.worked] == [("generated", "Deploying")] and len(second.commits) == 1
    assert reconciler.run_pass().idle
    subjects = person.log("--format=%s").splitlines()
    assert sum("team-a/chat" in s for s in subjects) == 2  # at most two commits per request change
    backend.shutdown()


def test_bad_credentials_fail_fast_and_push_nothing(remote, tmp_path):
    head = remote.branch_sha("main")
    mirror = Mirror(remote.url, tmp_path / "cache", GitCredentials("bot", "wrong"))
    seen = len(remote.server.requests_seen)
    with pytest.raises(GitAuthError) as caught:
        mirror.fetch()
    # fail fast: the credentials are tried once, not the 15 rounds libgit2 would otherwise make
    assert len(remote.server.requests_seen) - seen <= 2
    assert "wrong" not in str(caught.value) and "refused the credentials" in str(caught.value)
    report = Reconciler(mirror, offline_backend()).run_pass()
    assert report.error and "wrong" not in report.error
    assert remote.branch_sha("main") == head


def test_tenancy_violation_fails_without_output(remote, tmp_path, profile_cache):
    person = remote.person(tmp_path / "person")
    text = request_yaml("chat").replace("  deploymentOverrides:\n", "  deploymentOverrides:\n    namespace: prod\n")
    person.write(REQ, text)
    person.commit_and_push("deploy into someone else's namespace")
    report = cached_reconciler(remote, tmp_path / "cache", profile_cache).run_pass(full=True)
    assert [(o.action, o.state) for o in report.worked] == [("failed", "Failed")]
    person.pull()
    assert sorted(p.name for p in (person.root / OUT).iterdir()) == ["kustomization.yaml", "status.yaml"]
    assert yaml.safe_load((person.root / OUT / "kustomization.yaml").read_text())["resources"] == []
    status = yaml.safe_load((person.root / OUT / "status.yaml").read_text())
    [issue] = status["issues"]
    assert issue["path"] == "spec.deploymentOverrides.namespace" and "tenancy" in issue["message"]
