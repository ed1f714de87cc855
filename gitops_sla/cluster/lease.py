"""Leader election through a `coordination.k8s.io/v1` Lease, as client-go's `leaderelection` does it.

Every replica runs a `LeaderElector`; the one named in the Lease's `holderIdentity` works, the others wait.
- A candidate acquires the Lease when it does not exist (create: the API server's 409 settles a race), when it
  is released (empty holder), or when its record has not changed for `leaseDurationSeconds` as measured on
  the candidate's own monotonic clock (never by comparing another machine's timestamps).
- Every write is a PATCH carrying `metadata.resourceVersion`, so the API server refuses (409) a write based on
  a record someone else changed meanwhile: two candidates never both win.
- The leader renews every `retry_period_s`; when it has not renewed for `renew_deadline_s` (shorter than the
  lease duration) it stops leading on its own, before anyone else may take over.
- `stop()` releases the Lease (empty holder, 1 s duration), so a replaced pod hands over at once.
- With a `LeaderPodLabel`, every round brings the pod's leader label in step (`leader_label.py`): set while
  leading, removed when no longer leading and on `stop()`; a failed write is retried at the next round.

A leader that dies is replaced within the lease duration plus one retry period. Git stays safe even if two
replicas ever work at once (a paused leader, a skewed clock): every push is fast-forward only and every
commit re-checks the fresh head (`gitops_sla.git.writer`).
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gitops_sla.cluster.leader_label import LeaderPodLabel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseSettings:
    """Which Lease, who we are, and client-go's timing defaults (15 s / 10 s / 2 s)."""

    name: str = "gitops-sla-reconciler"
    namespace: str = "default"
    identity: str = ""
    lease_duration_s: float = 15.0
    renew_deadline_s: float = 10.0
    retry_period_s: float = 2.0

    def __post_init__(self) -> None:
        if not self.identity:
            object.__setattr__(self, "identity", default_identity())
        if not 0 < self.retry_period_s < self.renew_deadline_s < self.lease_duration_s:
            raise ValueError("leader election needs 0 < retry period < renew deadline < lease duration "
                             f"(got {self.retry_period_s}, {self.renew_deadline_s}, {self.lease_duration_s})")


def default_identity() -> str:
    """`$POD_NAME` (the downward API) or the host name, plus a random suffix: unique per process."""
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}_{uuid.uuid4().hex[:8]}"


def _now() -> datetime:
    return datetime.now(timezone.utc)


class LeaderElector:
    """Campaigns for one Lease in a background thread; `is_leader()` says whether this process may work."""

    def __init__(self, api: client.ApiClient, settings: LeaseSettings, *,
                 on_started_leading: Callable[[], None] | None = None,
                 on_stopped_leading: Callable[[], None] | None = None,
                 pod_label: LeaderPodLabel | None = None):
        self.settings = settings
        self.pod_label = pod_label
        self._api = client.CoordinationV1Api(api)
        self._on_started = on_started_leading
        self._on_stopped = on_stopped_leading
        self._observed: tuple | None = None  # the last (holder, renewTime, resourceVersion) seen
        self._observed_at = 0.0  # monotonic time when `_observed` last changed
        self._renewed_at: float | None = None  # monotonic time of our last successful acquire/renew
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def identity(self) -> str:
        return self.settings.identity

    def is_leader(self) -> bool:
        """True while our last renewal is younger than the renew deadline."""
        renewed = self._renewed_at
        return renewed is not None and time.monotonic() - renewed < self.settings.renew_deadline_s

    def start(self) -> "LeaderElector":
        self._thread = threading.Thread(target=self._run, name="leader-election", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop campaigning; release the Lease if we hold it, and remove the pod's leader label."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.settings.retry_period_s + 30)
        if self._renewed_at is not None:
            self._release()
        if self.pod_label is not None:
            self.pod_label.sync(False)

    def _run(self) -> None:
        s = self.settings
        while not self._stop.is_set():
            was_leader = self.is_leader()
            try:
                won = self.try_acquire_or_renew()
            except (ApiException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:  # unreachable, odd answer
                log.warning("leader election: %s", getattr(exc, "reason", None) or exc)
                won = False
            if won and not was_leader:
                log.info("leader election: %s leads (lease %s/%s)", s.identity, s.namespace, s.name)
                if self._on_started is not None:
                    self._on_started()
            elif was_leader and not self.is_leader():
                log.warning("leader election: %s lost the lease %s/%s", s.identity, s.namespace, s.name)
                self._renewed_at = None
                if self._on_stopped is not None:
                    self._on_stopped()
            if self.pod_label is not None:
                self.pod_label.sync(self.is_leader())
            self._stop.wait(s.retry_period_s * (1 + (0 if self.is_leader() else random.uniform(0, 0.2))))

    def try_acquire_or_renew(self) -> bool:
        """One round: True when we hold the Lease afterwards."""
        s = self.settings
        now = _now()
        try:
            lease = self._api.read_namespaced_lease(s.name, s.namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
            return self._create(now)
        spec = lease.spec or client.V1LeaseSpec()
        record = (spec.holder_identity, spec.renew_time, lease.metadata.resource_version)
        if record != self._observed:
            self._observed, self._observed_at = record, time.monotonic()
        holder = spec.holder_identity or ""
        duration = spec.lease_duration_seconds or s.lease_duration_s
        if holder and holder != s.identity and time.monotonic() < self._observed_at + duration:
            return False  # held by someone else and not expired
        ours = holder == s.identity
        body = {"metadata": {"resourceVersion": lease.metadata.resource_version},
                "spec": {"holderIdentity": s.identity, "leaseDurationSeconds": int(s.lease_duration_s),
                         "renewTime": now,
                         "acquireTime": spec.acquire_time if ours and spec.acquire_time else now,
                         "leaseTransitions": (spec.lease_transitions or 0) + (0 if ours or not holder else 1)}}
        try:
            updated = self._api.patch_namespaced_lease(s.name, s.namespace, body)
        except ApiException as exc:
            if exc.status in (404, 409):  # someone else wrote first (or deleted it): next round
                return False
            raise
        self._mark_renewed(updated)
        return True

    def _create(self, now: datetime) -> bool:
        s = self.settings
        body = client.V1Lease(
            metadata=client.V1ObjectMeta(name=s.name, namespace=s.namespace),
            spec=client.V1LeaseSpec(holder_identity=s.identity, lease_duration_seconds=int(s.lease_duration_s),
                                    acquire_time=now, renew_time=now, lease_transitions=0))
        try:
            created = self._api.create_namespaced_lease(s.namespace, body)
        except ApiException as exc:
            if exc.status == 409:  # another candidate created it first
                return False
            raise
        self._mark_renewed(created)
        return True

    def _mark_renewed(self, lease: client.V1Lease) -> None:
        spec = lease.spec
        self._observed = (spec.holder_identity, spec.renew_time, lease.metadata.resource_version)
        self._observed_at = self._renewed_at = time.monotonic()

    def _release(self) -> None:
        s = self.settings
        try:
            lease = self._api.read_namespaced_lease(s.name, s.namespace)
            if (lease.spec.holder_identity or "") != s.identity:
                return
            now = _now()
            self._api.patch_namespaced_lease(s.name, s.namespace, {
                "metadata": {"resourceVersion": lease.metadata.resource_version},
                "spec": {"holderIdentity": None, "leaseDurationSeconds": 1, "acquireTime": now, "renewTime": now}})
            log.info("leader election: %s released the lease %s/%s", s.identity, s.namespace, s.name)
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            log.warning("leader election: could not release the lease: %s", getattr(exc, "reason", None) or exc)
        finally:
            self._renewed_at = None
