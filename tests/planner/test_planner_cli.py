"""`python -m planner` end to end: real Prometheus with frontend series around now, the DGD in kmock (patch
mode, reached through a kubeconfig) or in a bare Git repo (git mode), and the long-running loop with /metrics."""

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pygit2
import pytest
import yaml

import planner_profiles as profiles
from planner_frontend import Segment, frontend_history
from planner_kube import DGD, kube_emulator
from test_planner_git_mode import commit_files, log_of, DGD as GIT_DGD, KUSTOMIZATION, FOLDER
from tests.support.prometheus import free_port, run_prometheus

ROOT = Path(__file__).resolve().parents[2]
STEP_Y = profiles.MAX_CONTEXT / 99
NOW = int(time.time())


@pytest.fixture(scope="module")
def prometheus():
    # 50 req/s from 30 minutes ago to 30 minutes ahead: any 180 s window ending now holds exactly 9000 requests
    with run_prometheus(frontend_history([Segment(NOW - 1800, 50.0)], NOW + 1800)) as server:
        yield server


def planner(args, env=None, **kwargs):
    argv = [sys.executable, "-m", "planner", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, **(env or {})}, **kwargs)


def common(prometheus, profile):
    return [f"--profile-results-dir={profile}", f"--metric-pulling-prometheus-endpoint={prometheus.url}",
            "--namespace=dyn-ns", "--model-name=Qwen/Qwen3-0.6B", "--adjustment-interval=180", "--itl=10",
            "--load-predictor=constant", "--max-gpu-budget=-1", "--dgd-name=llm", "--kube-namespace=team-a"]


def expected_decode(decode_workers):
    """Hand computation: concurrency = 9000 / workers * 4 s / 180 s, context 2048 + 128."""
    kv = 9000 / decode_workers * 4 / 180 * 2176 / profiles.MAX_KV_TOKENS
    d_cf = 12.0 / profiles.decode_itl(min(round(kv * 99), 99) / 99)
    ix = math.floor((10.0 / d_cf - 5.0) / 20.0 * 99)
    return math.ceil(9000 * 256 / 180 / profiles.decode_thpt(ix / 99, round(2176 / STEP_Y) * STEP_Y))


def test_patch_mode_once_scales_the_dgd_in_the_cluster(prometheus, json_profile, tmp_path):
    with kube_emulator() as (km, api):
        dgd = {"apiVersion": "nvidia.com/v1alpha1", "kind": "DynamoGraphDeployment",
               "spec": {"services": {"VllmPrefillWorker": {"subComponentType": "prefill", "replicas": 1},
                                     "VllmDecodeWorker": {"subComponentType": "decode", "replicas": 10}}},
               "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
        km.seed(DGD, "team-a", "llm", dgd)
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "kmock",
            "clusters": [{"name": "kmock", "cluster": {"server": api.api_client.configuration.host}}],
            "users": [{"name": "test", "user": {"token": "test-token"}}],
            "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "test"}}]}))
        result = planner(["--mode=patch", "--once", *common(prometheus, json_profile)],
                         env={"KUBECONFIG": str(kubeconfig)})
        assert result.returncode == 0, result.stderr
        decision = json.loads(result.stdout)
        services = km.objects[DGD, "team-a", "llm"]["spec"]["services"]
    expected = (math.ceil(9000 * 2048 / 180 / profiles.prefill_thpt(2048)), expected_decode(10))
    assert (decision["prefill_replicas"], decision["decode_replicas"]) == expected == (3, 30)
    assert decision["outcome"]["result"] == "applied" and decision["mode"] == "patch"
    assert (services["VllmPrefillWorker"]["replicas"], services["VllmDecodeWorker"]["replicas"]) == expected


def test_git_mode_once_commits_replicas_yaml(prometheus, json_profile, tmp_path):
    remote = pygit2.init_repository(str(tmp_path / "remote.git"), bare=True, initial_head="main")
    commit_files(remote, {f"{FOLDER}/dgd.yaml": yaml.safe_dump(GIT_DGD).encode(),
                          f"{FOLDER}/kustomization.yaml": yaml.safe_dump(KUSTOMIZATION).encode()}, "reconciler")
    result = planner(["--mode=git", "--once", f"--git-repo={remote.path}", "--git-persist-intervals=1",
                      *common(prometheus, json_profile)], env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    # Git holds 1 decode replica, so the decode correction uses 1 worker: concurrency 200, KV clipped at 100 %
    expected = (3, expected_decode(1))
    assert (decision["prefill_replicas"], decision["decode_replicas"]) == expected == (3, 15)
    assert decision["outcome"]["result"] == "committed"
    head = remote.get(remote.references["refs/heads/main"].target)
    patch = yaml.safe_load(remote.get(head.peel(pygit2.Tree)[f"{FOLDER}/replicas.yaml"].id).data)
    assert patch["spec"]["services"] == {"VllmPrefillWorker": {"replicas": 3}, "VllmDecodeWorker": {"replicas": 15}}
    assert log_of(remote)[0].startswith("planner: scale team-a/llm to 3 prefill, 15 decode")


def test_service_loop_serves_metrics_and_logs_every_decision(prometheus, json_profile, tmp_path):
    port = free_port()
    log_dir = tmp_path / "decisions"
    process = subprocess.Popen(
        [sys.executable, "-m", "planner", *common(prometheus, json_profile)[:-2], "--adjustment-interval=2",
         f"--metric-reporting-prometheus-port={port}", "--metric-reporting-address=127.0.0.1",
         f"--log-dir={log_dir}"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            lines = (log_dir / "decisions.jsonl").read_text().splitlines() if (log_dir / "decisions.jsonl").exists() else []
            if len(lines) >= 2:
                break
            time.sleep(0.2)
        assert len(lines) >= 2, "the loop did not log two decisions"
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        process.terminate()
        process.wait(10)
    records = [json.loads(line) for line in lines]
    assert all(r["mode"] == "advisory" and "correction_factors" in r for r in records)
    # a 2 s window holds no 15 s sample: no counter, so the planner holds (and says so)
    assert records[0]["action"] == "hold" and "no request counter" in records[0]["reason"]
    assert "planner:num_p_workers" in metrics and "dynamo_planner_decision_hold 1.0" in metrics


def test_patch_mode_without_a_cluster_says_what_to_do(prometheus, json_profile, tmp_path):
    env = {"KUBECONFIG": str(tmp_path / "no-kubeconfig"), "HOME": str(tmp_path), "KUBERNETES_SERVICE_HOST": ""}
    result = planner([*common(prometheus, json_profile), "--mode=patch", "--once"], env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--mode=patch cannot reach the cluster" in result.stderr and "set KUBECONFIG" in result.stderr
