"""The reconciler's side of the planner contract, against a real HTTP remote: `kustomization.yaml` patches the DGD
with `replicas.yaml`, the reconciler writes the initial one and keeps the planner's, the form follows the planner
mode, and the Planner service args carry `gitops-sla.yaml`'s planner settings."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import pygit2
import pytest
import yaml

from reconcile_support import cached_reconciler, request_yaml, seed_remote
from gitops_sla.git import Mirror
from gitops_sla.models import RepoConfig
from gitops_sla.reconcile.engine import Reconciler
from gitops_sla.reconcile.offline import offline_backend
from gitops_sla.reconcile.planner_settings import RepoPlannerKeys, planner_repo_url
from gitops_sla.replicas_patch import initial_replicas_patch, render_replicas_patch, resolve_services
from gitops_sla.validation import validate_repo_config
from planner.args import parse_args
from profiler.config import ProfileConfig

REQ = "requests/team-a/chat.yaml"
OUT = "generated/team-a/chat"
PATH_KEY = f"--git-path={OUT}/replicas.yaml"

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kustomize) is not installed")


PROJECT_PLANNER_IMAGE = "ghcr.io/my-org/gitops-sla:0.1.0"


def repo_config(mode: str, **planner: object) -> str:
    """A repository that runs this project's planner (`planner.image`) in `mode`."""
    lines = ["apiVersion: gitops-sla.dev/v1alpha1", "kind: RepoConfig", "targetBranch: main",
             "defaultMode: commit", "planner:", f"  image: {PROJECT_PLANNER_IMAGE}", f"  mode: {mode}",
             "  commitPeriodSeconds: 300"]
    lines += [f"  {key}: {value}" for key, value in planner.items()]
    return "\n".join(lines) + "\n"


def folder_file(person, name: str) -> dict:
    return yaml.safe_load((person.root / OUT / name).read_text())


def planner_args(person) -> list[str]:
    dgd = folder_file(person, "dgd.yaml")
    (service,) = [s for s in dgd["spec"]["services"].values() if s.get("componentType") == "planner"]
    return service["extraPodSpec"]["mainContainer"]["args"]


def worker_replicas(dgd: dict) -> tuple:
    services = resolve_services(dgd)
    return tuple(dgd["spec"]["services"][services[role]].get("replicas") for role in ("prefill", "decode"))


def kustomize(folder: Path) -> dict:
    done = subprocess.run(["kubectl", "kustomize", str(folder)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (dgd,) = [doc for doc in yaml.safe_load_all(done.stdout) if doc and doc["kind"] == "DynamoGraphDeployment"]
    return dgd


@needs_kubectl
def test_git_mode_folder_args_and_the_planners_replicas_yaml_across_edits_and_mode_changes(
        git_server, tmp_path, profile_cache):
    remote = seed_remote(git_server, tmp_path, config=repo_config("git"))
    person = remote.person(tmp_path / "person")
    person.write(REQ, request_yaml("chat"))
    person.commit_and_push("add chat")
    reconciler = cached_reconciler(remote, tmp_path / "cache", profile_cache)

    assert [o.action for o in reconciler.run_pass(full=True).worked] == ["generated"]
    person.pull()
    kustomization = folder_file(person, "kustomization.yaml")
    assert kustomization["resources"] == ["dgd.yaml", "planner-profile-data.yaml"]
    assert kustomization["patches"] == [{"path": "replicas.yaml"}]
    dgd = folder_file(person, "dgd.yaml")
    assert (person.root / OUT / "replicas.yaml").read_bytes() == initial_replicas_patch(dgd, "git")
    args = planner_args(person)
    assert {"--mode=git", f"--git-repo={remote.url}", "--git-commit-period=300", PATH_KEY} <= set(args)
    assert "--git-pull-request" not in args and "--git-branch=main" not in args  # the planner's default
    settings = parse_args(args, env={})  # the planner accepts what the reconciler rendered
    assert (settings.mode, settings.git_repo, settings.git_branch, settings.git_path, settings.git_commit_period) == \
        ("git", remote.url, "main", f"{OUT}/replicas.yaml", 300)
    rendered = kustomize(person.root / OUT)
    assert worker_replicas(rendered) == worker_replicas(dgd)

    # The planner commits its counts; kustomize applies them; the reconciler leaves them alone.
    services = resolve_services(dgd)
    planner_patch = render_replicas_patch(dgd, services, {"prefill": 4, "decode": 7})
    (person.root / OUT / "replicas.yaml").write_bytes(planner_patch)
    person.commit_and_push("planner: scale team-a/chat to 4 prefill, 7 decode")
    assert worker_replicas(kustomize(person.root / OUT)) == (4, 7)
    head = remote.branch_sha("main")
    report = reconciler.run_pass()
    assert report.worked == [] and report.commits == [] and remote.branch_sha("main") == head

    # An edited request regenerates the folder: the planner's replicas.yaml is kept byte for byte.
    person.write(REQ, request_yaml("chat", ttft=400.0))
    person.commit_and_push("tighter TTFT")
    report = reconciler.run_pass()
    assert [o.action for o in report.worked] == ["generated"] and len(report.commits) == 1
    person.pull()
    assert folder_file(person, "status.yaml")["result"]["targetTtftMs"] == 400.0
    assert (person.root / OUT / "replicas.yaml").read_bytes() == planner_patch
    assert worker_replicas(kustomize(person.root / OUT)) == (4, 7)

    # patch mode: every request is regenerated (the settings are in the spec hash); release form, no git args.
    person.write("gitops-sla.yaml", repo_config("patch"))
    person.commit_and_push("planner: patch mode")
    report = reconciler.run_pass()
    assert [o.action for o in report.worked] == ["generated"] and len(report.commits) == 1
    person.pull()
    assert (person.root / OUT / "replicas.yaml").read_bytes() == initial_replicas_patch(dgd, "patch")
    args = planner_args(person)
    assert "--mode=patch" in args and not [a for a in args if a.startswith("--git-")]
    released = kustomize(person.root / OUT)
    assert worker_replicas(released) == (None, None)
    assert "replicas" not in released["spec"]["services"][services["decode"]]

    # back to git mode: explicit counts again (the DGD's, which the planner then updates)
    person.write("gitops-sla.yaml", repo_config("git", pullRequest="true"))
    person.commit_and_push("planner: git mode with pull requests")
    reconciler.run_pass()
    person.pull()
    assert (person.root / OUT / "replicas.yaml").read_bytes() == initial_replicas_patch(dgd, "git")
    assert "--git-pull-request" in planner_args(person)
    assert reconciler.run_pass().commits == []

    # Deleting the request removes the whole folder, replicas.yaml included.
    person.remove(REQ)
    person.commit_and_push("remove chat")
    assert [o.action for o in reconciler.run_pass().worked] == ["deleted"]
    person.pull()
    assert not (person.root / OUT).exists()


def test_a_replicas_yaml_that_no_longer_fits_the_dgd_is_replaced(git_server, tmp_path, profile_cache):
    remote = seed_remote(git_server, tmp_path, config=repo_config("git"))
    person = remote.person(tmp_path / "person")
    person.write(REQ, request_yaml("chat"))
    person.commit_and_push("add chat")
    reconciler = cached_reconciler(remote, tmp_path / "cache", profile_cache)
    reconciler.run_pass(full=True)
    person.pull()
    dgd = folder_file(person, "dgd.yaml")
    # a patch for services this DGD does not have (say, from a vllm graph) would add bogus services
    stale = render_replicas_patch(dgd, {"prefill": "VllmPrefillWorker", "decode": "VllmDecodeWorker"},
                                  {"prefill": 2, "decode": 2})
    (person.root / OUT / "replicas.yaml").write_bytes(stale)
    person.commit_and_push("someone's stale patch")
    person.write(REQ, request_yaml("chat", ttft=450.0))
    person.commit_and_push("edit")
    reconciler.run_pass()
    person.pull()
    assert (person.root / OUT / "replicas.yaml").read_bytes() == initial_replicas_patch(dgd, "git")


def test_a_request_planner_key_wins_over_the_repo_settings(git_server, tmp_path, profile_cache):
    remote = seed_remote(git_server, tmp_path, config=repo_config("git"))
    person = remote.person(tmp_path / "person")
    text = request_yaml("chat").replace("      sla:\n", "      planner:\n        planner_mode: patch\n"
                                                       "        planner_git_commit_period: 60\n      sla:\n")
    person.write(REQ, text)
    person.commit_and_push("add chat in patch mode")
    reconciler = cached_reconciler(remote, tmp_path / "cache", profile_cache)
    reconciler.run_pass(full=True)
    person.pull()
    args = planner_args(person)
    assert "--mode=patch" in args and not [a for a in args if a.startswith("--git-repo")]
    # the replicas.yaml form follows the mode the Planner service runs with, not the repo's
    assert (person.root / OUT / "replicas.yaml").read_bytes() == initial_replicas_patch(folder_file(person, "dgd.yaml"),
                                                                                          "patch")


def test_git_mode_on_a_local_path_leaves_out_git_repo_and_warns(tmp_path, caplog):
    origin = tmp_path / "origin.git"
    pygit2.init_repository(str(origin), bare=True, initial_head="main")
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "gitops-sla.yaml").write_text(repo_config("git"))
    (seed / "requests" / "team-a").mkdir(parents=True)
    (seed / "requests" / "team-a" / "chat.yaml").write_text(request_yaml("chat"))
    for command in (["init", "-q", "-b", "main"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@e",
                                                                  "commit", "-q", "-m", "seed"],
                    ["push", "-q", str(origin), "main"]):
        subprocess.run(["git", "-C", str(seed), *command], check=True, capture_output=True)
    reconciler = Reconciler(Mirror(str(origin), tmp_path / "cache"), offline_backend())
    with caplog.at_level(logging.WARNING, logger="gitops_sla.reconcile.engine"):
        report = reconciler.run_pass(full=True)
        reconciler.run_pass(full=True)
    assert report.error is None and [o.action for o in report.worked] == ["generated"]
    warnings = [r.getMessage() for r in caplog.records if "planner.gitRepo" in r.getMessage()]
    assert len(warnings) == 1 and str(origin) in warnings[0]  # once per process
    snapshot = reconciler.mirror.snapshot(reconciler.mirror.head("main"))
    dgd = yaml.safe_load(snapshot.read(f"{OUT}/dgd.yaml"))
    (service,) = [s for s in dgd["spec"]["services"].values() if s.get("componentType") == "planner"]
    args = service["extraPodSpec"]["mainContainer"]["args"]
    assert "--mode=git" in args and PATH_KEY in args and not [a for a in args if a.startswith("--git-repo")]


def test_repo_planner_keys_url_secrets_and_digest():
    git = RepoConfig.model_validate({"planner": {"mode": "git", "commitPeriodSeconds": 120}})
    assert planner_repo_url(git, "https://user:s3cret@git.example.com/org/repo.git") == \
        "https://git.example.com/org/repo.git"  # credentials never reach a DGD
    assert planner_repo_url(git, "git@github.com:org/repo.git") == "git@github.com:org/repo.git"
    assert planner_repo_url(git, "/srv/git/repo.git") is None
    pinned = RepoConfig.model_validate({"planner": {"mode": "git", "gitRepo": "https://git.example.com/o/r.git"}})
    assert planner_repo_url(pinned, "/srv/git/repo.git") == "https://git.example.com/o/r.git"

    keys = RepoPlannerKeys.from_config(git, "https://git.example.com/org/repo.git")
    # the Git target is the reconciler's even if a request slipped one past validation; other keys are the request's
    config = ProfileConfig.model_validate({"planner": {"planner_git_branch": "release", "planner_git_commit_period": 60,
                                                       "planner_git_repo": "https://evil.example/x.git",
                                                       "planner_git_path": "generated/team-b/x/replicas.yaml"}})
    merged = keys.apply(config, "team-a", "chat").planner
    assert merged == {"planner_mode": "git", "planner_git_branch": "main", "planner_git_commit_period": 60,
                      "planner_git_repo": "https://git.example.com/org/repo.git",
                      "planner_git_path": "generated/team-a/chat/replicas.yaml"}
    advisory = RepoPlannerKeys.from_config(RepoConfig(), "https://git.example.com/org/repo.git")
    assert advisory.apply(ProfileConfig(), "team-a", "chat").planner == {"planner_mode": "advisory"}

    # the digest follows what is rendered: mode always, git settings and the URL only in git mode
    other_url = RepoPlannerKeys.from_config(git, "https://git.example.com/org/other.git")
    assert other_url.digest != keys.digest
    assert RepoPlannerKeys.from_config(RepoConfig(), "/a").digest == advisory.digest
    assert RepoPlannerKeys.from_config(git.model_copy(update={"target_branch": "prod"}), "https://git.example.com/org/repo.git").digest != keys.digest


@pytest.mark.parametrize("git_repo, message", [
    ("/srv/git/repo.git", "is not a remote URL"),
    ("https://bot:token@github.com/org/repo.git", "password or token"),
])
def test_git_repo_setting_is_a_remote_url_without_secrets(git_repo, message):
    checked = validate_repo_config(repo_config("git", gitRepo=git_repo).encode(), file="gitops-sla.yaml")
    assert checked.config is None
    (issue,) = [i for i in checked.issues if i.severity == "error"]
    assert message in str(issue) and "planner" in str(issue) and "gitRepo" in str(issue)


def test_git_repo_in_the_repository_cannot_send_the_planner_elsewhere():
    """The planner pushes to this repository: gitops-sla.yaml may respell its URL, never name another one."""
    def config(git_repo):
        return RepoConfig.model_validate({"planner": {"mode": "git", "gitRepo": git_repo}})

    own = "https://bot:s3cret@git.example.com/org/gitops.git"
    for same in ("git@git.example.com:org/gitops.git", "ssh://git@Git.Example.com:22/org/gitops",
                 "https://git.example.com/org/gitops"):
        assert planner_repo_url(config(same), own) == same
    for other in ("https://catcher.example/org/gitops.git", "https://git.example.com/org/other.git",
                  "git@git.example.com:team-b/gitops.git"):
        assert planner_repo_url(config(other), own) == "https://git.example.com/org/gitops.git"
    keys = RepoPlannerKeys.from_config(config("https://catcher.example/x.git"), own)
    assert keys.git["planner_git_repo"] == "https://git.example.com/org/gitops.git"
