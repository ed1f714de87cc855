"""The `kubernetes` engine provider's temporary DGDs against kmock and the test controller (no engines here): the
DGD it renders, never Ready (timeout), failed, leftovers of a crashed run, API errors — always cleaned up."""

from __future__ import annotations

import json

import pytest
from kubernetes import client

from cluster_support import Fault, TestController, api_client, leftovers
from profiler.config import ProfileConfig
from profiler.engines.kube_api import Retry
from profiler.engines.kubernetes import (
    ANNOTATION_ENGINE, GROUP, PLURAL, VERSION, KubernetesProvider, temporary_dgd, temporary_name,
)
from profiler.engines.types import EngineMapping
from profiler.errors import ProfilingError
from profiler.pipeline import _vendored_base

NS = "team-a"
RUN = "ab12cd34" * 5
LABELS = {"app.kubernetes.io/managed-by": "gitops-sla", "gitops-sla.nvidia.com/request": "chat",
          "gitops-sla.nvidia.com/spec-hash": RUN}
CONFIG = ProfileConfig.model_validate({"deployment": {"model": "Qwen/Qwen3-0.6B", "namespace": NS},
                                       "engine": {"backend": "vllm"}})
MAPPING = EngineMapping("vllm", "Qwen/Qwen3-0.6B", "decode", tp=2)


def provider(raw: client.ApiClient, tmp_path, timeout_s: float = 1.0) -> KubernetesProvider:
    return KubernetesProvider(api=raw, namespace=NS, labels=LABELS, run=RUN, base=_vendored_base("vllm"),
                              config=CONFIG, tokenizer_dir=tmp_path, ready_timeout_s=timeout_s, poll_s=0.1,
                              retry=Retry(attempts=3, first_delay_s=0.01))


def test_the_temporary_dgd_serves_one_mapping_aggregated():
    dgd = temporary_dgd(_vendored_base("vllm"), CONFIG, MAPPING, name=temporary_name(RUN, MAPPING), namespace=NS,
                        labels=LABELS, gpus_per_node=8)
    assert dgd["metadata"]["name"] == "prof-ab12cd34-d-tp2"
    assert dgd["metadata"]["labels"]["app.kubernetes.io/component"] == "profiling-engine"
    assert json.loads(dgd["metadata"]["annotations"][ANNOTATION_ENGINE])["tp"] == 2
    services = dgd["spec"]["services"]
    assert sorted(services) == ["Frontend", "VllmDecodeWorker"]  # no prefill worker, no planner
    worker = services["VllmDecodeWorker"]
    args = worker["extraPodSpec"]["mainContainer"]["args"]
    assert args[args.index("--tensor-parallel-size") + 1] == "2" and "--is-decode-worker" not in args
    assert worker["resources"]["limits"]["gpu"] == "2" and "subComponentType" not in worker


def test_a_dgd_that_never_becomes_ready_fails_naming_the_mapping_and_is_deleted(kube, tmp_path):
    controller = TestController(kube, kube.kubeconfig_path, NS, dgd_mode="never").start()
    try:
        with api_client(kube) as raw, pytest.raises(ProfilingError) as failed:
            with provider(raw, tmp_path).acquire(MAPPING):
                raise AssertionError("a DGD that is never Ready yields no endpoint")
    finally:
        controller.stop()
    message = str(failed.value)
    assert "prof-ab12cd34-d-tp2" in message and "decode TP=2 (vllm)" in message and "did not become Ready" in message
    assert "0/1 nodes available" in message and "ready-timeout" in message
    assert controller.dgds_seen == ["prof-ab12cd34-d-tp2"] and controller.errors == []
    assert leftovers(kube, NS)["dgds"] == []


def test_a_failed_dgd_fails_at_once_and_is_deleted(kube, tmp_path):
    controller = TestController(kube, kube.kubeconfig_path, NS, dgd_mode="fail").start()
    try:
        with api_client(kube) as raw, pytest.raises(ProfilingError) as failed:
            with provider(raw, tmp_path, timeout_s=600).acquire(MAPPING):
                raise AssertionError("a failed DGD yields no endpoint")
    finally:
        controller.stop()
    assert "failed: worker CrashLoopBackOff" in str(failed.value)
    assert leftovers(kube, NS)["dgds"] == []


def test_a_crashed_runs_leftovers_are_removed_on_the_next_start_and_api_errors_retried(kube, tmp_path):
    stale = temporary_dgd(_vendored_base("vllm"), CONFIG, MAPPING, name=temporary_name(RUN, MAPPING), namespace=NS,
                          labels=LABELS, gpus_per_node=8)
    others = temporary_dgd(_vendored_base("vllm"), CONFIG, MAPPING, name="prof-99999999-d-tp2", namespace=NS,
                           labels={**LABELS, "gitops-sla.nvidia.com/spec-hash": "9" * 40}, gpus_per_node=8)
    with api_client(kube) as raw:
        objects = client.CustomObjectsApi(raw)
        for body in (stale, others):
            objects.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, body)
        kube.faults.append(Fault("delete", PLURAL, 500, times=2))
        fresh = provider(raw, tmp_path)
    assert kube.faults[0].seen == 2
    assert leftovers(kube, NS)["dgds"] == ["prof-99999999-d-tp2"]  # another run's DGD is not ours to delete
    assert fresh.remove_leftovers() == []
