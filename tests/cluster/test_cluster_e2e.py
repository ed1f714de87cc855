"""From a Git commit to a committed measured DGD through a profiling Job: the reconciler (kmock as the API server)
creates the Job; the test controller runs it as a local process; its `kubernetes` engine provider creates
temporary DGDs, which the controller serves with real Dynamo 1.6.1 frontend + mocker engines on 127.0.0.1; real
AIPerf measures them. On the way: the Job's first pod is killed while its first DGD deploys (a clean restart that
removes the leftover, no second Job), the reconciler restarts while the Job runs (it re-attaches), progress is
mirrored into status.yaml, and nothing is left on the cluster. The API calls made are checked against the RBAC."""

from __future__ import annotations

import contextlib
import json
import os
import time
from urllib.parse import urlparse

import pytest
import yaml
from kubernetes import client

from cluster_support import TestController, leftovers, wait_for
from test_rbac import covers, render, rules
from gitops_sla.cluster.jobs import JobBackend, JobSettings
from gitops_sla.reconcile.engine import Reconciler
from gitops_sla.reconcile.offline import offline_backend
from gitops_sla.reconcile.profiling import RoutingBackend
from profiler.config import ProfileConfig
from profiler.engines import EngineMapping, ProviderOptions, create
from profiler.engines.kubernetes import ANNOTATION_ENGINE
from profiler.version import PROFILER_VERSION

pytestmark = pytest.mark.slow

NS = "team-a"
# the SLA is loose: this test is about the path from commit to committed DGD, not the speed of a shared machine
REQUEST = """apiVersion: nvidia.com/v1alpha1
kind: DynamoGraphDeploymentRequest
metadata:
  name: chat
spec:
  model: Qwen/Qwen3-0.6B
  backend: vllm
  profilingConfig:
    profilerImage: "nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.8.1"
    config:
      sweep:
        useAiConfigurator: false
      hardware:
        minNumGpusPerEngine: 1
        maxNumGpusPerEngine: 1
      sla:
        isl: 3000
        osl: 150
        ttft: 2000.0
        itl: 200.0
  autoApply: true
"""
VERBS = {"fetch": "get", "list": "list", "watch": "watch", "create": "create", "update": "patch", "delete": "delete"}


def local_engines(python, model_dir):
    """The controller's engines for a temporary DGD: Dynamo's frontend + a mocker worker timed for its mapping."""
    @contextlib.contextmanager
    def engines(dgd: dict):
        engine = json.loads(dgd["metadata"]["annotations"][ANNOTATION_ENGINE])
        config = ProfileConfig.model_validate({"deployment": {"model": engine["model"]},
                                               "engine": {"backend": engine["backend"]}})
        provider = create("local-dynamo", ProviderOptions(dynamo_python=python, tokenizer_dir=model_dir), config)
        mapping = EngineMapping(engine["backend"], engine["model"], engine["role"], engine["tp"], engine["ep"],
                                engine["dp"])
        with provider.acquire(mapping) as endpoint:
            yield urlparse(endpoint.url).port
    return engines


def api_calls(kube, token: str) -> set[tuple[str, str, str]]:
    """(API group, resource, verb) of every request made with this bearer token."""
    calls = kube.call(lambda km: list(km.calls))
    return {(call.group, call.plural, VERBS[call.action]) for call in calls if call.authorization == f"Bearer {token}"}


def test_a_commit_is_measured_on_temporary_dgds_by_a_job_and_committed(remote, kube, tmp_path, dynamo_venv_python,
                                                                       tiny_model_dir):
    person = remote.person(tmp_path / "person")
    person.write("requests/team-a/chat.yaml", REQUEST)
    person.commit_and_push("an online request")
    controller = TestController(kube, kube.kubeconfig_path, NS, engines=local_engines(dynamo_venv_python,
                                                                                      tiny_model_dir),
                                kill_first=True,  # the image has AIPerf on its PATH:
                                pod_env={"PATH": f"{dynamo_venv_python.parent}:{os.environ['PATH']}"})
    settings = JobSettings(image="gitops-sla:test", progress_period_s=1,
                           engine_options=(f"tokenizer={tiny_model_dir}", "poll=0.2", "ready-timeout=300"))
    raw = client.ApiClient(client.Configuration(host=kube.url))
    raw.set_default_header("Authorization", "Bearer reconciler")

    def reconciler(cache: str) -> Reconciler:
        backend = RoutingBackend(offline_backend(), JobBackend(raw, settings, PROFILER_VERSION))
        return Reconciler(remote.mirror(tmp_path / cache), backend, progress_interval_s=0)

    controller.start()
    try:
        first = reconciler("cache").run_pass(full=True)
        assert [(o.action, o.state) for o in first.worked] == [("profiling", "Profiling")]
        assert leftovers(kube, NS)["jobs"] == ["profile-chat-" + _hash8(person)]

        wait_for(lambda: controller.job_runs.get(f"profile-chat-{_hash8(person)}") == 2, 600, "the Job's second pod")
        restarted = reconciler("cache-after-restart")  # a new process re-attaches to the running Job
        outcomes = []
        deadline = time.monotonic() + 1500
        while time.monotonic() < deadline:
            report = restarted.run_pass(full=not outcomes)
            outcomes += [(o.action, o.state) for o in report.worked]
            messages = [o.message for o in report.worked]
            if outcomes and outcomes[-1][0] != "profiling":
                break
            time.sleep(1)
    finally:
        controller.stop()
        raw.close()

    assert controller.errors == []
    assert outcomes[-1] == ("generated", "Deploying"), (outcomes, messages)
    assert len(controller.job_runs) == 1  # one Job for the spec hash, its pod started twice
    # the first pod's leftover DGD was removed by the second pod, which made it again; all deleted after use
    assert controller.dgds_seen[0] in controller.dgds_seen[1:], controller.dgds_seen
    assert leftovers(kube, NS) == {"jobs": [], "configmaps": [], "dgds": []}

    person.pull()
    folder = person.root / "generated/team-a/chat"
    status = yaml.safe_load((folder / "status.yaml").read_text())
    assert status["status"]["state"] == "Deploying" and "profilingProgress" not in status["status"]
    profile = json.loads((folder / "profile.json").read_text())
    assert profile["measured"]["provider"] == "kubernetes" and profile["prefill"]["mapping"] == "TP=1"
    dgd = yaml.safe_load((folder / "dgd.yaml").read_text())
    assert dgd["kind"] == "DynamoGraphDeployment" and dgd["metadata"]["name"] == "chat"
    subjects = person.log("--format=%s").splitlines()
    assert any("profiling progress" in s for s in subjects), subjects  # mirrored while it measured
    assert any("profiling started" in s for s in subjects)

    roles = render(tmp_path)
    for token, role in (("reconciler", "gitops-sla-profiling-reconciler"),
                        ("profiling-job", "gitops-sla-profiling-job")):
        granted = rules(roles, role)
        made = api_calls(kube, token)
        assert made, token
        assert all(covers(granted, *call) for call in made), (role, made)


def _hash8(person) -> str:
    person.pull()
    status = yaml.safe_load((person.root / "generated/team-a/chat/status.yaml").read_text())
    return status["specHash"].removeprefix("sha256:")[:8]


def test_engines_that_never_become_ready_fail_the_request_naming_the_mapping(remote, kube, tmp_path,
                                                                             dynamo_venv_python):
    person = remote.person(tmp_path / "person")
    person.write("requests/team-a/chat.yaml", REQUEST)
    person.commit_and_push("an online request")
    controller = TestController(kube, kube.kubeconfig_path, NS, dgd_mode="never",
                                pod_env={"PATH": f"{dynamo_venv_python.parent}:{os.environ['PATH']}"})
    settings = JobSettings(image="gitops-sla:test", progress_period_s=1,
                           engine_options=(f"tokenizer={tmp_path}", "poll=0.2", "ready-timeout=2"))
    (tmp_path / "tokenizer_config.json").write_text("{}")
    raw = client.ApiClient(client.Configuration(host=kube.url))
    backend = RoutingBackend(offline_backend(), JobBackend(raw, settings, PROFILER_VERSION))
    reconciler = Reconciler(remote.mirror(tmp_path / "cache"), backend, progress_interval_s=0)
    controller.start()
    try:
        outcomes = []
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and ("failed", "Failed") not in outcomes:
            outcomes += [(o.action, o.state) for o in reconciler.run_pass(full=not outcomes).worked]
            time.sleep(0.5)
    finally:
        controller.stop()
        raw.close()

    assert outcomes[0] == ("profiling", "Profiling") and outcomes[-1] == ("failed", "Failed"), outcomes
    assert controller.errors == [] and len(controller.job_runs) == 1
    assert list(controller.job_runs.values()) == [2]  # backoffLimit 1: a second pod, then Failed
    person.pull()
    status = yaml.safe_load((person.root / "generated/team-a/chat/status.yaml").read_text())
    message = status["status"]["conditions"][-1]["message"]
    assert status["status"]["state"] == "Failed" and "BackoffLimitExceeded" in message
    assert "did not become Ready within 2 s" in message and "TP=1 (vllm)" in message and "0/1 nodes available" in message
    assert leftovers(kube, NS) == {"jobs": [], "configmaps": [], "dgds": []}
