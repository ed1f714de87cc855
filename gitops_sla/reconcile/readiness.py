"""Readiness fed back: the applied DGD's state, as the cluster reports it, recorded in `status.yaml`.

The loop sees the cluster only through `DeploymentReader` (the Kubernetes adapter is
`gitops_sla.cluster.readiness`). After each pass, every request whose `status.yaml` on the target branch names
a generated deployment is compared with its live DGD, following Dynamo's DGDR controller:
- the DGD's `status.state` is `successful`: `Ready`, condition DeploymentReady=True (DeploymentReady);
- `failed`: `Failed`, DeploymentReady=False with the DGD's own reason and message (its `Ready` condition);
- any other state (`initializing`, `pending`): `Deploying`, DeploymentReady=False — DeploymentDegraded when it
  was `Ready`, DeploymentCreated when first seen (or back after `Failed`/`DeploymentDeleted`);
- not found after it was seen once (`deployment.created`): `DeploymentDeleted`; never seen: unchanged (Argo CD
  or Flux has not applied it yet).
`deployment.state` mirrors the DGD's state. A status that would not change writes nothing; a change is one
commit, built again on the fresh head when a push loses a race, so two replicas never record it twice and a
restart finds it recorded. Each recorded change can also set a commit status on the forge (`CommitStatuses`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Protocol

from gitops_sla.forge import CommitState, ForgeError
from gitops_sla.git import Changes, Mirror, RetryPolicy, Snapshot, commit_changes
from gitops_sla.models import DeploymentStatus, RequestStatusFile
from gitops_sla.reconcile import output as out
from gitops_sla.reconcile.drift import recorded_files, stamp
from gitops_sla.reconcile.inputs import RequestKey, discover_generated, status_path
from gitops_sla.yamlsafe import YamlError

log = logging.getLogger(__name__)

DGD_READY = "successful"  # Dynamo's DGDStateSuccessful
DGD_FAILED = "failed"  # DGDStateFailed
_REASON = re.compile(r"[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?")  # metav1.Condition's reason
TRACKED_STATES = frozenset({"Deploying", "Ready", "Failed", "DeploymentDeleted"})
_COMMIT_STATES: dict[str, CommitState] = {"Deploying": "pending", "Ready": "success", "Failed": "failure",
                                          "DeploymentDeleted": "error"}


class DeploymentReadError(Exception):
    """The cluster could not be asked (unreachable, forbidden): nothing is recorded for this request."""


@dataclass(frozen=True)
class LiveDeployment:
    """A DGD as the cluster reports it: `found`, `status.state`, and its `Ready` condition's reason/message."""

    found: bool
    state: str = ""
    reason: str = ""
    message: str = ""


class DeploymentReader(Protocol):
    """Reads one applied DGD (the reconcile loop never imports the Kubernetes client)."""

    def read(self, namespace: str, name: str) -> LiveDeployment: ...


class CommitStatuses(Protocol):
    """A forge's commit statuses (each forge maps the neutral `CommitState` to its own states)."""

    def set_commit_status(self, sha: str, state: CommitState, context: str, description: str) -> None: ...


def next_status(current: RequestStatusFile, live: LiveDeployment) -> RequestStatusFile | None:
    """The status after observing `live`, or None when nothing would change."""
    recorded = current.status
    deployment = recorded.deployment
    if deployment is None or not deployment.name or recorded.state not in TRACKED_STATES:
        return None
    name = deployment.name
    if not live.found:
        if not deployment.created:
            return None  # not applied yet
        status = (recorded.with_state("DeploymentDeleted")
                  .with_condition("DeploymentReady", "False", "DeploymentDeleted",
                                  f"DGD {name} was deleted; commit a change to the request (or let Argo CD / Flux "
                                  "sync it again) to redeploy"))
        status = status.model_copy(update={"deployment": deployment.model_copy(
            update={"state": "Deleted"})})
    elif live.state == DGD_READY:
        status = (recorded.with_state("Ready")
                  .with_condition("DeploymentReady", "True", "DeploymentReady", f"DGD {name} is ready"))
    elif live.state == DGD_FAILED:
        status = (recorded.with_state("Failed")
                  .with_condition("DeploymentReady", "False", _reason(live.reason, "DeploymentFailed"),
                                  live.message or f"DGD {name} failed"))
    elif recorded.state == "Ready":
        status = (recorded.with_state("Deploying")
                  .with_condition("DeploymentReady", "False", "DeploymentDegraded",
                                  f"Deployment degraded to {live.state or 'unknown'}"))
    elif recorded.state == "Deploying" and deployment.created:
        status = recorded  # still on its way (its state is mirrored below)
    else:
        status = (recorded.with_state("Deploying")
                  .with_condition("DeploymentReady", "False", "DeploymentCreated",
                                  f"DGD {name} created, waiting for Ready"))
    if live.found:
        status = status.model_copy(update={"deployment": DeploymentStatus(
            name=name, namespace=deployment.namespace, state=live.state or None, created=True)})
    if status == recorded:
        return None
    return current.model_copy(update={"status": status})


def _reason(reason: str, default: str) -> str:
    """A condition reason as the CRD allows it (the DGD's own, else `default`)."""
    return reason if _REASON.fullmatch(reason) and len(reason) <= 1024 else default


@dataclass(frozen=True)
class Transition:
    """One recorded change of a request's deployment state."""

    key: RequestKey
    before: str
    after: str
    commit: str | None
    message: str


class ReadinessTracker:
    """Compares each deployed request with its live DGD after a pass and commits the changes."""

    def __init__(self, reader: DeploymentReader, *, statuses: CommitStatuses | None = None):
        self.reader = reader
        self.statuses = statuses
        self._parsed: dict[str, RequestStatusFile | None] = {}  # status.yaml blob id -> parsed (None: untracked)
        self._unposted: dict[RequestKey, tuple[str, CommitState, str]] = {}

    def tracked(self, snapshot: Snapshot) -> dict[RequestKey, RequestStatusFile]:
        """Requests whose status on this snapshot names a deployment in a tracked state."""
        found: dict[RequestKey, RequestStatusFile] = {}
        seen: set[str] = set()
        for key in sorted(discover_generated(snapshot)):
            blob = snapshot.blob_id(status_path(key))
            if blob is None:
                continue
            seen.add(blob)
            if blob not in self._parsed:
                self._parsed[blob] = self._parse(snapshot, blob, key)
            status = self._parsed[blob]
            if status is not None:
                found[key] = status
        for blob in set(self._parsed) - seen:
            del self._parsed[blob]
        return found

    @staticmethod
    def _parse(snapshot: Snapshot, blob: str, key: RequestKey) -> RequestStatusFile | None:
        try:
            status = RequestStatusFile.from_yaml(snapshot.read_blob(blob), status_path(key))
        except (YamlError, ValueError):
            return None
        deployment = status.status.deployment
        tracked = deployment is not None and deployment.name and status.status.state in TRACKED_STATES
        return status if tracked else None

    def record(self, mirror: Mirror, branch: str, *, author: tuple[str, str] | None = None,
               retry: RetryPolicy = RetryPolicy()) -> list[Transition]:
        """Read every tracked request's DGD; commit each change (one commit per request and change)."""
        snapshot = mirror.snapshot(mirror.head(branch))
        transitions = []
        for key, status in self.tracked(snapshot).items():
            deployment = status.status.deployment
            try:
                live = self.reader.read(deployment.namespace or key[0], deployment.name)
            except DeploymentReadError as exc:
                log.warning("%s/%s: cannot read DGD %s: %s", key[0], key[1], deployment.name, exc)
                continue
            if next_status(status, live) is None:
                continue
            transition = self._commit(mirror, branch, key, live, author, retry)
            if transition is not None:
                transitions.append(transition)
        self._post_statuses()
        return transitions

    def _commit(self, mirror: Mirror, branch: str, key: RequestKey, live: LiveDeployment,
                author: tuple[str, str] | None, retry: RetryPolicy) -> Transition | None:
        path = status_path(key)
        seen: dict[str, RequestStatusFile] = {}

        def build(head: Snapshot) -> Changes | None:  # on the fresh head: another replica may have recorded it
            data = head.read(path)
            if data is None:
                return None
            try:
                current = RequestStatusFile.from_yaml(data, path)
            except (YamlError, ValueError):
                return None
            updated = next_status(current, live)
            if updated is None:
                return None
            seen.update(before=current, after=updated)
            recorded = recorded_files(data)  # the reconciler's record of the folder stays as it was
            text = updated.to_yaml().encode()
            return Changes({path: stamp(text, recorded) if recorded is not None else text})

        pushed = commit_changes(mirror, branch, build, out.commit_subject(key, f"deployment {_summary(live)}"),
                                out.trailers(key, None, None), author=author, retry=retry)
        if pushed.commit is None:  # recorded meanwhile (another replica) or gone
            return None
        before, after = seen["before"], seen["after"]
        state = after.status.state
        condition = after.status.condition("DeploymentReady")
        message = condition.message if condition else ""
        log.info("%s/%s: %s -> %s (%s)", key[0], key[1], before.status.state, state, message)
        if self.statuses is not None and after.source_commit and state in _COMMIT_STATES:
            self._unposted[key] = (after.source_commit, _COMMIT_STATES[state], f"{state}: {message}"[:140])
        return Transition(key, before.status.state, state, pushed.commit, message)

    def _post_statuses(self) -> None:
        """Commit statuses for recorded changes; a failure is retried after the next pass."""
        if self.statuses is None:
            return
        for key, (sha, state, description) in sorted(self._unposted.items()):
            try:
                self.statuses.set_commit_status(sha, state, f"gitops-sla/{key[0]}/{key[1]}", description)
            except ForgeError as exc:
                log.warning("%s/%s: commit status not set, retried next pass: %s", key[0], key[1], exc)
                continue
            del self._unposted[key]


def _summary(live: LiveDeployment) -> str:
    if not live.found:
        return "deleted"
    return {DGD_READY: "ready", DGD_FAILED: "failed"}.get(live.state, live.state or "created")


