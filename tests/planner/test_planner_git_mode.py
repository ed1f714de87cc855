"""Git mode against a real bare repository: one commit per persisting change, none for noise, rate limits,
pull requests, and the result rendered by `kubectl kustomize` as Argo CD or Flux would."""

import shutil
import subprocess
import time

import pygit2
import pytest
import yaml

from gitops_sla.forge import ForgeSettings, GitHubForge
from gitops_sla.git import Mirror
from planner.actuators.git import GitActuator
from planner.policy import Decision, Replicas
from tests.support.fake_github import FakeGitHub

NS, NAME = "team-a", "llm"
FOLDER = f"generated/{NS}/{NAME}"
DGD = {
    "apiVersion": "nvidia.com/v1alpha1", "kind": "DynamoGraphDeployment", "metadata": {"name": NAME},
    "spec": {"services": {
        "Frontend": {"componentType": "frontend", "replicas": 1},
        "VllmPrefillWorker": {"componentType": "worker", "subComponentType": "prefill", "replicas": 1},
        "VllmDecodeWorker": {"componentType": "worker", "subComponentType": "decode", "replicas": 1},
    }},
}
KUSTOMIZATION = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                 "namespace": NS, "resources": ["dgd.yaml"], "patches": [{"path": "replicas.yaml"}]}
INITIAL_PATCH = {"apiVersion": "nvidia.com/v1alpha1", "kind": "DynamoGraphDeployment", "metadata": {"name": NAME},
                 "spec": {"services": {"VllmPrefillWorker": {"replicas": 1}, "VllmDecodeWorker": {"replicas": 1}}}}


def commit_files(repo: pygit2.Repository, files: dict[str, bytes], message: str, author=("Human", "h@example.com")):
    """Commit `files` on top of main in a bare repo (what a human or the reconciler pushes)."""
    head = repo.references.get("refs/heads/main")
    builder_index = pygit2.Index()
    if head is not None:
        builder_index.read_tree(repo.get(head.target).peel(pygit2.Tree))
    for path, data in files.items():
        builder_index.add(pygit2.IndexEntry(path, repo.create_blob(data), pygit2.GIT_FILEMODE_BLOB))
    tree = builder_index.write_tree(repo)
    signature = pygit2.Signature(*author)
    parents = [head.target] if head is not None else []
    return repo.create_commit("refs/heads/main", signature, signature, message, tree, parents)


@pytest.fixture
def remote(tmp_path):
    repo = pygit2.init_repository(str(tmp_path / "remote.git"), bare=True, initial_head="main")
    commit_files(repo, {f"{FOLDER}/dgd.yaml": yaml.safe_dump(DGD).encode(),
                        f"{FOLDER}/kustomization.yaml": yaml.safe_dump(KUSTOMIZATION).encode(),
                        f"{FOLDER}/replicas.yaml": yaml.safe_dump(INITIAL_PATCH).encode()},
                 "reconciler output", author=("gitops-sla", "bot@example.com"))
    return repo


def actuator(remote, tmp_path, **kwargs):
    mirror = Mirror(remote.path, cache_dir=tmp_path / "cache")
    settings = dict(commit_period_s=600, persist_intervals=2)
    settings.update(kwargs)
    return GitActuator(mirror, "main", NS, NAME, **settings)


def decide(target, current):
    return Decision(action="scale_up", reason="demand from the forecast", prefill_replicas=target[0],
                    decode_replicas=target[1], current=current, observed=None, predicted=None,
                    correction_factors={})


def log_of(repo):
    return [c.message for c in repo.walk(repo.references["refs/heads/main"].target)]


def run(git_actuator, targets, start=0.0, step=60.0):
    """Feed decisions (current read from Git, as the planner does) and return the outcomes."""
    outcomes = []
    for k, target in enumerate(targets):
        current = git_actuator.current()
        outcomes.append(git_actuator.apply(decide(target, current), start + k * step)["result"])
    return outcomes


def test_noise_makes_no_commit(remote, tmp_path):
    git_actuator = actuator(remote, tmp_path)
    assert git_actuator.current() == Replicas(1, 1)
    outcomes = run(git_actuator, [(2, 3), (3, 3), (2, 3), (1, 1), (2, 4), (1, 1)])
    assert outcomes == ["pending", "pending", "pending", "unchanged", "pending", "unchanged"]
    assert len(log_of(remote)) == 1


def test_one_commit_per_persisting_change_then_rate_limit(remote, tmp_path):
    git_actuator = actuator(remote, tmp_path, commit_period_s=600)
    outcomes = run(git_actuator, [(2, 3), (2, 3), (2, 3)])
    assert outcomes == ["pending", "committed", "unchanged"]
    messages = log_of(remote)
    assert len(messages) == 2
    assert messages[0].startswith(f"planner: scale {NS}/{NAME} to 2 prefill, 3 decode (was 1 prefill, 1 decode)")
    assert f"Gitops-Sla-Planner: {NS}/{NAME}" in messages[0]
    assert git_actuator.current() == Replicas(2, 3)
    # another persisting change inside the commit period waits; after it, one more commit
    assert run(git_actuator, [(4, 5), (4, 5), (4, 5)], start=120) == ["pending", "rate_limited", "rate_limited"]
    assert len(log_of(remote)) == 2
    assert run(git_actuator, [(4, 5)], start=700) == ["committed"]
    assert len(log_of(remote)) == 3
    head = remote.get(remote.references["refs/heads/main"].target)
    changed = [d.delta.new_file.path for d in remote.diff(head.parents[0], head)]
    assert changed == [f"{FOLDER}/replicas.yaml"]  # the planner only ever touches its own file


def test_replicas_file_is_deterministic_and_kustomize_applies_it(remote, tmp_path):
    git_actuator = actuator(remote, tmp_path, persist_intervals=1)
    assert run(git_actuator, [(3, 6)]) == ["committed"]
    head = remote.get(remote.references["refs/heads/main"].target).peel(pygit2.Tree)
    text = remote.get(head[f"{FOLDER}/replicas.yaml"].id).data.decode()
    assert text.endswith("apiVersion: nvidia.com/v1alpha1\nkind: DynamoGraphDeployment\nmetadata:\n  name: llm\n"
                         "spec:\n  services:\n    VllmDecodeWorker:\n      replicas: 6\n"
                         "    VllmPrefillWorker:\n      replicas: 3\n")
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl (for kustomize) is not installed")
    out = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", remote.path, str(out)], check=True)
    rendered = subprocess.run(["kubectl", "kustomize", str(out / FOLDER)], check=True, capture_output=True,
                              text=True).stdout
    services = yaml.safe_load(rendered)["spec"]["services"]
    assert (services["VllmPrefillWorker"]["replicas"], services["VllmDecodeWorker"]["replicas"]) == (3, 6)
    assert services["VllmPrefillWorker"]["subComponentType"] == "prefill"


def test_human_commits_in_between_are_kept(remote, tmp_path):
    git_actuator = actuator(remote, tmp_path, persist_intervals=1)
    assert git_actuator.current() == Replicas(1, 1)
    commit_files(remote, {"README.md": b"a human edit\n"}, "human: docs")  # lands after the planner read
    assert git_actuator.apply(decide((2, 2), Replicas(1, 1)), 0.0)["result"] == "committed"
    messages = log_of(remote)
    assert messages[0].startswith("planner: scale") and messages[1] == "human: docs"


def test_pull_request_mode_updates_one_pull_request(remote, tmp_path):
    def branch_sha(name):
        ref = remote.references.get(f"refs/heads/{name}")
        return str(ref.target) if ref else None

    fake = FakeGitHub("org", "repo", "t0ken", branch_sha).start()
    try:
        forge = GitHubForge(ForgeSettings(fake.api_url, "org/repo", "t0ken"))
        git_actuator = actuator(remote, tmp_path, persist_intervals=1, commit_period_s=0, forge=forge)
        first = git_actuator.apply(decide((2, 2), Replicas(1, 1)), 0.0)
        second = git_actuator.apply(decide((3, 3), Replicas(1, 1)), 60.0)
    finally:
        fake.stop()
    assert (first["result"], first["pull_request_action"]) == ("committed", "created")
    assert (second["result"], second["pull_request"], second["pull_request_action"]) == ("committed", 1, "updated")
    assert len(fake.pulls) == 1 and fake.pulls[0]["head"] == f"gitops-sla/planner/{NS}/{NAME}"
    assert len(log_of(remote)) == 1  # main is untouched until the pull request is merged
    tip = remote.get(remote.references[f"refs/heads/gitops-sla/planner/{NS}/{NAME}"].target)
    assert b"replicas: 3" in remote.get(tip.peel(pygit2.Tree)[f"{FOLDER}/replicas.yaml"].id).data


def test_missing_dgd_in_git_fails_clearly(tmp_path):
    repo = pygit2.init_repository(str(tmp_path / "empty.git"), bare=True, initial_head="main")
    commit_files(repo, {"README.md": b"x\n"}, "init")
    git_actuator = actuator(repo, tmp_path, persist_intervals=1)
    assert git_actuator.current() is None
    outcome = git_actuator.apply(decide((2, 2), None), 0.0)
    assert outcome["result"] == "failed" and "no DynamoGraphDeployment manifest in generated/team-a/llm" in outcome["error"]
    assert len(log_of(repo)) == 1


def test_a_restarted_planner_keeps_the_commit_period(remote, tmp_path):
    now = time.time()
    first = actuator(remote, tmp_path, persist_intervals=1, commit_period_s=600)
    assert first.apply(decide((2, 2), Replicas(1, 1)), now)["result"] == "committed"
    restarted = actuator(remote, tmp_path, persist_intervals=1, commit_period_s=600)
    assert restarted.apply(decide((4, 4), restarted.current()), now + 60)["result"] == "rate_limited"
    assert restarted.apply(decide((4, 4), restarted.current()), now + 700)["result"] == "committed"
    assert len(log_of(remote)) == 3
