"""The leader's pod label (gitops-sla.dev/leader), with kmock as the API server and a Pod object per replica:
in-process electors, as `reconcile --leader-elect` runs them (the two-process test is test_leader_election.py)."""

from __future__ import annotations

import logging

from deploy_support import unreachable_kubeconfig, wait_for
from gitops_sla.cluster.client import api_client
from gitops_sla.cluster.leader_label import LEADER_LABEL, LeaderPodLabel
from gitops_sla.cluster.lease import LeaderElector, LeaseSettings

PODS = "v1/pods"


def _put_pod(kube, name: str, labels: dict[str, str] | None = None) -> None:
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"app.kubernetes.io/name": "gitops-sla",
                                                                       **(labels or {})}}}
    kube.call(lambda km: km.put(PODS, "ops", name, body))


def _labels(kube, name: str) -> dict[str, str]:
    return kube.call(lambda km: dict(km.objects[PODS, "ops", name].raw["metadata"].get("labels") or {}))


def _leader_pods(kube, pods: tuple[str, ...] = ("a", "b")) -> set[str]:
    return {name for name in pods if _labels(kube, name).get(LEADER_LABEL) == "true"}


def _pod_patches(kube, name: str) -> int:
    path = f"/api/v1/namespaces/ops/pods/{name}"
    return kube.call(lambda km: sum(r.method == "PATCH" and r.url.path == path for r in km))


def _elector(kube, tmp_path, identity: str) -> LeaderElector:
    api = api_client(kube.kubeconfig(tmp_path / f"kubeconfig-{identity}"))
    settings = LeaseSettings(name="gitops-sla", namespace="ops", identity=identity,
                             lease_duration_s=3, renew_deadline_s=2, retry_period_s=0.5)
    return LeaderElector(api, settings, pod_label=LeaderPodLabel(api, "ops", identity))


def test_only_the_leaders_pod_is_labelled_and_a_clean_stop_hands_the_label_over(kube, tmp_path):
    _put_pod(kube, "a")
    _put_pod(kube, "b", {LEADER_LABEL: "true"})  # b's container restarted: its predecessor led
    a, b = _elector(kube, tmp_path, "a"), _elector(kube, tmp_path, "b")
    try:
        a.start()
        wait_for(lambda: a.is_leader() and _leader_pods(kube) == {"a", "b"}, "a to lead and label its pod")
        b.start()
        wait_for(lambda: _leader_pods(kube) == {"a"}, "standby b to remove its stale label")
        assert not b.is_leader()
        assert _labels(kube, "b") == {"app.kubernetes.io/name": "gitops-sla"}  # other labels untouched
        patches = _pod_patches(kube, "a")
        wait_for(lambda: kube.call(lambda km: sum(r.url.path.endswith("/leases/gitops-sla") and r.method == "PATCH"
                                                  for r in km)) >= 3, "a to renew the lease")
        assert _pod_patches(kube, "a") == patches == 1  # the label is written when it changes, not each renewal

        a.stop()  # SIGTERM's path: release the Lease, remove the label
        assert _labels(kube, "a") == {"app.kubernetes.io/name": "gitops-sla"}
        wait_for(lambda: b.is_leader() and _leader_pods(kube) == {"b"}, "b to take over and label its pod")
    finally:
        a.stop()
        b.stop()
    assert _leader_pods(kube) == set()


def test_a_forbidden_label_write_is_logged_once_and_retried_while_the_leader_works(kube, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="gitops_sla.cluster.leader_label")
    _put_pod(kube, "a")
    patch_pod = ("PATCH", "/api/v1/namespaces/ops/pods/a")
    kube.call(lambda km: km.forbidden.add(patch_pod))  # the Role lacks the rule
    a = _elector(kube, tmp_path, "a")
    try:
        a.start()
        wait_for(lambda: _pod_patches(kube, "a") >= 3, "a to retry the label at later rounds")
        assert a.is_leader()  # it leads (and works) all the same
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, warnings  # a lasting failure is logged once
        assert "403 Forbidden: the service account needs `patch` on `pods` in namespace ops" in warnings[0]
        assert "cannot set gitops-sla.dev/leader on pod ops/a" in warnings[0]
        assert LEADER_LABEL not in _labels(kube, "a")

        kube.call(lambda km: km.forbidden.discard(patch_pod))  # the Role is fixed
        wait_for(lambda: _leader_pods(kube, ("a",)) == {"a"}, "the label at the next round")
        assert any("set gitops-sla.dev/leader on pod ops/a after all" in r.getMessage() for r in caplog.records)
        assert a.is_leader()
    finally:
        a.stop()


def test_a_leader_that_cannot_renew_stops_leading_and_removes_its_label(kube, tmp_path):
    _put_pod(kube, "a")
    a = _elector(kube, tmp_path, "a")
    try:
        a.start()
        wait_for(lambda: _leader_pods(kube, ("a",)) == {"a"}, "a to lead and label its pod")
        kube.call(lambda km: km.forbidden.add(("PATCH", "/apis/coordination.k8s.io/v1/namespaces/ops/leases/gitops-sla")))
        wait_for(lambda: not a.is_leader() and _leader_pods(kube, ("a",)) == set(), "a to give up and remove its label")
    finally:
        a.stop()


def test_an_unreachable_api_server_fails_the_label_write_without_raising(tmp_path, caplog):
    config = unreachable_kubeconfig(tmp_path)
    label = LeaderPodLabel(api_client(config), "ops", "a")
    assert not label.sync(True)
    assert not label.sync(True)  # tried again (nothing is assumed applied), logged once
    [warning] = [r.getMessage() for r in caplog.records if r.name == "gitops_sla.cluster.leader_label"]
    assert "cannot set gitops-sla.dev/leader on pod ops/a: the API server did not answer" in warning


def test_the_pod_comes_from_the_downward_api_environment(monkeypatch, kube, tmp_path):
    api = api_client(kube.kubeconfig(tmp_path / "kubeconfig"))
    monkeypatch.delenv("POD_NAME", raising=False)
    assert LeaderPodLabel.from_environment(api, "default") is None
    monkeypatch.setenv("POD_NAME", "gitops-sla-reconciler-7d9-abcde")
    monkeypatch.delenv("POD_NAMESPACE", raising=False)
    assert (LeaderPodLabel.from_environment(api, "default").namespace,
            LeaderPodLabel.from_environment(api, "default").pod) == ("default", "gitops-sla-reconciler-7d9-abcde")
    monkeypatch.setenv("POD_NAMESPACE", "gitops-sla")
    assert LeaderPodLabel.from_environment(api, "default").namespace == "gitops-sla"
