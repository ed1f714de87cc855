"""Concurrency and crashes: 8 reconciler processes and a person pushing to one HTTP remote; a reconciler
killed at a random point and restarted."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

from reconcile_support import cached_reconciler, request_yaml, seed_remote
from support.fake_github import FakeGitHub
from support.git_http import git


NAMES = ["alpha", "bravo", "charlie", "delta"]


def _reconcile_cmd(remote, cache: Path, profile_cache, *extra: str) -> list[str]:
    return [sys.executable, "-m", "gitops_sla", "reconcile", "--repo", remote.url, "--once", "--cache-dir", str(cache),
            "--profile-cache", str(profile_cache.root), *extra]


def _env(**more: str) -> dict[str, str]:
    return {**os.environ, "GITOPS_SLA_GIT_USERNAME": "bot", "GITOPS_SLA_GIT_TOKEN": "s3cret", **more}


def _warm(remote, tmp_path, profile_cache) -> None:
    """Fill the profile cache for the requests (the spec hash depends only on file content and profiler)."""
    cached_reconciler(remote, tmp_path / "warm-cache", profile_cache).run_pass(full=True)


def _trailer_counts(bare: Path) -> dict[str, int]:
    lines = git(bare, "log", "--format=%(trailers:key=Gitops-Sla-Request,valueonly)", "main").split()
    return {name: lines.count(f"team-a/{name}") for name in NAMES}


def test_eight_reconcilers_and_a_person_race_on_one_remote(git_server, tmp_path, profile_cache):
    remote = seed_remote(git_server, tmp_path)
    person = remote.person(tmp_path / "person")
    for name in NAMES:
        person.write(f"requests/team-a/{name}.yaml", request_yaml(name))
    person.commit_and_push("four requests")
    warm = seed_remote(git_server, tmp_path, "warm")
    warm_person = warm.person(tmp_path / "warm-person")
    for name in NAMES:
        warm_person.write(f"requests/team-a/{name}.yaml", request_yaml(name))
    warm_person.commit_and_push("four requests")
    _warm(warm, tmp_path, profile_cache)

    human = remote.person(tmp_path / "human")
    human_commits: list[str] = []

    def push_human_commits() -> None:
        for index in range(6):
            human.write(f"notes/{index}.md", f"note {index}\n")
            human_commits.append(human.commit_and_push(f"human note {index}"))
            time.sleep(random.uniform(0, 0.3))

    pusher = threading.Thread(target=push_human_commits)
    procs = [subprocess.Popen(_reconcile_cmd(remote, tmp_path / f"cache-{i}", profile_cache), env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(8)]
    pusher.start()
    results = [p.communicate(timeout=300) for p in procs]
    pusher.join(timeout=120)
    assert all(p.returncode == 0 for p in procs), [r[1][-2000:] for r in results]

    # Every request's output exactly once: one generating commit each, one folder each, current spec hash.
    assert _trailer_counts(remote.bare) == {name: 1 for name in NAMES}
    tree = git(remote.bare, "ls-tree", "--name-only", "main", "generated/team-a/").split()
    assert tree == [f"generated/team-a/{name}" for name in NAMES]
    # Every human commit is preserved in the history of main.
    for sha in human_commits:
        git(remote.bare, "merge-base", "--is-ancestor", sha, "main")
    assert len(human_commits) == 6
    assert all(f"notes/{i}.md" in git(remote.bare, "ls-tree", "-r", "--name-only", "main") for i in range(6))
    # And the result is stable: one more pass of a new reconciler changes nothing.
    final = cached_reconciler(remote, tmp_path / "cache-final", profile_cache).run_pass(full=True)
    assert final.commits == [] and final.error is None


def _state(remote) -> dict[str, object]:
    """The repo state that must not depend on when a reconciler crashed (status: spec hash and state)."""
    files = git(remote.bare, "ls-tree", "-r", "main", "generated/").splitlines()
    state: dict[str, object] = {}
    for line in files:
        meta, path = line.split("\t")
        if path.endswith("status.yaml"):
            status = yaml.safe_load(git(remote.bare, "show", f"main:{path}"))
            state[path] = (status["specHash"], status["status"]["state"])
        else:
            state[path] = meta.split()[2]
    branch = remote.branch_sha("gitops-sla/team-a/delta")
    if branch:
        status = yaml.safe_load(git(remote.bare, "show", f"{branch}:generated/team-a/delta/status.yaml"))
        state["branch"] = (status["specHash"], status["status"]["state"])
    return state


def _seed_for_crash(git_server, tmp_path, name: str):
    remote = seed_remote(git_server, tmp_path, name)
    person = remote.person(tmp_path / f"person-{name}")
    for request in NAMES:
        person.write(f"requests/team-a/{request}.yaml", request_yaml(request, auto_apply=request != "delta"))
    person.commit_and_push("four requests", fixed_date=True)
    return remote


def test_reconciler_killed_at_random_points_converges_without_duplicates(git_server, tmp_path, profile_cache):
    _warm(_seed_for_crash(git_server, tmp_path, "warm"), tmp_path, profile_cache)  # fills the profile cache
    reference = _seed_for_crash(git_server, tmp_path, "reference")  # one uninterrupted run: the expected state
    fake_ref = FakeGitHub("org", "reference", "tok", reference.branch_sha).start()
    started = time.perf_counter()
    done = subprocess.run(_reconcile_cmd(reference, tmp_path / "ref-cache", profile_cache),
                          env=_env(GITOPS_SLA_FORGE_TOKEN="tok", GITOPS_SLA_FORGE_API_URL=fake_ref.api_url,
                                   GITOPS_SLA_FORGE_REPO="org/reference"),
                          capture_output=True, text=True, timeout=300)
    full_run = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-2000:]
    expected = _state(reference)
    assert len(fake_ref.pulls) == 1

    rng = random.Random(4)
    for attempt in range(3):
        remote = _seed_for_crash(git_server, tmp_path, f"crash{attempt}")
        fake = FakeGitHub("org", f"crash{attempt}", "tok", remote.branch_sha).start()
        env = _env(GITOPS_SLA_FORGE_TOKEN="tok", GITOPS_SLA_FORGE_API_URL=fake.api_url,
                   GITOPS_SLA_FORGE_REPO=f"org/crash{attempt}")
        cache = tmp_path / f"crash-cache-{attempt}"
        victim = subprocess.Popen(_reconcile_cmd(remote, cache, profile_cache), env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if attempt == 0:  # right after its first push: certainly in the middle of the pass
            seed_head = remote.branch_sha("main")
            while remote.branch_sha("main") == seed_head and victim.poll() is None:
                time.sleep(0.005)
            assert victim.poll() is None, "the reconciler finished before it could be killed"
        else:
            time.sleep(rng.uniform(0.3, full_run))
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        for _ in range(2):  # restart, then once more: the second run must find nothing to do
            rerun = subprocess.run(_reconcile_cmd(remote, cache, profile_cache), env=env, capture_output=True,
                                   text=True, timeout=300)
            assert rerun.returncode == 0, rerun.stderr[-2000:]
        assert " 0 commits" in rerun.stdout
        assert _state(remote) == expected
        assert _trailer_counts(remote.bare) == {"alpha": 1, "bravo": 1, "charlie": 1, "delta": 0}
        assert len(fake.pulls) == 1 and fake.pulls[0]["state"] == "open"
        fake.stop()
    fake_ref.stop()
