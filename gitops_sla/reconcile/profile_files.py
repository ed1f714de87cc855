"""The contract between the reconciler and an out-of-process profiler run (a local process or a cluster Job).

In: `request.yaml` (a `ProfileRequest` document: what the in-process profiler would be asked, the profile config
as the reconciler resolved it with repo defaults and planner keys applied) and `base.yaml` (the base config,
when the request names one). Command: `python -m profiler
--config request.yaml --output OUT --engines ENGINES --progress-file P [--base-config base.yaml]`.
Out: the files of `generated/<ns>/<name>/` in OUT, among them `profile.json`, which gives the summary.
"""

from __future__ import annotations

import json
from typing import Any

from gitops_sla.models import ResultSummary
from gitops_sla.reconcile.offline import kubernetes_manifests, profile_request
from gitops_sla.reconcile.profiling import ProfileJob, ProfileOutput
from gitops_sla.yamlsafe import YamlError, dump_yaml, load_yaml
from profiler.errors import ProfilingError
from profiler.request_file import PROFILE_REQUEST_API_VERSION, PROFILE_REQUEST_KIND

REQUEST_FILE = "request.yaml"
BASE_FILE = "base.yaml"
PROFILE_JSON = "profile.json"
DGD_KIND = "DynamoGraphDeployment"


def profiler_inputs(job: ProfileJob) -> dict[str, bytes]:
    """The input files of the run, by name: the same `ProfileRequest` the in-process profiler gets (profile config
    as the reconciler resolved it, the DGD's identity, Dynamo version, planner and features), and the base config."""
    request = profile_request(job, None).model_dump(mode="json", exclude={"base_config"})
    document = {"apiVersion": PROFILE_REQUEST_API_VERSION, "kind": PROFILE_REQUEST_KIND, "spec": request}
    files = {REQUEST_FILE: dump_yaml(document).encode()}
    if job.base_config is not None:
        files[BASE_FILE] = job.base_config
    return files


def profiler_args(input_dir: str, output_dir: str, engines: str, progress_file: str, has_base: bool) -> list[str]:
    """The profiler CLI's arguments (after `python -m profiler`)."""
    args = ["--config", f"{input_dir}/{REQUEST_FILE}", "--output", output_dir, "--engines", engines,
            "--progress-file", progress_file]
    if has_base:
        args += ["--base-config", f"{input_dir}/{BASE_FILE}"]
    return args


def output_from_files(files: dict[str, bytes], where: str) -> ProfileOutput:
    """A finished run's files as the reconciler's `ProfileOutput`; `where` names their origin in errors."""
    if PROFILE_JSON not in files:
        raise ProfilingError(f"{where}: the profiler wrote no {PROFILE_JSON}; its output is incomplete")
    try:
        document = json.loads(files[PROFILE_JSON])
        prefill, decode = document["prefill"], document["decode"]
        summary = ResultSummary(
            sla_met=bool(document["sla_met"]),
            target_ttft_ms=prefill["target_ms"],
            target_itl_ms=decode["target_ms"],
            expected_ttft_ms=round(prefill["latency_ms"], 3),
            expected_itl_ms=round(decode["latency_ms"], 3),
            prefill_mapping=prefill["mapping"],
            decode_mapping=decode["mapping"],
            prefill_gpus=prefill["num_gpus"],
            decode_gpus=decode["num_gpus"],
            throughput_per_gpu=round(decode["thpt_per_gpu"], 3),
            warnings=list(document.get("warnings", [])),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ProfilingError(f"{where}: {PROFILE_JSON} cannot be read ({exc!r})") from None
    name, namespace = _dgd_identity(files, where)
    return ProfileOutput(
        files=dict(files),
        resources=kubernetes_manifests(files),
        report=files.get("report.md", b"").decode(),
        summary=summary,
        dgd_name=name,
        dgd_namespace=namespace,
        warnings=list(summary.warnings),
    )


def _dgd_identity(files: dict[str, bytes], where: str) -> tuple[str | None, str | None]:
    for name in kubernetes_manifests(files):
        try:
            data: Any = load_yaml(files[name], f"{where}/{name}").data
        except YamlError as exc:
            raise ProfilingError(str(exc)) from None
        if isinstance(data, dict) and data.get("kind") == DGD_KIND:
            metadata = data.get("metadata") or {}
            return metadata.get("name"), metadata.get("namespace")
    return None, None
