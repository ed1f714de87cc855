"""Leader election over a coordination.k8s.io/v1 Lease, with kmock as the API server (in-process electors)."""

from __future__ import annotations

import pytest
from deploy_support import unreachable_kubeconfig

from gitops_sla.cluster.client import ClusterConfigError, api_client
from gitops_sla.cluster.lease import LeaderElector, LeaseSettings

LEASES = "coordination.k8s.io/v1/leases"


def _elector(kube, tmp_path, identity: str, **timing) -> LeaderElector:
    api = api_client(kube.kubeconfig(tmp_path / f"kubeconfig-{identity}"))
    settings = LeaseSettings(name="gitops-sla", namespace="ops", identity=identity,
                             **({"lease_duration_s": 3, "renew_deadline_s": 2, "retry_period_s": 0.5} | timing))
    return LeaderElector(api, settings)


def _lease(kube) -> dict:
    return kube.call(lambda km: dict(km.objects[LEASES, "ops", "gitops-sla"].raw))


def test_first_candidate_creates_the_lease_and_the_second_waits(kube, tmp_path):
    a, b = _elector(kube, tmp_path, "a"), _elector(kube, tmp_path, "b")
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    assert a.try_acquire_or_renew()  # renewal keeps the holder
    lease = _lease(kube)
    assert lease["spec"]["holderIdentity"] == "a"
    assert lease["spec"]["leaseDurationSeconds"] == 3
    assert lease["spec"]["leaseTransitions"] == 0
    assert lease["metadata"]["resourceVersion"]


def test_a_stale_resource_version_loses_the_race(kube, tmp_path):
    """b and c both find a's record expired; c writes first, so b's write carries a stale resourceVersion and
    the API server's 409 makes b lose (instead of both leading)."""
    a, b, c = (_elector(kube, tmp_path, name) for name in "abc")
    assert a.try_acquire_or_renew()
    for candidate in (b, c):
        assert not candidate.try_acquire_or_renew()  # observes a's record
        candidate._observed_at -= 10  # as if 10 s had passed without a change (monotonic clocks, no sleep)
    stale = b._api.read_namespaced_lease("gitops-sla", "ops")
    assert c.try_acquire_or_renew()
    b._api.read_namespaced_lease = lambda name, namespace: stale  # b's read happened before c's write
    assert not b.try_acquire_or_renew()
    assert not b.is_leader()
    lease = _lease(kube)
    assert lease["spec"]["holderIdentity"] == "c"
    assert lease["spec"]["leaseTransitions"] == 1
    patches = kube.call(lambda km: [r for r in km if r.method == "PATCH"])
    assert len(patches) == 2  # c's winning write and b's refused one


def test_an_expired_lease_is_taken_over_and_a_released_one_at_once(kube, tmp_path):
    a, b = _elector(kube, tmp_path, "a"), _elector(kube, tmp_path, "b")
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    b._observed_at -= 3.1  # a's record unchanged for longer than the lease duration
    assert b.try_acquire_or_renew()
    assert _lease(kube)["spec"]["holderIdentity"] == "b"
    assert not a.try_acquire_or_renew()  # a sees b's fresh record
    b._renewed_at = b._observed_at
    b._release()
    assert "holderIdentity" not in _lease(kube)["spec"]
    assert a.try_acquire_or_renew()  # released: no need to wait for the duration
    assert _lease(kube)["spec"]["leaseTransitions"] == 1  # from b's release (no holder) to a is not a takeover


def test_running_electors_elect_one_leader_and_hand_over_on_stop(kube, tmp_path):
    events = []
    a = _elector(kube, tmp_path, "a")
    a._on_started = lambda: events.append("a leads")
    a.start()
    b = _elector(kube, tmp_path, "b")
    b._on_started = lambda: events.append("b leads")
    try:
        _wait(lambda: a.is_leader())
        b.start()
        _wait(lambda: b._observed is not None)
        assert a.is_leader() and not b.is_leader()
        a.stop()  # releases the lease
        _wait(lambda: b.is_leader())
        assert events == ["a leads", "b leads"]
        assert _lease(kube)["spec"]["holderIdentity"] == "b"
    finally:
        a.stop()
        b.stop()


def test_an_unreachable_api_server_keeps_the_candidate_waiting_not_dead(tmp_path):
    """Connection refused is an answer to wait on: the campaign thread keeps trying (and never leads)."""
    config = unreachable_kubeconfig(tmp_path)
    elector = LeaderElector(api_client(config), LeaseSettings(name="l", namespace="ops", identity="a",
                                                               lease_duration_s=3, renew_deadline_s=2,
                                                               retry_period_s=0.1))
    elector._api.api_client.configuration.retries = 0
    attempts = []
    original = elector.try_acquire_or_renew
    elector.try_acquire_or_renew = lambda: attempts.append(1) or original()
    elector.start()
    try:
        _wait(lambda: len(attempts) >= 3)
        assert elector._thread.is_alive() and not elector.is_leader()
    finally:
        elector.stop()


def test_settings_refuse_inconsistent_timing():
    with pytest.raises(ValueError, match="retry period < renew deadline < lease duration"):
        LeaseSettings(identity="x", lease_duration_s=10, renew_deadline_s=10, retry_period_s=2)


def test_a_missing_kubeconfig_is_a_clear_error(tmp_path):
    with pytest.raises(ClusterConfigError, match="no such file"):
        api_client(tmp_path / "absent")


def _wait(condition, tries: int = 400) -> None:
    import time

    for _ in range(tries):
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in 20 s")
