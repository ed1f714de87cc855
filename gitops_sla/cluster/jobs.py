"""Online profiling as a Kubernetes Job: the reconciler's `ProfilingBackend` for `--online-engines kubernetes`.

Per request and spec hash, in the request's namespace:
- ConfigMap `profile-<name>-<hash8>-input`: the profiler's inputs (`request.yaml`, `base.yaml`), marked
  `gitops-sla.nvidia.com/job-created` once the Job exists;
- Job `profile-<name>-<hash8>`: `python -m gitops_sla.cluster.profile_job ... -- python -m profiler --engines
  kubernetes ...` (see `profile_job`), which mirrors the progress file into the Job's annotation
  `gitops-sla.nvidia.com/progress` and writes the result into ConfigMap `profile-<name>-<hash8>-result`.

`run(job)` is idempotent by spec hash: it finds the Job (created by this process, an earlier one or another
reconciler) before creating one. A finished Job's result is read and everything is deleted; a failed Job, or
one deleted before it finished, raises `ProfilingError` with the reason (a final `Failed`, never an endless
`Profiling`). API errors that outlast the retries raise `BackendUnavailable` (the next pass asks again).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gitops_sla.reconcile.profile_files import BASE_FILE, output_from_files, profiler_inputs
from gitops_sla.reconcile.profiling import BackendUnavailable, ProfileJob, ProfileOutput, Running
from profiler.engines.kube_api import ClusterError, Retry, call
from profiler.engines.kubernetes import (
    LABEL_COMPONENT, LABEL_MANAGED_BY, LABEL_REQUEST, LABEL_SPEC_HASH, MANAGED_BY, hash_label,
)
from profiler.errors import ProfilingError
from profiler.progress import ProgressState
from profiler.render.model_cache import weights_dir

ANNOTATION_PROGRESS = "gitops-sla.nvidia.com/progress"
ANNOTATION_FAILURE = "gitops-sla.nvidia.com/failure"
ANNOTATION_JOB_CREATED = "gitops-sla.nvidia.com/job-created"
FILES_KEY = "files.json"  # result ConfigMap: {key: relative path} for the binaryData entries
MAX_NAME = 63  # a Job's name becomes its pods' job-name label value


def job_name(request_name: str, spec_hash: str) -> str:
    """`profile-<name>-<hash8>`, the name shortened so the whole stays a valid label value (63 characters)."""
    digest = spec_hash.removeprefix("sha256:")[:8]
    room = MAX_NAME - len("profile-") - len(digest) - 1
    return f"profile-{request_name[:room].rstrip('-.')}-{digest}"


def request_labels(request_name: str, spec_hash: str) -> dict[str, str]:
    """Labels of everything made for one request's profiling run (Job, ConfigMaps, temporary DGDs)."""
    return {LABEL_MANAGED_BY: MANAGED_BY, LABEL_REQUEST: request_name[:MAX_NAME].rstrip("-._"),
            LABEL_SPEC_HASH: hash_label(spec_hash)}


@dataclass(frozen=True)
class JobSettings:
    """The operator's choices for profiling Jobs (flags of `gitops-sla reconcile`)."""

    image: str  # this project's image: it runs `python -m profiler`
    service_account: str = "gitops-sla-profiler"
    trust_request_image: bool = False  # use the request's profilerImage instead of `image`
    deadline_s: int = 8 * 3600  # activeDeadlineSeconds: a run that takes longer fails
    progress_period_s: int = 30  # how often the Job mirrors its progress into its annotation
    engine_options: tuple[str, ...] = ()  # extra `--engine-option KEY=VALUE` for the kubernetes provider


class JobBackend:
    """Runs online profiling as a Job per request and spec hash; reads the result back on a later pass."""

    def __init__(self, api: client.ApiClient, settings: JobSettings, version: str, retry: Retry = Retry()):
        self.batch = client.BatchV1Api(api)
        self.core = client.CoreV1Api(api)
        self.settings = settings
        self.version = version
        self.retry = retry

    def run(self, job: ProfileJob) -> ProfileOutput | Running:
        namespace = job.request.namespace_or(job.namespace)
        name = job_name(job.name, job.spec_hash)
        try:
            return self._run(job, namespace, name)
        except ClusterError as exc:
            raise BackendUnavailable(f"profiling Job {namespace}/{name}: {exc}") from None
        except ApiException as exc:
            if exc.status == 403:
                raise ProfilingError(
                    f"profiling Job {namespace}/{name}: the API server refused ({exc.status} {exc.reason}): give the "
                    f"reconciler's service account the Role of deploy/components/online-profiling in namespace "
                    f"{namespace}") from None
            raise BackendUnavailable(f"profiling Job {namespace}/{name}: {exc.status} {exc.reason}") from None

    def _run(self, job: ProfileJob, namespace: str, name: str) -> ProfileOutput | Running:
        found = self._get(f"read Job {namespace}/{name}", lambda: self.batch.read_namespaced_job(name, namespace))
        if found is None:
            inputs = self._get(f"read ConfigMap {namespace}/{name}-input",
                               lambda: self.core.read_namespaced_config_map(f"{name}-input", namespace))
            if inputs is not None and (inputs.metadata.annotations or {}).get(ANNOTATION_JOB_CREATED):
                self.cleanup(namespace, name)
                raise ProfilingError(f"the profiling Job {namespace}/{name} was deleted before it finished; change "
                                     "the request (or its base config) to profile again")
            superseded = self._supersede(job, namespace)
            self._create(job, namespace, name)
            note = f"; stopped the run for earlier inputs ({', '.join(superseded)})" if superseded else ""
            return Running(f"Profiling in Job {namespace}/{name} (created{note})")
        conditions = {c.type: c for c in (found.status.conditions or []) if c.status == "True"} if found.status else {}
        annotations = found.metadata.annotations or {}
        if "Complete" in conditions:
            return self._collect(namespace, name)
        if "Failed" in conditions:
            condition = conditions["Failed"]
            detail = annotations.get(ANNOTATION_FAILURE) or condition.message or "no message"
            self.cleanup(namespace, name)
            raise ProfilingError(f"the profiling Job {namespace}/{name} failed ({condition.reason}): {detail}")
        progress = _progress(annotations.get(ANNOTATION_PROGRESS))
        return Running(f"Profiling in Job {namespace}/{name}", progress)

    def forget(self, namespace: str, name: str) -> None:
        """Delete every profiling Job of the deleted request `namespace/name` (and their ConfigMaps); the Job's
        pod removes its temporary DGDs as it stops, and a crashed pod's are found by label on the next run."""
        try:
            for stale in self._jobs_of(namespace, name):
                self.cleanup(namespace, stale)
        except ClusterError as exc:
            raise BackendUnavailable(f"profiling Jobs of {namespace}/{name}: {exc}") from None
        except ApiException as exc:
            raise BackendUnavailable(f"profiling Jobs of {namespace}/{name}: {exc.status} {exc.reason}") from None

    def cleanup(self, namespace: str, name: str) -> None:
        """Delete the Job (and its pods) and both ConfigMaps; what is already gone is fine."""
        body = client.V1DeleteOptions(propagation_policy="Background")
        self._delete(f"delete Job {namespace}/{name}", lambda: self.batch.delete_namespaced_job(name, namespace,
                                                                                                 body=body))
        for suffix in ("-input", "-result"):
            self._delete(f"delete ConfigMap {namespace}/{name}{suffix}",
                         lambda s=suffix: self.core.delete_namespaced_config_map(f"{name}{s}", namespace))

    # ------------------------------------------------------------------------------------------------ steps

    def _supersede(self, job: ProfileJob, namespace: str) -> list[str]:
        """Delete this request's Jobs for other inputs (an edit while profiling): their results would be stale."""
        current = job_name(job.name, job.spec_hash)
        stale = [name for name in self._jobs_of(namespace, job.name) if name != current]
        for name in stale:
            self.cleanup(namespace, name)
        return stale

    def _jobs_of(self, namespace: str, request_name: str) -> list[str]:
        """Names of the profiling Jobs of request `namespace/request_name`, for any inputs."""
        label = request_labels(request_name, "")[LABEL_REQUEST]
        selector = f"{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_REQUEST}={label}"
        found = call(f"list Jobs of {namespace}/{request_name}",
                     lambda: self.batch.list_namespaced_job(namespace, label_selector=selector), self.retry)
        return sorted(j.metadata.name for j in found.items
                      if j.metadata.namespace == namespace and (j.metadata.labels or {}).get(LABEL_REQUEST) == label)

    def _create(self, job: ProfileJob, namespace: str, name: str) -> None:
        labels = request_labels(job.name, job.spec_hash)
        inputs = profiler_inputs(job)
        config_map = {"metadata": {"name": f"{name}-input", "namespace": namespace, "labels": labels},
                      "data": {key: value.decode() for key, value in inputs.items()}}
        self._create_once(f"create ConfigMap {namespace}/{name}-input",
                          lambda: self.core.create_namespaced_config_map(namespace, config_map))
        manifest = job_manifest(job, namespace, name, self.settings, has_base=BASE_FILE in inputs)
        self._create_once(f"create Job {namespace}/{name}",
                          lambda: self.batch.create_namespaced_job(namespace, manifest))
        mark = {"metadata": {"annotations": {ANNOTATION_JOB_CREATED: "true"}}}
        call(f"mark ConfigMap {namespace}/{name}-input",
             lambda: self.core.patch_namespaced_config_map(f"{name}-input", namespace, mark), self.retry)

    def _collect(self, namespace: str, name: str) -> ProfileOutput:
        result = self._get(f"read ConfigMap {namespace}/{name}-result",
                           lambda: self.core.read_namespaced_config_map(f"{name}-result", namespace))
        if result is None:
            self.cleanup(namespace, name)
            raise ProfilingError(f"the profiling Job {namespace}/{name} completed but wrote no result ConfigMap "
                                 f"{name}-result; see its pod's log")
        files = decode_result(result.binary_data or {}, f"ConfigMap {namespace}/{name}-result")
        output = output_from_files(files, f"ConfigMap {namespace}/{name}-result")
        self.cleanup(namespace, name)
        return output

    def _get(self, what: str, fn):
        try:
            return call(what, fn, self.retry)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def _create_once(self, what: str, fn) -> None:
        try:
            call(what, fn, self.retry, retry_conflict=False)
        except ApiException as exc:
            if exc.status != 409:  # already there: made by an earlier pass or another reconciler
                raise

    def _delete(self, what: str, fn) -> None:
        try:
            call(what, fn, self.retry)
        except ApiException as exc:
            if exc.status != 404:
                raise


def job_manifest(job: ProfileJob, namespace: str, name: str, settings: JobSettings, *,
                 has_base: bool) -> dict[str, Any]:
    """The Job: this project's image (or the request's profilerImage when the operator trusts it), the request's
    resources, tolerations, node selector and output PVC."""
    profiling = job.request.profiling_job
    labels = request_labels(job.name, job.spec_hash)
    output_dir = f"/tmp/{name}"
    runner = ["python", "-m", "gitops_sla.cluster.profile_job", "--namespace", namespace, "--job", name,
              "--inputs-configmap", f"{name}-input", "--result-configmap", f"{name}-result",
              "--progress-period", str(settings.progress_period_s)]
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    if profiling.output_pvc:
        volumes.append({"name": "output", "persistentVolumeClaim": {"claimName": profiling.output_pvc}})
        mounts.append({"name": "output", "mountPath": "/data"})
        output_dir = f"/data/{name}"
    runner += ["--output", output_dir]
    if has_base:
        runner.append("--with-base-config")
    options = [f"namespace={namespace}", f"request={job.name}", f"spec-hash={job.spec_hash}",
               *settings.engine_options]
    cache = job.config.deployment.model_cache
    if cache.pvc_name:  # the request's model cache: its tokenizer files, read-only, where the request says
        volumes.append({"name": "model-cache", "persistentVolumeClaim": {"claimName": cache.pvc_name,
                                                                         "readOnly": True}})
        mounts.append({"name": "model-cache", "mountPath": cache.mount_path, "readOnly": True})
        if not any(option.startswith("tokenizer=") for option in settings.engine_options):
            options.append(f"tokenizer={weights_dir(cache)}")
    profiler = ["python", "-m", "profiler", "--engines", "kubernetes"]
    for option in options:
        profiler += ["--engine-option", option]
    container: dict[str, Any] = {
        "name": "profiler",
        "image": profiling.image if settings.trust_request_image and profiling.image else settings.image,
        "command": [*runner, "--", *profiler],
        "volumeMounts": mounts,
    }
    if profiling.resources is not None:
        container["resources"] = profiling.resources.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": settings.service_account,
        "containers": [container],
        "volumes": volumes,
    }
    if profiling.node_selector:
        pod["nodeSelector"] = dict(profiling.node_selector)
    if profiling.tolerations:
        pod["tolerations"] = [t.model_dump(mode="json", by_alias=True, exclude_none=True)
                              for t in profiling.tolerations]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": {**labels, LABEL_COMPONENT: "profiler"},
                     "annotations": {"gitops-sla.nvidia.com/spec-hash": job.spec_hash}},
        "spec": {
            "backoffLimit": 1,  # a killed pod is restarted once, cleanly (leftover DGDs are removed by label)
            "activeDeadlineSeconds": settings.deadline_s,
            "template": {"metadata": {"labels": {**labels, LABEL_COMPONENT: "profiler"}}, "spec": pod},
        },
    }


def encode_result(files: dict[str, bytes]) -> dict[str, str]:
    """A run's files as ConfigMap `binaryData`: `f0`, `f1`, ... and `files.json` naming their paths."""
    names = {f"f{index}": path for index, path in enumerate(sorted(files))}
    data = {key: base64.b64encode(files[path]).decode() for key, path in names.items()}
    data[FILES_KEY] = base64.b64encode(json.dumps(names, sort_keys=True).encode()).decode()
    return data


def decode_result(binary_data: dict[str, str], where: str) -> dict[str, bytes]:
    """The files `encode_result` stored."""
    try:
        names = json.loads(base64.b64decode(binary_data[FILES_KEY]))
        return {path: base64.b64decode(binary_data[key]) for key, path in names.items()}
    except (KeyError, ValueError, TypeError) as exc:
        raise ProfilingError(f"{where}: the result cannot be read ({exc!r})") from None


def _progress(text: str | None) -> ProgressState | None:
    if not text:
        return None
    try:
        return ProgressState.from_json(text)
    except (ValueError, TypeError):
        return None
