"""Each request's profiling has a time budget the pass enforces: `IsolatedProfile` runs the real offline
profiler in a warm child process and stops it past the budget; the request is `Failed` (ProfilingTimedOut)
and the others go on."""

from __future__ import annotations

import multiprocessing

import pytest
import yaml

from reconcile_support import cached_reconciler, request_yaml, seed_remote

from gitops_sla.reconcile.engine import Reconciler
from gitops_sla.reconcile.isolated import IsolatedProfile, ProfilingTimedOut
from gitops_sla.reconcile.offline import offline_profile
from gitops_sla.reconcile.profiling import InlineBackend, ProfileJob
from gitops_sla.validation import validate_request_file
from profiler.version import PROFILER_VERSION


def _job(name: str, osl: int | None = None) -> ProfileJob:
    path = f"requests/team-a/{name}.yaml"
    request = validate_request_file(request_yaml(name).encode(), file=path, repo_path=path).request
    assert request is not None
    config = request.to_profile_config(None, namespace="team-a")
    if osl is not None:  # past the validator's bounds: what a request could reach before they existed
        config = config.model_copy(update={"sla": config.sla.model_copy(update={"osl": osl})})
    return ProfileJob("team-a", name, f"sha256:{name}", request, config)


@pytest.mark.slow
def test_a_profile_past_its_budget_is_stopped_and_the_next_one_runs_in_a_fresh_child():
    profile = IsolatedProfile(offline_profile, budget_s=3.0)
    try:
        with pytest.raises(ProfilingTimedOut, match="budget of 3 s"):
            profile(_job("huge", osl=10_000_000))  # the profiler's set-up alone takes about 40 s
        profile.budget_s = 300.0  # a fresh child loads AI Configurator's data for its first request
        output = profile(_job("chat"))
        assert output.dgd_name == "chat" and "dgd.yaml" in output.files
    finally:
        profile.close()
    assert multiprocessing.active_children() == []


def test_the_pass_fails_the_request_past_its_budget_and_generates_the_others(git_server, tmp_path, profile_cache):
    warm = seed_remote(git_server, tmp_path, "warm")  # the same request file elsewhere: its output is cached
    person = warm.person(tmp_path / "warm-person")
    person.write("requests/team-b/chat.yaml", request_yaml("chat"))
    person.commit_and_push("chat")
    cached_reconciler(warm, tmp_path / "warm-cache", profile_cache).run_pass(full=True)

    remote = seed_remote(git_server, tmp_path)
    person = remote.person(tmp_path / "person")
    person.write("requests/team-a/slow.yaml", request_yaml("slow", ttft=321.0))  # not cached: profiled
    person.write("requests/team-b/chat.yaml", request_yaml("chat"))
    person.commit_and_push("a request to profile, one cached")
    isolated = IsolatedProfile(offline_profile, budget_s=0.01)  # no real profile finishes within 10 ms
    try:
        backend = InlineBackend(profile_cache.wrap(isolated), PROFILER_VERSION)
        report = Reconciler(remote.mirror(tmp_path / "cache"), backend).run_pass(full=True)
    finally:
        isolated.close()

    assert report.error is None
    assert {(o.name, o.action, o.state) for o in report.worked} == {("slow", "failed", "Failed"),
                                                                    ("chat", "generated", "Deploying")}
    person.pull()
    status = yaml.safe_load((person.root / "generated/team-a/slow/status.yaml").read_text())
    [profiling] = [c for c in status["status"]["conditions"] if c["type"] == "Profiling"]
    assert profiling["reason"] == "ProfilingTimedOut" and "budget of 0.01 s" in profiling["message"]
