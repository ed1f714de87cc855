"""`gitops_sla.replicas_patch`: the patch file, when an existing one still fits, and the planner mode of a DGD."""

from __future__ import annotations

import pytest
import yaml

from gitops_sla.replicas_patch import (
    DgdError,
    initial_replicas_patch,
    patch_fits,
    planner_mode_of,
    render_replicas_patch,
    resolve_services,
    role_replicas,
)

SERVICES = {"prefill": "TRTLLMPrefillWorker", "decode": "TRTLLMDecodeWorker"}


def dgd(planner_command=("python3", "-m", "planner"), planner_args=(), namespace="team-a") -> dict:
    services = {
        "Frontend": {"componentType": "frontend", "replicas": 1},
        "TRTLLMPrefillWorker": {"componentType": "worker", "subComponentType": "prefill", "replicas": 2},
        "TRTLLMDecodeWorker": {"componentType": "worker", "subComponentType": "decode"},  # CRD default: 1
    }
    if planner_command is not None:
        services["Planner"] = {"componentType": "planner", "extraPodSpec": {"mainContainer": {
            "command": list(planner_command), "args": list(planner_args)}}}
    metadata = {"name": "chat", **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": "nvidia.com/v1alpha1", "kind": "DynamoGraphDeployment", "metadata": metadata,
            "spec": {"services": services}}


def test_initial_patch_targets_the_dgd_and_carries_its_counts_or_releases_them():
    graph = dgd()
    assert resolve_services(graph) == SERVICES and role_replicas(graph, SERVICES) == {"prefill": 2, "decode": 1}
    counts = initial_replicas_patch(graph, "git")
    assert counts.startswith(b"# Owned by the gitops-sla planner")
    assert yaml.safe_load(counts) == {
        "apiVersion": "nvidia.com/v1alpha1", "kind": "DynamoGraphDeployment",
        "metadata": {"name": "chat", "namespace": "team-a"},
        "spec": {"services": {"TRTLLMPrefillWorker": {"replicas": 2}, "TRTLLMDecodeWorker": {"replicas": 1}}}}
    assert initial_replicas_patch(graph, "advisory") == counts == initial_replicas_patch(dgd(), "git")  # stable
    released = yaml.safe_load(initial_replicas_patch(graph, "patch"))
    assert released["spec"]["services"] == {"TRTLLMPrefillWorker": {"replicas": None},
                                            "TRTLLMDecodeWorker": {"replicas": None}}
    assert "namespace" not in yaml.safe_load(initial_replicas_patch(dgd(namespace=None), "git"))["metadata"]


def test_a_dgd_without_a_decode_service_is_named_in_the_error():
    graph = dgd()
    del graph["spec"]["services"]["TRTLLMDecodeWorker"]
    with pytest.raises(DgdError, match="DGD chat: no decode service"):
        resolve_services(graph)


@pytest.mark.parametrize("mode, fits", [("git", True), ("advisory", True), ("patch", False)])
def test_counts_fit_git_and_advisory_modes(mode, fits):
    planner_patch = render_replicas_patch(dgd(), SERVICES, {"prefill": 5, "decode": 0})
    assert patch_fits(planner_patch, dgd(), mode) is fits
    assert patch_fits(initial_replicas_patch(dgd(), "patch"), dgd(), mode) is not fits


@pytest.mark.parametrize("text", [
    "not: [valid",                                                        # unreadable
    "",                                                                   # empty
    "kind: DynamoGraphDeployment\nmetadata: {name: chat, namespace: team-a}\n---\nkind: Other\n",  # two documents
    "kind: DynamoGraphDeployment\nmetadata: {name: other, namespace: team-a}\n"
    "spec: {services: {TRTLLMPrefillWorker: {replicas: 1}, TRTLLMDecodeWorker: {replicas: 1}}}\n",  # another DGD
    "kind: DynamoGraphDeployment\nmetadata: {name: chat}\n"
    "spec: {services: {TRTLLMPrefillWorker: {replicas: 1}, TRTLLMDecodeWorker: {replicas: 1}}}\n",  # no namespace
    "kind: DynamoGraphDeployment\nmetadata: {name: chat, namespace: team-a, labels: {a: b}}\n"
    "spec: {services: {TRTLLMPrefillWorker: {replicas: 1}, TRTLLMDecodeWorker: {replicas: 1}}}\n",  # more metadata
    "kind: DynamoGraphDeployment\nmetadata: {name: chat, namespace: team-a}\n"
    "spec: {services: {TRTLLMPrefillWorker: {replicas: 1}, Frontend: {replicas: 1}}}\n",  # other services
    "kind: DynamoGraphDeployment\nmetadata: {name: chat, namespace: team-a}\n"
    "spec: {services: {TRTLLMPrefillWorker: {replicas: true}, TRTLLMDecodeWorker: {replicas: 1}}}\n",  # not a count
    "kind: DynamoGraphDeployment\nmetadata: {name: chat, namespace: team-a}\n"
    "spec: {services: {TRTLLMPrefillWorker: {replicas: -1}, TRTLLMDecodeWorker: {replicas: 1}}}\n",  # negative
    "kind: DynamoGraphDeployment\nmetadata: {name: chat, namespace: team-a}\n"
    "spec: {services: {TRTLLMPrefillWorker: {}, TRTLLMDecodeWorker: {replicas: 1}}}\n",  # a role without replicas
])
def test_patches_that_do_not_fit_the_dgd(text):
    assert not patch_fits(text.encode(), dgd(), "git")


def test_hand_written_patch_in_the_planners_form_fits():
    text = ("apiVersion: nvidia.com/v1alpha1\nkind: DynamoGraphDeployment\nmetadata: {name: chat, namespace: team-a}\n"
            "spec: {services: {TRTLLMPrefillWorker: {replicas: 3}, TRTLLMDecodeWorker: {replicas: 8}}}\n")
    assert patch_fits(text.encode(), dgd(), "git")


@pytest.mark.parametrize("command, args, mode", [
    (("python3", "-m", "planner"), ("--mode=git", "--ttft=500"), "git"),
    (("python3", "-m", "planner"), ("--mode", "patch"), "patch"),
    (("python3", "-m", "planner"), ("--mode=disagg",), "patch"),           # Dynamo's --mode, read as patch
    (("python3", "-m", "planner"), ("--mode=git", "--no-operation"), "advisory"),
    (("python3", "-m", "planner"), ("--environment=virtual",), "advisory"),
    (("python3", "-m", "planner"), ("--backend=trtllm",), "advisory"),    # the planner's default
    (("python3", "-m", "planner_sla"), ("--backend=vllm",), "patch"),      # Dynamo's planner scales in the cluster
    (("python3",), ("-m", "dynamo.planner"), "patch"),
    (None, (), "advisory"),                                               # no Planner service
])
def test_planner_mode_of_the_generated_planner_service(command, args, mode):
    assert planner_mode_of(dgd(command, args)) == mode
