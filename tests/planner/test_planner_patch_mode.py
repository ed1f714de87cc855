"""Patch mode against kmock: DGDSA scale subresource, 404 fallback to the DGD, not Ready, 409 conflicts."""

import logging

import pytest

from planner_kube import DGD, DGDSA, kube_emulator
from planner.actuators.patch import PatchActuator
from planner.policy import Decision, Replicas

NS, NAME = "team-a", "llm"


def dgd(ready=True, prefill=1, decode=2):
    return {
        "apiVersion": "nvidia.com/v1alpha1", "kind": "DynamoGraphDeployment",
        "spec": {"services": {
            "Frontend": {"componentType": "frontend", "replicas": 1},
            "VllmPrefillWorker": {"componentType": "worker", "subComponentType": "prefill", "replicas": prefill},
            "VllmDecodeWorker": {"componentType": "worker", "subComponentType": "decode", "replicas": decode},
        }},
        "status": {"state": "successful" if ready else "pending",
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def adapter(service, replicas):
    return {"apiVersion": "nvidia.com/v1alpha1", "kind": "DynamoGraphDeploymentScalingAdapter",
            "spec": {"replicas": replicas, "dgdRef": {"name": NAME, "service": service}}}


def decision(prefill, decode, action="scale_up"):
    return Decision(action=action, reason="test", prefill_replicas=prefill, decode_replicas=decode,
                    current=None, observed=None, predicted=None, correction_factors={})


def patches(km):
    return [(request.method, request.url.path) for request in km if request.method == "PATCH"]


@pytest.fixture
def cluster():
    with kube_emulator() as (km, api):
        yield km, api


def test_scales_through_the_dgdsa_scale_subresource(cluster):
    km, api = cluster
    km.seed(DGD, NS, NAME, dgd())
    km.seed(DGDSA, NS, "llm-vllmprefillworker", adapter("VllmPrefillWorker", 1))
    km.seed(DGDSA, NS, "llm-vllmdecodeworker", adapter("VllmDecodeWorker", 2))
    actuator = PatchActuator(api, NS, NAME)
    assert actuator.current() == Replicas(1, 2)
    outcome = actuator.apply(decision(3, 2), now=0)
    assert outcome == {"result": "applied", "patched": {"VllmPrefillWorker": "dgdsa/llm-vllmprefillworker"}}
    assert km.objects[DGDSA, NS, "llm-vllmprefillworker"]["spec"]["replicas"] == 3
    assert km.objects[DGDSA, NS, "llm-vllmdecodeworker"]["spec"]["replicas"] == 2  # unchanged: not patched
    assert patches(km) == [("PATCH", f"/apis/nvidia.com/v1alpha1/namespaces/{NS}/"
                                     "dynamographdeploymentscalingadapters/llm-vllmprefillworker/scale")]


def test_missing_dgdsa_falls_back_to_merge_patching_the_dgd(cluster, caplog):
    km, api = cluster
    km.seed(DGD, NS, NAME, dgd())
    with caplog.at_level(logging.INFO):
        outcome = PatchActuator(api, NS, NAME).apply(decision(2, 5), now=0)
    assert outcome["result"] == "applied" and set(outcome["patched"].values()) == {"dgd/llm"}
    services = km.objects[DGD, NS, NAME]["spec"]["services"]
    assert (services["VllmPrefillWorker"]["replicas"], services["VllmDecodeWorker"]["replicas"]) == (2, 5)
    assert services["VllmPrefillWorker"]["subComponentType"] == "prefill"  # a merge patch keeps the rest
    assert "no DGDSA llm-vllmdecodeworker" in caplog.text
    dgd_patches = [p for p in patches(km) if p[1].endswith(f"/dynamographdeployments/{NAME}")]
    assert len(dgd_patches) == 2


def test_dgd_not_ready_is_left_alone(cluster, caplog):
    km, api = cluster
    km.seed(DGD, NS, NAME, dgd(ready=False))
    with caplog.at_level(logging.WARNING):
        outcome = PatchActuator(api, NS, NAME).apply(decision(4, 4), now=0)
    assert outcome == {"result": "skipped", "reason": "DGD not Ready"}
    assert patches(km) == []
    assert "DGD team-a/llm is not Ready, ignoring this scaling" in caplog.text


def test_conflict_rereads_and_retries_without_losing_the_other_writer(cluster, caplog):
    km, api = cluster
    km.seed(DGD, NS, NAME, dgd())
    raced = []

    def concurrent_writer(emulator, request):
        # another controller updates the DGD between the planner's GET and its first PATCH
        if not raced and request.resource == DGD:
            raced.append(True)
            emulator.objects[DGD, NS, NAME].patch({"metadata": {"resourceVersion": "9999",
                                                                "annotations": {"other": "writer"}}})

    km.before_update.append(concurrent_writer)
    with caplog.at_level(logging.WARNING):
        outcome = PatchActuator(api, NS, NAME).apply(decision(1, 4), now=0)
    assert outcome["result"] == "applied"
    stored = km.objects[DGD, NS, NAME]
    assert stored["spec"]["services"]["VllmDecodeWorker"]["replicas"] == 4
    assert stored["metadata"]["annotations"] == {"other": "writer"}
    assert "conflict scaling DGD team-a/llm (attempt 1 of 3)" in caplog.text
    assert len([p for p in patches(km) if p[1].endswith(f"/dynamographdeployments/{NAME}")]) == 2


def test_persistent_conflict_gives_up_after_bounded_retries(cluster):
    km, api = cluster
    km.seed(DGD, NS, NAME, dgd())
    bumps = iter(range(5000, 6000))
    km.before_update.append(lambda emulator, request: emulator.objects[DGD, NS, NAME].patch(
        {"metadata": {"resourceVersion": str(next(bumps))}}) if request.resource == DGD else None)
    outcome = PatchActuator(api, NS, NAME).apply(decision(1, 6), now=0)
    assert outcome["result"] == "conflict"
    assert km.objects[DGD, NS, NAME]["spec"]["services"]["VllmDecodeWorker"]["replicas"] == 2


def test_hold_patches_nothing_and_missing_dgd_is_reported(cluster):
    km, api = cluster
    actuator = PatchActuator(api, NS, NAME)
    assert actuator.apply(decision(None, None, action="hold"), now=0) == {"result": "held"}
    assert actuator.current() is None
    assert actuator.apply(decision(2, 2), now=0) == {"result": "failed", "error": "HTTP 404 Not Found"}
    assert patches(km) == []


def test_running_replicas_come_from_the_dgd_status(cluster):
    km, api = cluster
    starting = dgd(decode=4)
    starting["status"]["services"] = {"VllmPrefillWorker": {"readyReplicas": 1, "availableReplicas": 1},
                                      "VllmDecodeWorker": {"readyReplicas": 3, "availableReplicas": 2}}
    km.seed(DGD, NS, NAME, starting)
    actuator = PatchActuator(api, NS, NAME)
    assert actuator.current() == Replicas(1, 4)
    assert actuator.running() == Replicas(1, 2)


def test_running_replicas_unknown_without_service_status(cluster):
    km, api = cluster
    km.seed(DGD, NS, NAME, dgd())
    assert PatchActuator(api, NS, NAME).running() is None
