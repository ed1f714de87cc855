"""The profiling Job backend against kmock: the Job it makes, idempotency by spec hash, failures and deletions
giving `Failed` with the reason, API errors retried then reported, nothing left behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kubernetes import client

from cluster_support import Fault, api_client, leftovers
from gitops_sla.cluster.jobs import (ANNOTATION_FAILURE, ANNOTATION_PROGRESS, JobBackend, JobSettings, job_manifest,
                                     job_name)
from gitops_sla.reconcile.engine import Reconciler
from gitops_sla.reconcile.offline import offline_backend
from gitops_sla.reconcile.profiling import BackendUnavailable, ProfileJob, RoutingBackend, Running
from gitops_sla.validation import validate_request_file
from profiler.engines.kube_api import Retry
from profiler.errors import ProfilingError
from profiler.version import PROFILER_VERSION

EXAMPLE = Path(__file__).resolve().parents[2] / "gitops_sla" / "examples" / "quickstart-aic.yaml"
NS = "team-a"
HASH = "sha256:" + "ab12cd34" * 8
FAST = Retry(attempts=3, first_delay_s=0.01)
SETTINGS = JobSettings(image="gitops-sla:test", engine_options=("tokenizer=/models/tokenizer",))


def profile_job(name: str = "chat", *, extra_spec: str = "", spec_hash: str = HASH) -> ProfileJob:
    text = EXAMPLE.read_text().replace("name: sla-aic", f"name: {name}")
    text = text.replace("use_ai_configurator: true", "use_ai_configurator: false")
    text = text.replace('    profilerImage: "nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:0.8.1"\n',
                        '    profilerImage: "nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:0.8.1"\n' + extra_spec)
    request = validate_request_file(text.encode(), file=f"{name}.yaml", repo_path=None).request
    assert request is not None
    return ProfileJob(NS, name, spec_hash, request, request.to_profile_config(None, namespace=NS))


def read_job(kube, name: str):
    with api_client(kube) as raw:
        return client.BatchV1Api(raw).read_namespaced_job(name, NS)


def patch_job(kube, name: str, body: dict, status: bool = False) -> None:
    with api_client(kube) as raw:
        batch = client.BatchV1Api(raw)
        (batch.patch_namespaced_job_status if status else batch.patch_namespaced_job)(name, NS, body)


EXTRA = """    resources:
      requests: {cpu: "2", memory: 8Gi}
      limits: {memory: 16Gi}
    tolerations:
      - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
    nodeSelector: {pool: cpu}
    outputPVC: profiling-results
"""


def test_one_job_per_spec_hash_with_the_requests_pod_settings_and_its_progress(kube):
    job = profile_job(extra_spec=EXTRA)
    with api_client(kube) as raw:
        backend = JobBackend(raw, SETTINGS, "test", FAST)
        first = backend.run(job)
        again = backend.run(job)
        other_reconciler = JobBackend(raw, SETTINGS, "test", FAST).run(job)

    name = job_name("chat", HASH)
    assert name == "profile-chat-ab12cd34"
    assert isinstance(first, Running) and "created" in first.message
    assert isinstance(again, Running) and isinstance(other_reconciler, Running)
    assert leftovers(kube, NS)["jobs"] == [name]  # found, not duplicated
    made = read_job(kube, name)
    assert made.metadata.labels["gitops-sla.nvidia.com/spec-hash"] == "ab12cd34" * 5
    assert made.spec.backoff_limit == 1
    pod = made.spec.template.spec
    [container] = pod.containers
    assert container.image == "gitops-sla:test"  # the project's image, not the request's profilerImage
    command = container.command
    assert command[command.index("--") + 1:][:5] == ["python", "-m", "profiler", "--engines", "kubernetes"]
    assert "namespace=team-a" in command and "tokenizer=/models/tokenizer" in command
    assert f"spec-hash={HASH}" in command and command[command.index("--output") + 1] == f"/data/{name}"
    assert container.resources.requests == {"cpu": "2", "memory": "8Gi"}
    assert container.resources.limits == {"memory": "16Gi"}
    assert [(t.key, t.operator, t.effect) for t in pod.tolerations] == [("nvidia.com/gpu", "Exists", "NoSchedule")]
    assert pod.node_selector == {"pool": "cpu"}
    assert pod.volumes[0].persistent_volume_claim.claim_name == "profiling-results"
    assert pod.service_account_name == "gitops-sla-profiler"
    inputs = leftovers(kube, NS)["configmaps"]
    assert inputs == [f"{name}-input"]

    progress = {"phase": "measuring", "done": 3, "total": 7, "mapping": "decode TP=2 (trtllm)", "point": "",
                "elapsed_s": 80.0, "eta_s": 120.0, "message": ""}
    patch_job(kube, name, {"metadata": {"annotations": {ANNOTATION_PROGRESS: json.dumps(progress)}}})
    with api_client(kube) as raw:
        running = JobBackend(raw, SETTINGS, "test", FAST).run(job)
    assert isinstance(running, Running)
    assert (running.progress.phase, running.progress.done, running.progress.total) == ("measuring", 3, 7)

    trusted = JobSettings(image="gitops-sla:test", trust_request_image=True)
    with api_client(kube) as raw:
        JobBackend(raw, trusted, "test", FAST).run(profile_job("other"))
    other = read_job(kube, job_name("other", HASH))
    assert other.spec.template.spec.containers[0].image == "nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:0.8.1"


def test_a_failed_job_fails_the_request_with_its_reason_and_leaves_nothing(kube):
    job = profile_job()
    name = job_name("chat", HASH)
    with api_client(kube) as raw:
        backend = JobBackend(raw, SETTINGS, "test", FAST)
        backend.run(job)
        patch_job(kube, name, {"metadata": {"annotations": {
            ANNOTATION_FAILURE: "the temporary DGD team-a/prof-ab12cd34-d-tp1 for decode TP=1 (trtllm) did not "
                                "become Ready within 600 s"}}})
        patch_job(kube, name, {"status": {"conditions": [
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "backoff"}]}},
            status=True)
        with pytest.raises(ProfilingError) as failed:
            backend.run(job)
    message = str(failed.value)
    assert "BackoffLimitExceeded" in message and "decode TP=1 (trtllm) did not become Ready" in message
    assert leftovers(kube, NS) == {"jobs": [], "configmaps": [], "dgds": []}


def test_a_job_deleted_before_it_finished_fails_the_request(kube):
    job = profile_job()
    name = job_name("chat", HASH)
    with api_client(kube) as raw:
        backend = JobBackend(raw, SETTINGS, "test", FAST)
        backend.run(job)
        client.BatchV1Api(raw).delete_namespaced_job(name, NS)
        with pytest.raises(ProfilingError) as failed:
            backend.run(job)
    assert "was deleted before it finished" in str(failed.value)
    assert leftovers(kube, NS) == {"jobs": [], "configmaps": [], "dgds": []}


def test_api_errors_are_retried_then_reported_without_failing_the_request(kube):
    job = profile_job()
    name = job_name("chat", HASH)
    kube.faults.append(Fault("create", "jobs", 500, times=2))  # transient: retried
    with api_client(kube) as raw:  # an earlier pass made the input ConfigMap and stopped: 409 there is fine
        client.CoreV1Api(raw).create_namespaced_config_map(NS, {"metadata": {"name": f"{name}-input"}, "data": {}})
        backend = JobBackend(raw, SETTINGS, "test", FAST)
        assert isinstance(backend.run(job), Running)
        assert kube.faults[0].seen == 2 and leftovers(kube, NS)["jobs"] == [name]
        kube.faults.append(Fault("fetch", "jobs", 500, times=100))  # the API server is down
        with pytest.raises(BackendUnavailable) as unavailable:
            backend.run(job)
    assert f"read Job {NS}/{name}" in str(unavailable.value) and "500" in str(unavailable.value)
    assert "next pass tries again" in str(unavailable.value)


def test_names_stay_within_kubernetes_limits():
    long = "a" * 80
    name = job_name(long, HASH)
    assert len(name) == 63 and name.endswith("-ab12cd34") and name.startswith("profile-aaa")


def test_new_inputs_stop_the_requests_run_for_earlier_ones(kube):
    newer = "sha256:" + "ef56ab78" * 8
    with api_client(kube) as raw:
        JobBackend(raw, SETTINGS, "test", FAST).run(profile_job())
        JobBackend(raw, SETTINGS, "test", FAST).run(profile_job("chat-other"))  # another request: left alone
        started = JobBackend(raw, SETTINGS, "test", FAST).run(profile_job(spec_hash=newer))
    assert "stopped the run for earlier inputs (profile-chat-ab12cd34)" in started.message
    assert sorted(leftovers(kube, NS)["jobs"]) == ["profile-chat-ef56ab78", "profile-chat-other-ab12cd34"]
    assert sorted(leftovers(kube, NS)["configmaps"]) == ["profile-chat-ef56ab78-input",
                                                         "profile-chat-other-ab12cd34-input"]


def online_request(name: str) -> str:
    text = EXAMPLE.read_text().replace("name: sla-aic", f"name: {name}")
    return text.replace("use_ai_configurator: true", "use_ai_configurator: false")


def test_deleting_a_request_deletes_its_profiling_job_even_after_an_api_outage(remote, kube, tmp_path):
    person = remote.person(tmp_path / "person")
    for name in ("chat", "other"):
        person.write(f"requests/{NS}/{name}.yaml", online_request(name))
    person.commit_and_push("two online requests")
    with api_client(kube) as raw:
        backend = RoutingBackend(offline_backend(), JobBackend(raw, SETTINGS, PROFILER_VERSION, FAST))
        reconciler = Reconciler(remote.mirror(tmp_path / "cache"), backend)
        assert {o.action for o in reconciler.run_pass(full=True).worked} == {"profiling"}
        [chat_job] = [job for job in leftovers(kube, NS)["jobs"] if job.startswith("profile-chat-")]

        person.remove(f"requests/{NS}/chat.yaml")
        person.commit_and_push("chat is not needed after all")
        kube.faults.append(Fault("list", "jobs", 500, times=100))  # the API server is down meanwhile
        deleted = reconciler.run_pass()
        assert ("chat", "deleted") in [(o.name, o.action) for o in deleted.worked]  # Git does not wait
        assert chat_job in leftovers_without_faults(kube)["jobs"]
        kube.faults.clear()
        reconciler.run_pass()  # the deleted request's run is stopped on the next pass

    remaining = leftovers(kube, NS)
    assert [job for job in remaining["jobs"] if job.startswith("profile-chat-")] == []
    assert [m for m in remaining["configmaps"] if m.startswith("profile-chat-")] == []
    assert [job for job in remaining["jobs"] if job.startswith("profile-other-")]  # another request's run stays
    person.pull()
    assert not (person.root / f"generated/{NS}/chat").exists()


def leftovers_without_faults(kube) -> dict[str, list[str]]:
    faults, kube.faults[:] = list(kube.faults), []
    try:
        return leftovers(kube, NS)
    finally:
        kube.faults[:] = faults


@pytest.mark.parametrize(("pvc_path", "tokenizer"), [("qwen3-32b", "/models/qwen3-32b"),
                                                     ("/models/hub/qwen", "/models/hub/qwen"), ("", "/models"),
                                                     ("/qwen3", "/models/qwen3")])  # Dynamo 1.6.1: PVC-relative
def test_the_requests_model_cache_is_mounted_read_only_and_holds_the_tokenizer(pvc_path, tokenizer):
    text = EXAMPLE.read_text().replace("use_ai_configurator: true", "use_ai_configurator: false").replace(
        "      sla:\n", f"      deployment:\n        modelCache: {{pvcName: weights, pvcPath: '{pvc_path}', "
        "mountPath: /models}\n      sla:\n")
    request = validate_request_file(text.encode(), file="chat.yaml", repo_path=None).request
    job = ProfileJob(NS, "chat", HASH, request, request.to_profile_config(None, namespace=NS))
    pod = job_manifest(job, NS, "profile-chat-ab12cd34", JobSettings(image="gitops-sla:test"),
                       has_base=False)["spec"]["template"]["spec"]
    assert {"name": "model-cache", "persistentVolumeClaim": {"claimName": "weights", "readOnly": True}} in pod[
        "volumes"]
    [container] = pod["containers"]
    assert {"name": "model-cache", "mountPath": "/models", "readOnly": True} in container["volumeMounts"]
    assert f"tokenizer={tokenizer}" in container["command"]
    operator_choice = JobSettings(image="gitops-sla:test", engine_options=("tokenizer=/tok",))
    [container] = job_manifest(job, NS, "profile-chat-ab12cd34", operator_choice,
                               has_base=False)["spec"]["template"]["spec"]["containers"]
    assert [part for part in container["command"] if part.startswith("tokenizer=")] == ["tokenizer=/tok"]
