"""What the reconciler writes for one request: `status.yaml`, `kustomization.yaml`, the initial
`replicas.yaml`, commit messages, PR text.

Pure functions of their arguments (no clock, no Git): the same inputs give byte-identical files, so a
regenerated commit after a lost race is identical and a second pass finds nothing to change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gitops_sla import layout
from gitops_sla.git import Snapshot
from gitops_sla.models import (
    ConditionType,
    DeploymentStatus,
    DGDRStatus,
    RequestRef,
    RequestStatusFile,
    ResultSummary,
    State,
    ValidationIssue,
)
from gitops_sla.models.status import ParetoEntry, ProfilingResultsV1Beta1
from gitops_sla.models.status import REASON_AWAITING_REVIEW, REASON_SLA_MET, REASON_SLA_NOT_ATTAINABLE
from gitops_sla.reconcile.inputs import STATUS_FILE, RequestKey
from gitops_sla.reconcile.profiling import ProfileOutput
from profiler.progress import ProgressState
from gitops_sla.replicas_patch import (
    REPLICAS_FILE,
    DgdError,
    PlannerMode,
    initial_replicas_patch,
    patch_fits,
    planner_mode_of,
    resolve_services,
)
from gitops_sla.yamlsafe import YamlError, dump_yaml, load_yaml

TRAILER_REQUEST = "Gitops-Sla-Request"
TRAILER_SOURCE = "Gitops-Sla-Source-Commit"
TRAILER_SPEC_HASH = "Gitops-Sla-Spec-Hash"
KUSTOMIZATION_FILE = "kustomization.yaml"
PR_BRANCH_PREFIX = "gitops-sla/"


def pr_branch(key: RequestKey) -> str:
    """`gitops-sla/<namespace>/<name>`: the one pull-request branch of a request."""
    return f"{PR_BRANCH_PREFIX}{key[0]}/{key[1]}"


def trailers(key: RequestKey, source_commit: str | None, spec_hash: str | None) -> dict[str, str]:
    found = {TRAILER_REQUEST: f"{key[0]}/{key[1]}"}
    if source_commit:
        found[TRAILER_SOURCE] = source_commit
    if spec_hash:
        found[TRAILER_SPEC_HASH] = spec_hash
    return found


def _ref(key: RequestKey, model: str | None, backend: str | None) -> RequestRef:
    return RequestRef(name=key[1], namespace=key[0], path=layout.request_path(*key), model=model, backend=backend)


def failed_status(
    key: RequestKey, *, spec_hash: str, source_commit: str, profiler_version: str, reason: str, message: str,
    issues: list[ValidationIssue] = (), model: str | None = None, backend: str | None = None,
    validated: bool = False, condition: ConditionType | None = None,
) -> RequestStatusFile:
    """`Failed`: validation failed (`validated=False`) or profiling/generation failed after validation;
    `condition` names the failed condition when it is neither (an unexpected error: `SpecGenerated`)."""
    status = DGDRStatus(state="Failed", backend=backend)
    if validated:
        status = status.with_condition("Validation", "True", "ValidationPassed", "The request is valid")
        condition = condition or ("SpecGenerated" if reason == "GenerationFailed" else "Profiling")
        status = status.with_condition(condition, "False", reason, message)
    elif condition is not None:
        status = status.with_condition(condition, "False", reason, message)
    else:
        status = status.with_condition("Validation", "False", reason, message)
    return RequestStatusFile(request=_ref(key, model, backend), spec_hash=spec_hash, source_commit=source_commit,
                             profiler_version=profiler_version, status=status, issues=list(issues))


def describe_progress(progress: ProgressState) -> str:
    """`measuring, 5/12 measurements (decode TP=2 (vllm)), about 3m10s left`."""
    text = progress.phase
    if progress.total:
        text += f", {progress.done}/{progress.total} measurements"
    if progress.mapping:
        text += f" ({progress.mapping})"
    if progress.eta_s is not None:
        minutes, seconds = divmod(int(progress.eta_s), 60)
        text += f", about {minutes}m{seconds:02d}s left"
    return text


def profiling_status(
    key: RequestKey, *, spec_hash: str, source_commit: str, profiler_version: str, message: str,
    model: str, backend: str, progress: ProgressState | None = None,
) -> RequestStatusFile:
    """`Profiling`: a long profiling run has started; a later pass records its result. With `progress`, the
    phase and `done/total` measurements are in `profilingPhase`/`profilingProgress` and the message."""
    if progress is not None:
        message = f"{message}: {describe_progress(progress)}"
    status = (DGDRStatus(state="Profiling", backend=backend,
                         profiling_phase=progress.phase if progress else None,
                         profiling_progress=(f"{progress.done}/{progress.total}" if progress and progress.total
                                             else None))
              .with_condition("Validation", "True", "ValidationPassed", "The request is valid")
              .with_condition("Profiling", "False", "ProfilingRunning", message))
    return RequestStatusFile(request=_ref(key, model, backend), spec_hash=spec_hash, source_commit=source_commit,
                             profiler_version=profiler_version, status=status)


def generated_status(
    key: RequestKey, *, spec_hash: str, source_commit: str, profiler_version: str, output: ProfileOutput,
    model: str, backend: str, auto_apply: bool, branch: str,
) -> RequestStatusFile:
    """`Deploying` (committed to the target branch: Argo CD or Flux applies it) or `Pending` with
    `DeploymentReady` Unknown/AwaitingReview (proposed in a pull request: nothing is deployed before a reviewer
    merges it; Dynamo's `Ready` for autoApply false would read as deployed). `SlaAttainable` gives the SLA's
    targets against the best configuration found."""
    folder = layout.generated_dir(*key)
    state: State = "Deploying" if auto_apply else "Pending"
    status = (DGDRStatus(state=state, backend=backend, profiling_results=f"{folder}/",
                         deployment=DeploymentStatus(name=output.dgd_name, namespace=output.dgd_namespace,
                                                     created=False))
              .with_condition("Validation", "True", "ValidationPassed", "The request is valid")
              .with_condition("Profiling", "True", "ProfilingCompleted", "Profiling completed")
              .with_condition("SpecGenerated", "True", "SpecGenerated",
                              f"Generated {', '.join(output.resources)} in {folder}/"))
    if output.summary.sla_met is not None:
        met = output.summary.sla_met
        status = status.with_condition("SlaAttainable", "True" if met else "False",
                                       REASON_SLA_MET if met else REASON_SLA_NOT_ATTAINABLE, sla_message(output.summary))
    if auto_apply:
        status = status.with_condition("DeploymentReady", "Unknown", "AwaitingGitOpsSync",
                                       f"Committed to {branch}; Argo CD or Flux applies {folder}/")
    else:
        status = status.with_condition("DeploymentReady", "Unknown", REASON_AWAITING_REVIEW,
                                       f"Proposed in pull request branch {pr_branch(key)}; merging it into {branch} "
                                       f"deploys {folder}/")
    return RequestStatusFile(request=_ref(key, model, backend), spec_hash=spec_hash, source_commit=source_commit,
                             profiler_version=profiler_version, status=status, result=output.summary)


V1BETA1_PHASES = {"Pending": "Pending", "Profiling": "Profiling", "Deploying": "Deploying", "Ready": "Ready",
                  "Failed": "Failed", "DeploymentDeleted": "Failed"}


def for_version(status_file: RequestStatusFile, api_version: str, output: ProfileOutput | None = None
                ) -> RequestStatusFile:
    """The status in the request's own version's shape: a v1beta1 request's also has `phase`,
    `profilingPhase` (`Done` once profiled), `dgdName` and `profilingResults` as Dynamo 1.x fills it:
    `selectedConfig` is the generated DGD (what `autoApply` deploys), `pareto` the profiler's Pareto fronts."""
    if not api_version.endswith("/v1beta1"):
        return status_file
    status = status_file.status
    update: dict[str, Any] = {"phase": V1BETA1_PHASES.get(status.state) or None}
    if output is not None:
        update.update(profiling_phase="Done", dgd_name=output.dgd_name,
                      profiling_results=ProfilingResultsV1Beta1(selected_config=_generated_dgd(output),
                                                                pareto=_pareto(output)))
    return status_file.model_copy(update={"status": status.model_copy(update=update)})


def _generated_dgd(output: ProfileOutput) -> dict[str, Any] | None:
    """The DynamoGraphDeployment among the generated manifests, as an object."""
    for name in output.resources:
        try:
            data = load_yaml(output.files[name], name).data
        except YamlError:
            continue
        if isinstance(data, dict) and data.get("kind") == "DynamoGraphDeployment":
            return data
    return None


_PARETO_KEYS = {"mapping": "mapping", "num_gpus": "numGpus", "concurrency": "concurrency",
                "latency_ms": "latencyMs", "thpt_per_gpu": "throughputPerGpu", "source": "source"}


def _pareto(output: ProfileOutput) -> list[ParetoEntry] | None:
    """The Pareto fronts the profiler recorded in `profile.json` (`selection.prefill_pareto`, then decode), one
    entry per engine configuration (role, parallel mapping, GPUs, concurrency, latency, throughput per GPU);
    `selected` marks the profiler's pick and `dynamoRule` the pick of Dynamo's own rule, where on the front."""
    try:
        document = json.loads(output.files.get("profile.json", b"{}"))
    except ValueError:
        return None
    selection = document.get("selection") or {}

    def same(point: dict[str, Any], pick: Any) -> bool:
        return isinstance(pick, dict) and all(point.get(key) == pick.get(key) for key in ("mapping", "concurrency"))

    entries = []
    for role in ("prefill", "decode"):
        for point in selection.get(f"{role}_pareto") or []:
            config: dict[str, Any] = {"role": role}
            config.update({_PARETO_KEYS[key]: value for key, value in point.items() if key in _PARETO_KEYS})
            if same(point, selection.get(role)):
                config["selected"] = True
            if same(point, selection.get(f"dynamo_{role}")):
                config["dynamoRule"] = True
            entries.append(ParetoEntry(config=config))
    return entries or None


def merged_status(previous: RequestStatusFile, key: RequestKey, branch: str) -> RequestStatusFile:
    """A proposal's status once its pull request is merged into `branch`: `Deploying`, Argo CD or Flux applies it."""
    folder = layout.generated_dir(*key)
    status = (previous.status.with_state("Deploying")
              .with_condition("DeploymentReady", "Unknown", "AwaitingGitOpsSync",
                              f"Merged into {branch}; Argo CD or Flux applies {folder}/"))
    return previous.model_copy(update={"status": status})


def sla_message(summary: ResultSummary) -> str:
    """`Target TTFT 500 ms, ITL 2 ms; best found TTFT 120.3 ms (prefill tp2), ITL 6.1 ms (decode tp8)`."""
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:g} ms"

    return (f"Target TTFT {ms(summary.target_ttft_ms)}, ITL {ms(summary.target_itl_ms)}; best found TTFT "
            f"{ms(summary.expected_ttft_ms)} (prefill {summary.prefill_mapping or '-'}), ITL "
            f"{ms(summary.expected_itl_ms)} (decode {summary.decode_mapping or '-'})")


def kustomization(resources: list[str], patches: list[str]) -> bytes:
    """kustomize v5: the manifests under `resources`, the planner's `replicas.yaml` under `patches`."""
    doc: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                           "resources": sorted(resources)}
    if patches:
        doc["patches"] = [{"path": name} for name in patches]
    return dump_yaml(doc).encode()


@dataclass(frozen=True)
class ReplicasPlan:
    """What the request's `replicas.yaml` must fit: the generated DGD and how its planner applies decisions."""

    path: str
    dgd: dict[str, Any]
    mode: PlannerMode

    def content(self, existing: bytes | None) -> bytes:
        """The file to commit: the existing one (the planner's) when it still fits the DGD and the mode, else
        the initial patch (explicit counts, or the release form in patch mode)."""
        if existing is not None and patch_fits(existing, self.dgd, self.mode):
            return existing
        return initial_replicas_patch(self.dgd, self.mode)


def replicas_plan(key: RequestKey, output: ProfileOutput) -> ReplicasPlan | None:
    """The plan for `replicas.yaml`, or None when the output has no DGD with prefill and decode services
    (nothing for a planner to scale: no `replicas.yaml`, no patch in `kustomization.yaml`)."""
    for name in output.resources:
        try:
            dgd = load_yaml(output.files[name], name).data
        except YamlError:
            continue
        if not isinstance(dgd, dict) or dgd.get("kind") != "DynamoGraphDeployment":
            continue
        try:
            resolve_services(dgd)
        except DgdError:
            return None
        return ReplicasPlan(layout.generated_file(key[0], key[1], REPLICAS_FILE), dgd, planner_mode_of(dgd))
    return None


def status_only_files(key: RequestKey, status: RequestStatusFile, head: Snapshot) -> dict[str, bytes | None]:
    """Only `status.yaml` changes: an earlier generated DGD stays as it is (it keeps running). A folder without
    a `kustomization.yaml` (the request's first status) gets an empty one, so that Argo CD and Flux build it
    as nothing instead of applying `status.yaml`."""
    files: dict[str, bytes | None] = {layout.generated_file(key[0], key[1], STATUS_FILE): status.to_yaml().encode()}
    kustomization_path = layout.generated_file(key[0], key[1], KUSTOMIZATION_FILE)
    if head.blob_id(kustomization_path) is None:
        files[kustomization_path] = kustomization([], [])
    return files


def generated_files(
    key: RequestKey, status: RequestStatusFile, output: ProfileOutput, replicas: ReplicasPlan | None,
    existing_replicas: bytes | None,
) -> dict[str, bytes | None]:
    """The whole folder, replaced: the profiler's files, `kustomization.yaml`, `status.yaml` and `replicas.yaml`
    (the existing one, the planner's, kept when it fits; see `ReplicasPlan.content`)."""
    folder = layout.generated_dir(*key)
    files: dict[str, bytes | None] = {folder: None}
    for name, data in sorted(output.files.items()):
        files[f"{folder}/{name}"] = data
    files[f"{folder}/{KUSTOMIZATION_FILE}"] = kustomization(output.resources, [REPLICAS_FILE] if replicas else [])
    if replicas is not None:
        files[replicas.path] = replicas.content(existing_replicas)
    files[f"{folder}/{STATUS_FILE}"] = status.to_yaml().encode()
    return files


def commit_subject(key: RequestKey, what: str) -> str:
    return f"gitops-sla: {key[0]}/{key[1]}: {what}"


def pr_title(key: RequestKey, model: str, backend: str, sla_met: bool | None = None) -> str:
    """The pull request's title; it says when the SLA is not attainable (the reviewer decides)."""
    unattainable = " — SLA not attainable" if sla_met is False else ""
    return f"gitops-sla: deploy {key[0]}/{key[1]} ({model} on {backend}){unattainable}"


def pr_body(key: RequestKey, report: str, plots: list[str], warnings: list[str], branch: str, spec_hash: str,
            source_commit: str) -> str:
    """The report, its plots linked from the pull-request branch, and the provenance.

    The report links its plots relative to its folder (`](decode_performance.svg)`), which in a pull-request
    body would point under `.../pull/<n>/`: those links are rewritten to the files on the branch, and plots the
    report does not show are listed after it."""
    folder = layout.generated_dir(*key)

    def url(name: str) -> str:
        return f"../blob/{branch}/{folder}/{name}?raw=true"

    text = report.rstrip()
    unshown = []
    for name in sorted(plots):
        if f"]({name})" in text:
            text = text.replace(f"]({name})", f"]({url(name)})")
        else:
            unshown.append(name)
    lines = [text, ""]
    if unshown:
        lines += ["### Plots", ""] + [f"![{name}]({url(name)})" for name in unshown] + [""]
    if warnings and "warning" not in report.lower():
        lines += ["### Warnings", ""] + [f"- {w}" for w in warnings] + [""]
    lines += ["---", f"Generated by gitops-sla from `{layout.request_path(*key)}` at `{source_commit}` "
              f"(spec hash `{spec_hash}`). Merge to deploy; edit the request to regenerate this pull request."]
    return "\n".join(lines) + "\n"
