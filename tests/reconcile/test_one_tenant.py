"""Issue 8's acceptance: one pass over a repository where four tenants broke something, each in its own
namespace, generates the good request, fails each bad one with its reason, and leaves `generated/` building as
Flux and Argo CD build it."""

from __future__ import annotations

import shutil

import pytest
import yaml

from gitops_builds import argo_build, flux_build
from reconcile_support import cached_reconciler, request_yaml
from test_isolation import broken_bases, with_base


def _reason(person, namespace: str, name: str) -> tuple[str, str]:
    status = yaml.safe_load((person.root / f"generated/{namespace}/{name}/status.yaml").read_text())
    failed = [c for c in status["status"]["conditions"] if c["status"] == "False"]
    return status["status"]["state"], failed[-1]["reason"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kustomize) is not installed")
def test_one_pass_over_four_broken_tenants_and_a_good_one(remote, tmp_path, profile_cache):
    person = remote.person(tmp_path / "person")
    person.write("requests/team-a/chat.yaml", request_yaml("chat"))
    person.write("bases/team-b/null-service/disagg.yaml", broken_bases()["null-service"])
    person.write("requests/team-b/base.yaml", with_base(request_yaml("base"), "null-service"))
    person.write("requests/team-c/x\\y.yaml", request_yaml("xy"))
    person.write("generated/team-c/x\\y/status.yaml", "state: Ready\n")
    person.write("requests/team-d/huge.yaml", request_yaml("huge").replace("osl: 150", "osl: 1000000000"))
    person.write("requests/team-e/invalid.yaml", request_yaml("invalid").replace("ttft: 500.0", "ttft: -5"))
    person.commit_and_push("one good request, four tenants' mistakes")

    report = cached_reconciler(remote, tmp_path / "cache", profile_cache).run_pass(full=True)

    assert report.error is None
    assert {(o.namespace, o.action, o.state) for o in report.worked} == {
        ("team-a", "generated", "Deploying"), ("team-b", "failed", "Failed"), ("team-d", "failed", "Failed"),
        ("team-e", "failed", "Failed")}
    assert any("x\\\\y" in message for message in report.skipped)
    person.pull()
    assert _reason(person, "team-b", "base") == ("Failed", "ProfilingFailed")
    assert _reason(person, "team-d", "huge") == ("Failed", "ValidationFailed")
    assert _reason(person, "team-e", "invalid") == ("Failed", "ValidationFailed")
    applied = flux_build(person.root, "generated", tmp_path)
    assert sorted((o["kind"], o["metadata"]["namespace"]) for o in applied) == [
        ("ConfigMap", "team-a"), ("DynamoGraphDeployment", "team-a")]
    apps = argo_build(person.root)
    assert sorted(apps) == ["dgdr-team-a-chat", "dgdr-team-b-base", "dgdr-team-d-huge", "dgdr-team-e-invalid"]
    assert [name for name, objects in apps.items() if objects] == ["dgdr-team-a-chat"]
