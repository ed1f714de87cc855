"""Online requests (useAiConfigurator: false) in the reconciler: routed to the online backend, failing clearly
without one unless gitops-sla.yaml allows the estimate, and a long run's progress mirrored into status.yaml."""

from __future__ import annotations

import yaml

from reconcile_support import request_yaml
from gitops_sla.reconcile.engine import Reconciler
from gitops_sla.reconcile.offline import offline_profile
from gitops_sla.reconcile.profiling import (
    FALLBACK_WARNING, InlineBackend, ProfileJob, ProfileOutput, RoutingBackend, Running,
)
from profiler.progress import ProgressState
from profiler.version import PROFILER_VERSION

ONLINE = "requests/team-a/measured.yaml"
OFFLINE = "requests/team-a/estimated.yaml"


def online_yaml(name: str) -> str:
    """The quick-start request asking for measurements (as the quick-start's first example does)."""
    return request_yaml(name).replace("use_ai_configurator: true", "use_ai_configurator: false")


def status_of(person, name: str) -> dict:
    person.pull()
    return yaml.safe_load((person.root / f"generated/team-a/{name}/status.yaml").read_text())


def test_online_request_without_engines_fails_until_the_repo_allows_the_estimate(remote, tmp_path, profile_cache):
    person = remote.person(tmp_path / "person")
    person.write(ONLINE, online_yaml("measured"))
    person.write(OFFLINE, request_yaml("estimated"))
    person.commit_and_push("one online, one offline request")
    backend = RoutingBackend(InlineBackend(profile_cache.wrap(offline_profile), PROFILER_VERSION))
    reconciler = Reconciler(remote.mirror(tmp_path / "cache"), backend)

    report = reconciler.run_pass(full=True)

    outcomes = {o.name: (o.action, o.state) for o in report.outcomes}
    assert outcomes == {"measured": ("failed", "Failed"), "estimated": ("generated", "Deploying")}
    failed = status_of(person, "measured")
    condition = failed["status"]["conditions"][-1]
    assert condition["reason"] == "ProfilingFailed"
    assert "--online-engines kubernetes" in condition["message"]
    assert "onlineProfiling" in condition["message"] and "fallback: estimate" in condition["message"]
    assert not (person.root / "generated/team-a/measured/dgd.yaml").exists()

    estimated_dgd = (person.root / "generated/team-a/estimated/dgd.yaml").read_bytes()
    config = (person.root / "gitops-sla.yaml").read_text().replace("fallback: fail", "fallback: estimate")
    person.write("gitops-sla.yaml", config)
    person.commit_and_push("allow the estimate for online requests")
    report = reconciler.run_pass()

    # the setting is part of every spec hash (as aiConfigurator is): each request is generated once more
    worked = {o.name: (o.action, o.state) for o in report.worked}
    assert worked == {"measured": ("generated", "Deploying"), "estimated": ("generated", "Deploying")}
    generated = status_of(person, "measured")
    assert generated["result"]["warnings"][0] == FALLBACK_WARNING
    assert generated["specHash"] != failed["specHash"]
    assert (person.root / "generated/team-a/measured/dgd.yaml").exists()
    assert (person.root / "generated/team-a/estimated/dgd.yaml").read_bytes() == estimated_dgd
    assert "warnings" not in status_of(person, "estimated")["result"] or \
        FALLBACK_WARNING not in status_of(person, "estimated")["result"]["warnings"]


class StagedBackend:
    """An online backend whose run goes through the given progress states, then finishes with the real offline
    profiler's output (the reconciler's side of a long run, without engines)."""

    def __init__(self, stages: list[ProgressState]):
        self.stages = stages
        self.calls = 0
        self.version = PROFILER_VERSION
        self.forgotten: list[tuple[str, str]] = []

    def run(self, job: ProfileJob) -> ProfileOutput | Running:
        self.calls += 1
        if self.calls <= len(self.stages):
            return Running("Profiling on test engines", self.stages[self.calls - 1])
        return offline_profile(job)

    def forget(self, namespace: str, name: str) -> None:
        self.forgotten.append((namespace, name))


def test_progress_is_mirrored_at_most_once_per_interval(remote, tmp_path, profile_cache):
    person = remote.person(tmp_path / "person")
    person.write(ONLINE, request_yaml("measured"))
    person.commit_and_push("a long-running request")
    stages = [ProgressState("measuring", done=1, total=4, mapping="prefill TP=1 (trtllm)"),
              ProgressState("measuring", done=2, total=4, mapping="prefill TP=2 (trtllm)"),
              ProgressState("measuring", done=2, total=4, mapping="prefill TP=2 (trtllm)"),
              ProgressState("measuring", done=3, total=4, mapping="decode TP=1 (trtllm)")]
    backend = StagedBackend(stages)
    reconciler = Reconciler(remote.mirror(tmp_path / "cache"), backend, progress_interval_s=0)

    started = reconciler.run_pass(full=True)
    assert [(o.action, o.state) for o in started.worked] == [("profiling", "Profiling")]
    status = status_of(person, "measured")["status"]
    assert (status["profilingPhase"], status["profilingProgress"]) == ("measuring", "1/4")
    assert "prefill TP=1 (trtllm)" in status["conditions"][-1]["message"]

    moved = reconciler.run_pass()
    assert len(moved.commits) == 1 and "profiling progress" in person.log("-1", "--format=%s")
    assert status_of(person, "measured")["status"]["profilingProgress"] == "2/4"

    same = reconciler.run_pass()  # no progress since: nothing written
    assert same.commits == []

    slow = Reconciler(remote.mirror(tmp_path / "cache2"), backend, progress_interval_s=3600)
    restarted = slow.run_pass(full=True)  # a restarted process re-attaches and waits an interval before writing
    assert restarted.commits == [] and [o.action for o in restarted.worked] == ["profiling"]
    assert status_of(person, "measured")["status"]["profilingProgress"] == "2/4"

    done = slow.run_pass()
    assert [(o.action, o.state) for o in done.worked] == [("generated", "Deploying")]
    final = status_of(person, "measured")["status"]
    assert "profilingPhase" not in final and "profilingProgress" not in final


class ScriptedBackend:
    """An online backend answering the given `Running` results in turn, then the real offline profiler's output."""

    def __init__(self, answers: list[Running]):
        self.answers = answers
        self.version = PROFILER_VERSION

    def run(self, job: ProfileJob) -> ProfileOutput | Running:
        return self.answers.pop(0) if self.answers else offline_profile(job)


def test_a_restart_or_resume_is_written_to_the_status_at_once(remote, tmp_path, profile_cache):
    person = remote.person(tmp_path / "person")
    person.write(ONLINE, request_yaml("measured"))
    person.commit_and_push("a long-running request")
    progress = ProgressState("measuring", done=1, total=4, mapping="prefill TP=1 (trtllm)")
    backend = ScriptedBackend([
        Running("Profiling (attempt 1 of 2)", progress),
        Running("Profiling (attempt 1 of 2)", progress),
        Running("Profiling (restarted (the profiler was killed), attempt 2 of 2)", record_now=True),
    ])
    reconciler = Reconciler(remote.mirror(tmp_path / "cache"), backend, progress_interval_s=3600)

    reconciler.run_pass(full=True)
    assert reconciler.run_pass().commits == []  # nothing new within the interval
    restarted = reconciler.run_pass()

    assert len(restarted.commits) == 1
    message = status_of(person, "measured")["status"]["conditions"][-1]["message"]
    assert "restarted (the profiler was killed), attempt 2 of 2" in message
