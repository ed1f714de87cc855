"""One reconcile pass: Git in (requests), Git out (generated output, pull requests).

A pass: ls-remote the target branch (an unchanged head and nothing pending: done, no download); fetch the
mirror; find the candidate requests (everything on the first pass, else only what changed since the
last pass); for each, compare its spec hash with the one in its `status.yaml` and do the work only when
they differ: validate, profile, write. Every write goes through the Git writer, whose build step re-checks
the fresh head after a lost race, so a request that another reconciler has already handled is left alone.

What goes where:
- `autoApply: true` (or `defaultMode: commit`): the generated folder is committed to the target branch.
- `autoApply: false`: the generated folder goes to branch `gitops-sla/<ns>/<name>` and one pull request.
- Status-only changes (validation failed, profiling failed, profiling started) and removals of the output of
  a deleted request are committed to the target branch in both modes: they change no deployment.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Literal, Mapping

import pygit2

from gitops_sla import layout
from gitops_sla.forge import Forge, ForgeError, PullRequest, ensure_pull_request
from gitops_sla.git import (
    Changes,
    GitSyncError,
    Mirror,
    PushRejected,
    PushResult,
    RetryPolicy,
    Snapshot,
    commit_changes,
    commit_to_side_branch,
)
from gitops_sla.models import RepoConfig, RequestStatusFile, ValidationIssue
from gitops_sla.models.request import SlaRequest
from gitops_sla.models.status import REASON_AWAITING_REVIEW
from gitops_sla.reconcile import drift, index
from gitops_sla.reconcile import output as out
from gitops_sla.reconcile.inputs import (
    PROPOSED_STATES,
    STATUS_FILE,
    Generator,
    RecordedStatus,
    RequestKey,
    changed_keys,
    deployment_of,
    discover_generated,
    discover_requests,
    is_up_to_date,
    load_repo_config,
    namespace_bases,
    read_recorded,
    spec_hash,
)
from gitops_sla.reconcile.metrics import ReconcilerMetrics
from gitops_sla.reconcile.planner_settings import RepoPlannerKeys
from gitops_sla.reconcile.profiling import BackendUnavailable, ProfileJob, ProfileOutput, ProfilingBackend, Running
from gitops_sla.reconcile.readiness import ReadinessTracker
from gitops_sla.validation import RequestValidation, validate_request_file
from profiler.errors import ProfilingError
from profiler.progress import ProgressState

log = logging.getLogger(__name__)

VALIDATION_FAILED = "validation failed"

REPORT_FILE = "report.md"
Action = Literal["up-to-date", "generated", "profiling", "failed", "deleted", "pull-request", "error", "restored",
                 "drifted", "deployment"]


@dataclass(frozen=True)
class RequestOutcome:
    """What a pass did for one request."""

    namespace: str
    name: str
    action: Action
    state: str | None = None
    commit: str | None = None
    pull_request: PullRequest | None = None
    message: str = ""


@dataclass
class PassReport:
    """What one pass did. `idle`: the head had not moved and nothing was pending (no fetch at all)."""

    head: str | None
    idle: bool
    checked: int = 0
    outcomes: list[RequestOutcome] = field(default_factory=list)
    error: str | None = None
    duration_s: float = 0.0
    skipped: list[str] = field(default_factory=list)  # paths that cannot be a request's, and why

    @property
    def commits(self) -> list[str]:
        return [o.commit for o in self.outcomes if o.commit]

    @property
    def worked(self) -> list[RequestOutcome]:
        return [o for o in self.outcomes if o.action != "up-to-date"]


class Reconciler:
    """Reconciles one branch of one repository. Not thread-safe across passes: `run_pass` serialises them.
    `progress(key, None)` is called when work on a request starts, `progress(key, outcome)` when a request
    that needed work is done."""

    def __init__(
        self,
        mirror: Mirror,
        backend: ProfilingBackend,
        *,
        branch: str = "main",
        forge: Forge | None = None,
        metrics: ReconcilerMetrics | None = None,
        retry: RetryPolicy = RetryPolicy(),
        author: tuple[str, str] | None = None,
        output_cache_size: int = 32,
        progress: Callable[[RequestKey, RequestOutcome | None], None] | None = None,
        readiness: ReadinessTracker | None = None,
        progress_interval_s: float = 180.0,
    ):
        self.mirror = mirror
        self.backend = backend
        self.branch = branch
        self.forge = forge
        self.metrics = metrics or ReconcilerMetrics()
        self.retry = retry
        self.author = author
        self._last: Snapshot | None = None
        self._pending: set[RequestKey] = set()
        self._states: dict[RequestKey, str] = {}
        self._outputs: OrderedDict[str, ProfileOutput] = OrderedDict()
        self._output_cache_size = output_cache_size
        self.progress_interval_s = progress_interval_s
        self._progress_written: dict[RequestKey, tuple[float, ProgressState | None]] = {}
        self._lock = threading.Lock()
        self._warned_repo_url = False
        self._refused: set[RequestKey] = set()
        self._deployments: tuple[Snapshot, dict[RequestKey, tuple[str, str]]] | None = None  # statuses read
        self._claims: dict[tuple[str, str], RequestKey] | None = None  # DGD (namespace, name) -> request, per pass  # folders kept out of the index (drift reported, not restored)
        self.progress = progress or (lambda key, outcome: None)
        self.readiness = readiness

    # ------------------------------------------------------------------------------------------------ pass

    def run_pass(self, full: bool = False) -> PassReport:
        """One pass; `full` re-checks every request (as the first pass of a process does)."""
        with self._lock:
            started = time.perf_counter()
            report = self._run_pass(full)
            if self.readiness is not None and report.head is not None:
                self._record_readiness(report)
            report.duration_s = time.perf_counter() - started
            result = "error" if report.error else "idle" if report.idle else "work"
            self.metrics.passes.labels(result).inc()
            self.metrics.pass_duration.labels(result).observe(report.duration_s)
            if not report.error:
                self.metrics.last_success.set(time.time())
            return report

    def _run_pass(self, full: bool) -> PassReport:
        try:
            remote_head = self.mirror.remote_heads().get(self.branch)
        except GitSyncError as exc:
            self.metrics.errors.labels("git").inc()
            return PassReport(None, False, error=str(exc))
        if remote_head is None:
            self.metrics.errors.labels("git").inc()
            return PassReport(None, False, error=f"branch '{self.branch}' does not exist in the remote repository; "
                                                 "push it or pass --branch")
        if not full and self._last is not None and self._last.commit_id == remote_head and not self._pending:
            return PassReport(remote_head, True)
        try:
            self.mirror.fetch()
        except GitSyncError as exc:
            self.metrics.errors.labels("git").inc()
            return PassReport(remote_head, False, error=str(exc))
        snapshot = self.mirror.snapshot(self.mirror.head(self.branch))
        self._claims = None
        config, config_error = load_repo_config(snapshot)
        if config is None:
            self.metrics.errors.labels("config").inc()
            return PassReport(snapshot.commit_id, False, error=config_error)
        planner_keys = self._planner_keys(config)
        generator = Generator.for_repo(self.backend.version, config, planner_keys.digest)
        keys, forced, revalidate = self._candidates(snapshot, full)
        unusable = sorted(key for key in keys if not layout.usable_key(*key))
        keys -= set(unusable)
        self._pending -= set(unusable)
        report = PassReport(snapshot.commit_id, False, checked=len(keys), skipped=[_unusable_message(k) for k in unusable])
        for message in report.skipped:
            log.warning("%s", message)
        chain = snapshot.commit_id  # stays our latest commit while only we move the branch
        requests = discover_requests(snapshot) if len(keys) > 64 else None
        bases_cache: dict[str, list[tuple[str, str]]] = {}
        for key in sorted(keys):
            try:
                outcome, pushed = self._reconcile(key, snapshot, config, planner_keys, generator, requests,
                                                  bases_cache, key in forced, revalidate)
            except (GitSyncError, ForgeError, BackendUnavailable) as exc:
                kind = ("forge" if isinstance(exc, ForgeError) else
                        "profiling" if isinstance(exc, BackendUnavailable) else "git")
                self.metrics.errors.labels(kind).inc()
                self._pending.add(key)
                outcome, pushed = RequestOutcome(key[0], key[1], "error", message=str(exc)), None
                log.warning("%s/%s: %s", key[0], key[1], exc)
            except Exception as exc:  # one request's failure never stops the pass for the others
                outcome, pushed = self._contain(key, snapshot, generator, exc)
            report.outcomes.append(outcome)
            if outcome.action != "up-to-date":
                self.progress(key, outcome)
            if pushed is not None and pushed.branch == self.branch and pushed.commit:
                chain = pushed.commit if chain is not None and pushed.parent == chain else None
        try:
            pushed = self._sync_index(keys | set(unusable), full or self._last is None,
                                      self._last is None or _index_changed(self._last, snapshot))
        except (GitSyncError, OSError, pygit2.GitError) as exc:
            self.metrics.errors.labels("git").inc()
            log.warning("updating %s: %s", index.INDEX_KUSTOMIZATION, exc)
            pushed = None
        if pushed is not None and pushed.commit:
            chain = pushed.commit if chain is not None and pushed.parent == chain else None
        self._count_states(report, full or self._last is None)
        end_head = self.mirror.head(self.branch)
        self._last = self.mirror.snapshot(end_head) if chain == end_head else snapshot
        return report

    def _record_readiness(self, report: PassReport) -> None:
        """The applied DGDs' states into `status.yaml` (also after an idle pass: the cluster moves on its own)."""
        try:
            transitions = self.readiness.record(self.mirror, self.branch, author=self.author, retry=self.retry)
        except GitSyncError as exc:
            self.metrics.errors.labels("git").inc()
            log.warning("readiness: %s", exc)
            return
        outcomes = [RequestOutcome(*t.key, "deployment", t.after, t.commit, message=t.message) for t in transitions]
        if outcomes:
            self.metrics.commits.labels("direct").inc(len(outcomes))
            report.outcomes.extend(outcomes)
            report.idle = False
            self._count_states(PassReport(report.head, False, outcomes=outcomes), False)

    def _sync_index(self, keys: set[RequestKey], full: bool, verify: bool) -> PushResult | None:
        """Bring the index of `generated/` up to date for the folders this pass looked at (all of them, and
        every listed one, on a full pass; `verify`: also undo hand edits of the index files): see
        `gitops_sla.reconcile.index`."""
        refused = frozenset(self._refused)

        def build(head: Snapshot) -> Changes | None:
            if not (full or verify) and all(index.lists(head, key) == index.belongs(head, key, refused)
                                            for key in keys):
                return None
            listed = index.read_index(head)
            check = keys | listed if full else keys
            wanted = {key for key in listed if key not in check}
            wanted |= {key for key in check if index.belongs(head, key, refused)}
            files = index.updated(head, add=wanted - listed, remove=listed - wanted, verify=True)
            return Changes(files) if files else None

        if not keys and not full and not verify:
            return None
        pushed = commit_changes(self.mirror, self.branch, build, "gitops-sla: update the index of generated/",
                                author=self.author, retry=self.retry, fetched=True, on_rejected=self._rejected)
        if pushed.commit:
            self.metrics.commits.labels("direct").inc()
        return pushed

    def _planner_keys(self, config: RepoConfig) -> RepoPlannerKeys:
        """The repo's planner passthrough keys for this pass (warns once per process when git mode has no URL
        the planner pods could push to)."""
        keys = RepoPlannerKeys.from_config(config, self.mirror.url)
        if keys.missing_repo_url() and not self._warned_repo_url:
            self._warned_repo_url = True
            log.warning("%s: planner.mode is git but the reconciler reads a local path (%s) that planner pods cannot "
                        "reach: the Planner services get no --git-repo (the planner stops with a message); set "
                        "planner.gitRepo to the repository's URL", layout.REPO_CONFIG_FILE, self.mirror.url)
        return keys

    def _candidates(self, snapshot: Snapshot, full: bool) -> tuple[set[RequestKey], set[RequestKey], bool]:
        """Keys to look at; those (in a namespace whose base configs changed) to re-validate even when `Failed`
        for the same request blob (a missing base may have been added); and whether `gitops-sla.yaml` changed
        since the last pass, so up-to-date requests are validated again against its rules (tenancy)."""
        if full or self._last is None:
            return set(discover_requests(snapshot)) | discover_generated(snapshot) | self._pending, set(), False
        keys, namespaces, config_changed = changed_keys(self._last, snapshot)
        if config_changed:
            return set(discover_requests(snapshot)) | discover_generated(snapshot) | self._pending, set(), True
        forced = {key for key in discover_requests(snapshot) if key[0] in namespaces} if namespaces else set()
        return keys | forced | self._pending, forced, False

    def _count_states(self, report: PassReport, full: bool) -> None:
        """Keep `gitops_sla_requests{state}` current: rebuilt on full passes, updated by incremental ones."""
        if full:
            self._states.clear()
        for outcome in report.outcomes:
            key = (outcome.namespace, outcome.name)
            if outcome.action == "deleted" or (outcome.action == "up-to-date" and outcome.state is None):
                self._states.pop(key, None)
            elif outcome.action != "error":
                self._states[key] = outcome.state or "Pending"
        counts: dict[str, int] = {}
        for state in self._states.values():
            counts[state] = counts.get(state, 0) + 1
        self.metrics.set_states(counts)

    # ------------------------------------------------------------------------------------------ one request

    def _reconcile(
        self,
        key: RequestKey,
        snapshot: Snapshot,
        config: RepoConfig,
        planner_keys: RepoPlannerKeys,
        generator: Generator,
        requests: dict[RequestKey, str] | None,
        bases_cache: dict[str, list[tuple[str, str]]],
        forced: bool,
        revalidate: bool,
    ) -> tuple[RequestOutcome, PushResult | None]:
        request_path = layout.request_path(*key)
        blob = requests.get(key) if requests is not None else snapshot.blob_id(request_path)
        found = read_recorded(snapshot, key)
        recorded = found[0] if found else None
        if blob is None:
            self._pending.discard(key)
            self._forget_runs(key)
            if recorded is None:  # no output on the target branch; maybe a proposal in a pull request
                closed = self._close_stale_pull(key)
                return RequestOutcome(*key, "deleted" if closed else "up-to-date", pull_request=closed), None
            return self._delete(key, snapshot)
        found_drift = drift.drift_of(snapshot, key) if recorded is not None else []
        if found_drift:
            return self._drifted(key, snapshot, config, found_drift)
        self._refused.discard(key)
        if key[0] not in bases_cache:
            bases_cache[key[0]] = namespace_bases(snapshot, key[0])
        bases = bases_cache[key[0]]
        if is_up_to_date(recorded, key, blob, bases, generator) and not (forced and recorded.state == "Failed"):
            # after a change of gitops-sla.yaml, an up-to-date request must still pass its rules (tenancy)
            if not (revalidate and recorded.state != "Failed" and
                    self._validate(snapshot, blob, key, config).request is None):
                self._pending.discard(key)
                return RequestOutcome(*key, "up-to-date", recorded.state), None
        if recorded is not None and recorded.state == "Pending" and \
                is_up_to_date(recorded, key, blob, bases, generator, PROPOSED_STATES):
            return self._merged(key, blob, found[1])  # a proposal for these inputs reached the target branch
        tip = self.mirror.head(out.pr_branch(key))
        if tip is not None:
            branch_snapshot = self.mirror.snapshot(tip)
            branch_found = read_recorded(branch_snapshot, key)
            if is_up_to_date(branch_found[0] if branch_found else None, key, blob, bases, generator,
                             PROPOSED_STATES):
                pull = self._ensure_pull(key, branch_snapshot)
                return RequestOutcome(*key, "pull-request", branch_found[0].state, pull_request=pull,
                                      message=self._pull_message(key, pull)), None
        return self._process(key, snapshot, config, planner_keys, generator, blob, recorded)

    def _contain(self, key: RequestKey, snapshot: Snapshot, generator: Generator,
                 exc: Exception) -> tuple[RequestOutcome, PushResult | None]:
        """An unexpected error while reconciling one request: its `Failed` status with the error as reason (so
        the pass goes on and the request is not retried until it changes). An environment failure (OSError,
        MemoryError: a full disk) is retried by the next pass instead; so is a failure to record the status."""
        log.error("%s/%s: %s", key[0], key[1], _describe(exc), exc_info=exc)
        self.metrics.errors.labels("internal").inc()
        blob = snapshot.blob_id(layout.request_path(*key))
        if _environmental(exc) or blob is None:
            self._pending.add(key)
            return RequestOutcome(*key, "error", message=_describe(exc)), None
        digest = spec_hash(key, blob, None, generator)
        status = out.failed_status(key, spec_hash=digest, source_commit=snapshot.commit_id or "",
                                   profiler_version=self.backend.version, reason="GenerationFailed",
                                   message=f"The reconciler failed on this request: {_describe(exc)}",
                                   condition="SpecGenerated")
        try:
            outcome, pushed = self._commit_status(key, blob, None, digest, snapshot.commit_id or "", status,
                                                  "reconcile failed")
        except Exception as again:  # noqa: BLE001 - recording the failure failed too: retried next pass
            log.error("%s/%s: could not record the failure: %s", key[0], key[1], _describe(again))
            self._pending.add(key)
            return RequestOutcome(*key, "error", message=_describe(exc)), None
        self._pending.discard(key)
        return outcome, pushed

    def _drifted(self, key: RequestKey, snapshot: Snapshot, config: RepoConfig,
                 found: list[str]) -> tuple[RequestOutcome, PushResult | None]:
        """Hand edits of the request's folder: restore what the reconciler wrote (`onDrift: restore`), or record
        them in the status and keep the folder out of the index, so it is not applied (`onDrift: report`)."""
        path = layout.generated_file(*key, STATUS_FILE)
        current = snapshot.read(path) or b""
        written = current if drift.recorded_files(current) is not None else \
            drift.last_written_status(self.mirror.repo, snapshot.commit_id or "", key)
        what = ", ".join(found)
        log.warning("%s/%s: generated output edited by hand (%s); onDrift: %s", key[0], key[1], what, config.on_drift)
        restore = config.on_drift == "restore"
        if not restore:
            self._refused.add(key)
        if written is None:  # no record left to restore from: the folder is not applied until regenerated
            self._refused.add(key)
            return RequestOutcome(*key, "drifted", None, message=f"hand edits ({what}); nothing recorded to restore "
                                  "from: not applied; edit the request to regenerate it"), None
        # status.yaml is the reconciler's own record: rewritten in both modes (not a note that would change
        # between the first report and the next)
        notes = [f"{item} by hand: {'restored' if restore else 'not applied (onDrift: report)'}" for item in found
                 if restore or not item.startswith(STATUS_FILE)]
        status = RequestStatusFile.from_yaml(written, path).model_copy(update={"drift": notes})

        def build(head: Snapshot) -> Changes | None:
            if drift.drift_of(head, key) != found:
                return None  # undone or changed meanwhile: the next pass looks again
            if restore:
                files = drift.restore_files(head, key, written)
                if files is None:
                    return None
                files[path] = status.to_yaml().encode()
                return Changes(drift.stamp_changes(head, key, files))
            text = drift.stamp(status.to_yaml().encode(), drift.recorded_files(written) or {})
            if head.read(path) == text:
                return None
            return Changes({path: text, **index.updated(head, remove={key})})

        subject = f"restore generated output edited by hand ({what})" if restore else \
            f"generated output edited by hand ({what}): not applied"
        pushed = commit_changes(self.mirror, self.branch, build, out.commit_subject(key, subject),
                                out.trailers(key, snapshot.commit_id, status.spec_hash), author=self.author,
                                retry=self.retry, fetched=True, on_rejected=self._rejected)
        if pushed.commit:
            self.metrics.commits.labels("direct").inc()
        self._pending.discard(key)
        return RequestOutcome(*key, "restored" if restore else "drifted", status.status.state, pushed.commit,
                              message=f"hand edits: {what}"), pushed

    def _merged(self, key: RequestKey, blob: str, recorded: bytes) -> tuple[RequestOutcome, PushResult]:
        """The pull request was merged: its `Pending` (awaiting review) status becomes `Deploying`."""
        path = layout.generated_file(*key, STATUS_FILE)
        status = out.merged_status(RequestStatusFile.from_yaml(recorded, path), key, self.branch)
        digest = status.spec_hash or ""

        def files(head: Snapshot) -> dict[str, bytes | None]:
            return out.status_only_files(key, status, head)

        pushed = commit_changes(self.mirror, self.branch, self._builder(key, blob, None, digest, files, "Deploying"),
                                out.commit_subject(key, "proposal merged, deploying"),
                                out.trailers(key, status.source_commit, digest), author=self.author,
                                retry=self.retry, fetched=True, on_rejected=self._rejected)
        if pushed.commit:
            self.metrics.commits.labels("direct").inc()
        self._pending.discard(key)
        return RequestOutcome(*key, "generated", "Deploying", pushed.commit,
                              message="pull request merged; Argo CD or Flux applies it"), pushed

    def _claims_for(self, snapshot: Snapshot) -> dict[tuple[str, str], RequestKey]:
        """(namespace, name) of every DGD recorded in a status on the pass's snapshot -> its request (the first by
        path keeps a name); built when the first request of a pass needs it, and extended by the requests this
        pass generates. The statuses read are kept between passes: a later pass re-reads only the folders that
        changed since (a tree diff), not every status of the repository."""
        if self._claims is None:
            recorded = self._recorded_deployments(snapshot)
            self._claims = {}
            for key in sorted(recorded):
                self._claims.setdefault(recorded[key], key)
        return self._claims

    def _recorded_deployments(self, snapshot: Snapshot) -> dict[RequestKey, tuple[str, str]]:
        """Request -> the DGD its `status.yaml` on `snapshot` records; only changed folders are read again."""
        if self._deployments is None:
            recorded: dict[RequestKey, tuple[str, str]] = {}
            keys = discover_generated(snapshot)
        else:
            earlier, known = self._deployments
            recorded, keys = dict(known), changed_keys(earlier, snapshot)[0]
        for key in keys:
            data = snapshot.read(layout.generated_file(*key, STATUS_FILE)) if layout.usable_key(*key) else None
            dgd = deployment_of(data) if data else None
            if dgd is None:
                recorded.pop(key, None)
            else:
                recorded[key] = dgd
        self._deployments = (snapshot, recorded)
        return recorded

    def _dgd_owner(self, snapshot: Snapshot, dgd: tuple[str, str], key: RequestKey) -> RequestKey | None:
        """The other request whose generated DGD has this namespace and name, if any (the first generated
        keeps it; in one pass, the first by path)."""
        owner = self._claims_for(snapshot).get(dgd)
        if owner is None or owner == key or snapshot.blob_id(layout.request_path(*owner)) is None:
            return None
        return owner

    @staticmethod
    def _validate(snapshot: Snapshot, blob: str, key: RequestKey, config: RepoConfig) -> RequestValidation:
        """The request file validated against this `gitops-sla.yaml` (tenancy) and this tree (base configs)."""
        request_path = layout.request_path(*key)
        return validate_request_file(
            snapshot.read_blob(blob), file=request_path, repo_path=request_path, repo_config=config,
            base_exists=lambda path: snapshot.blob_id(path) is not None,
        )

    def _process(
        self, key: RequestKey, snapshot: Snapshot, config: RepoConfig, planner_keys: RepoPlannerKeys,
        generator: Generator, blob: str, recorded: RecordedStatus | None
    ) -> tuple[RequestOutcome, PushResult | None]:
        self.progress(key, None)
        source = snapshot.commit_id or ""
        version = self.backend.version
        validation = self._validate(snapshot, blob, key, config)
        request = validation.request
        if request is None:
            errors = [i for i in validation.issues if i.severity == "error"]
            digest = spec_hash(key, blob, None, generator)
            status = out.failed_status(key, spec_hash=digest, source_commit=source, profiler_version=version,
                                       reason="ValidationFailed", message=_issues_message(errors),
                                       issues=validation.issues)
            return self._commit_status(key, blob, None, digest, source, status, VALIDATION_FAILED)
        ref = request.config_map_ref
        base_path = layout.base_config_path(request.namespace_or(key[0]), ref.name, ref.key) if ref else None
        base_blob = snapshot.blob_id(base_path) if base_path else None
        base = (base_path, base_blob) if base_path and base_blob else None
        digest = spec_hash(key, blob, base, generator)
        model, backend = request.model, request.resolved_backend
        profile_config = request.to_profile_config(base_path, namespace=request.namespace_or(key[0]))
        if profile_config.aic_system is None:  # the repo's default AI Configurator system
            defaults = config.ai_configurator
            sweep = profile_config.sweep.model_copy(update={
                "aic_system": defaults.system,
                "aic_backend_version": profile_config.aic_backend_version or defaults.backend_version})
            profile_config = profile_config.model_copy(update={"sweep": sweep})
        profile_config = config.selection.apply(profile_config)  # the repo's selection defaults
        profile_config = planner_keys.apply(profile_config, *key)
        dgd = _dgd_identity(request, key)
        owner = self._dgd_owner(snapshot, dgd, key)
        if owner is not None:
            status = out.failed_status(
                key, spec_hash=digest, source_commit=source, profiler_version=version,
                reason="DeploymentNameConflict", condition="SpecGenerated", model=model, backend=backend,
                message=(f"DynamoGraphDeployment {dgd[0]}/{dgd[1]} is already generated from "
                         f"{layout.request_path(*owner)}; {layout.request_path(*key)} would replace it. Set "
                         "spec.deploymentOverrides.name (or rename the request) to a name not used in that namespace"))
            return self._commit_status(key, blob, base, digest, source, status, "refused: DGD name taken")
        job = ProfileJob(key[0], key[1], digest, request, profile_config, base_path,
                         snapshot.read_blob(base_blob) if base_blob else None, config.online_profiling.fallback,
                         planner_image=planner_keys.image, dynamo_version=planner_keys.dynamo_version)
        result = self._outputs.get(digest)
        if result is None:
            started = time.perf_counter()
            try:
                result = self.backend.run(job)
            except Exception as exc:  # any failure of this request's profiling is this request's status ...
                if _environmental(exc) or isinstance(exc, BackendUnavailable):
                    raise  # ... but a full disk, or a cluster API that is down, is not: the next pass tries again
                self.metrics.errors.labels("profiling").inc()
                status = out.failed_status(key, spec_hash=digest, source_commit=source, profiler_version=version,
                                           reason=_profiling_reason(exc),
                                           message=_profiling_message(exc, base_path if base else None),
                                           model=model, backend=backend, validated=True)
                status = out.for_version(status, request.api_version)
                return self._commit_status(key, blob, base, digest, source, status, "profiling failed")
            if isinstance(result, Running):
                self._pending.add(key)
                status = out.profiling_status(key, spec_hash=digest, source_commit=source, profiler_version=version,
                                              message=result.message, model=model, backend=backend,
                                              progress=result.progress)
                status = out.for_version(status, request.api_version)
                if recorded is not None and recorded.spec_hash == digest and recorded.state == "Profiling":
                    if not result.record_now and not self._progress_due(key, result.progress):
                        return RequestOutcome(*key, "profiling", "Profiling", message=result.message), None
                    outcome, pushed = self._commit_progress(key, blob, base, digest, source, status)
                else:
                    outcome, pushed = self._commit_status(key, blob, base, digest, source, status, "profiling started")
                self._progress_written[key] = (time.monotonic(), result.progress)
                self._pending.add(key)
                return outcome, pushed
            self._progress_written.pop(key, None)
            self.metrics.profile_duration.observe(time.perf_counter() - started)
            self._remember(digest, result)
        self._pending.discard(key)
        self._claims_for(snapshot)[dgd] = key
        mode = config.delivery_mode(request.auto_apply)
        if result.summary.sla_met is False:  # gitops-sla.yaml decides: propose for review, commit, or fail
            if config.on_unattainable_sla == "fail":
                status = out.failed_status(key, spec_hash=digest, source_commit=source, profiler_version=version,
                                           reason="SlaNotAttainable", condition="SlaAttainable", model=model,
                                           backend=backend, validated=True,
                                           message=f"{out.sla_message(result.summary)} (onUnattainableSla: fail)")
                return self._commit_status(key, blob, base, digest, source, status, "SLA not attainable")
            if config.on_unattainable_sla == "pull-request":
                mode = "pull-request"
        status = out.generated_status(key, spec_hash=digest, source_commit=source, profiler_version=version,
                                      output=result, model=model, backend=backend, auto_apply=mode == "commit",
                                      branch=self.branch)
        status = out.for_version(status, request.api_version, result)
        replicas = out.replicas_plan(key, result)

        def files(head: Snapshot) -> dict[str, bytes | None]:  # on the fresh head: keeps the planner's replicas.yaml
            return out.generated_files(key, status, result, replicas, head.read(replicas.path) if replicas else None)

        trailers = out.trailers(key, source, digest)
        build = self._builder(key, blob, base, digest, files, status.status.state)
        sla = "SLA met" if result.summary.sla_met else "SLA not attainable"
        if mode == "commit":
            pushed = commit_changes(self.mirror, self.branch, build, out.commit_subject(key, f"generate DGD ({sla})"),
                                    trailers, author=self.author, retry=self.retry, fetched=True,
                                    on_rejected=self._rejected)
            if pushed.commit:
                self.metrics.commits.labels("direct").inc()
            closed = self._close_stale_pull(key)
            action: Action = "generated" if pushed.commit else "up-to-date"
            return RequestOutcome(*key, action, status.status.state, pushed.commit, closed), pushed
        branch = out.pr_branch(key)
        build = self._builder(key, blob, base, digest, files, status.status.state, target_branch=False)

        def proposal(head: Snapshot) -> Changes | None:
            changes = build(head)
            tip = self.mirror.head(branch)
            if changes is not None and tip is not None and \
                    _proposes(self.mirror.snapshot(tip), key, digest, changes.files):
                return None  # the branch already proposes this output (another reconciler, on an older base)
            return changes

        pushed = commit_to_side_branch(self.mirror, branch, self.branch, proposal,
                                       out.commit_subject(key, f"generate DGD for review ({sla})"), trailers,
                                       author=self.author, retry=self.retry, fetched=True, on_rejected=self._rejected)
        if pushed.commit:
            self.metrics.commits.labels("pull-request").inc()
        tip = self.mirror.head(branch)
        pull = self._ensure_pull(key, self.mirror.snapshot(tip)) if tip else None
        return RequestOutcome(*key, "pull-request", status.status.state, pushed.commit, pull,
                              self._pull_message(key, pull)), pushed

    def _builder(self, key: RequestKey, blob: str, base: tuple[str, str] | None, digest: str,
                 files: Callable[[Snapshot], dict[str, bytes | None]], state: str, *, final_wins: bool = True,
                 target_branch: bool = True):
        """The build step for the writer (writing `state`): re-checked on every (re)try against the fresh head,
        whose files `files(head)` gives. With `final_wins`, a final status (Ready/Deploying) already recorded
        for the same inputs is kept; a validation failure passes False, as it also reflects `gitops-sla.yaml`
        (tenancy), which can change without changing the inputs. On the target branch the same commit lists
        the folder in the index of `generated/` (a pull-request branch leaves the index alone: two proposals
        would conflict there; the pass after the merge adds it)."""
        finals = ("Ready", "Deploying") if final_wins else ()
        request_path = layout.request_path(*key)

        def build(head: Snapshot) -> Changes | None:
            if head.blob_id(request_path) != blob:
                return None  # the request changed or went away meanwhile: the next pass handles it
            if base is not None and head.blob_id(base[0]) != base[1]:
                return None
            found = read_recorded(head, key)
            if found is not None and found[0].spec_hash == digest and found[0].state in (state, *finals):
                return None  # another reconciler already wrote this (or the final) status for these inputs
            changes = drift.stamp_changes(head, key, files(head))
            if target_branch:
                changes.update(index.updated(head, add={key}))
            return Changes(changes)

        return build

    def _commit_status(
        self, key: RequestKey, blob: str, base: tuple[str, str] | None, digest: str, source: str,
        status: RequestStatusFile, what: str,
    ) -> tuple[RequestOutcome, PushResult]:
        pushed = commit_changes(self.mirror, self.branch,
                                self._builder(key, blob, base, digest,
                                              lambda head: out.status_only_files(key, status, head),
                                              status.status.state,
                                              final_wins=what != VALIDATION_FAILED),
                                out.commit_subject(key, what), out.trailers(key, source, digest),
                                author=self.author, retry=self.retry, fetched=True, on_rejected=self._rejected)
        if pushed.commit:
            self.metrics.commits.labels("direct").inc()
        state = status.status.state
        action: Action = "profiling" if state == "Profiling" else "failed"
        message = status.status.conditions[-1].message if status.status.conditions else ""
        return RequestOutcome(*key, action, state, pushed.commit, message=message), pushed

    def _progress_due(self, key: RequestKey, progress: ProgressState | None) -> bool:
        """Mirror a long run's progress into `status.yaml` at most every `progress_interval_s`, and only when it
        moved. A process that finds a run already `Profiling` (a restart) starts its clock then."""
        last = self._progress_written.get(key)
        if last is None:
            self._progress_written[key] = (time.monotonic(), None)
            return False
        return progress is not None and progress != last[1] and time.monotonic() - last[0] >= self.progress_interval_s

    def _commit_progress(
        self, key: RequestKey, blob: str, base: tuple[str, str] | None, digest: str, source: str,
        status: RequestStatusFile,
    ) -> tuple[RequestOutcome, PushResult]:
        """Replace a `Profiling` status of the same inputs with one carrying newer progress."""
        request_path = layout.request_path(*key)

        def build(head: Snapshot) -> Changes | None:
            if head.blob_id(request_path) != blob or (base is not None and head.blob_id(base[0]) != base[1]):
                return None
            found = read_recorded(head, key)
            if found is None or found[0].spec_hash != digest or found[0].state != "Profiling":
                return None  # finished, failed or re-requested meanwhile: that status stands
            files = drift.stamp_changes(head, key, out.status_only_files(key, status, head))
            if all(head.read(path) == data for path, data in files.items()):
                return None
            return Changes(files)

        pushed = commit_changes(self.mirror, self.branch, build, out.commit_subject(key, "profiling progress"),
                                out.trailers(key, source, digest), author=self.author, retry=self.retry,
                                fetched=True, on_rejected=self._rejected)
        if pushed.commit:
            self.metrics.commits.labels("direct").inc()
        return RequestOutcome(*key, "profiling", "Profiling", pushed.commit,
                              message=status.status.conditions[-1].message), pushed

    def _delete(self, key: RequestKey, snapshot: Snapshot) -> tuple[RequestOutcome, PushResult]:
        request_path = layout.request_path(*key)
        folder = layout.generated_dir(*key)

        def build(head: Snapshot) -> Changes | None:
            if head.blob_id(request_path) is not None or head.tree_id_of(folder) is None:
                return None
            return Changes({folder: None, **index.updated(head, remove={key})})

        pushed = commit_changes(self.mirror, self.branch, build,
                                out.commit_subject(key, "remove generated output (request deleted)"),
                                out.trailers(key, snapshot.commit_id, None), author=self.author, retry=self.retry,
                                fetched=True, on_rejected=self._rejected)
        if pushed.commit:
            self.metrics.commits.labels("direct").inc()
        return RequestOutcome(*key, "deleted", None, pushed.commit, self._close_stale_pull(key)), pushed

    def _forget_runs(self, key: RequestKey) -> None:
        """Stop the deleted request's profiling runs; when the backend cannot for now, a later pass tries again."""
        try:
            self.backend.forget(*key)
        except BackendUnavailable as exc:
            self._pending.add(key)
            log.warning("%s/%s was deleted; its profiling runs stay until a later pass: %s", key[0], key[1], exc)

    def _close_stale_pull(self, key: RequestKey) -> PullRequest | None:
        """Close the request's open pull request, if any: its proposal is obsolete (the request was deleted
        or now commits directly)."""
        branch = out.pr_branch(key)
        if self.forge is None or self.mirror.head(branch) is None:
            return None
        for pull in self.forge.pulls_for_branch(branch, self.branch):
            if pull.state == "open":
                log.info("%s/%s: closing obsolete pull request #%d", key[0], key[1], pull.number)
                return self.forge.close_pull(pull.number)
        return None

    def _ensure_pull(self, key: RequestKey, branch_snapshot: Snapshot) -> PullRequest | None:
        if self.forge is None:
            return None
        folder = layout.generated_dir(*key)
        status = RequestStatusFile.from_yaml(branch_snapshot.read(f"{folder}/{STATUS_FILE}") or b"",
                                             f"{folder}/{STATUS_FILE}")
        report = (branch_snapshot.read(f"{folder}/{REPORT_FILE}") or b"").decode()
        plots = [name for name, is_dir in branch_snapshot.list_dir(folder)
                 if not is_dir and name.endswith((".svg", ".png"))]
        warnings = status.result.warnings if status.result else []
        branch = out.pr_branch(key)
        body = out.pr_body(key, report, plots, warnings, branch, status.spec_hash or "", status.source_commit or "")
        title = out.pr_title(key, status.request.model or "", status.request.backend or "",
                             status.result.sla_met if status.result else None)
        pull, action = ensure_pull_request(self.forge, branch, self.branch, branch_snapshot.commit_id or "", title,
                                           body)
        if action != "unchanged":
            log.info("%s/%s: pull request #%d %s", key[0], key[1], pull.number, action)
        if action in ("created", "updated") and branch_snapshot.commit_id:
            self._awaiting_review_status(key, branch_snapshot.commit_id, title)
        return pull

    def _awaiting_review_status(self, key: RequestKey, sha: str, title: str) -> None:
        """A pending commit status `gitops-sla/<ns>/<name>` on the proposal's commit (the pull request's checks
        show the review is what it waits for); a failure is logged: the pull request itself is in place."""
        try:
            self.forge.set_commit_status(sha, "pending", f"gitops-sla/{key[0]}/{key[1]}",  # type: ignore[union-attr]
                                         f"{REASON_AWAITING_REVIEW}: {title}"[:140])
        except ForgeError as exc:
            log.warning("%s/%s: commit status not set on the proposal: %s", key[0], key[1], exc)

    def _pull_message(self, key: RequestKey, pull: PullRequest | None) -> str:
        if pull is None:
            return (f"branch {out.pr_branch(key)} pushed; no forge is configured, open the pull request by hand")
        return f"pull request #{pull.number} {pull.state}: {pull.url}"

    def _rejected(self, exc: PushRejected) -> None:
        self.metrics.push_retries.inc()

    def _remember(self, digest: str, output: ProfileOutput) -> None:
        self._outputs[digest] = output
        self._outputs.move_to_end(digest)
        while len(self._outputs) > self._output_cache_size:
            self._outputs.popitem(last=False)


def _issues_message(issues: list[ValidationIssue]) -> str:
    if not issues:
        return "The request is invalid"
    first = str(issues[0])
    more = f" (and {len(issues) - 1} more, see issues)" if len(issues) > 1 else ""
    return f"{first}{more}"


def _dgd_identity(request: SlaRequest, key: RequestKey) -> tuple[str, str]:
    """(namespace, name) of the DGD a request generates: its deployment overrides, else its own (as the
    profiler names it)."""
    overrides = request.deployment
    return ((overrides.namespace if overrides and overrides.namespace else key[0]),
            (overrides.name if overrides and overrides.name else key[1]))


def _index_changed(before: Snapshot, after: Snapshot) -> bool:
    """Whether a commit since the last pass touched the index files of `generated/` (a hand edit to undo)."""
    return any(before.blob_id(path) != after.blob_id(path) for path in (index.INDEX_KUSTOMIZATION, index.INDEX_FILE))


def _proposes(tip: Snapshot, key: RequestKey, digest: str, files: Mapping[str, bytes | None]) -> bool:
    """Whether the branch tip already proposes this output: a status for the same inputs (`digest`) and the
    same files as `files` writes (the status aside: it names the commit each reconciler read)."""
    folder = layout.generated_dir(*key)
    found = read_recorded(tip, key)
    if folder not in files or files[folder] is not None or found is None or found[0].spec_hash != digest:
        return False
    wanted = {path[len(folder) + 1:]: str(pygit2.hash(data)) for path, data in files.items()
              if path.startswith(folder + "/") and data is not None and not path.endswith(f"/{STATUS_FILE}")}
    present = {name: blob for name, blob in drift.folder_files(tip, key).items() if name != STATUS_FILE}
    return present == wanted


def _environmental(exc: BaseException) -> bool:
    """A failure of the machine, not of the request (a full disk, no memory, Git's object store): retried."""
    return isinstance(exc, (OSError, MemoryError, pygit2.GitError))


def _describe(exc: BaseException) -> str:
    """`TypeError: ...`: the error's kind and message, for a status or a log line."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _profiling_reason(exc: Exception) -> str:
    return getattr(exc, "reason", None) or "ProfilingFailed"


def _profiling_message(exc: Exception, base_path: str | None) -> str:
    """The profiler's own message for a `ProfilingError`; for any other exception, what it was and where to
    look (a broken base config is the usual cause of a crash inside the profiler)."""
    if isinstance(exc, ProfilingError):
        return str(exc)
    where = f"; check the base config {base_path}" if base_path else ""
    return f"The profiler failed on this request ({_describe(exc)}){where}"


def _unusable_message(key: RequestKey) -> str:
    request, folder = f"requests/{key[0]}/{key[1]}.yaml", f"generated/{key[0]}/{key[1]}/"
    return (f"{request!r} (or {folder!r}): skipped: not usable as a request's path (a backslash or a control "
            "character in a name); rename it")
