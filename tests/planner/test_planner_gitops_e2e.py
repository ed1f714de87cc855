"""Reconciler and planner together, as in a cluster: the reconciler (git mode in `gitops-sla.yaml`) generates a
request's folder over the real `git http-backend` bridge; `python -m planner --once` runs with the args of the
generated Planner service and the profile data of the generated ConfigMap, against a real Prometheus, and commits
`replicas.yaml` once; the reconciler's next passes keep it; `kubectl kustomize` applies it."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from gitops_sla.git import GitCredentials, Mirror
from gitops_sla.reconcile.engine import Reconciler
from gitops_sla.reconcile.offline import offline_backend
from gitops_sla.replicas_patch import resolve_services
from planner_frontend import Segment, frontend_history
from tests.support.git_http import GitHttpServer, git
from tests.support.prometheus import run_prometheus

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "gitops_sla" / "examples" / "quickstart-aic.yaml"
FOLDER = "generated/team-a/chat"
MODEL = "Qwen/Qwen3-32B"
LABELS = {"dynamo_namespace": "dyn-ns", "model": MODEL}
NOW = int(time.time())
RATE, ISL, OSL = 20.0, 3000, 150  # the request's SLA traffic shape, 20 req/s
REPO_CONFIG = """apiVersion: gitops-sla.dev/v1alpha1
kind: RepoConfig
targetBranch: main
defaultMode: commit
planner:
  image: ghcr.io/my-org/gitops-sla:0.1.0
  mode: git
  commitPeriodSeconds: 600
"""


@pytest.fixture
def remote(tmp_path):
    server = GitHttpServer(tmp_path / "server")
    (tmp_path / "server").mkdir()
    server.start()
    server.create_repo("gitops")
    seed = tmp_path / "seed"
    (seed / "requests" / "team-a").mkdir(parents=True)
    (seed / "gitops-sla.yaml").write_text(REPO_CONFIG)
    (seed / "requests" / "team-a" / "chat.yaml").write_text(EXAMPLE.read_text().replace("name: sla-aic", "name: chat"))
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "add chat")
    git(seed, "push", "-q", server.url("gitops").replace("http://", f"http://{server.username}:{server.password}@"),
        "main")
    yield server
    server.stop()


def reconciler(server: GitHttpServer, cache: Path) -> Reconciler:
    mirror = Mirror(server.url("gitops"), cache, GitCredentials(server.username, server.password))
    return Reconciler(mirror, offline_backend())


def folder_files(mirror: Mirror) -> dict[str, bytes]:
    mirror.fetch()
    snapshot = mirror.snapshot(mirror.head("main"))
    return {path.rsplit("/", 1)[1]: snapshot.read(path) for path, _ in snapshot.walk_files(FOLDER)}


def kustomize(files: dict[str, bytes], where: Path) -> dict:
    where.mkdir()
    for name, data in files.items():
        (where / name).write_bytes(data)
    done = subprocess.run(["kubectl", "kustomize", str(where)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (dgd,) = [d for d in yaml.safe_load_all(done.stdout) if d and d["kind"] == "DynamoGraphDeployment"]
    return dgd


def worker_replicas(dgd: dict) -> tuple[int, int]:
    services = resolve_services(dgd)
    return tuple(dgd["spec"]["services"][services[role]]["replicas"] for role in ("prefill", "decode"))


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kustomize) is not installed")
def test_reconciler_then_planner_git_mode_then_reconciler_keeps_the_planners_replicas(remote, tmp_path):
    first = reconciler(remote, tmp_path / "reconciler-cache")
    assert [o.action for o in first.run_pass(full=True).worked] == ["generated"]
    files = folder_files(first.mirror)
    generated_head = first.mirror.head("main")
    dgd = yaml.safe_load(files["dgd.yaml"])
    initial = worker_replicas(kustomize(files, tmp_path / "render-initial"))
    assert initial == worker_replicas(dgd)

    # What the Planner pod gets: the generated args and the ConfigMap mounted as a folder.
    (planner_service,) = [s for s in dgd["spec"]["services"].values() if s.get("componentType") == "planner"]
    args = planner_service["extraPodSpec"]["mainContainer"]["args"]
    assert f"--git-repo={remote.url('gitops')}" in args and "--mode=git" in args
    mount = tmp_path / "profiling_results"
    mount.mkdir()
    configmap = yaml.safe_load(files["planner-profile-data.yaml"])
    for key, text in configmap["data"].items():
        (mount / key).write_text(text)
    args = [a for a in args if not a.startswith("--profile-results-dir=")]
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "planner-cache"),  # the pod's env and secret
           "GITOPS_SLA_GIT_USERNAME": remote.username, "GITOPS_SLA_GIT_TOKEN": remote.password,
           "DYN_NAMESPACE": "dyn-ns", "DYN_PARENT_DGD_K8S_NAME": dgd["metadata"]["name"], "POD_NAMESPACE": "team-a"}
    history = frontend_history([Segment(NOW - 1800, RATE, isl=ISL, osl=OSL, ttft_s=0.3, itl_s=0.025)],
                               NOW + 1800, labels=LABELS)
    with run_prometheus(history) as prometheus:
        done = subprocess.run(
            [sys.executable, "-m", "planner", "--once", *args, f"--profile-results-dir={mount}",
             f"--metric-pulling-prometheus-endpoint={prometheus.url}", f"--model-name={MODEL}",
             "--load-predictor=constant", "--max-gpu-budget=-1", "--git-persist-intervals=1"],
            capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr
    decision = json.loads(done.stdout)
    assert decision["mode"] == "git" and decision["outcome"]["result"] == "committed", decision
    target = (decision["prefill_replicas"], decision["decode_replicas"])
    # 20 req/s x 3000 tokens needs more than the one prefill engine the DGD starts with
    assert target != initial and target[0] > 1
    engine_gpus = {a.split("=")[0]: int(a.split("=")[1]) for a in args if a.endswith(tuple("0123456789"))
                   and a.startswith(("--prefill-engine-num-gpu=", "--decode-engine-num-gpu="))}
    assert decision["details"]["gpus"] == (target[0] * engine_gpus["--prefill-engine-num-gpu"]
                                           + target[1] * engine_gpus["--decode-engine-num-gpu"])

    # Exactly one planner commit on top of the reconciler's, changing only replicas.yaml.
    mirror = first.mirror
    mirror.fetch()
    head = mirror.repo.get(mirror.head("main"))
    assert [str(p) for p in head.parent_ids] == [generated_head]
    changed = [d.delta.new_file.path for d in mirror.repo.diff(head.parents[0], head)]
    assert changed == [f"{FOLDER}/replicas.yaml"]
    assert "Gitops-Sla-Planner: team-a/chat" in head.message
    after_planner = folder_files(mirror)
    assert worker_replicas(kustomize(after_planner, tmp_path / "render-planner")) == target

    # The reconciler (the same process, and a fresh one re-checking everything) commits nothing and keeps it.
    planner_head = mirror.head("main")
    assert first.run_pass().commits == []
    fresh = reconciler(remote, tmp_path / "fresh-cache")
    report = fresh.run_pass(full=True)
    assert report.error is None and report.commits == [] and report.worked == []
    assert fresh.mirror.head("main") == planner_head
    assert folder_files(fresh.mirror)["replicas.yaml"] == after_planner["replicas.yaml"]
