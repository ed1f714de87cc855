"""The leader's Pod label: `gitops-sla.dev/leader: "true"` on the pod that holds the Lease, none on the others.

The webhook Service selects this label, so a forge's push webhook reaches the replica that can act on it
rather than a standby that could only acknowledge it (Patroni labels its primary's pod the same way). The
`LeaderElector` calls `sync()` after every round: the label is set when this process starts leading, removed
when it stops leading (a lost Lease) or shuts down. A process starts not knowing the label's state (a restarted
container keeps its pod and its predecessor's label), so its first `sync()` always writes.

A failed write (403: the Role lacks `patch` on `pods`; the API server unreachable) never stops the leader: it is
logged once, naming what is missing, and retried at each later round until it succeeds. A leader that dies
without a shutdown keeps its label on a dead pod; a dead pod is not Ready, so no Service routes to it, and a
restarted container removes the label on its first round.
"""

from __future__ import annotations

import logging
import os

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)

LEADER_LABEL = "gitops-sla.dev/leader"
ENV_POD_NAME = "POD_NAME"
ENV_POD_NAMESPACE = "POD_NAMESPACE"
REQUEST_TIMEOUT_S = 5.0  # one write must not hold up the next Lease renewal for long


class LeaderPodLabel:
    """Keeps `LEADER_LABEL` on one pod in step with whether this process leads (JSON merge PATCH of its labels)."""

    def __init__(self, api: client.ApiClient, namespace: str, pod: str):
        self.namespace, self.pod = namespace, pod
        self._api = client.CoreV1Api(api)
        self._applied: bool | None = None  # what the label says as far as we know; None: not known yet
        self._failure: str | None = None  # the last failure logged, so a lasting one is logged once

    @classmethod
    def from_environment(cls, api: client.ApiClient, default_namespace: str) -> "LeaderPodLabel | None":
        """This pod, from the downward API's `$POD_NAME` / `$POD_NAMESPACE`; None outside a pod (no `$POD_NAME`)."""
        pod = os.environ.get(ENV_POD_NAME)
        if not pod:
            return None
        return cls(api, os.environ.get(ENV_POD_NAMESPACE) or default_namespace, pod)

    def sync(self, leading: bool) -> bool:
        """Make the pod's label say `leading` (a write only when it may differ); True when it does."""
        if leading == self._applied:
            return True
        body = {"metadata": {"labels": {LEADER_LABEL: "true" if leading else None}}}
        try:
            self._api.patch_namespaced_pod(self.pod, self.namespace, body, _request_timeout=REQUEST_TIMEOUT_S,
                                           _content_type="application/merge-patch+json")
        except (ApiException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:  # ValueError: an odd answer
            self._applied = None
            self._report(leading, exc)
            return False
        self._applied = leading
        if self._failure is not None:
            log.info("leader label: %s %s on pod %s/%s after all", "set" if leading else "removed", LEADER_LABEL,
                     self.namespace, self.pod)
            self._failure = None
        return True

    def _report(self, leading: bool, exc: Exception) -> None:
        status = getattr(exc, "status", None)
        what = f"{'set' if leading else 'remove'} {LEADER_LABEL} on pod {self.namespace}/{self.pod}"
        if status == 403:
            why = (f"403 Forbidden: the service account needs `patch` on `pods` in namespace {self.namespace} "
                   "(Role gitops-sla-leader-election in deploy/base/leader-election-rbac.yaml)")
        elif status == 404:
            why = f"404: no pod {self.namespace}/{self.pod}; check the POD_NAME and POD_NAMESPACE environment values"
        elif isinstance(exc, ApiException):
            why = f"{exc.status} {exc.reason}"
        else:
            why = f"the API server did not answer ({getattr(exc, 'reason', None) or exc})"
        failure = f"cannot {what}: {why}"
        if failure != self._failure:
            effect = ("webhooks do not reach the leader until it is set" if leading
                      else "the webhook Service may still route here")
            log.warning("leader label: %s; %s (retrying at each Lease round; passes go on)", failure, effect)
            self._failure = failure
