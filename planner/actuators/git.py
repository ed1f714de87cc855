"""Git mode: the planner's replica counts as a commit to the GitOps repository.

The planner owns one file, `generated/<namespace>/<name>/replicas.yaml`: a kustomize patch that sets
`spec.services.<svc>.replicas` of the DGD. The reconciler owns everything else in that folder (its
`kustomization.yaml` lists `replicas.yaml` under `patches`), so the two writers never touch the same file.
Commits go through the reconciler's Git writer (`gitops_sla.git`): built in memory on the fetched head, pushed
fast-forward only, regenerated on a lost race.

Rate limits, so that Git history and Argo CD/Flux syncs follow the trend, not the noise:
- a change must persist: the same target for `persist_intervals` consecutive decisions;
- at most one commit per `commit_period` seconds;
- with a forge configured, changes go to the branch `gitops-sla/planner/<namespace>/<name>` and one pull
  request (updated in place) instead of the target branch.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from ruamel.yaml import YAML

from gitops_sla.forge import Forge, ForgeError, ensure_pull_request
from gitops_sla.git import Changes, GitAuthError, GitSyncError, Mirror, PushConflict, Snapshot
from gitops_sla.git import commit_changes, commit_to_side_branch
from gitops_sla.layout import generated_file
from gitops_sla.replicas_patch import REPLICAS_FILE, render_replicas_patch
from planner.dgd import DgdError, resolve_services, service_replicas
from planner.policy import Decision, Replicas

log = logging.getLogger(__name__)

KUSTOMIZATION_FILE = "kustomization.yaml"
TRAILER = "Gitops-Sla-Planner"
HISTORY_DEPTH = 200


def _yaml() -> YAML:
    return YAML(typ="safe", pure=True)


def _load_docs(data: bytes) -> list[Any]:
    try:
        return [doc for doc in _yaml().load_all(data.decode()) if isinstance(doc, dict)]
    except Exception:  # noqa: BLE001 - an unreadable file counts as absent; the caller logs it
        return []


@dataclass
class _Pending:
    target: Replicas
    count: int


class GitActuator:
    """Commits replica changes for one DGD to a GitOps repository."""

    name = "git"

    def __init__(self, mirror: Mirror, branch: str, namespace: str, dgd_name: str, *, path: str | None = None,
                 commit_period_s: int = 900, persist_intervals: int = 2, forge: Forge | None = None,
                 prefill_service: str | None = None, decode_service: str | None = None) -> None:
        self.mirror = mirror
        self.branch = branch
        self.namespace = namespace
        self.dgd_name = dgd_name
        self.path = path or generated_file(namespace, dgd_name, REPLICAS_FILE)
        self.folder = self.path.rsplit("/", 1)[0]
        self.commit_period_s = commit_period_s
        self.persist_intervals = persist_intervals
        self.forge = forge
        self.service_flags = (prefill_service, decode_service)
        self.pending: _Pending | None = None
        self.last_commit_at: float | None = None
        self._history_read = False
        self.pr_branch = f"gitops-sla/planner/{namespace}/{dgd_name}"

    # -- reading what Git holds -------------------------------------------------------------------------
    def _dgd(self, snapshot: Snapshot) -> dict[str, Any] | None:
        for path, _blob in snapshot.walk_files(self.folder):
            if not path.endswith((".yaml", ".yml")) or path == self.path:
                continue
            for doc in _load_docs(snapshot.read(path) or b""):
                if doc.get("kind") == "DynamoGraphDeployment":
                    return doc
        return None

    def _state(self, snapshot: Snapshot) -> tuple[dict[str, Any], dict[str, str], Replicas]:
        """The reconciler's DGD, its service keys and the replicas Git holds (the planner's patch over the DGD)."""
        dgd = self._dgd(snapshot)
        if dgd is None:
            raise DgdError(f"no DynamoGraphDeployment manifest in {self.folder} of branch {self.branch}; "
                           "the reconciler writes it there (check --git-path / --dgd-name)")
        services = resolve_services(dgd, *self.service_flags)
        replicas = service_replicas(dgd, services)
        patch = snapshot.read(self.path)
        if patch is not None:
            docs = _load_docs(patch)
            if docs:
                patched = ((docs[0].get("spec") or {}).get("services")) or {}

                def held(role: str, default: int) -> int:
                    value = (patched.get(services[role]) or {}).get("replicas")
                    return default if value is None else int(value)  # null: the release form (patch mode)
                replicas = Replicas(held("prefill", replicas.prefill), held("decode", replicas.decode))
        return dgd, services, replicas

    def _previous_commit_time(self) -> float | None:
        """Commit time of this planner's newest commit (trailer) on the branch it commits to, so a restarted
        planner keeps the commit period. Looks back `HISTORY_DEPTH` first-parent commits."""
        branch = self.pr_branch if self.forge is not None else self.branch
        commit_id = self.mirror.head(branch)
        marker = f"{TRAILER}: {self.namespace}/{self.dgd_name}"
        repo = self.mirror.repo
        for _ in range(HISTORY_DEPTH):
            if commit_id is None:
                return None
            commit = repo.get(commit_id)
            if marker in commit.message.splitlines():
                return float(commit.commit_time)
            commit_id = str(commit.parent_ids[0]) if commit.parent_ids else None
        return None

    def _head_snapshot(self) -> Snapshot:
        self.mirror.fetch()
        return self.mirror.snapshot(self.mirror.head(self.branch))

    def current(self) -> Replicas | None:
        try:
            return self._state(self._head_snapshot())[2]
        except (DgdError, GitSyncError, GitAuthError) as error:
            log.warning("cannot read replicas from Git: %s", error)
            return None

    # -- writing --------------------------------------------------------------------------------------
    def _build(self, target: Replicas):
        def build(snapshot: Snapshot) -> Changes | None:
            dgd, services, held = self._state(snapshot)
            if held == target:
                return None
            kustomization = snapshot.read(f"{self.folder}/{KUSTOMIZATION_FILE}")
            if kustomization is not None and REPLICAS_FILE.encode() not in kustomization:
                log.warning("%s/%s does not list %s under patches: Argo CD/Flux will not apply the planner's "
                            "replicas until the reconciler adds it", self.folder, KUSTOMIZATION_FILE, REPLICAS_FILE)
            return Changes({self.path: render_replicas_patch(dgd, services, asdict(target))})
        return build

    def _message(self, decision: Decision, target: Replicas) -> str:
        current = decision.current
        was = f" (was {current.prefill} prefill, {current.decode} decode)" if current else ""
        return (f"planner: scale {self.namespace}/{self.dgd_name} to {target.prefill} prefill, "
                f"{target.decode} decode{was}\n\n{decision.reason}\n")

    def apply(self, decision: Decision, now: float) -> dict:
        if decision.action == "hold" or decision.prefill_replicas is None:
            return {"result": "held"}
        target = Replicas(decision.prefill_replicas, decision.decode_replicas)
        if decision.current is not None and target == decision.current:
            self.pending = None
            return {"result": "unchanged"}
        if self.pending is not None and self.pending.target == target:
            self.pending.count += 1
        else:
            self.pending = _Pending(target, 1)
        if self.pending.count < self.persist_intervals:
            return {"result": "pending", "persisted": self.pending.count, "needed": self.persist_intervals}
        if not self._history_read:
            self._history_read = True
            self.last_commit_at = self.last_commit_at or self._previous_commit_time()
        if self.last_commit_at is not None and now - self.last_commit_at < self.commit_period_s:
            return {"result": "rate_limited", "next_commit_after_s": self.commit_period_s - (now - self.last_commit_at)}
        trailers = {TRAILER: f"{self.namespace}/{self.dgd_name}"}
        try:
            if self.forge is None:
                pushed = commit_changes(self.mirror, self.branch, self._build(target),
                                        self._message(decision, target), trailers)
            else:
                pushed = commit_to_side_branch(self.mirror, self.pr_branch, self.branch, self._build(target),
                                               self._message(decision, target), trailers)
        except (DgdError, GitSyncError, GitAuthError, PushConflict) as error:
            log.error("git mode: committing %s failed: %s", self.path, error)
            return {"result": "failed", "error": str(error)}
        self.pending = None
        if not pushed.pushed:
            return {"result": "unchanged"}
        self.last_commit_at = now
        outcome = {"result": "committed", "commit": pushed.commit, "branch": pushed.branch, "path": self.path}
        if self.forge is not None:
            try:
                pull, action = ensure_pull_request(
                    self.forge, self.pr_branch, self.branch, pushed.commit,
                    f"planner: scale {self.namespace}/{self.dgd_name} to {target.prefill}P/{target.decode}D",
                    self._message(decision, target))
                outcome.update(pull_request=pull.number, pull_request_action=action)
            except ForgeError as error:
                log.error("git mode: pull request for %s failed: %s", self.pr_branch, error)
                outcome.update(result="failed", error=str(error))
        log.info("git mode: committed %s to %s (%s)", self.path, pushed.branch, pushed.commit)
        return outcome
